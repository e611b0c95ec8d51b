// PodController: what Skiff's pods need of a kubelet beyond what their Job's controller does:
// a pod deleted from the store (by a user, or by the garbage collector once its Job went) has
// its workload stopped and removed, so nothing runs that no pod stands for. The pods themselves
// are started and followed by the controller that owns them (JobController).
//
//   PodController pods(store, backend, std::chrono::seconds(5));
//   ReconcileLoop loop("pods", store, kPodType,
//                      [&](auto& ns, auto& name) { return pods.Reconcile(ns, name); });
//
// Thread-compatible: one ReconcileLoop calls Reconcile.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "backend/backend.h"
#include "store/store.h"

namespace skiff::jobs {

class PodController {
 public:
  // `stop_grace`: how long a deleted pod's containers get to end after SIGTERM.
  PodController(Store& store, Backend& backend, std::chrono::milliseconds stop_grace);

  // When pod ns/name is gone from the store, stops and removes its workload (one the labels
  // name as that pod's; kWorkloadPodLabel).
  Result<std::optional<std::chrono::milliseconds>> Reconcile(const std::string& ns,
                                                             const std::string& name);

 private:
  Store& store_;
  Backend& backend_;
  const std::chrono::milliseconds stop_grace_;
};

}  // namespace skiff::jobs
