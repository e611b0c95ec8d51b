// ControllerMetrics: the counters and gauges a controller records, handed to it in its
// ControllerContext. The controller module has no Prometheus of its own: `skiff up` exports every
// series at GET /metrics under its name (a counter's name ends in _total), and `skiff run --local`
// keeps them unexported.
//
//   ctx.metrics->Add("skiff_recurring_run_fires_total", "Runs fired by schedules", {}, 1);
//   ctx.metrics->Set("skiff_widgets_ready", "Widgets that are ready", {{"namespace", ns}}, 3);
//
// Keep label values bounded (a state, a kind; not an object's name).
//
// Thread-safe.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/thread_annotations.h"

namespace skiff {

class ControllerMetrics {
 public:
  using Labels = std::map<std::string, std::string>;

  // A counter: adds `delta` (> 0) to the series `name` with `labels`.
  void Add(const std::string& name, const std::string& help, const Labels& labels, double delta);
  // A gauge: sets the series `name` with `labels` to `value`.
  void Set(const std::string& name, const std::string& help, const Labels& labels, double value);

  struct Series {
    std::string name;
    std::string help;
    bool counter = false;
    Labels labels;
    double value = 0;
  };
  // Every series recorded so far, ordered by name and labels.
  std::vector<Series> Snapshot() const;

  // An instance for contexts nothing exports (tests, `skiff run --local`).
  static ControllerMetrics& Unexported();

 private:
  void Record(const std::string& name, const std::string& help, const Labels& labels, bool counter,
              double value);

  mutable Mutex mu_;
  std::map<std::pair<std::string, Labels>, Series> series_ GUARDED_BY(mu_);
  std::map<std::string, bool> counters_ GUARDED_BY(mu_);  // name -> whether it is a counter
};

}  // namespace skiff
