// Clock: the seam for time. Production code takes a `Clock&`; tests pass a FakeClock and advance
// it by hand, so nothing depends on the wall clock.
//
//   FakeClock clock;
//   clock.Advance(std::chrono::seconds(5));
//
// SystemClock is thread-safe; FakeClock is thread-safe (atomic).
#pragma once

#include <atomic>
#include <chrono>
#include <string>

namespace skiff {

using TimePoint = std::chrono::system_clock::time_point;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint Now() const = 0;
};

class SystemClock : public Clock {
 public:
  TimePoint Now() const override { return std::chrono::system_clock::now(); }
  static SystemClock& Instance();
};

class FakeClock : public Clock {
 public:
  explicit FakeClock(TimePoint start = TimePoint(std::chrono::seconds(1'700'000'000)))
      : now_ns_(start.time_since_epoch().count()) {}
  TimePoint Now() const override { return TimePoint(TimePoint::duration(now_ns_.load())); }
  void Advance(TimePoint::duration d) { now_ns_ += d.count(); }
  void Set(TimePoint t) { now_ns_ = t.time_since_epoch().count(); }

 private:
  std::atomic<TimePoint::duration::rep> now_ns_;
};

// RFC 3339 in UTC with second precision, as Kubernetes writes timestamps: 2026-11-23T15:04:05Z.
std::string FormatRfc3339(TimePoint t);
// Parses RFC 3339 (fractional seconds and numeric offsets accepted). False on malformed input.
bool ParseRfc3339(const std::string& text, TimePoint* out);

}  // namespace skiff
