// SqliteStore: the embedded default Store, one SQLite database file in WAL mode with
// synchronous=FULL, so a write that returned ok survives kill -9 (and power loss).
//
//   ASSIGN_OR_RETURN(std::unique_ptr<SqliteStore> store,
//   SqliteStore::Open("/home/me/.skiff/skiff.db", clock)); ASSIGN_OR_RETURN(Json created,
//   store->Create("jobs.batch", job));
//
// Schema (migrated on Open, versions recorded in schema_migrations):
//   objects(type, namespace, name, uid, resource_version, labels, data)  PK (type, namespace, name)
//   changes(version PK, type, namespace, name, event, data)             the change feed
//   meta(key PK, value)                                                  key 'version': the counter
// Every write is one BEGIN IMMEDIATE transaction that bumps the counter, writes the object and
// appends the change, so several SqliteStore objects (or processes) on one file stay strictly
// ordered. Thread-safe: one connection, serialised by a mutex.
#pragma once

#include <memory>
#include <string>

#include "core/thread_annotations.h"
#include "store/store.h"
#include "store/store_common.h"

struct sqlite3;

namespace skiff {

class SqliteStore : public Store {
 public:
  // Opens (creating if needed, with its parent directory) the database file at `path` and runs
  // migrations. Errors name the path.
  static Result<std::unique_ptr<SqliteStore>> Open(const std::string& path, Clock& clock);
  ~SqliteStore() override;

  // Rewrites every occurrence of `from` in the stored objects and the change feed of the
  // database at `path` (not open elsewhere) to `to`: a store restored into another SKIFF_HOME,
  // whose objects name files under the old one (artifact URIs). Returns how many objects
  // changed. InvalidArgument for texts JSON would escape (quotes, backslashes, controls).
  static Result<int64_t> ReplaceText(const std::string& path, const std::string& from,
                                     const std::string& to, Clock& clock);

  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  Result<Json> Create(const std::string& type, Json object) override;
  Result<Json> Get(const std::string& type, const std::string& ns,
                   const std::string& name) override;
  Result<int64_t> GetResourceVersion(const std::string& type, const std::string& ns,
                                     const std::string& name) override;
  Result<int64_t> Count(const std::string& type, const std::string& ns) override;
  // VACUUM INTO: a consistent, compact copy, made online.
  Result<int64_t> Snapshot(const std::string& path) override;
  Result<Json> Update(const std::string& type, Json object) override;
  Result<Json> Delete(const std::string& type, const std::string& ns, const std::string& name,
                      int64_t expected_version) override;
  Result<ListResult> List(const std::string& type, const std::string& ns,
                          const ListOptions& options) override;
  Result<std::vector<WatchEvent>> ReadChanges(const ChangeFilter& filter, int64_t after,
                                              size_t limit) override;
  Result<std::vector<OwnerLink>> ListOwnerLinks(const std::string& owner_uid) override;
  Result<int64_t> Compact(int64_t through) override;
  Result<int64_t> CompactedVersion() override;
  int64_t WaitForChange(int64_t after, std::chrono::milliseconds timeout) override;
  void WakeWaiters() override { notifier_.WakeAll(); }
  int64_t CurrentVersion() override;

 private:
  SqliteStore(std::string path, sqlite3* db, Clock& clock);

  Status Migrate() REQUIRES(mu_);
  Result<int64_t> ReplaceTextLocked(const std::string& from, const std::string& to) REQUIRES(mu_);
  // Runs `fn` inside BEGIN IMMEDIATE ... COMMIT (ROLLBACK when it fails).
  template <typename Fn>
  Status InWriteTransaction(Fn&& fn) REQUIRES(mu_);
  // Reads the counter.
  Result<int64_t> ReadVersion() REQUIRES(mu_);
  Result<int64_t> ReadCompacted() REQUIRES(mu_);  // 0 when never compacted
  Result<int64_t> NextVersion() REQUIRES(mu_);
  // Appends the change of `object` (its labels' text `labels`, its text `data`) to the feed.
  Status AppendChange(int64_t version, WatchEvent::Type event, const std::string& type,
                      const std::string& ns, const std::string& name, const std::string& labels,
                      const Json& object, const std::string& data) REQUIRES(mu_);
  // Brings the owner index from what `before` named to what `after` names (null: none).
  Status WriteOwnerLinks(const std::string& type, const Json* before, const Json* after)
      REQUIRES(mu_);
  Status Exec(const char* sql) REQUIRES(mu_);
  Status Error(const std::string& what) REQUIRES(mu_);

  const std::string path_;
  Clock& clock_;
  Mutex mu_;
  sqlite3* db_ GUARDED_BY(mu_);  // owned, closed in the destructor
  store_internal::ChangeNotifier notifier_;
};

}  // namespace skiff
