#include "gc/garbage_collector.h"

#include <algorithm>
#include <set>

#include "core/log.h"
#include "core/text.h"

namespace skiff::gc {
namespace {

using std::chrono::milliseconds;
using Key = ReconcileLoop::Key;

bool BeingDeleted(const Json& object) {
  return !TextAt(object, {"metadata", "deletionTimestamp"}).empty();
}

bool HasFinalizer(const Json& object, const std::string& finalizer) {
  const Json& finalizers = At(object, {"metadata", "finalizers"});
  return finalizers.is_array() &&
         std::find(finalizers.begin(), finalizers.end(), Json(finalizer)) != finalizers.end();
}

bool HasFinalizers(const Json& object) {
  const Json& finalizers = At(object, {"metadata", "finalizers"});
  return finalizers.is_array() && !finalizers.empty();
}

const Json& OwnerReferences(const Json& object) {
  static const Json* none = new Json(Json::array());
  const Json& refs = At(object, {"metadata", "ownerReferences"});
  return refs.is_array() ? refs : *none;
}

// The object without the references to the owners `uids` names.
Json WithoutReferences(Json object, const std::set<std::string>& uids) {
  Json& refs = object["metadata"]["ownerReferences"];
  Json kept = Json::array();
  for (const Json& ref : refs) {
    if (!uids.count(TextAt(ref, {"uid"}))) kept.push_back(ref);
  }
  if (kept.empty()) {
    object["metadata"].erase("ownerReferences");
  } else {
    refs = std::move(kept);
  }
  return object;
}

}  // namespace

Key OwnerKey::Encode() const { return {namespace_, store_type + "/" + name + "/" + uid}; }

std::optional<OwnerKey> OwnerKey::Decode(const Key& key) {
  // A store type and a uid hold no '/'; a name written in a reference might.
  const std::string& text = key.second;
  const size_t first = text.find('/');
  const size_t last = text.rfind('/');
  if (first == std::string::npos || last == first) return std::nullopt;
  OwnerKey owner{key.first, text.substr(0, first), text.substr(first + 1, last - first - 1),
                 text.substr(last + 1)};
  if (owner.store_type.empty() || owner.name.empty() || owner.uid.empty()) return std::nullopt;
  return owner;
}

GarbageCollector::GarbageCollector(Store& store, const TypeRegistry& types, Clock& clock)
    : store_(store), types_(types), clock_(clock) {}

const ResourceType* GarbageCollector::OwnerType(const std::string& api_version,
                                                const std::string& kind) const {
  if (const ResourceType* exact = types_.ByKind(api_version, kind)) return exact;
  std::string group, version;
  SplitApiVersion(api_version, &group, &version);
  for (const ResourceType& t : types_.All()) {
    if (t.group == group && t.kind == kind) return &t;
  }
  return nullptr;
}

std::optional<OwnerKey> GarbageCollector::OwnerOf(const Json& ref, const std::string& ns) const {
  return OwnerOf(TextAt(ref, {"apiVersion"}), TextAt(ref, {"kind"}), TextAt(ref, {"name"}),
                 TextAt(ref, {"uid"}), ns);
}

std::optional<OwnerKey> GarbageCollector::OwnerOf(const OwnerLink& link) const {
  return OwnerOf(link.owner_api_version, link.owner_kind, link.owner_name, link.owner_uid,
                 link.namespace_);
}

std::optional<OwnerKey> GarbageCollector::OwnerOf(const std::string& api_version,
                                                  const std::string& kind, std::string name,
                                                  std::string uid, const std::string& ns) const {
  const ResourceType* type = OwnerType(api_version, kind);
  OwnerKey owner{"", "", std::move(name), std::move(uid)};
  if (type == nullptr || owner.name.empty() || owner.uid.empty()) return std::nullopt;
  owner.namespace_ = type->namespaced ? ns : "";
  owner.store_type = type->StoreType();
  return owner;
}

std::vector<Key> GarbageCollector::KeysFor(const WatchEvent& change) const {
  std::vector<Key> keys;
  const Json& object = change.object;
  const std::string uid = TextAt(object, {"metadata", "uid"});
  if (!uid.empty() && (change.type == WatchEvent::Type::kDeleted ||
                       (BeingDeleted(object) && (HasFinalizer(object, kOrphanFinalizer) ||
                                                 HasFinalizer(object, kForegroundFinalizer))))) {
    keys.push_back(OwnerKey{change.namespace_, change.store_type, change.name, uid}.Encode());
  }
  // The owners of an object made or deleted: a dependent made for an owner already gone, and the
  // last dependent an owner deleted in the foreground waits for. (An object's other changes,
  // its pods' status updates above all, concern no owner; a reference added later is found by
  // the sweep.)
  if (change.type != WatchEvent::Type::kModified) {
    for (const Json& ref : OwnerReferences(object)) {
      if (auto owner = OwnerOf(ref, change.namespace_)) keys.push_back(owner->Encode());
    }
  }
  return keys;
}

Result<std::vector<Key>> GarbageCollector::AllOwners() const {
  ASSIGN_OR_RETURN(std::vector<OwnerLink> links, store_.ListOwnerLinks(""));
  std::set<Key> keys;
  for (const OwnerLink& link : links) {
    if (auto owner = OwnerOf(link)) keys.insert(owner->Encode());
  }
  return std::vector<Key>(keys.begin(), keys.end());
}

Result<std::optional<bool>> GarbageCollector::Exists(const OwnerKey& owner) {
  auto got = store_.Get(owner.store_type, owner.namespace_, owner.name);
  if (!got.ok()) {
    if (got.status().code() != StatusCode::kNotFound) return got.status();
    return std::optional<bool>(false);
  }
  return std::optional<bool>(MetaUid(*got) == owner.uid);
}

Result<std::optional<milliseconds>> GarbageCollector::Reconcile(const std::string& ns,
                                                                const std::string& key) {
  const std::optional<OwnerKey> owner = OwnerKey::Decode({ns, key});
  const ResourceType* type = owner ? types_.ByStoreType(owner->store_type) : nullptr;
  if (type == nullptr) return std::optional<milliseconds>();
  auto got = store_.Get(owner->store_type, owner->namespace_, owner->name);
  if (!got.ok() && got.status().code() != StatusCode::kNotFound) return got.status();
  const bool present = got.ok() && MetaUid(*got) == owner->uid;
  // An owner there and not being deleted: nothing to do, and its dependents not even read.
  if (present && !BeingDeleted(*got)) return std::optional<milliseconds>();
  ASSIGN_OR_RETURN(std::vector<OwnerLink> all, store_.ListOwnerLinks(owner->uid));
  // The dependents that name this owner: a reference names an owner of its own namespace (or a
  // cluster-scoped one).
  std::vector<OwnerLink> links;
  for (OwnerLink& link : all) {
    auto named = OwnerOf(link);
    if (named && named->store_type == owner->store_type && named->name == owner->name &&
        named->namespace_ == owner->namespace_) {
      links.push_back(std::move(link));
    }
  }
  if (!present) {
    for (const OwnerLink& link : links) RETURN_IF_ERROR(Collect(link, *owner));
    return std::optional<milliseconds>();
  }
  Json& object = *got;
  if (HasFinalizer(object, kOrphanFinalizer)) {
    for (const OwnerLink& link : links) RETURN_IF_ERROR(Unlink(link, *owner));
    RETURN_IF_ERROR(Finish(*type, std::move(object), kOrphanFinalizer));
  } else if (HasFinalizer(object, kForegroundFinalizer)) {
    int blocking = 0;
    for (const OwnerLink& link : links) {
      ASSIGN_OR_RETURN(bool remains, DeleteDependent(link));
      if (remains && link.block_owner_deletion) blocking++;
    }
    // Otherwise the owner is looked at again as each dependent goes.
    if (blocking == 0) RETURN_IF_ERROR(Finish(*type, std::move(object), kForegroundFinalizer));
  }
  return std::optional<milliseconds>();
}

Status GarbageCollector::Collect(const OwnerLink& link, const OwnerKey& gone) {
  auto got = store_.Get(link.store_type, link.namespace_, link.name);
  if (!got.ok()) return got.status().code() == StatusCode::kNotFound ? Status::Ok() : got.status();
  const Json& dependent = *got;
  std::set<std::string> dangling;
  bool named = false;
  bool another_owner = false;
  for (const Json& ref : OwnerReferences(dependent)) {
    const std::string uid = TextAt(ref, {"uid"});
    if (uid == gone.uid) {
      named = true;
      dangling.insert(uid);
      continue;
    }
    std::optional<OwnerKey> other = OwnerOf(ref, link.namespace_);
    if (!other) {
      another_owner = true;  // of a kind not served here: it cannot be told gone
      continue;
    }
    ASSIGN_OR_RETURN(std::optional<bool> exists, Exists(*other));
    if (!exists || *exists) {
      another_owner = true;
    } else {
      dangling.insert(uid);
    }
  }
  if (!named) return Status::Ok();  // changed since it was indexed
  if (another_owner) {
    auto updated = store_.Update(link.store_type, WithoutReferences(dependent, dangling));
    if (!updated.ok() && updated.status().code() != StatusCode::kNotFound) {
      return updated.status();
    }
    return Status::Ok();
  }
  LogInfo("garbage collecting",
          {{"object", link.store_type + " " + link.namespace_ + "/" + link.name},
           {"owner", gone.store_type + " " + gone.namespace_ + "/" + gone.name}});
  return Delete(link.store_type, dependent).status();
}

Status GarbageCollector::Unlink(const OwnerLink& link, const OwnerKey& owner) {
  auto got = store_.Get(link.store_type, link.namespace_, link.name);
  if (!got.ok()) return got.status().code() == StatusCode::kNotFound ? Status::Ok() : got.status();
  const Json& refs = OwnerReferences(*got);
  const bool named = std::any_of(
      refs.begin(), refs.end(), [&](const Json& ref) { return TextAt(ref, {"uid"}) == owner.uid; });
  if (!named) return Status::Ok();
  auto updated = store_.Update(link.store_type, WithoutReferences(*got, {owner.uid}));
  if (!updated.ok() && updated.status().code() != StatusCode::kNotFound) return updated.status();
  return Status::Ok();
}

Result<bool> GarbageCollector::DeleteDependent(const OwnerLink& link) {
  auto got = store_.Get(link.store_type, link.namespace_, link.name);
  if (!got.ok()) {
    if (got.status().code() != StatusCode::kNotFound) return got.status();
    return false;
  }
  if (BeingDeleted(*got)) return true;  // its finalizers hold it; its change wakes the owner
  return Delete(link.store_type, *got);
}

Result<bool> GarbageCollector::Delete(const std::string& type, const Json& object) {
  if (HasFinalizers(object)) {
    if (BeingDeleted(object)) return true;
    Json marked = object;
    marked["metadata"]["deletionTimestamp"] = FormatRfc3339(clock_.Now());
    marked["metadata"]["deletionGracePeriodSeconds"] = 0;
    auto updated = store_.Update(type, marked);
    if (!updated.ok()) {
      if (updated.status().code() != StatusCode::kNotFound) return updated.status();
      return false;
    }
    return true;
  }
  auto deleted =
      store_.Delete(type, MetaNamespace(object), MetaName(object), MetaResourceVersion(object));
  if (!deleted.ok() && deleted.status().code() != StatusCode::kNotFound) return deleted.status();
  return false;
}

Status GarbageCollector::Finish(const ResourceType& type, Json owner,
                                const std::string& finalizer) {
  Json& finalizers = owner["metadata"]["finalizers"];
  finalizers.erase(std::remove(finalizers.begin(), finalizers.end(), Json(finalizer)),
                   finalizers.end());
  if (!finalizers.empty()) return store_.Update(type.StoreType(), owner).status();
  auto deleted = store_.Delete(type.StoreType(), MetaNamespace(owner), MetaName(owner),
                               MetaResourceVersion(owner));
  if (!deleted.ok() && deleted.status().code() != StatusCode::kNotFound) return deleted.status();
  return Status::Ok();
}

namespace {

class GarbageCollectorPlugin : public Controller {
 public:
  explicit GarbageCollectorPlugin(const ControllerContext& ctx)
      : gc_(ctx.store, *ctx.types, ctx.clock), types_(*ctx.types) {}

  std::string StoreType() const override { return kGarbageCollectorType; }
  std::vector<Watch> Watches() const override {
    std::vector<Watch> watches;
    for (const ResourceType& t : types_.All()) {
      watches.push_back({t.StoreType(), [this](const WatchEvent& ev) { return gc_.KeysFor(ev); }});
    }
    return watches;
  }
  ReconcileLoop::Options LoopOptions() const override {
    ReconcileLoop::Options options;
    options.resync_period = std::chrono::minutes(10);
    options.list_keys = [this] { return gc_.AllOwners(); };
    return options;
  }
  Result<std::optional<milliseconds>> Reconcile(const std::string& ns,
                                                const std::string& key) override {
    return gc_.Reconcile(ns, key);
  }

 private:
  GarbageCollector gc_;
  const TypeRegistry& types_;
};

}  // namespace

void Register(ModuleRegistry& modules) {
  modules.AddController(
      "garbage-collector", [](const ControllerContext& ctx) -> Result<std::unique_ptr<Controller>> {
        return std::unique_ptr<Controller>(std::make_unique<GarbageCollectorPlugin>(ctx));
      });
}

}  // namespace skiff::gc
