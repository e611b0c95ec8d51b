#include "core/clock.h"

#include <ctime>
#include <regex>

namespace skiff {

SystemClock& SystemClock::Instance() {
  static SystemClock clock;
  return clock;
}

std::string FormatRfc3339(TimePoint t) {
  std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

bool ParseRfc3339(const std::string& text, TimePoint* out) {
  static const std::regex kRe(
      "(\\d{4})-(\\d{2})-(\\d{2})[Tt "
      "](\\d{2}):(\\d{2}):(\\d{2})(\\.\\d+)?([Zz]|[+-]\\d{2}:\\d{2})");
  std::smatch m;
  if (!std::regex_match(text, m, kRe)) return false;
  std::tm tm{};
  tm.tm_year = std::stoi(m[1]) - 1900;
  tm.tm_mon = std::stoi(m[2]) - 1;
  tm.tm_mday = std::stoi(m[3]);
  tm.tm_hour = std::stoi(m[4]);
  tm.tm_min = std::stoi(m[5]);
  tm.tm_sec = std::stoi(m[6]);
  if (tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 ||
      tm.tm_sec > 60) {
    return false;
  }
  // What a TimePoint (nanoseconds since 1970 in an int64) can hold: about 1677 to 2262. Found by
  // fuzzing: a KFP filter on created_at of year 1012 overflowed the conversion.
  if (tm.tm_year + 1900 < 1678 || tm.tm_year + 1900 > 2261) return false;
  std::time_t secs = timegm(&tm);
  auto tp = std::chrono::system_clock::from_time_t(secs);
  if (m[7].matched) {
    std::string frac = m[7].str().substr(1);
    frac.resize(9, '0');
    tp +=
        std::chrono::duration_cast<TimePoint::duration>(std::chrono::nanoseconds(std::stoll(frac)));
  }
  std::string tz = m[8];
  if (tz != "Z" && tz != "z") {
    int sign = tz[0] == '-' ? -1 : 1;
    int offset_min = std::stoi(tz.substr(1, 2)) * 60 + std::stoi(tz.substr(4, 2));
    tp -= std::chrono::minutes(sign * offset_min);
  }
  *out = tp;
  return true;
}

}  // namespace skiff
