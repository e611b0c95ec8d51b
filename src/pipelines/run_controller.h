// RunController: drives PipelineRun resources (pipelineruns.pipelines.kubeflow.org) with the DAG
// engine. A PipelineRun is what `skiff run`, the KFP v2beta1 API and recurring runs create:
//
//   apiVersion: pipelines.kubeflow.org/v2beta1
//   kind: PipelineRun
//   metadata: {name: add-7f3k2, namespace: default}
//   spec:
//     pipelineSpec: {...}          # the compiled IR (PipelineSpec JSON)
//     platformSpec: {...}          # optional `platforms:` document
//     parameters: {a: 1, b: 2}     # runtime_config.parameters
//     pipelineRoot: ""             # "" = Skiff's artifact store
//     enableCaching: true
//     displayName: "my run"
//     cancelRequested: false       # set true to terminate
//   status:
//     state: PENDING|RUNNING|SUCCEEDED|FAILED|CANCELING|CANCELED
//     createdAt / startedAt / finishedAt (RFC 3339), message,
//     engine: {...}                # the engine's run status document (engine.h)
//
// Level-triggered: Reconcile reads the stored run, advances the engine one step, writes the status
// back with optimistic concurrency. After a crash the stored engine status resumes the run:
// finished tasks are not re-run, running ones are re-adopted by workload id.
//
// Between reconciles the controller keeps its copy of each active run. While the stored
// resourceVersion is still the one of that copy (one cheap GetResourceVersion), the copy is used
// instead of re-reading and parsing the run; and task progress is written at most once per
// persist interval (RunControllerOptions), the copy holding what is newer. What a crash loses
// of that is re-derived: workload ids are deterministic, so a restarted engine re-adopts the
// same workloads and reads their outputs back.
//
// Thread-compatible: one ReconcileLoop calls Reconcile.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "core/clock.h"
#include "pipelines/engine.h"
#include "pipelines/ir.h"
#include "pipelines/task.h"
#include "store/store.h"

namespace skiff {
class ModuleRegistry;
}

namespace skiff::pipelines {

// Registers the pipelines kinds (PipelineRun, RecurringRun, Experiment, Pipeline,
// PipelineVersion, TaskCache) and the run and recurring run controllers (pipeline_kinds.cc).
void Register(ModuleRegistry& modules);

inline constexpr char kPipelineRunType[] = "pipelineruns.pipelines.kubeflow.org";

// Builds a PipelineRun object for `spec_doc` (IR JSON, with optional platform spec).
Json MakePipelineRun(const std::string& ns, const std::string& name, const Json& spec_doc,
                     const Json& platform_spec, const std::map<std::string, Json>& parameters,
                     bool enable_caching);

// Validates a PipelineRun on create/replace: the IR parses, parameters type-check.
Status ValidatePipelineRun(Json& run, bool is_create);

// The backend workload id of a run's task, found by task path ("root.add-numbers") or, when
// unambiguous, by task name ("add-numbers"). Errors list the tasks there are.
Result<std::string> FindTaskWorkload(const Json& run, const std::string& task);

struct RunControllerOptions {
  // "<SKIFF_HOME>/artifacts": a run that names no pipeline root keeps its artifacts in its
  // namespace's part of it (artifact_paths.h).
  std::string artifacts_root;
  std::chrono::milliseconds poll_interval{std::chrono::milliseconds(50)};
  // A busy run's status is written to the store at most once per persist interval: the longer
  // of min_persist_interval and persist_cost_factor times what the last write took, capped at
  // max_persist_interval. A run with thousands of tasks (a status of megabytes) then spends a
  // bounded share of its time being written. Changes of the run's state are written at once.
  std::chrono::milliseconds min_persist_interval{std::chrono::milliseconds(200)};
  std::chrono::milliseconds max_persist_interval{std::chrono::milliseconds(2000)};
  int persist_cost_factor = 10;
};

class RunController {
 public:
  RunController(Store& store, TaskRunner& runner, Clock& clock, RunControllerOptions options);

  Result<std::optional<std::chrono::milliseconds>> Reconcile(const std::string& ns,
                                                             const std::string& name);

 private:
  // What is kept per active run (by namespace/name) between reconciles.
  struct RunCache {
    std::string uid;
    std::shared_ptr<const PipelineSpec> spec;  // parsed IR (parsing is costly)
    Json run;             // the run as of `version`, with any status not yet written
    int64_t version = 0;  // the stored resourceVersion `run` is based on (0 = none)
    bool dirty = false;   // run["status"] is newer than what is stored
    std::chrono::steady_clock::time_point last_write{};
    std::chrono::steady_clock::duration write_cost{};  // of the last write
  };

  Result<std::shared_ptr<const PipelineSpec>> SpecFor(RunCache& cache, const Json& run);
  // The stored run, or the cached copy while it is still current.
  Result<Json> ReadRun(const std::string& key, const std::string& ns, const std::string& name);
  std::chrono::milliseconds PersistInterval(const RunCache& cache) const;

  Store& store_;
  TaskRunner& runner_;
  Clock& clock_;
  RunControllerOptions options_;
  Engine engine_;
  std::map<std::string, RunCache> runs_;
};

}  // namespace skiff::pipelines
