// QuotaStore: the object counts of each Profile's quota (profile_quota.h), held where every
// create passes whoever makes it (the resource API, the KFP API, a controller creating a Pod or a
// PipelineRun): a Store wrapping another that refuses to create an object of a kind the
// namespace's Profile limits once the namespace holds that many, as Kubernetes' ResourceQuota
// admission does:
//
//   403 jobs.batch "train-3" is forbidden: exceeded quota: profile team-a, requested:
//   count/jobs.batch=1, used: count/jobs.batch=2, limited: count/jobs.batch=2
//
// Creates of a limited kind in a limited namespace are counted and made one at a time, so two at
// once cannot both take the last place. A namespace without a Profile, or whose Profile limits
// nothing of the kind, costs one read of the Profile per create.
//
//   store = std::make_unique<QuotaStore>(std::move(store));
//
// Thread-safe as the wrapped store is.
#pragma once

#include <memory>

#include "core/thread_annotations.h"
#include "store/forwarding_store.h"

namespace skiff {

class QuotaStore : public ForwardingStore {
 public:
  explicit QuotaStore(std::unique_ptr<Store> inner) : ForwardingStore(std::move(inner)) {}

  Result<Json> Create(const std::string& type, Json object) override;

 private:
  Mutex mu_;  // held from counting to creating an object of a limited kind
};

}  // namespace skiff
