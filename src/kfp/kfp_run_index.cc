#include "kfp/kfp_run_index.h"

#include <set>

namespace skiff {
namespace {

constexpr size_t kChangesPerRead = 1000;

}  // namespace

KfpRunIndex::KfpRunIndex(Store& store, std::string store_type, Summarize summarize)
    : store_(store), store_type_(std::move(store_type)), summarize_(std::move(summarize)) {}

int64_t KfpRunIndex::full_loads() const {
  MutexLock lock(&mu_);
  return full_loads_;
}

Result<std::vector<KfpRunIndex::Summary>> KfpRunIndex::Summaries(const std::string& ns) {
  MutexLock lock(&mu_);
  if (Status caught_up = CatchUpLocked(); !caught_up.ok()) {
    loaded_ = false;  // start over with a full List next time
    return caught_up;
  }
  std::vector<Summary> out;
  auto it = ns.empty() ? summaries_.begin() : summaries_.lower_bound({ns, ""});
  for (; it != summaries_.end() && (ns.empty() || it->first.first == ns); ++it) {
    out.push_back(it->second);
  }
  return out;
}

Status KfpRunIndex::LoadLocked() {
  ASSIGN_OR_RETURN(ListResult all, store_.List(store_type_, "", ListOptions{}));
  summaries_.clear();
  for (const Json& obj : all.items) {
    summaries_[{MetaNamespace(obj), MetaName(obj)}] = std::make_shared<const Json>(summarize_(obj));
  }
  version_ = all.resource_version;
  loaded_ = true;
  ++full_loads_;
  return Status::Ok();
}

Status KfpRunIndex::CatchUpLocked() {
  if (!loaded_) return LoadLocked();
  // The objects changed since version_, each once; replaying is worth it while they are few.
  ChangeFilter filter;
  filter.store_type = store_type_;
  filter.metadata_only = true;
  std::set<std::pair<std::string, std::string>> changed;
  int64_t seen = version_;
  const size_t replay_limit = summaries_.size() / 4 + 64;
  while (true) {
    ASSIGN_OR_RETURN(std::vector<WatchEvent> events,
                     store_.ReadChanges(filter, seen, kChangesPerRead));
    for (const WatchEvent& e : events) {
      changed.insert({e.namespace_, e.name});
      seen = e.resource_version;
    }
    if (changed.size() > replay_limit) return LoadLocked();
    if (events.size() < kChangesPerRead) break;
  }
  for (const auto& key : changed) {
    Result<Json> obj = store_.Get(store_type_, key.first, key.second);
    if (obj.ok()) {
      summaries_[key] = std::make_shared<const Json>(summarize_(*obj));
    } else if (obj.status().code() == StatusCode::kNotFound) {
      summaries_.erase(key);
    } else {
      return obj.status();
    }
  }
  version_ = seen;
  return Status::Ok();
}

}  // namespace skiff
