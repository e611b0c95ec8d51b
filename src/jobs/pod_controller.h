// PodController: what a kubelet does for Skiff's pods. It runs a stored Pod as a Backend
// workload and keeps the pod's status in line with it (phase, container states, start and
// finish times), stops it on request, and stops and removes the workload of a pod deleted from
// the store (by a user, or by the garbage collector once its owner went), so nothing runs that
// no pod stands for.
//
// A pod with a controller (an ownerReference with controller: true, such as its Job) is run by
// that controller, through Sync and Stop; the PodController's own Reconcile runs the others: a
// pod created on its own (`kubectl apply` of a Pod) and one its Job left behind when it was
// deleted with propagationPolicy Orphan.
//
//   PodController pods(store, backend, {.pod_env = env});
//   ASSIGN_OR_RETURN(Json pod, pods.Sync(std::move(pod)));   // a controller running its pod
//   ReconcileLoop loop("pods", store, kPodType,
//                      [&](auto& ns, auto& name) { return pods.Reconcile(ns, name); });
//
// Thread-compatible: Sync and Stop are called by one controller's loop, Reconcile by the pod
// loop; they touch different pods (a pod has one controller or none).
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>

#include "backend/backend.h"
#include "jobs/pod_template.h"
#include "store/store.h"

namespace skiff::jobs {

// A pod's status.phase ("Pending" when it has none yet), and whether a phase is final.
std::string PodPhase(const Json& pod);
bool IsTerminalPhase(const std::string& phase);

struct PodControllerOptions {
  // How long a stopped pod's containers get to end after SIGTERM.
  std::chrono::milliseconds stop_grace{std::chrono::seconds(5)};
  // How often a running pod of its own is looked at again (its workload's changes wake it too).
  std::chrono::milliseconds poll_interval{std::chrono::seconds(1)};
  PodEnvironment pod_env;
};

class PodController {
 public:
  PodController(Store& store, Backend& backend, PodControllerOptions options);

  // Launches the pod's workload when it has none (a pod that cannot be launched ends Failed,
  // CreateContainerConfigError) and brings the pod's stored status in line with its workload;
  // returns the pod as stored. A pod in a terminal phase is returned as it is.
  Result<Json> Sync(Json pod);
  // Stops the pod's workload and records it Failed with `reason` (a terminal pod is left as it
  // is); `pod` becomes the pod as stored.
  Status Stop(Json& pod, const std::string& reason);

  // Pod ns/name: gone from the store, its workload is stopped and removed (one the labels name
  // as that pod's: kWorkloadPodLabel); without a controller, it is run (Sync), and stopped once
  // it is being deleted (its finalizers hold it).
  Result<std::optional<std::chrono::milliseconds>> Reconcile(const std::string& ns,
                                                             const std::string& name);
  // The pod whose workload has these labels (for a Backend's listener), if it is a pod's.
  static std::optional<std::pair<std::string, std::string>> KeyForWorkload(
      const std::map<std::string, std::string>& labels);

 private:
  Status Release(const std::string& ns, const std::string& name);

  Store& store_;
  Backend& backend_;
  const PodControllerOptions options_;
};

}  // namespace skiff::jobs
