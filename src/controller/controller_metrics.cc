#include "controller/controller_metrics.h"

namespace skiff {

void ControllerMetrics::Add(const std::string& name, const std::string& help, const Labels& labels,
                            double delta) {
  if (!(delta > 0)) return;  // a counter only goes up
  Record(name, help, labels, /*counter=*/true, delta);
}

void ControllerMetrics::Set(const std::string& name, const std::string& help, const Labels& labels,
                            double value) {
  Record(name, help, labels, /*counter=*/false, value);
}

void ControllerMetrics::Record(const std::string& name, const std::string& help,
                               const Labels& labels, bool counter, double value) {
  MutexLock lock(&mu_);
  // One name is one type (Prometheus has one family per name): the first use decides.
  auto [kind, first] = counters_.try_emplace(name, counter);
  if (kind->second != counter) return;
  Series& s = series_[{name, labels}];
  if (s.name.empty()) s = Series{name, help, counter, labels, 0};
  s.value = counter ? s.value + value : value;
}

std::vector<ControllerMetrics::Series> ControllerMetrics::Snapshot() const {
  MutexLock lock(&mu_);
  std::vector<Series> out;
  out.reserve(series_.size());
  for (const auto& [key, s] : series_) out.push_back(s);
  return out;
}

ControllerMetrics& ControllerMetrics::Unexported() {
  static ControllerMetrics* metrics = new ControllerMetrics();
  return *metrics;
}

}  // namespace skiff
