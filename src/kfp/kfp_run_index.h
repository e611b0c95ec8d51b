// KfpRunIndex: the list_runs view of every stored object of one type (PipelineRuns), kept current
// from the Store's change feed the way a Kubernetes informer keeps its cache. Listing runs then
// filters and sorts small summaries held in memory instead of reading and parsing every run from
// the store on every request (with 1,000 stored runs, that parse was ~80 ms a list).
//
//   KfpRunIndex index(store, pipelines::kPipelineRunType, &SummaryOf);
//   ASSIGN_OR_RETURN(std::vector<KfpRunIndex::Summary> runs, index.Summaries("team-a"));
//
// Each call first catches up: it reads the change feed after the last version it applied
// (metadata only), re-reads each changed object once with Get and converts it, and drops deleted
// ones. The first call, a change feed too long to be worth replaying (more changed objects than a
// quarter of those held), and any store error on the way lead to a full List instead. So a call
// sees every write that completed before it began. Memory: one summary per object. Summaries are
// immutable and shared (shared_ptr) between the index and the requests still reading them when a
// change replaces them, so a list copies pointers, not documents.
//
// Thread-safe: concurrent calls catch up one at a time under the index's mutex.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/resource.h"
#include "core/status.h"
#include "core/thread_annotations.h"
#include "store/store.h"

namespace skiff {

class KfpRunIndex {
 public:
  // Turns a stored object into what the index keeps for it.
  using Summarize = std::function<Json(const Json& object)>;
  using Summary = std::shared_ptr<const Json>;

  KfpRunIndex(Store& store, std::string store_type, Summarize summarize);

  // The summaries of the objects in namespace `ns` ("" = every namespace), ordered by (namespace,
  // name), as of a moment after the call began. Errors are the store's.
  Result<std::vector<Summary>> Summaries(const std::string& ns);

  // How many full Lists the index has made (the first load and every fallback); for tests.
  int64_t full_loads() const;

 private:
  Status CatchUpLocked() REQUIRES(mu_);
  Status LoadLocked() REQUIRES(mu_);

  Store& store_;
  const std::string store_type_;
  const Summarize summarize_;

  mutable Mutex mu_;
  bool loaded_ GUARDED_BY(mu_) = false;
  int64_t version_ GUARDED_BY(mu_) = 0;  // the store version the summaries reflect
  int64_t full_loads_ GUARDED_BY(mu_) = 0;
  std::map<std::pair<std::string, std::string>, Summary> summaries_ GUARDED_BY(mu_);
};

}  // namespace skiff
