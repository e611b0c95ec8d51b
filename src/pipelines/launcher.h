// Launcher: the TaskRunner that runs one KFP container task on a Backend, doing what the KFP
// driver and launcher do around the user's command: cache lookup, ExecutorInput, output folders,
// placeholder substitution, the pip-install prelude handed to the backend's cached Python env,
// platform config (secrets/config maps as env and files, emptyDir and PVC mounts), resources,
// kfp-kubernetes' CreatePVC/DeletePVC (volume_ops.h);
// then, once the workload ends, reading the outputs back and recording them in the cache.
//
//   LauncherOptions options{.artifacts_root = home + "/artifacts", .work_dir = home + "/tasks"};
//   Launcher launcher(options, backend, &cache);
//   RETURN_IF_ERROR(launcher.Start(invocation));      // idempotent; re-adopts after a restart
//   ASSIGN_OR_RETURN(auto outcome, launcher.Poll(invocation));  // nullopt while running
//
// Everything the launcher derives from an invocation (paths, salt, workload spec) is a pure
// function of it, so a restarted process rebuilds the same state. Thread-safe: the small
// per-task memo is guarded by a mutex; Backend and TaskCache are thread-safe.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "core/status.h"
#include "core/thread_annotations.h"
#include "pipelines/cache.h"
#include "pipelines/executor_io.h"
#include "pipelines/task.h"

namespace skiff::pipelines {

// Labels on every task workload: which run (uid and name, in which namespace) and task it is, so
// that a backend's change of a workload can be mapped back to the run to reconcile.
inline constexpr char kRunUidLabel[] = "skiff.dev/run";
inline constexpr char kRunNameLabel[] = "skiff.dev/run-name";
inline constexpr char kTaskLabel[] = "skiff.dev/task";
inline constexpr const char* kNamespaceLabel = kWorkloadNamespaceLabel;

// Returns the data of a Secret or ConfigMap (`kind` is "Secret" or "ConfigMap") in namespace `ns`;
// kNotFound when it does not exist.
using ConfigResolver = std::function<Result<std::map<std::string, std::string>>(
    const std::string& ns, const std::string& kind, const std::string& name)>;

struct LauncherOptions {
  std::string artifacts_root;     // SKIFF_HOME/artifacts: the pipeline root when a run names none
  std::string work_dir;           // per-task folders (output parameter files, secret files)
  std::string volumes_root;       // PVC claims map to <volumes_root>/<namespace>/<claim>;
                                  // empty = <work_dir>/volumes
  ConfigResolver resolve_config;  // for secretAsEnv/configMapAsEnv/...AsVolume; may be empty
  std::chrono::milliseconds stop_grace{10'000};
};

class Launcher : public TaskRunner {
 public:
  // `cache` may be null (no caching). The backend and cache must outlive the launcher.
  Launcher(LauncherOptions options, Backend& backend, TaskCache* cache);

  Status Start(const TaskInvocation& invocation) override;
  Result<std::optional<TaskOutcome>> Poll(const TaskInvocation& invocation) override;
  Status Cancel(const TaskInvocation& invocation) override;
  Result<std::string> Logs(const TaskInvocation& invocation) override;

  // The workload Start would launch (creating the task's output folders). `warnings` receives
  // one line per setting that has no effect on this backend (node selectors, GPUs, ...).
  Result<WorkloadSpec> BuildWorkload(const TaskInvocation& invocation,
                                     std::vector<std::string>* warnings);

  // Where the task's output parameter `name` is written (see executor_io.h).
  std::string OutputParameterPath(const TaskInvocation& invocation, const std::string& name) const;
  // Where the task's executor output (output_metadata.json) is written.
  std::string ExecutorOutputPath(const TaskInvocation& invocation) const;

 private:
  struct TaskState {
    std::optional<TaskOutcome> done;  // cached or collected outcome
    bool cancelled = false;
    std::vector<std::string> warnings;
  };

  Result<WorkloadSpec> BuildWorkloadUnchecked(const TaskInvocation& invocation,
                                              std::vector<std::string>* warnings);
  std::string PipelineRoot(const TaskInvocation& invocation) const;
  std::string VolumesRoot() const;
  std::string OutputFilePrefix(const TaskInvocation& invocation) const;
  TaskIoOptions IoOptions(const TaskInvocation& invocation) const;
  Result<std::optional<TaskOutcome>> LookupCache(const TaskInvocation& invocation,
                                                 std::vector<std::string>* warnings);
  Result<TaskOutcome> CollectSucceeded(const TaskInvocation& invocation);
  Status ApplyPlatformConfig(const TaskInvocation& invocation, WorkloadSpec* spec,
                             ContainerSpec* container, std::vector<std::string>* warnings);
  std::optional<TaskOutcome> Finish(const std::string& id, TaskOutcome outcome);

  const LauncherOptions options_;
  Backend& backend_;
  TaskCache* const cache_;
  Mutex mu_;
  std::map<std::string, TaskState> tasks_ GUARDED_BY(mu_);  // keyed by workload id
};

}  // namespace skiff::pipelines
