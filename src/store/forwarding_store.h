// ForwardingStore: a Store that hands every call to another, the base of the stores that wrap
// one to change a few calls (EncryptingStore, QuotaStore, MeteredStore): a wrapper overrides what
// it changes and inherits the rest.
//
//   class AuditingStore : public ForwardingStore {
//    public:
//     using ForwardingStore::ForwardingStore;
//     Result<Json> Create(const std::string& type, Json object) override { ...; return
//     ForwardingStore::Create(type, std::move(object)); }
//   };
//
// Thread-safe as the wrapped store is.
#pragma once

#include <memory>
#include <utility>

#include "store/store.h"

namespace skiff {

class ForwardingStore : public Store {
 public:
  // Wraps `inner` and owns it.
  explicit ForwardingStore(std::unique_ptr<Store> inner)
      : owned_(std::move(inner)), inner_(*owned_) {}
  // Wraps `inner`, which must outlive this.
  explicit ForwardingStore(Store& inner) : inner_(inner) {}

  Result<Json> Create(const std::string& type, Json object) override {
    return inner_.Create(type, std::move(object));
  }
  Result<Json> Get(const std::string& type, const std::string& ns,
                   const std::string& name) override {
    return inner_.Get(type, ns, name);
  }
  Result<int64_t> GetResourceVersion(const std::string& type, const std::string& ns,
                                     const std::string& name) override {
    return inner_.GetResourceVersion(type, ns, name);
  }
  Result<Json> Update(const std::string& type, Json object) override {
    return inner_.Update(type, std::move(object));
  }
  Result<Json> Delete(const std::string& type, const std::string& ns, const std::string& name,
                      int64_t expected_version) override {
    return inner_.Delete(type, ns, name, expected_version);
  }
  Result<ListResult> List(const std::string& type, const std::string& ns,
                          const ListOptions& options) override {
    return inner_.List(type, ns, options);
  }
  Result<int64_t> Count(const std::string& type, const std::string& ns) override {
    return inner_.Count(type, ns);
  }
  Result<std::vector<OwnerLink>> ListOwnerLinks(const std::string& owner_uid) override {
    return inner_.ListOwnerLinks(owner_uid);
  }
  Result<int64_t> Snapshot(const std::string& path) override { return inner_.Snapshot(path); }
  Result<std::vector<WatchEvent>> ReadChanges(const ChangeFilter& filter, int64_t after,
                                              size_t limit) override {
    return inner_.ReadChanges(filter, after, limit);
  }
  Result<int64_t> Compact(int64_t through) override { return inner_.Compact(through); }
  Result<int64_t> CompactedVersion() override { return inner_.CompactedVersion(); }
  int64_t WaitForChange(int64_t after, std::chrono::milliseconds timeout) override {
    return inner_.WaitForChange(after, timeout);
  }
  void WakeWaiters() override { inner_.WakeWaiters(); }
  int64_t CurrentVersion() override { return inner_.CurrentVersion(); }

 protected:
  Store& inner() { return inner_; }

 private:
  std::unique_ptr<Store> owned_;  // null when borrowed
  Store& inner_;
};

}  // namespace skiff
