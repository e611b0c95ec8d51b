#include "api/metrics.h"

#include <prometheus/text_serializer.h>

namespace skiff {

namespace {
const prometheus::Histogram::BucketBoundaries& DurationBuckets() {
  static const prometheus::Histogram::BucketBoundaries kBuckets = {
      0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  return kBuckets;
}
}  // namespace

Metrics::Metrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      http_requests_(prometheus::BuildCounter()
                         .Name("skiff_http_requests_total")
                         .Help("HTTP requests served, by method, route pattern and status code")
                         .Register(*registry_)),
      http_duration_(prometheus::BuildHistogram()
                         .Name("skiff_http_request_duration_seconds")
                         .Help("Time to answer HTTP requests (streams: until they end)")
                         .Register(*registry_)),
      store_operations_(prometheus::BuildCounter()
                            .Name("skiff_store_operations_total")
                            .Help("Store operations, by operation and result")
                            .Register(*registry_)) {}

void Metrics::RecordHttpRequest(const std::string& method, const std::string& route, int code,
                                double seconds) {
  http_requests_.Add({{"method", method}, {"route", route}, {"code", std::to_string(code)}})
      .Increment();
  http_duration_.Add({{"method", method}, {"route", route}}, DurationBuckets()).Observe(seconds);
}

void Metrics::RecordStoreOperation(const std::string& op, const Status& result) {
  store_operations_
      .Add({{"op", op}, {"result", result.ok() ? "ok" : StatusCodeName(result.code())}})
      .Increment();
}

prometheus::Family<prometheus::Gauge>& Metrics::GaugeFamily(const std::string& name,
                                                            const std::string& help) {
  MutexLock lock(&mu_);
  for (auto& [n, family] : gauges_) {
    if (n == name) return *family;
  }
  auto& family = prometheus::BuildGauge().Name(name).Help(help).Register(*registry_);
  gauges_.emplace_back(name, &family);
  return family;
}

prometheus::Family<prometheus::Counter>& Metrics::CounterFamily(const std::string& name,
                                                                const std::string& help) {
  MutexLock lock(&mu_);
  for (auto& [n, family] : counters_) {
    if (n == name) return *family;
  }
  auto& family = prometheus::BuildCounter().Name(name).Help(help).Register(*registry_);
  counters_.emplace_back(name, &family);
  return family;
}

void Metrics::AddCollectHook(std::function<void()> hook) {
  MutexLock lock(&mu_);
  hooks_.push_back(std::move(hook));
}

std::string Metrics::Render() {
  std::vector<std::function<void()>> hooks;
  {
    MutexLock lock(&mu_);
    hooks = hooks_;
  }
  for (auto& hook : hooks) hook();
  prometheus::TextSerializer serializer;
  return serializer.Serialize(registry_->Collect());
}

// --- MeteredStore ---

namespace {
template <typename T>
Result<T> Metered(Metrics& metrics, const char* op, Result<T> result) {
  metrics.RecordStoreOperation(op, result.status());
  return result;
}
}  // namespace

Result<Json> MeteredStore::Create(const std::string& type, Json object) {
  return Metered(metrics_, "create", inner().Create(type, std::move(object)));
}
Result<Json> MeteredStore::Get(const std::string& type, const std::string& ns,
                               const std::string& name) {
  return Metered(metrics_, "get", inner().Get(type, ns, name));
}
Result<int64_t> MeteredStore::GetResourceVersion(const std::string& type, const std::string& ns,
                                                 const std::string& name) {
  return Metered(metrics_, "get_version", inner().GetResourceVersion(type, ns, name));
}
Result<Json> MeteredStore::Update(const std::string& type, Json object) {
  return Metered(metrics_, "update", inner().Update(type, std::move(object)));
}
Result<Json> MeteredStore::Delete(const std::string& type, const std::string& ns,
                                  const std::string& name, int64_t expected_version) {
  return Metered(metrics_, "delete", inner().Delete(type, ns, name, expected_version));
}
Result<ListResult> MeteredStore::List(const std::string& type, const std::string& ns,
                                      const ListOptions& options) {
  return Metered(metrics_, "list", inner().List(type, ns, options));
}
Result<std::vector<WatchEvent>> MeteredStore::ReadChanges(const ChangeFilter& filter, int64_t after,
                                                          size_t limit) {
  return Metered(metrics_, "read_changes", inner().ReadChanges(filter, after, limit));
}
Result<int64_t> MeteredStore::Count(const std::string& type, const std::string& ns) {
  return Metered(metrics_, "count", inner().Count(type, ns));
}

}  // namespace skiff
