// FakeBackend: an in-memory Backend for controller tests (a test double, never used in
// production). Launch records the spec and creates a workload in kPending or kRunning (per
// `set_launch_phase`); the test then drives it: Finish(id, exit_code), SetPhase(...),
// SetReady(...), SetLogs(...), SetUsage(...), and inspects what the controller did with
// launched() and stop_calls(). Nothing runs; time comes from the Clock passed in. As the local
// backend does, a running container is ready unless it has a readiness probe (then SetReady
// decides), and each declared port is reported at an endpoint of its own ("127.0.0.1:30000",
// "127.0.0.1:30001", ... in launch order).
//
//   FakeClock clock;
//   FakeBackend backend(clock);
//   JobController jobs(store, backend, clock, {});
//   jobs.ReconcileOnce();
//   ASSERT_EQ(backend.launched().size(), 1u);
//   backend.Finish(backend.launched()[0].id, 0);  // -> kSucceeded, container exit code 0
//
// Thread-safe: one mutex guards everything.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "core/thread_annotations.h"

namespace skiff {

class FakeBackend : public Backend {
 public:
  struct StopCall {
    std::string id;
    std::chrono::milliseconds grace;
  };

  explicit FakeBackend(Clock& clock);

  // Backend.
  Status Launch(const WorkloadSpec& spec) override;
  Result<WorkloadStatus> Observe(const std::string& id) override;
  std::vector<WorkloadStatus> List() override;
  Status Stop(const std::string& id, std::chrono::milliseconds grace) override;
  Status Remove(const std::string& id) override;
  Result<std::string> ReadLogs(const std::string& id, const std::string& container,
                               int64_t offset) override;
  Result<ResourceUsage> Usage(const std::string& id) override;
  // Records the quota (quotas()); holds nothing.
  Status SetQuota(const std::string& ns, const WorkloadQuota& quota) override;

  // The phase a newly launched workload starts in: kRunning (default) or kPending.
  void set_launch_phase(WorkloadPhase phase);
  // Makes every later Launch fail with `status` (ok() to clear).
  void set_launch_error(Status status);

  // Ends every container of `id`: exit 0 -> kSucceeded ("Completed"), otherwise kFailed
  // ("Error", or `reason` when given). kNotFound for an unknown id. When the spec's restart
  // policy starts them again (Always; OnFailure and a non-zero exit) they wait in
  // "CrashLoopBackOff" instead, the workload still kRunning, until Restart.
  Status Finish(const std::string& id, int exit_code, const std::string& reason = "");
  // Starts the containers waiting in CrashLoopBackOff again (restart_count + 1).
  Status Restart(const std::string& id);
  // Sets the phase (and message) directly, e.g. kPending "waiting for resources".
  Status SetPhase(const std::string& id, WorkloadPhase phase, const std::string& message = "");
  // Logs returned by ReadLogs for `container` ("" = the first container).
  Status SetLogs(const std::string& id, const std::string& container, std::string logs);
  Status SetUsage(const std::string& id, ResourceUsage usage);
  // What the readiness probes of `id`'s containers find (until it changes again).
  Status SetReady(const std::string& id, bool ready);

  // Every spec passed to a Launch that created a workload, in order (duplicates excluded).
  std::vector<WorkloadSpec> launched() const;
  std::vector<StopCall> stop_calls() const;
  std::vector<std::string> removed() const;
  // Whether `id` is currently known (launched and not removed).
  bool Has(const std::string& id) const;
  // The last quota set for each namespace (lifted ones are absent).
  std::map<std::string, WorkloadQuota> quotas() const;

 private:
  struct Entry {
    WorkloadSpec spec;
    WorkloadStatus status;
    std::map<std::string, std::string> logs;  // container name -> text
    ResourceUsage usage;
    bool probes_pass = false;  // SetReady
  };

  Entry* FindLocked(const std::string& id) REQUIRES(mu_);
  // The status with the readiness the running containers have now.
  static WorkloadStatus Current(const Entry& e);

  Clock& clock_;
  mutable Mutex mu_;
  WorkloadPhase launch_phase_ GUARDED_BY(mu_) = WorkloadPhase::kRunning;
  int next_port_ GUARDED_BY(mu_) = 30000;
  Status launch_error_ GUARDED_BY(mu_);
  std::map<std::string, Entry> workloads_ GUARDED_BY(mu_);
  std::vector<WorkloadSpec> launched_ GUARDED_BY(mu_);
  std::vector<StopCall> stop_calls_ GUARDED_BY(mu_);
  std::vector<std::string> removed_ GUARDED_BY(mu_);
  std::map<std::string, WorkloadQuota> quotas_ GUARDED_BY(mu_);
};

}  // namespace skiff
