#include "jobs/pod_controller.h"

#include "core/log.h"
#include "jobs/job_controller.h"
#include "jobs/pod_template.h"

namespace skiff::jobs {

using std::chrono::milliseconds;

PodController::PodController(Store& store, Backend& backend, milliseconds stop_grace)
    : store_(store), backend_(backend), stop_grace_(stop_grace) {}

Result<std::optional<milliseconds>> PodController::Reconcile(const std::string& ns,
                                                             const std::string& name) {
  auto pod = store_.GetResourceVersion(kPodType, ns, name);
  if (pod.ok()) return std::optional<milliseconds>();
  if (pod.status().code() != StatusCode::kNotFound) return pod.status();
  const std::string id = PodWorkloadId(ns, name);
  auto workload = backend_.Observe(id);
  if (!workload.ok()) {
    if (workload.status().code() != StatusCode::kNotFound) return workload.status();
    return std::optional<milliseconds>();
  }
  auto label = [&](const char* key) {
    auto it = workload->labels.find(key);
    return it == workload->labels.end() ? std::string() : it->second;
  };
  if (label(kWorkloadPodLabel) != name || label(kWorkloadNamespaceLabel) != ns) {
    return std::optional<milliseconds>();  // not a pod's workload
  }
  LogInfo("pod deleted: stopping its workload", {{"pod", ns + "/" + name}});
  if (workload->phase == WorkloadPhase::kPending || workload->phase == WorkloadPhase::kRunning) {
    Status stopped = backend_.Stop(id, stop_grace_);
    if (!stopped.ok() && stopped.code() != StatusCode::kNotFound) return stopped;
  }
  Status removed = backend_.Remove(id);
  if (!removed.ok() && removed.code() != StatusCode::kNotFound) return removed;
  return std::optional<milliseconds>();
}

}  // namespace skiff::jobs
