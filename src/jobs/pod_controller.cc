#include "jobs/pod_controller.h"

#include "core/log.h"
#include "core/text.h"
#include "jobs/job_controller.h"

namespace skiff::jobs {
namespace {

using std::chrono::milliseconds;

// Whether an ownerReference marks a controller that runs the pod (its Job).
bool HasController(const Json& pod) {
  const Json& refs = At(pod, {"metadata", "ownerReferences"});
  if (!refs.is_array()) return false;
  for (const Json& ref : refs) {
    if (At(ref, {"controller"}) == Json(true)) return true;
  }
  return false;
}

}  // namespace

bool IsTerminalPhase(const std::string& phase) { return phase == "Succeeded" || phase == "Failed"; }

std::string PodPhase(const Json& pod) {
  if (!pod.contains("status") || !pod["status"].is_object()) return "Pending";
  return pod["status"].value("phase", "Pending");
}

PodController::PodController(Store& store, Backend& backend, PodControllerOptions options)
    : store_(store), backend_(backend), options_(std::move(options)) {}

Result<std::optional<milliseconds>> PodController::Reconcile(const std::string& ns,
                                                             const std::string& name) {
  auto got = store_.Get(kPodType, ns, name);
  if (!got.ok()) {
    if (got.status().code() != StatusCode::kNotFound) return got.status();
    RETURN_IF_ERROR(Release(ns, name));
    return std::optional<milliseconds>();
  }
  Json pod = std::move(got).value();
  if (HasController(pod) || IsTerminalPhase(PodPhase(pod))) return std::optional<milliseconds>();
  if (!TextAt(pod, {"metadata", "deletionTimestamp"}).empty()) {
    RETURN_IF_ERROR(Stop(pod, "Terminated"));  // held by its finalizers: it runs no more
    return std::optional<milliseconds>();
  }
  ASSIGN_OR_RETURN(pod, Sync(std::move(pod)));
  if (IsTerminalPhase(PodPhase(pod))) return std::optional<milliseconds>();
  return std::optional<milliseconds>(options_.poll_interval);
}

std::optional<std::pair<std::string, std::string>> PodController::KeyForWorkload(
    const std::map<std::string, std::string>& labels) {
  auto pod = labels.find(kWorkloadPodLabel);
  auto ns = labels.find(kWorkloadNamespaceLabel);
  if (pod == labels.end() || ns == labels.end()) return std::nullopt;
  return std::make_pair(ns->second, pod->second);
}

Status PodController::Release(const std::string& ns, const std::string& name) {
  const std::string id = PodWorkloadId(ns, name);
  auto workload = backend_.Observe(id);
  if (!workload.ok()) {
    return workload.status().code() == StatusCode::kNotFound ? Status::Ok() : workload.status();
  }
  auto label = [&](const char* key) {
    auto it = workload->labels.find(key);
    return it == workload->labels.end() ? std::string() : it->second;
  };
  if (label(kWorkloadPodLabel) != name || label(kWorkloadNamespaceLabel) != ns) {
    return Status::Ok();  // not a pod's workload
  }
  LogInfo("pod deleted: stopping its workload", {{"pod", ns + "/" + name}});
  if (workload->phase == WorkloadPhase::kPending || workload->phase == WorkloadPhase::kRunning) {
    Status stopped = backend_.Stop(id, options_.stop_grace);
    if (!stopped.ok() && stopped.code() != StatusCode::kNotFound) return stopped;
  }
  Status removed = backend_.Remove(id);
  if (!removed.ok() && removed.code() != StatusCode::kNotFound) return removed;
  return Status::Ok();
}

Status PodController::Stop(Json& pod, const std::string& reason) {
  if (IsTerminalPhase(PodPhase(pod))) return Status::Ok();
  Status st = backend_.Stop(PodWorkloadId(MetaNamespace(pod), MetaName(pod)), options_.stop_grace);
  if (!st.ok() && st.code() != StatusCode::kNotFound) return st;
  pod["status"]["phase"] = "Failed";
  pod["status"]["reason"] = reason;
  auto updated = store_.Update(kPodType, pod);
  if (!updated.ok() && updated.status().code() != StatusCode::kNotFound) return updated.status();
  if (updated.ok()) pod = *updated;
  return Status::Ok();
}

Result<Json> PodController::Sync(Json pod) {
  const std::string id = PodWorkloadId(MetaNamespace(pod), MetaName(pod));
  const std::string phase_before = PodPhase(pod);
  if (IsTerminalPhase(phase_before)) return pod;
  Json status_before = pod["status"];
  auto observed = backend_.Observe(id);
  if (!observed.ok() && observed.status().code() == StatusCode::kNotFound) {
    if (phase_before == "Running") {
      // The backend lost a workload it had started: the attempt is over and counts as failed.
      pod["status"]["phase"] = "Failed";
      pod["status"]["reason"] = "Lost";
      pod["status"]["message"] = "the workload is no longer known to the backend";
    } else {
      // A pod written around the API (or before its rules) is checked before it is read.
      Status valid = ValidatePodTemplate(pod, "");
      auto workload =
          valid.ok() ? PodToWorkload(pod, id, options_.pod_env) : Result<WorkloadSpec>(valid);
      Status launched = workload.ok() ? backend_.Launch(*workload) : workload.status();
      if (!launched.ok()) {
        pod["status"]["phase"] = "Failed";
        pod["status"]["reason"] = "CreateContainerConfigError";
        pod["status"]["message"] = launched.message();
      } else {
        observed = backend_.Observe(id);
      }
    }
  }
  if (observed.ok()) {
    const WorkloadStatus& ws = *observed;
    Json& st = pod["status"];
    st["phase"] = WorkloadPhaseName(ws.phase);
    if (!ws.message.empty()) st["message"] = ws.message;
    if (ws.started_at) st["startTime"] = FormatRfc3339(*ws.started_at);
    // A container's image, from the pod's spec: the Kubernetes clients require it (and an
    // imageID, which has no meaning for an image run from a local environment).
    auto image_of = [&pod](const std::string& container) {
      const Json& spec = pod["spec"];
      if (spec.is_object() && spec.contains("containers") && spec["containers"].is_array()) {
        for (const Json& c : spec["containers"]) {
          if (TextAt(c, {"name"}) == container) return TextAt(c, {"image"});
        }
      }
      return std::string();
    };
    Json containers = Json::array();
    for (const ContainerStatus& cs : ws.containers) {
      Json c = {{"name", cs.name},
                {"ready", cs.ready},
                {"restartCount", cs.restart_count},
                {"image", image_of(cs.name)},
                {"imageID", ""}};
      auto terminated = [&cs](const std::string& reason) {
        Json term = {{"exitCode", *cs.exit_code}, {"reason", reason}};
        if (cs.started_at) term["startedAt"] = FormatRfc3339(*cs.started_at);
        if (cs.finished_at) term["finishedAt"] = FormatRfc3339(*cs.finished_at);
        return Json{{"terminated", term}};
      };
      if (cs.running) {
        c["state"] = {{"running", Json::object()}};
        if (cs.started_at) c["state"]["running"]["startedAt"] = FormatRfc3339(*cs.started_at);
      } else if (cs.reason == "CrashLoopBackOff") {
        // Waiting to be started again by the restart policy; how it last ended in lastState.
        c["state"] = {{"waiting", {{"reason", cs.reason}}}};
        if (cs.exit_code) c["lastState"] = terminated(*cs.exit_code == 0 ? "Completed" : "Error");
      } else if (cs.exit_code) {
        c["state"] = terminated(cs.reason);
      } else {
        c["state"] = {
            {"waiting", {{"reason", cs.reason.empty() ? "ContainerCreating" : cs.reason}}}};
      }
      containers.push_back(c);
    }
    st["containerStatuses"] = containers;
    if (ws.phase == WorkloadPhase::kFailed) {
      for (const ContainerStatus& cs : ws.containers) {
        if (!cs.reason.empty() && cs.reason != "Completed") st["reason"] = cs.reason;
      }
    }
    if (ws.finished_at) st["finishTime"] = FormatRfc3339(*ws.finished_at);
  }
  if (pod["status"] == status_before) return pod;
  return store_.Update(kPodType, pod);
}

}  // namespace skiff::jobs
