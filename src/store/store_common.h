// Rules shared by every Store implementation, kept in one place so SQLite and PostgreSQL behave
// identically: stamping metadata on create/update, optimistic-concurrency checks, the opaque List
// continue token, parsing stored rows, and the in-process change notifier behind WaitForChange.
//
//   RETURN_IF_ERROR(CheckWritableObject(type, object, "create"));
//   StampCreated(object, version, clock);
//   std::string text;
//   ASSIGN_OR_RETURN(text, SerializeObject(object, type));
//
// Internal to the store module. Free functions are thread-safe; ChangeNotifier is thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/thread_annotations.h"
#include "store/store.h"

namespace skiff::store_internal {

// "jobs.batch default/pi" (or "profiles.skiff.dev alice" when cluster-scoped), for messages.
std::string ObjectKey(const std::string& type, const std::string& ns, const std::string& name);

// The object to create or update must be a JSON object with a non-empty metadata.name and, when
// present, string metadata.namespace / metadata.resourceVersion (the latter a decimal integer).
Status CheckWritableObject(const std::string& type, const Json& object, const char* operation);

// The expected version of an Update: metadata.resourceVersion, 0 when empty (unconditional).
int64_t ExpectedVersion(const Json& object);
// kConflict when `expected` > 0 and differs from `stored`.
Status CheckExpectedVersion(const std::string& key, int64_t expected, int64_t stored);

// Create: sets uid, creationTimestamp, resourceVersion and generation = 1.
void StampCreated(Json& object, int64_t version, Clock& clock);
// Update: keeps uid and creationTimestamp from `stored`, sets resourceVersion, and bumps
// generation when spec differs from the stored spec.
void StampUpdated(Json& object, const Json& stored, int64_t version);

// JSON text of `object` (kInvalidArgument when it holds invalid UTF-8).
Result<std::string> SerializeObject(const Json& object, const std::string& key);
// JSON text of metadata.labels ("{}" when absent).
std::string LabelsText(const Json& object);
// The metadata a metadata-only change carries besides name, namespace and labels (ChangeFilter):
// JSON text of {uid, deletionTimestamp, finalizers, ownerReferences: [{apiVersion, kind, name,
// uid}]}, each when set (a reference without a uid is left out).
std::string ChangeMetaText(const Json& object);
// The owner index's rows for `object` of `type` (one per owner uid; see Store::ListOwnerLinks).
std::vector<OwnerLink> OwnerLinksOf(const std::string& type, const Json& object);
// What a write of `type` from `before` to `after` (null: none) changes in the owner index:
// nothing (nullopt), or the object's rows to remove (when it had any) and the rows to insert.
struct OwnerLinksChange {
  bool remove_old = false;
  std::vector<OwnerLink> insert;
};
std::optional<OwnerLinksChange> OwnerLinksChangeOf(const std::string& type, const Json* before,
                                                   const Json* after);
// Parses a stored row's JSON; kInternal naming the object when the stored text is corrupt.
Result<Json> ParseStoredObject(const std::string& text, const std::string& key);
// The object of a change row as ReadChanges returns it: the stored object parsed (`text`), or
// with filter.metadata_only {"metadata": {"name", "namespace" (when not empty), "labels", ...}}
// built from the row's labels text and meta text (ChangeMetaText; empty in rows written before
// it was kept). kInternal naming the object when a text is corrupt.
Result<Json> ChangeObject(const ChangeFilter& filter, const std::string& type,
                          const std::string& ns, const std::string& name, const std::string& text,
                          const std::string& meta);
// The two columns ReadChanges selects for the object: "labels, meta" with metadata_only, else
// "data, ''".
const char* ChangeObjectColumns(const ChangeFilter& filter);

const char* EventText(WatchEvent::Type type);  // stored form, same as WatchEventTypeName
Result<WatchEvent::Type> ParseEventText(const std::string& text, int64_t version);
// What ReadChanges answers for `after` below the compacted version: kExpired, worded as the
// Kubernetes API server words it ("too old resource version"), so clients list afresh.
Status TooOldVersion(int64_t after, int64_t compacted);

// Opaque List continue token: hex of "namespace\0name" of the last item returned.
std::string EncodeContinueToken(const std::string& ns, const std::string& name);
Result<std::pair<std::string, std::string>> DecodeContinueToken(const std::string& token);

// Collects List results in (namespace, name) order: feed every candidate row with Offer(); it
// applies the selector and the limit and tells the caller when to stop reading rows.
class ListCollector {
 public:
  ListCollector(LabelSelector selector, int64_t limit)
      : selector_(std::move(selector)), limit_(limit) {}
  // Returns false once the page is full and it is known that more matching items exist.
  bool Offer(const std::string& ns, const std::string& name, Json object);
  ListResult Finish(int64_t resource_version) &&;

 private:
  LabelSelector selector_;
  int64_t limit_;
  ListResult result_;
  bool more_ = false;
  std::string last_namespace_;
  std::string last_name_;
};

// Tracks the highest version written through one Store object and wakes WaitForChange callers.
class ChangeNotifier {
 public:
  void Publish(int64_t version) EXCLUDES(mu_);
  // Waits until a published version exceeds `after` or `timeout` passes. `read_current` reads the
  // store's version (it may have moved because of writers in other processes); it is called
  // before and after waiting, without the notifier's lock held.
  int64_t Wait(int64_t after, std::chrono::milliseconds timeout,
               const std::function<int64_t()>& read_current) EXCLUDES(mu_);
  // Ends every Wait in progress.
  void WakeAll() EXCLUDES(mu_);

 private:
  Mutex mu_;
  CondVar cv_;
  int64_t version_ GUARDED_BY(mu_) = 0;
  uint64_t wakes_ GUARDED_BY(mu_) = 0;  // bumped by WakeAll
};

}  // namespace skiff::store_internal
