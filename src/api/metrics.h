// Metrics: the Prometheus registry every module records into, served as text at GET /metrics.
//
//   Metrics metrics;
//   metrics.RecordHttpRequest("GET", "/healthz", 200, 0.001);
//   metrics.RecordStoreOperation("create", status);
//   auto& phases = metrics.GaugeFamily("skiff_workloads", "Workloads by phase");
//   metrics.AddCollectHook([&] { phases.Add({{"phase", "Running"}}).Set(running()); });
//   std::string text = metrics.Render();  // Prometheus text exposition format
//
//   MeteredStore store(real_store, metrics);  // counts skiff_store_operations_total{op,result}
//
// Built-in series: skiff_http_requests_total{method,route,code},
// skiff_http_request_duration_seconds{method,route} (histogram),
// skiff_store_operations_total{op,result}.
//
// Thread-safe: every method may be called from any thread (prometheus-cpp families lock
// internally; hooks are guarded here). Collect hooks run on the scraping thread.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/thread_annotations.h"
#include "store/forwarding_store.h"

namespace skiff {

class Metrics {
 public:
  Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // `route` is the matched pattern (bounded cardinality), not the raw path.
  void RecordHttpRequest(const std::string& method, const std::string& route, int code,
                         double seconds);
  // `op` is "create", "get", ...; the result label is "ok" or the StatusCodeName.
  void RecordStoreOperation(const std::string& op, const Status& result);

  // The gauge family with this name, registered on first use. Hooks and callers set its values.
  prometheus::Family<prometheus::Gauge>& GaugeFamily(const std::string& name,
                                                     const std::string& help);
  // The counter family with this name, registered on first use.
  prometheus::Family<prometheus::Counter>& CounterFamily(const std::string& name,
                                                         const std::string& help);
  // Runs before every Render(), so gauges computed from state (workloads by phase) are fresh.
  void AddCollectHook(std::function<void()> hook);

  std::string Render();
  prometheus::Registry& registry() { return *registry_; }

 private:
  std::shared_ptr<prometheus::Registry> registry_;  // shared: prometheus-cpp's own convention
  prometheus::Family<prometheus::Counter>& http_requests_;
  prometheus::Family<prometheus::Histogram>& http_duration_;
  prometheus::Family<prometheus::Counter>& store_operations_;

  Mutex mu_;
  std::vector<std::function<void()>> hooks_ GUARDED_BY(mu_);
  std::vector<std::pair<std::string, prometheus::Family<prometheus::Gauge>*>> gauges_
      GUARDED_BY(mu_);
  std::vector<std::pair<std::string, prometheus::Family<prometheus::Counter>*>> counters_
      GUARDED_BY(mu_);
};

// A Store that counts every operation in skiff_store_operations_total and forwards it.
// Thread-safe when the wrapped store is.
class MeteredStore : public ForwardingStore {
 public:
  MeteredStore(Store& store, Metrics& metrics) : ForwardingStore(store), metrics_(metrics) {}

  Result<Json> Create(const std::string& type, Json object) override;
  Result<Json> Get(const std::string& type, const std::string& ns,
                   const std::string& name) override;
  Result<int64_t> GetResourceVersion(const std::string& type, const std::string& ns,
                                     const std::string& name) override;
  Result<Json> Update(const std::string& type, Json object) override;
  Result<Json> Delete(const std::string& type, const std::string& ns, const std::string& name,
                      int64_t expected_version = 0) override;
  Result<ListResult> List(const std::string& type, const std::string& ns,
                          const ListOptions& options) override;
  Result<int64_t> Count(const std::string& type, const std::string& ns) override;
  Result<std::vector<WatchEvent>> ReadChanges(const ChangeFilter& filter, int64_t after,
                                              size_t limit) override;

 private:
  Metrics& metrics_;
};

}  // namespace skiff
