// Task caching, as the KFP driver does it: a fingerprint over what determines a task's outputs,
// and a TaskCache that maps (namespace, fingerprint) to the outputs of a task that succeeded.
//
// The fingerprint (CacheFingerprint) is the SHA-256 of a canonical JSON document (sorted keys)
// holding, like KFP's CacheKey proto: the input parameter values (component defaults applied),
// the input artifacts (name, URI, type, metadata), the output parameter types, the output
// artifact types, the container (image, unsubstituted command and args, env), the PVC names from
// the platform config, and the pipeline root the outputs are written under.
//
//   StoreTaskCache cache(store);
//   std::string key = CacheFingerprint(invocation);
//   ASSIGN_OR_RETURN(std::optional<TaskOutcome> hit, cache.Lookup(invocation.namespace_, key));
//   if (!hit) { ... run ...; RETURN_IF_ERROR(cache.Record(invocation, key, outcome)); }
//
// StoreTaskCache keeps one `TaskCache` object (store type "taskcaches.pipelines.kubeflow.org",
// in the run's namespace) per fingerprint; the newest success wins. Thread-safe, as the Store is.
#pragma once

#include <optional>
#include <string>

#include "core/resource.h"
#include "core/status.h"
#include "pipelines/task.h"
#include "store/store.h"

namespace skiff::pipelines {

inline constexpr const char* kTaskCacheStoreType = "taskcaches.pipelines.kubeflow.org";

// Hex SHA-256 over the canonical cache key of `invocation`.
Result<std::string> CacheFingerprint(const TaskInvocation& invocation);
// The canonical key document itself (exposed for tests and debugging).
Result<Json> CacheKeyDocument(const TaskInvocation& invocation);

// Whether the component allows caching at all: a task with an exit-handler final-status input
// (its outcome depends on how other tasks ended) never comes from the cache.
bool ComponentAllowsCaching(const Json& component_spec);

// Outcome <-> JSON, as stored.
Json OutcomeOutputsToJson(const TaskOutcome& outcome);
Result<TaskOutcome> OutcomeFromOutputsJson(const Json& outputs);

class TaskCache {
 public:
  virtual ~TaskCache() = default;
  // The outputs of a task that succeeded with this fingerprint (state kCached), or nullopt.
  virtual Result<std::optional<TaskOutcome>> Lookup(const std::string& ns,
                                                    const std::string& fingerprint) = 0;
  // Records the outputs of a task that succeeded. Overwrites an older entry.
  virtual Status Record(const TaskInvocation& invocation, const std::string& fingerprint,
                        const TaskOutcome& outcome) = 0;
};

class StoreTaskCache : public TaskCache {
 public:
  explicit StoreTaskCache(Store& store) : store_(store) {}
  Result<std::optional<TaskOutcome>> Lookup(const std::string& ns,
                                            const std::string& fingerprint) override;
  Status Record(const TaskInvocation& invocation, const std::string& fingerprint,
                const TaskOutcome& outcome) override;

 private:
  Store& store_;
};

}  // namespace skiff::pipelines
