// Store: where every resource lives. One interface, two implementations (SQLite embedded, the
// default, and PostgreSQL), one shared conformance suite (store_test_suite.h) run against both.
//
//   std::unique_ptr<Store> store = OpenStore("sqlite:///home/me/.skiff/skiff.db").value();
//   Json job = ...;  // {apiVersion, kind, metadata{name, namespace}, spec}
//   ASSIGN_OR_RETURN(Json created, store->Create("jobs.batch", job));
//   created["status"] = ...;
//   ASSIGN_OR_RETURN(Json updated, store->Update("jobs.batch", created));  // 409 if stale
//
// Contract common to every implementation:
// - Objects are addressed by (type, namespace, name); `type` is ResourceType::StoreType(), e.g.
//   "jobs.batch". Cluster-scoped objects use namespace "".
// - One global, strictly increasing resourceVersion counter per store. Every write (create,
//   update, delete) takes the next version; the object's metadata.resourceVersion is set to it as a
//   decimal string. Create also sets metadata.uid (random UUID) and metadata.creationTimestamp
//   (RFC 3339 from the Clock), and metadata.generation = 1; Update bumps generation when spec
//   changes.
// - Optimistic concurrency: Update/Delete with a non-empty metadata.resourceVersion (or
//   `expected_version` > 0) that differs from the stored one fail with StatusCode::kConflict.
//   Update with an empty resourceVersion is an unconditional write.
// - Create of an existing name fails with kAlreadyExists; Get/Update/Delete of a missing object
//   fail with kNotFound.
// - Every write appends a WatchEvent to the change feed in the same transaction. ReadChanges
//   returns the events with version > after, oldest first, until Compact drops the old ones.
// - Every write keeps the owner index in the same transaction: which objects name which owner
//   (by uid) in metadata.ownerReferences, for the garbage collector (ListOwnerLinks).
// - Durability: once a write returns ok, it survives kill -9 of the process (fsync'd commit).
// - Thread-safe: any method may be called from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/resource.h"
#include "core/status.h"

namespace skiff {

struct ListOptions {
  std::string label_selector;  // LabelSelector syntax; empty = all
  int64_t limit = 0;           // 0 = no limit
  std::string continue_token;  // opaque, from a previous ListResult
};

struct ListResult {
  std::vector<Json> items;       // ordered by (namespace, name)
  std::string continue_token;    // empty when there are no more
  int64_t resource_version = 0;  // store version at the time of the list
};

struct WatchEvent {
  enum class Type { kAdded, kModified, kDeleted };
  Type type;
  int64_t resource_version = 0;
  std::string store_type;  // "jobs.batch"
  std::string namespace_;
  std::string name;
  Json object;  // the object after the change (before, for a delete)
};
const char* WatchEventTypeName(WatchEvent::Type type);  // "ADDED", "MODIFIED", "DELETED"

struct ChangeFilter {
  std::string store_type;  // empty = all types
  std::string namespace_;  // empty = all namespaces
  // True: each event's object is only its metadata's name, namespace, labels, and (when set)
  // uid, deletionTimestamp, finalizers and ownerReferences (apiVersion, kind, name, uid),
  // read without parsing the stored object (what a controller needs to map a change to a key;
  // much cheaper for large objects such as a PipelineRun with thousands of tasks).
  bool metadata_only = false;
};

// One entry of an object's metadata.ownerReferences, as the store indexes it: the dependent
// (store_type, namespace_, name) names the owner `owner_uid` (apiVersion, kind, name as written).
struct OwnerLink {
  std::string owner_uid;
  std::string owner_api_version;
  std::string owner_kind;
  std::string owner_name;
  bool block_owner_deletion = false;
  std::string store_type;
  std::string namespace_;
  std::string name;

  bool operator==(const OwnerLink&) const = default;
};

class Store {
 public:
  virtual ~Store() = default;

  virtual Result<Json> Create(const std::string& type, Json object) = 0;
  virtual Result<Json> Get(const std::string& type, const std::string& ns,
                           const std::string& name) = 0;
  // The object's metadata.resourceVersion without reading the object (kNotFound when absent):
  // lets a controller that holds a copy tell cheaply whether it is still current.
  virtual Result<int64_t> GetResourceVersion(const std::string& type, const std::string& ns,
                                             const std::string& name) = 0;
  virtual Result<Json> Update(const std::string& type, Json object) = 0;
  // Returns the object as it was just before deletion.
  virtual Result<Json> Delete(const std::string& type, const std::string& ns,
                              const std::string& name, int64_t expected_version = 0) = 0;
  // `ns` empty lists across all namespaces.
  virtual Result<ListResult> List(const std::string& type, const std::string& ns,
                                  const ListOptions& options) = 0;
  // How many objects of `type` are in `ns` ("" = every namespace), without reading them; the
  // stores that count in their database also take `type` "" for every type. This default counts
  // a List page by page (and refuses type "").
  virtual Result<int64_t> Count(const std::string& type, const std::string& ns);
  // The objects whose metadata.ownerReferences name owner `owner_uid` ("": every owner), ordered
  // by owner uid, then (type, namespace, name). A reference without a uid, kind, name or
  // apiVersion (strings) is not indexed.
  virtual Result<std::vector<OwnerLink>> ListOwnerLinks(const std::string& owner_uid) = 0;
  // Writes a copy of the whole store as of one moment to the new file `path` (not there yet),
  // while others go on writing: a backup. Unimplemented (this default) where the database is
  // backed up with its own tools (PostgreSQL: pg_dump). Returns the copy's resourceVersion.
  virtual Result<int64_t> Snapshot(const std::string& path);

  // The change feed. Events with version > `after`, oldest first, at most `limit`; kExpired when
  // some of them were compacted away (`after` is below CompactedVersion(): list afresh).
  virtual Result<std::vector<WatchEvent>> ReadChanges(const ChangeFilter& filter, int64_t after,
                                                      size_t limit) = 0;
  // Drops the change feed's events with version <= `through` (no further than the current
  // version), as etcd compacts its history, so that the feed does not grow without end. Kept
  // across restarts; a `through` at or below the compacted version does nothing. Returns how many
  // events were dropped.
  virtual Result<int64_t> Compact(int64_t through) = 0;
  // The version through which the feed was compacted (0: never).
  virtual Result<int64_t> CompactedVersion() = 0;
  // Blocks until the store's version exceeds `after` or `timeout` passes; returns the current
  // version. Wakes on writes made through this Store object.
  virtual int64_t WaitForChange(int64_t after, std::chrono::milliseconds timeout) = 0;
  // Makes every WaitForChange in progress on this object return now (with the current version),
  // so a thread waiting on the feed notices a stop without waiting out its timeout.
  virtual void WakeWaiters() = 0;
  virtual int64_t CurrentVersion() = 0;
};

// Opens a store from a URL: "sqlite:///abs/path/skiff.db", a bare path (SQLite), or
// "postgresql://user@host:port/db" / "postgres://...". Runs migrations.
Result<std::unique_ptr<Store>> OpenStore(const std::string& url, Clock& clock);

}  // namespace skiff
