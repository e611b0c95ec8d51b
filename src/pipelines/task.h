// The seam between the pipeline engine (DAG driver: ir.h, engine.h) and the launcher that runs one
// container task on a Backend (launcher.h). The engine resolves a task's inputs and hands a
// TaskInvocation to a TaskRunner; the runner starts a workload, and later reports a TaskOutcome
// with the outputs read back as the KFP launcher does.
//
//   TaskInvocation inv = ...;            // built by the engine
//   RETURN_IF_ERROR(runner.Start(inv));  // idempotent: re-adopts a workload already started
//   ASSIGN_OR_RETURN(std::optional<TaskOutcome> done, runner.Poll(inv));
//
// Engine tests use a fake TaskRunner; the launcher is tested against a fake Backend.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/resource.h"
#include "core/status.h"

namespace skiff::pipelines {

// One artifact as it travels between tasks (the ExecutorInput/RuntimeArtifact shape).
struct Artifact {
  std::string name;
  std::string uri;             // e.g. "file:///home/me/.skiff/artifacts/<run>/<task>/<salt>/model"
  std::string schema_title;    // "system.Dataset"
  std::string schema_version;  // "0.0.1"
  Json metadata = Json::object();
};

// Everything needed to run one container task of one run.
struct TaskInvocation {
  std::string run_id;       // the run's uid
  std::string run_name;     // the run's resource name (metadata.name)
  std::string namespace_;   // profile the run belongs to
  std::string task_path;    // unique within the run: "root.for-loop-2.iteration-0.add-numbers"
  std::string task_name;    // the task's name in its DAG: "add-numbers"
  std::string workload_id;  // stable id for the Backend: "<run_id>.<task_path>.<attempt>"
  int attempt = 0;          // 0-based retry attempt
  Json component_spec;      // components[<componentRef.name>] from the IR
  Json executor_spec;       // deploymentSpec.executors[<executorLabel>] ({"container": {...}})
  Json platform_config;     // platforms.kubernetes...executors[<executorLabel>] or null
  std::map<std::string, Json> parameter_inputs;  // resolved values, defaults not yet applied
  std::map<std::string, std::vector<Artifact>> artifact_inputs;
  std::string pipeline_root;  // "file:///.../artifacts" (the run's output root)
  bool enable_cache = true;
};

struct TaskOutcome {
  enum class State { kSucceeded, kFailed, kCached };
  State state = State::kFailed;
  std::string message;  // failure reason ("exit code 1", "OOMKilled", "timeout", ...)
  int exit_code = 0;
  std::map<std::string, Json> output_parameters;
  std::map<std::string, std::vector<Artifact>> output_artifacts;
  // Settings that had no effect on this backend (node selectors, GPUs, ...), one line each.
  std::vector<std::string> warnings;
};

class TaskRunner {
 public:
  virtual ~TaskRunner() = default;
  // Starts the task's workload (or finds it already started/finished, after a restart) or, when
  // caching allows and a cache entry exists, records a cached outcome for Poll to return.
  virtual Status Start(const TaskInvocation& invocation) = 0;
  // nullopt while the task runs; the outcome once it has finished and outputs are collected.
  virtual Result<std::optional<TaskOutcome>> Poll(const TaskInvocation& invocation) = 0;
  // Stops a running task; its outcome becomes kFailed with message "cancelled".
  virtual Status Cancel(const TaskInvocation& invocation) = 0;
  // The task's combined stdout/stderr.
  virtual Result<std::string> Logs(const TaskInvocation& invocation) = 0;
};

}  // namespace skiff::pipelines
