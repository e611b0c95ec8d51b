#include "core/text.h"

#include <algorithm>
#include <sstream>

namespace skiff {

std::string Quote(const std::string& s) {
  return Json(s).dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::string HumanDuration(TimePoint::duration d) {
  long long s = std::chrono::duration_cast<std::chrono::seconds>(d).count();
  if (s < 0) s = 0;
  if (s < 120) return std::to_string(s) + "s";
  long long m = s / 60;
  if (m < 10) return std::to_string(m) + "m" + std::to_string(s % 60) + "s";
  if (m < 180) return std::to_string(m) + "m";
  long long h = m / 60;
  if (h < 48) return std::to_string(h) + "h" + (m % 60 ? std::to_string(m % 60) + "m" : "");
  return std::to_string(h / 24) + "d" + (h % 24 ? std::to_string(h % 24) + "h" : "");
}

std::string Age(const Json& obj, TimePoint now) {
  TimePoint created;
  if (!ParseRfc3339(TextAt(obj, {"metadata", "creationTimestamp"}), &created)) return "<unknown>";
  return HumanDuration(now - created);
}

std::string RenderTable(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  std::ostringstream out;
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) {
      out << row[i];
      if (i + 1 < row.size()) out << std::string(widths[i] - row[i].size() + 3, ' ');
    }
    out << "\n";
  }
  return out.str();
}

const Json& At(const Json& obj, std::initializer_list<const char*> path) {
  static const Json kNull;
  const Json* cur = &obj;
  for (const char* p : path) {
    if (!cur->is_object()) return kNull;
    auto it = cur->find(p);
    if (it == cur->end()) return kNull;
    cur = &*it;
  }
  return *cur;
}

std::string TextAt(const Json& obj, std::initializer_list<const char*> path,
                   const std::string& dflt) {
  const Json& v = At(obj, path);
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return dflt;
  return v.dump(-1, ' ', false, Json::error_handler_t::replace);
}

int64_t IntAt(const Json& obj, std::initializer_list<const char*> path, int64_t dflt) {
  const Json& v = At(obj, path);
  if (v.is_number_integer()) return v.get<int64_t>();
  return dflt;
}

}  // namespace skiff
