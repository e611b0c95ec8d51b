// PostgresStore: the Store on a PostgreSQL server, for deployments that want a shared, external
// database. Same schema and behaviour as SqliteStore (see store.h for the contract).
//
//   ASSIGN_OR_RETURN(std::unique_ptr<PostgresStore> store,
//                    PostgresStore::Open("postgresql://skiff@127.0.0.1:5432/skiff", clock));
//
// Schema (migrated on Open under an advisory lock, versions recorded in schema_migrations):
//   objects(type, namespace, name, uid, resource_version, labels, data)  PK (type, namespace, name)
//   changes(version PK, type, namespace, name, event, data)             the change feed
//   meta(key PK, value)                                                  key 'version': the counter
// Text columns use the "C" collation so List order is bytewise, as with SQLite. Every write is one
// transaction that first takes SELECT ... FOR UPDATE on the counter row, so writers in any number
// of processes are strictly ordered. A dropped connection is re-established on the next call.
// Thread-safe: one connection, serialised by a mutex.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/thread_annotations.h"
#include "store/store.h"
#include "store/store_common.h"

typedef struct pg_conn PGconn;

namespace skiff {

class PostgresStore : public Store {
 public:
  // Connects to `url` (a libpq connection URI) and runs migrations. Errors name the URL with any
  // password removed.
  static Result<std::unique_ptr<PostgresStore>> Open(const std::string& url, Clock& clock);
  ~PostgresStore() override;

  PostgresStore(const PostgresStore&) = delete;
  PostgresStore& operator=(const PostgresStore&) = delete;

  Result<Json> Create(const std::string& type, Json object) override;
  Result<Json> Get(const std::string& type, const std::string& ns,
                   const std::string& name) override;
  Result<int64_t> GetResourceVersion(const std::string& type, const std::string& ns,
                                     const std::string& name) override;
  Result<int64_t> Count(const std::string& type, const std::string& ns) override;
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

  // "postgresql://user:secret@host/db" -> "postgresql://user:***@host/db".
  static std::string RedactUrl(const std::string& url);

 private:
  class Rows;
  PostgresStore(std::string url, PGconn* conn, Clock& clock);

  // Reconnects when the connection was lost.
  Status EnsureConnected() REQUIRES(mu_);
  // Runs one statement with text parameters.
  // `column` of the object's row (NotFound naming it when there is none).
  Result<Rows> ReadObjectColumn(const char* column, const std::string& type, const std::string& ns,
                                const std::string& name) REQUIRES(mu_);
  Result<Rows> Query(const std::string& what, const char* sql,
                     const std::vector<std::string>& params = {}) REQUIRES(mu_);
  Status Migrate() REQUIRES(mu_);
  // BEGIN; lock the counter row; fn(current_version); COMMIT (ROLLBACK when anything fails).
  template <typename Fn>
  Status InWriteTransaction(Fn&& fn) REQUIRES(mu_);
  Status SetVersion(int64_t version) REQUIRES(mu_);
  // Appends the change of `object` (its labels' text `labels`, its text `data`) to the feed.
  Status AppendChange(int64_t version, WatchEvent::Type event, const std::string& type,
                      const std::string& ns, const std::string& name, const std::string& labels,
                      const Json& object, const std::string& data) REQUIRES(mu_);
  // Brings the owner index from what `before` named to what `after` names (null: none).
  Status WriteOwnerLinks(const std::string& type, const Json* before, const Json* after)
      REQUIRES(mu_);
  Result<int64_t> ReadVersion() REQUIRES(mu_);
  Result<int64_t> ReadCompacted() REQUIRES(mu_);  // 0 when never compacted

  const std::string url_;           // as given, for libpq
  const std::string redacted_url_;  // for messages
  Clock& clock_;
  Mutex mu_;
  PGconn* conn_ GUARDED_BY(mu_);  // owned, finished in the destructor
  store_internal::ChangeNotifier notifier_;
};

}  // namespace skiff
