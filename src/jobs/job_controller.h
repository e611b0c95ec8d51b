// JobController: runs Kubernetes `batch/v1` Jobs on a Backend, with the semantics a Kubernetes
// user expects: parallelism, completions (NonIndexed and Indexed), backoffLimit with exponential
// back-off between failed attempts, activeDeadlineSeconds, ttlSecondsAfterFinished, suspend.
// Each attempt is a Pod object in the store (labels job-name / controller-uid, a controller
// ownerReference to the Job, so the garbage collector deletes it after the Job) whose status
// mirrors its workload (PodController runs it), so `skiff get pods -l job-name=pi` shows the
// attempt history. Level-triggered and idempotent: after a crash, Reconcile re-observes the pods'
// workloads (re-adopting running ones) and carries on.
//
//   JobController jobs(store, backend, clock, options);
//   ReconcileLoop loop("jobs", store, "jobs.batch", [&](auto& ns, auto& n) { return
//   jobs.Reconcile(ns, n); });
//
// Thread-compatible: one ReconcileLoop calls Reconcile; ValidateJob is thread-safe.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "backend/backend.h"
#include "core/clock.h"
#include "events/events.h"
#include "jobs/pod_controller.h"
#include "jobs/pod_template.h"
#include "store/store.h"

namespace skiff {
class ModuleRegistry;
}

namespace skiff::jobs {

// Registers the Job and Pod kinds and the Job controller (jobs/job_kinds.cc).
void Register(ModuleRegistry& modules);

inline constexpr char kJobType[] = "jobs.batch";
inline constexpr char kPodType[] = "pods";

struct JobControllerOptions {
  // Delay before re-creating a pod after the n-th failure: base * 2^(n-1), capped at max
  // (Kubernetes uses 10 s and 6 min).
  std::chrono::milliseconds backoff_base{std::chrono::seconds(10)};
  std::chrono::milliseconds backoff_max{std::chrono::minutes(6)};
  // How often a Job with running pods is looked at again.
  std::chrono::milliseconds poll_interval{std::chrono::milliseconds(200)};
  std::chrono::milliseconds stop_grace{std::chrono::seconds(5)};
  PodEnvironment pod_env;
};

class JobController {
 public:
  JobController(Store& store, Backend& backend, Clock& clock, JobControllerOptions options);

  // Drives Job ns/name one step towards its spec; returns when to look again.
  Result<std::optional<std::chrono::milliseconds>> Reconcile(const std::string& ns,
                                                             const std::string& name);

  // Validates a Job and applies Kubernetes defaults (parallelism 1, completions 1,
  // backoffLimit 6, completionMode NonIndexed, template restartPolicy). Errors name the field.
  static Status ValidateJob(Json& job, bool is_create);

  // The backend workload id of a pod: "<namespace>_<pod name>".
  static std::string WorkloadId(const Json& pod);

 private:
  Result<Json> CreatePod(const Json& job, std::optional<int> completion_index);
  // Deletes the Job (marks it, when finalizers hold it); its pods go after it.
  Status DeleteJob(const Json& job);

  Store& store_;
  Backend& backend_;
  Clock& clock_;
  JobControllerOptions options_;
  PodController pods_;            // runs the Job's pods
  events::EventRecorder events_;  // what `kubectl describe job` shows
};

}  // namespace skiff::jobs
