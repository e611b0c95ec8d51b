// The level-triggered DAG engine for KFP v2 pipeline IR. All run state lives in one Json "run
// status" document, so the run controller can store it and resume after a crash: each Reconcile
// reads it, advances the run as far as it can without blocking (starting ready tasks, polling
// running ones, resolving outputs) and writes it back.
//
//   RunContext ctx{.run_id = uid, .run_name = "my-run", .pipeline_root = "file:///..."};
//   Json status;  // empty: a new run (or the stored document after a restart)
//   Engine engine;
//   ASSIGN_OR_RETURN(bool done, engine.Reconcile(spec, ctx, status, runner, clock));
//   store status; call again later (or on a workload event) until done.
//
// Run status document:
//   {"state": "RUNNING", "message": "", "start_time": "...", "finish_time": "...",
//    "cancel_requested": false, "failing": false, "parameters": {resolved pipeline inputs},
//    "generation": 0 (bumped by a retry: re-run tasks get fresh workload ids),
//    "outputs": {"parameters": {}, "artifacts": {}},
//    "tasks": {"root": {...}, "root.add-numbers": {...}, "root.for-loop-1.iteration-0.x": {...}}}
// and per task path:
//   {"name", "kind": DAG|LOOP|ITERATION|CONTAINER|IMPORTER, "component", "state", "attempt",
//    "attempts": [{attempt, state, message, start_time, finish_time}], "start_time",
//    "finish_time", "retry_at", "workload_id", "uuid", "inputs": {"parameters", "artifacts"},
//    "outputs": {"parameters", "artifacts"}, "message", "children": [paths],
//    "warnings": [settings that had no effect on this backend, one line each]}
// States: PENDING, RUNNING, SUCCEEDED, FAILED, SKIPPED, CACHED, CANCELED.
//
// Semantics follow the KFP backend driver: dependentTasks and data dependencies must succeed
// (ALL_UPSTREAM_TASKS_COMPLETED waits only for completion: exit handlers, ignore-upstream-failure);
// a false triggerPolicy.condition skips a task and its dependants; nested DAGs map inputs and
// outputs; OneOf picks the first branch that ran; ParallelFor fans out iterations (at most
// parallelismLimit at a time) and dsl.Collected gathers their outputs into lists; retryPolicy
// retries with backoff on the Clock; importers resolve without a workload. A task failing (after
// retries) fails the run: nothing new starts except ALL_UPSTREAM_TASKS_COMPLETED tasks.
//
// Thread-compatible: Reconcile calls on one run must not overlap.
#pragma once

#include <chrono>
#include <map>
#include <string>

#include "core/clock.h"
#include "core/resource.h"
#include "core/status.h"
#include "pipelines/ir.h"
#include "pipelines/task.h"

namespace skiff::pipelines {

struct RunContext {
  std::string run_id;        // {{$.pipeline_job_uuid}}
  std::string run_name;      // {{$.pipeline_job_resource_name}}
  std::string display_name;  // {{$.pipeline_job_name}} ("" = run_name)
  std::string namespace_;
  std::string pipeline_root;               // "" = spec.defaultPipelineRoot
  std::map<std::string, Json> parameters;  // runtime_config.parameters overrides
  bool enable_cache = true;
  TimePoint create_time{};    // {{$.pipeline_job_create_time_utc}}
  TimePoint schedule_time{};  // {{$.pipeline_job_schedule_time_utc}} (zero = create_time)
  // How long one Reconcile may keep advancing a run whose tasks keep finishing before it hands
  // back, so the status is stored (progress and crash safety) at least this often.
  std::chrono::milliseconds max_reconcile_time{200};
};

// Task and run state names used in the status document.
inline constexpr const char* kPending = "PENDING";
inline constexpr const char* kRunning = "RUNNING";
inline constexpr const char* kSucceeded = "SUCCEEDED";
inline constexpr const char* kFailed = "FAILED";
inline constexpr const char* kSkipped = "SKIPPED";
inline constexpr const char* kCached = "CACHED";
inline constexpr const char* kCanceled = "CANCELED";

bool IsTerminalState(const std::string& state);

Json ArtifactToJson(const Artifact& artifact);
Artifact ArtifactFromJson(const Json& json);

// Applies defaults and overrides to the root's inputDefinitions and type-checks the values.
// Errors name the parameter (missing required, unknown, wrong type).
Result<std::map<std::string, Json>> ResolvePipelineParameters(
    const PipelineSpec& spec, const std::map<std::string, Json>& overrides);

class Engine {
 public:
  // Advances the run. Returns true once the run is finished (status["state"] terminal). An error
  // means the run could not be started (bad parameters) or the status document is corrupt; a
  // failing task is not an error, it is recorded in the status.
  Result<bool> Reconcile(const PipelineSpec& spec, const RunContext& context, Json& run_status,
                         TaskRunner& runner, Clock& clock);

  // Marks the run for cancellation; the next Reconcile cancels running tasks and marks the rest.
  static void RequestCancel(Json& run_status);
};

}  // namespace skiff::pipelines
