// Lineage across runs: which task produced an artifact, which tasks consumed it, and the
// executions of a task, over every PipelineRun of a namespace. The data is each run's engine
// status (status.engine.tasks: a task's state, times, input and output artifacts); LineageIndex
// reads it, and AddLineageRoutes serves it, read-only:
//
//   GET /apis/skiff.dev/v1alpha1/namespaces/{ns}/artifacts               {"items": [artifact]}
//   GET /apis/skiff.dev/v1alpha1/namespaces/{ns}/artifacts/{uri}         one artifact; the URI
//                                                                          percent-encoded
//   GET /apis/skiff.dev/v1alpha1/namespaces/{ns}/executions[?task=NAME]  {"items": [execution]}
//
// An artifact is {uri, name, type, schemaVersion, metadata, created, producer: {run, task, state,
// key}, consumers: [{run, task, state, key}], reusedBy: [...]}: the producer is the earliest task
// that output the URI without the cache (its metadata and type are the artifact's); tasks that got
// it from the cache, or imported it again, are in reusedBy. A consumer's key is its input's name.
// Reading needs `list` on pipelineruns in the namespace, as listing the runs does.
//
//   LineageIndex index;
//   for (const Json& run : runs) index.AddRun(run);
//   if (const LineageArtifact* a = index.Find("file:///.../out")) ... a->consumers ...
//
// LineageIndex is a value type, thread-compatible; it tolerates runs of any shape (what is not
// an object or a string where one belongs is skipped). The routes build an index per request
// from the Store and are thread-safe.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "auth/auth.h"
#include "core/resource.h"
#include "http/http_server.h"
#include "store/store.h"

namespace skiff {

inline constexpr char kLineageApiPrefix[] = "/apis/skiff.dev/v1alpha1/namespaces/";

// One task's side of an artifact: the run and task path ("root.train") and, for a producer, the
// output's name, for a consumer, the input's name.
struct LineageTaskRef {
  std::string run;
  std::string task;
  std::string state;  // the task's state: SUCCEEDED, CACHED, ...
  std::string key;
  std::string time;  // when: the task's finish time (producers) or start time (consumers)
};

struct LineageArtifact {
  std::string uri;
  std::string name;  // the artifact's name as its producer reported it
  std::string type;  // schemaTitle, "system.Dataset"
  std::string schema_version;
  Json metadata = Json::object();
  std::string created;  // the producer's finish time
  std::optional<LineageTaskRef> producer;
  std::vector<LineageTaskRef> consumers;  // by time, run, task
  std::vector<LineageTaskRef> reused_by;  // cached or re-imported outputs of the same URI
};

// One run of a container or importer task.
struct LineageExecution {
  std::string run;
  std::string task;  // its path in the run, "root.train"
  std::string name;  // taskInfo.name, "train"
  std::string component;
  std::string kind;  // CONTAINER or IMPORTER
  std::string state;
  std::string start_time;
  std::string finish_time;
  std::string message;
  // {"parameters": {name: value}, "artifacts": {name: [uri, ...]}}
  Json inputs = Json::object();
  Json outputs = Json::object();
};

class LineageIndex {
 public:
  // Adds the container and importer tasks of one PipelineRun (its status.engine.tasks).
  void AddRun(const Json& run);

  // Every artifact, oldest first (then by URI).
  std::vector<const LineageArtifact*> Artifacts() const;
  const LineageArtifact* Find(const std::string& uri) const;
  // The executions of tasks named `task` (taskInfo name, or path with or without "root."), or of
  // every task when it is empty; by start time, then run and task.
  std::vector<LineageExecution> Executions(const std::string& task = "") const;

 private:
  void AddOutput(const std::string& uri, const Json& artifact, const LineageTaskRef& by);
  // Puts the consumers and reusers of the artifacts added to since the last call in order. Adding
  // appends (a sorted insert per task made one run of 30,000 readers of a URI quadratic), and
  // the readers sort once: the index stays linear (n log n) in the tasks it holds.
  void SortPending() const;

  // Mutable: sorted on first read after an add (SortPending), which changes no observable value.
  mutable std::map<std::string, LineageArtifact> artifacts_;  // by URI
  mutable std::set<std::string> unsorted_;                    // URIs with refs appended since
  std::vector<LineageExecution> executions_;
};

Json LineageArtifactJson(const LineageArtifact& artifact);
Json LineageExecutionJson(const LineageExecution& execution);

// Adds the three GET routes above through `add_route` (which must authenticate: the handlers
// read req.principal).
void AddLineageRoutes(const AddRouteFn& add_route, Store& store, Authorizer& authz);

}  // namespace skiff
