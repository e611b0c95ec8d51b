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

namespace skiff::pipelines {

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
  std::string artifacts_root;  // "<SKIFF_HOME>/artifacts": default pipeline root is file://<it>
  std::chrono::milliseconds poll_interval{std::chrono::milliseconds(50)};
};

class RunController {
 public:
  RunController(Store& store, TaskRunner& runner, Clock& clock, RunControllerOptions options);

  Result<std::optional<std::chrono::milliseconds>> Reconcile(const std::string& ns,
                                                             const std::string& name);

 private:
  Result<std::shared_ptr<const PipelineSpec>> SpecFor(const Json& run);

  Store& store_;
  TaskRunner& runner_;
  Clock& clock_;
  RunControllerOptions options_;
  Engine engine_;
  // Parsed IR by run uid (parsing is the costly part of a reconcile).
  std::map<std::string, std::shared_ptr<const PipelineSpec>> specs_;
};

}  // namespace skiff::pipelines
