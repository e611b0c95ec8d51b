// GarbageCollector: deletes the objects whose owners are gone, as Kubernetes' garbage collector
// does. An object names its owners in metadata.ownerReferences (apiVersion, kind, name, uid: a
// Job's pods name the Job); the store indexes them (Store::ListOwnerLinks). When an owner goes,
// each of its dependents that names no other owner still present is deleted in turn (its own
// dependents after it: the cascade); one that does stays, without the reference to the one gone.
// How a delete reaches the dependents is its propagationPolicy, which the API server writes on
// the owner:
// - Background (the default): the owner goes at once, its dependents after it.
// - Foreground: the owner stays, being deleted, with the finalizer `foregroundDeletion`, until
//   every dependent that blocks it (ownerReference.blockOwnerDeletion) is gone; then it goes.
// - Orphan: the owner stays, with the finalizer `orphan`, until each dependent's reference to
//   it is removed; then the owner goes and they stay.
// A reference holds within a namespace (a namespaced owner is looked for in its dependent's
// namespace); a dependent whose owner is of a kind Skiff does not serve is left alone, since
// whether that owner exists cannot be told.
//
//   GarbageCollector gc(store, types, clock);
//   ReconcileLoop loop("garbage-collector", store, kGarbageCollectorType,
//                      [&](auto& ns, auto& key) { return gc.Reconcile(ns, key); }, options);
//   loop.AlsoWatch(type, [&](const WatchEvent& ev) { return gc.KeysFor(ev); });  // every type
//
// It reconciles one owner at a time, keyed (owner's namespace, "<store type>/<name>/<uid>"):
// woken by the owner's delete or its marking for Foreground/Orphan, and by its dependents'
// creation and deletion (a reference added to an object later is found by the sweep); every
// owner the index names is looked at when the collector starts and every ten
// minutes, so nothing is missed across a crash. Register adds it to `skiff up` as the controller
// "garbage-collector".
//
// Thread-compatible: one ReconcileLoop calls Reconcile; KeysFor and AllOwners are thread-safe.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "controller/controller.h"
#include "core/clock.h"
#include "core/resource.h"
#include "store/store.h"

namespace skiff::gc {

// The store type the collector's loop is named for; no object is stored under it.
inline constexpr char kGarbageCollectorType[] = "garbagecollector.skiff.dev";

// An owner, as the collector's loop keys it.
struct OwnerKey {
  std::string namespace_;  // "" for a cluster-scoped owner
  std::string store_type;
  std::string name;
  std::string uid;

  ReconcileLoop::Key Encode() const;
  // Null when `key` is not one Encode made.
  static std::optional<OwnerKey> Decode(const ReconcileLoop::Key& key);
};

class GarbageCollector {
 public:
  GarbageCollector(Store& store, const TypeRegistry& types, Clock& clock);

  // Collects, orphans or waits for the dependents of the owner `key` names (OwnerKey::Encode).
  Result<std::optional<std::chrono::milliseconds>> Reconcile(const std::string& ns,
                                                             const std::string& key);
  // The owners a change (metadata only) concerns: the object itself when it was deleted or is
  // being deleted with the orphan or foregroundDeletion finalizer, and the owners it names.
  std::vector<ReconcileLoop::Key> KeysFor(const WatchEvent& change) const;
  // Every owner the store's index names, each once.
  Result<std::vector<ReconcileLoop::Key>> AllOwners() const;

 private:
  // The kind an ownerReference's apiVersion and kind name (any version of its group), or null.
  const ResourceType* OwnerType(const std::string& api_version, const std::string& kind) const;
  // The owner a dependent in namespace `ns` names with `ref`, or null when its kind is unknown
  // or the reference lacks a name or uid.
  std::optional<OwnerKey> OwnerOf(const Json& ref, const std::string& ns) const;
  // The owner an indexed link names (as OwnerOf its reference).
  std::optional<OwnerKey> OwnerOf(const OwnerLink& link) const;
  std::optional<OwnerKey> OwnerOf(const std::string& api_version, const std::string& kind,
                                  std::string name, std::string uid, const std::string& ns) const;
  // Whether the owner exists (with that uid); nullopt when that cannot be told.
  Result<std::optional<bool>> Exists(const OwnerKey& owner);
  // The owner `gone` no longer exists: its dependent goes too, unless it names another owner
  // that is still there; then only its references to owners gone are removed.
  Status Collect(const OwnerLink& link, const OwnerKey& gone);
  // Removes the dependent's reference to `owner` (Orphan).
  Status Unlink(const OwnerLink& link, const OwnerKey& owner);
  // Deletes a dependent of an owner deleted in the foreground; whether it is still there.
  Result<bool> DeleteDependent(const OwnerLink& link);
  // Deletes `object` of `type` (marks it, when finalizers hold it); whether it is still there.
  Result<bool> Delete(const std::string& type, const Json& object);
  // Removes `finalizer` from the owner being deleted; it goes when no finalizer is left.
  Status Finish(const ResourceType& type, Json owner, const std::string& finalizer);

  Store& store_;
  const TypeRegistry& types_;
  Clock& clock_;
};

// Registers the garbage collector as the controller "garbage-collector", watching every kind the
// registry holds when `skiff up` starts its controllers.
void Register(ModuleRegistry& modules);

}  // namespace skiff::gc
