#include "store/postgres/postgres_store.h"

#include <libpq-fe.h>

#include <utility>

#include "core/log.h"

namespace skiff {
namespace {

using store_internal::ObjectKey;

// One migration per schema version, applied in order inside the migration transaction.
const char* const kMigrations[] = {
    // 1: objects, the change feed and the version counter.
    "CREATE TABLE objects ("
    "  type TEXT COLLATE \"C\" NOT NULL, namespace TEXT COLLATE \"C\" NOT NULL,"
    "  name TEXT COLLATE \"C\" NOT NULL, uid TEXT NOT NULL, resource_version BIGINT NOT NULL,"
    "  labels TEXT NOT NULL, data TEXT NOT NULL,"
    "  PRIMARY KEY (type, namespace, name));"
    "CREATE TABLE changes ("
    "  version BIGINT PRIMARY KEY, type TEXT COLLATE \"C\" NOT NULL,"
    "  namespace TEXT COLLATE \"C\" NOT NULL, name TEXT COLLATE \"C\" NOT NULL,"
    "  event TEXT NOT NULL, data TEXT NOT NULL);"
    "CREATE INDEX changes_by_type ON changes (type, version);"
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "INSERT INTO meta (key, value) VALUES ('version', '0');",
    // 2: the labels of each change, so a controller maps changes to keys without the body.
    "ALTER TABLE changes ADD COLUMN labels TEXT NOT NULL DEFAULT '{}';",
    // 3: the owner index (which objects name which owner in metadata.ownerReferences), filled
    // from the objects stored, and the metadata of each change that the garbage collector maps.
    // (json, not jsonb: a stored string may hold \u0000, which jsonb refuses.)
    "ALTER TABLE changes ADD COLUMN meta TEXT NOT NULL DEFAULT '';"
    "CREATE TABLE owner_links ("
    "  owner_uid TEXT COLLATE \"C\" NOT NULL, type TEXT COLLATE \"C\" NOT NULL,"
    "  namespace TEXT COLLATE \"C\" NOT NULL, name TEXT COLLATE \"C\" NOT NULL,"
    "  owner_api_version TEXT NOT NULL, owner_kind TEXT NOT NULL, owner_name TEXT NOT NULL,"
    "  block BOOLEAN NOT NULL,"
    "  PRIMARY KEY (owner_uid, type, namespace, name));"
    "CREATE INDEX owner_links_by_object ON owner_links (type, namespace, name);"
    "INSERT INTO owner_links"
    "  SELECT r.value->>'uid', o.type, o.namespace, o.name, r.value->>'apiVersion',"
    "    r.value->>'kind', r.value->>'name',"
    "    COALESCE(json_typeof(r.value->'blockOwnerDeletion') = 'boolean'"
    "             AND (r.value->>'blockOwnerDeletion') = 'true', false)"
    "  FROM objects o CROSS JOIN LATERAL json_array_elements("
    "    CASE WHEN json_typeof(o.data::json #> '{metadata,ownerReferences}') = 'array'"
    "    THEN o.data::json #> '{metadata,ownerReferences}' ELSE '[]'::json END)"
    "    WITH ORDINALITY AS r(value, position)"
    "  WHERE json_typeof(r.value) = 'object'"
    "    AND json_typeof(r.value->'uid') = 'string' AND r.value->>'uid' <> ''"
    "    AND json_typeof(r.value->'apiVersion') = 'string' AND r.value->>'apiVersion' <> ''"
    "    AND json_typeof(r.value->'kind') = 'string' AND r.value->>'kind' <> ''"
    "    AND json_typeof(r.value->'name') = 'string' AND r.value->>'name' <> ''"
    "  ORDER BY o.type, o.namespace, o.name, r.position"
    "  ON CONFLICT DO NOTHING;",
};
constexpr int kSchemaVersion = static_cast<int>(std::size(kMigrations));
// Serialises migrations of concurrent openers (pg_advisory_xact_lock key).
constexpr const char* kMigrationLockKey = "7412001";

void IgnoreNotice(void*, const char*) {}

int64_t ParseInt(const char* text) {
  try {
    return std::stoll(text);
  } catch (...) {
    return -1;
  }
}

}  // namespace

// The result of one statement, cleared on destruction.
class PostgresStore::Rows {
 public:
  explicit Rows(PGresult* result) : result_(result, &PQclear) {}
  int size() const { return PQntuples(result_.get()); }
  std::string Text(int row, int col) const {
    return std::string(PQgetvalue(result_.get(), row, col),
                       static_cast<size_t>(PQgetlength(result_.get(), row, col)));
  }
  int64_t Int(int row, int col) const { return ParseInt(PQgetvalue(result_.get(), row, col)); }

 private:
  std::unique_ptr<PGresult, void (*)(PGresult*)> result_;
};

std::string PostgresStore::RedactUrl(const std::string& url) {
  auto scheme = url.find("://");
  if (scheme == std::string::npos) return url;
  auto at = url.find('@', scheme + 3);
  if (at == std::string::npos) return url;
  auto colon = url.find(':', scheme + 3);
  if (colon == std::string::npos || colon > at) return url;
  return url.substr(0, colon + 1) + "***" + url.substr(at);
}

Result<std::unique_ptr<PostgresStore>> PostgresStore::Open(const std::string& url, Clock& clock) {
  // A default connect timeout, so an unreachable host fails in seconds; the URL may override it.
  const char* const keywords[] = {"connect_timeout", "dbname", nullptr};
  const char* const values[] = {"10", url.c_str(), nullptr};
  PGconn* conn = PQconnectdbParams(keywords, values, /*expand_dbname=*/1);
  if (conn == nullptr) return Internal("postgres store: out of memory connecting");
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string message = PQerrorMessage(conn);
    PQfinish(conn);
    while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) {
      message.pop_back();
    }
    return Unavailable("postgres store " + RedactUrl(url) + ": cannot connect: " + message);
  }
  PQsetNoticeProcessor(conn, &IgnoreNotice, nullptr);
  std::unique_ptr<PostgresStore> store(new PostgresStore(url, conn, clock));
  {
    MutexLock lock(&store->mu_);
    RETURN_IF_ERROR(store->Migrate());
  }
  return store;
}

PostgresStore::PostgresStore(std::string url, PGconn* conn, Clock& clock)
    : url_(std::move(url)), redacted_url_(RedactUrl(url_)), clock_(clock), conn_(conn) {}

PostgresStore::~PostgresStore() { PQfinish(conn_); }

Status PostgresStore::EnsureConnected() {
  if (PQstatus(conn_) == CONNECTION_OK) return Status::Ok();
  PQreset(conn_);
  if (PQstatus(conn_) != CONNECTION_OK) {
    return Unavailable("postgres store " + redacted_url_ +
                       ": connection lost and reconnecting failed: " + PQerrorMessage(conn_));
  }
  PQsetNoticeProcessor(conn_, &IgnoreNotice, nullptr);
  LogInfo("postgres store reconnected", {{"url", redacted_url_}});
  return Status::Ok();
}

Result<PostgresStore::Rows> PostgresStore::Query(const std::string& what, const char* sql,
                                                 const std::vector<std::string>& params) {
  std::vector<const char*> values;
  std::vector<int> lengths;
  for (const std::string& p : params) {
    if (p.find('\0') != std::string::npos) {
      return InvalidArgument("postgres store: " + what + ": value contains a NUL byte");
    }
    values.push_back(p.c_str());
    lengths.push_back(static_cast<int>(p.size()));
  }
  PGresult* raw = params.empty()
                      ? PQexec(conn_, sql)
                      : PQexecParams(conn_, sql, static_cast<int>(params.size()), nullptr,
                                     values.data(), lengths.data(), nullptr, /*resultFormat=*/0);
  Rows rows(raw);
  ExecStatusType status = raw ? PQresultStatus(raw) : PGRES_FATAL_ERROR;
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return rows;
  std::string message = raw ? PQresultErrorMessage(raw) : PQerrorMessage(conn_);
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  const char* sqlstate = raw ? PQresultErrorField(raw, PG_DIAG_SQLSTATE) : nullptr;
  std::string state = sqlstate ? sqlstate : "";
  std::string full = "postgres store " + redacted_url_ + ": " + what + ": " + message;
  if (PQstatus(conn_) != CONNECTION_OK || state.rfind("08", 0) == 0 || state == "40001" ||
      state == "40P01" || state == "57P01" || state == "53300") {
    return Unavailable(full);
  }
  if (state == "23505") return AlreadyExists(full);
  return Internal(full);
}

template <typename Fn>
Status PostgresStore::InWriteTransaction(Fn&& fn) {
  RETURN_IF_ERROR(EnsureConnected());
  RETURN_IF_ERROR(Query("begin", "BEGIN").status());
  Status status = [&]() REQUIRES(mu_) -> Status {
    ASSIGN_OR_RETURN(Rows counter,
                     Query("locking the version counter",
                           "SELECT value FROM meta WHERE key = 'version' FOR UPDATE"));
    if (counter.size() != 1) {
      return Internal("postgres store " + redacted_url_ + ": the version counter row is missing");
    }
    return fn(counter.Int(0, 0));
  }();
  if (status.ok()) status = Query("commit", "COMMIT").status();
  if (!status.ok() && PQtransactionStatus(conn_) != PQTRANS_IDLE) {
    Query("rollback", "ROLLBACK").status().ok();  // the original error is the one worth reporting
  }
  return status;
}

Status PostgresStore::Migrate() {
  RETURN_IF_ERROR(Query("begin migration", "BEGIN").status());
  Status status = [&]() REQUIRES(mu_) -> Status {
    RETURN_IF_ERROR(
        Query("taking the migration lock",
              (std::string("SELECT pg_advisory_xact_lock(") + kMigrationLockKey + ")").c_str())
            .status());
    RETURN_IF_ERROR(Query("creating schema_migrations",
                          "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY "
                          "KEY, applied_at TEXT NOT NULL)")
                        .status());
    ASSIGN_OR_RETURN(
        Rows current,
        Query("reading schema version", "SELECT COALESCE(MAX(version), 0) FROM schema_migrations"));
    int64_t have = current.Int(0, 0);
    if (have > kSchemaVersion) {
      return FailedPrecondition("postgres store " + redacted_url_ + ": database schema version " +
                                std::to_string(have) + " is newer than this binary supports (" +
                                std::to_string(kSchemaVersion) + ")");
    }
    for (int64_t v = have + 1; v <= kSchemaVersion; ++v) {
      RETURN_IF_ERROR(Query("migration " + std::to_string(v), kMigrations[v - 1]).status());
      RETURN_IF_ERROR(Query("recording migration " + std::to_string(v),
                            "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
                            {std::to_string(v), FormatRfc3339(clock_.Now())})
                          .status());
    }
    return Status::Ok();
  }();
  if (status.ok()) status = Query("commit migration", "COMMIT").status();
  if (!status.ok() && PQtransactionStatus(conn_) != PQTRANS_IDLE) {
    Query("rollback", "ROLLBACK").status().ok();
  }
  return status;
}

Status PostgresStore::SetVersion(int64_t version) {
  return Query("bumping the version counter", "UPDATE meta SET value = $1 WHERE key = 'version'",
               {std::to_string(version)})
      .status();
}

Status PostgresStore::AppendChange(int64_t version, WatchEvent::Type event, const std::string& type,
                                   const std::string& ns, const std::string& name,
                                   const std::string& labels, const Json& object,
                                   const std::string& data) {
  return Query("appending change " + std::to_string(version),
               "INSERT INTO changes (version, type, namespace, name, event, labels, meta, data) "
               "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
               {std::to_string(version), type, ns, name, store_internal::EventText(event), labels,
                store_internal::ChangeMetaText(object), data})
      .status();
}

Status PostgresStore::WriteOwnerLinks(const std::string& type, const Json* before,
                                      const Json* after) {
  const std::optional<store_internal::OwnerLinksChange> change =
      store_internal::OwnerLinksChangeOf(type, before, after);
  if (!change) return Status::Ok();
  const Json& object = after ? *after : *before;
  const std::string ns = MetaNamespace(object), name = MetaName(object);
  const std::string key = ObjectKey(type, ns, name);
  if (change->remove_old) {
    RETURN_IF_ERROR(
        Query("unindexing the owners of " + key,
              "DELETE FROM owner_links WHERE type = $1 AND namespace = $2 AND name = $3",
              {type, ns, name})
            .status());
  }
  for (const OwnerLink& link : change->insert) {
    RETURN_IF_ERROR(
        Query("indexing the owners of " + key,
              "INSERT INTO owner_links (owner_uid, type, namespace, name, "
              "owner_api_version, owner_kind, owner_name, block) "
              "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
              {link.owner_uid, link.store_type, link.namespace_, link.name, link.owner_api_version,
               link.owner_kind, link.owner_name, link.block_owner_deletion ? "true" : "false"})
            .status());
  }
  return Status::Ok();
}

Result<std::vector<OwnerLink>> PostgresStore::ListOwnerLinks(const std::string& owner_uid) {
  MutexLock lock(&mu_);
  RETURN_IF_ERROR(EnsureConnected());
  ASSIGN_OR_RETURN(Rows rows,
                   Query("reading the owner index",
                         "SELECT owner_uid, owner_api_version, owner_kind, owner_name, "
                         "CASE WHEN block THEN '1' ELSE '0' END, type, namespace, name "
                         "FROM owner_links WHERE ($1::text = '' OR owner_uid = $1::text) "
                         "ORDER BY owner_uid, type, namespace, name",
                         {owner_uid}));
  std::vector<OwnerLink> links;
  for (int i = 0; i < rows.size(); ++i) {
    links.push_back({.owner_uid = rows.Text(i, 0),
                     .owner_api_version = rows.Text(i, 1),
                     .owner_kind = rows.Text(i, 2),
                     .owner_name = rows.Text(i, 3),
                     .block_owner_deletion = rows.Text(i, 4) == "1",
                     .store_type = rows.Text(i, 5),
                     .namespace_ = rows.Text(i, 6),
                     .name = rows.Text(i, 7)});
  }
  return links;
}

Result<int64_t> PostgresStore::ReadVersion() {
  ASSIGN_OR_RETURN(Rows rows, Query("reading the version counter",
                                    "SELECT value FROM meta WHERE key = 'version'"));
  if (rows.size() != 1) {
    return Internal("postgres store " + redacted_url_ + ": the version counter row is missing");
  }
  return rows.Int(0, 0);
}

Result<Json> PostgresStore::Create(const std::string& type, Json object) {
  RETURN_IF_ERROR(store_internal::CheckWritableObject(type, object, "create"));
  const std::string ns = MetaNamespace(object), name = MetaName(object);
  const std::string key = ObjectKey(type, ns, name);
  int64_t version = 0;
  {
    MutexLock lock(&mu_);
    RETURN_IF_ERROR(InWriteTransaction([&](int64_t current) REQUIRES(mu_) -> Status {
      ASSIGN_OR_RETURN(
          Rows exists,
          Query("looking up " + key,
                "SELECT 1 FROM objects WHERE type = $1 AND namespace = $2 AND name = $3",
                {type, ns, name}));
      if (exists.size() > 0) return AlreadyExists(key + " already exists");
      version = current + 1;
      RETURN_IF_ERROR(SetVersion(version));
      store_internal::StampCreated(object, version, clock_);
      ASSIGN_OR_RETURN(std::string data, store_internal::SerializeObject(object, key));
      const std::string labels = store_internal::LabelsText(object);
      RETURN_IF_ERROR(
          Query("inserting " + key,
                "INSERT INTO objects (type, namespace, name, uid, resource_version, "
                "labels, data) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                {type, ns, name, MetaUid(object), std::to_string(version), labels, data})
              .status());
      RETURN_IF_ERROR(WriteOwnerLinks(type, nullptr, &object));
      return AppendChange(version, WatchEvent::Type::kAdded, type, ns, name, labels, object, data);
    }));
  }
  notifier_.Publish(version);
  return object;
}

Result<PostgresStore::Rows> PostgresStore::ReadObjectColumn(const char* column,
                                                            const std::string& type,
                                                            const std::string& ns,
                                                            const std::string& name) {
  const std::string key = ObjectKey(type, ns, name);
  RETURN_IF_ERROR(EnsureConnected());
  const std::string sql = std::string("SELECT ") + column +
                          " FROM objects WHERE type = $1 AND namespace = $2 AND name = $3";
  ASSIGN_OR_RETURN(Rows rows, Query("reading " + key, sql.c_str(), {type, ns, name}));
  if (rows.size() == 0) return NotFound(key + " not found");
  return rows;
}

Result<Json> PostgresStore::Get(const std::string& type, const std::string& ns,
                                const std::string& name) {
  std::string data;
  {
    MutexLock lock(&mu_);
    ASSIGN_OR_RETURN(Rows rows, ReadObjectColumn("data", type, ns, name));
    data = rows.Text(0, 0);
  }
  return store_internal::ParseStoredObject(data, ObjectKey(type, ns, name));
}

Result<int64_t> PostgresStore::GetResourceVersion(const std::string& type, const std::string& ns,
                                                  const std::string& name) {
  MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(Rows rows, ReadObjectColumn("resource_version", type, ns, name));
  return rows.Int(0, 0);
}

Result<int64_t> PostgresStore::Count(const std::string& type, const std::string& ns) {
  MutexLock lock(&mu_);
  RETURN_IF_ERROR(EnsureConnected());
  ASSIGN_OR_RETURN(Rows rows, Query("counting " + type,
                                    "SELECT COUNT(*) FROM objects WHERE type = $1"
                                    " AND ($2 = '' OR namespace = $2)",
                                    {type, ns}));
  return rows.Int(0, 0);
}

Result<Json> PostgresStore::Update(const std::string& type, Json object) {
  RETURN_IF_ERROR(store_internal::CheckWritableObject(type, object, "update"));
  const std::string ns = MetaNamespace(object), name = MetaName(object);
  const std::string key = ObjectKey(type, ns, name);
  const int64_t expected = store_internal::ExpectedVersion(object);
  int64_t version = 0;
  {
    MutexLock lock(&mu_);
    RETURN_IF_ERROR(InWriteTransaction([&](int64_t current) REQUIRES(mu_) -> Status {
      ASSIGN_OR_RETURN(Rows rows, Query("reading " + key,
                                        "SELECT resource_version, data FROM objects WHERE type = "
                                        "$1 AND namespace = $2 AND name = $3",
                                        {type, ns, name}));
      if (rows.size() == 0) return NotFound(key + " not found");
      RETURN_IF_ERROR(store_internal::CheckExpectedVersion(key, expected, rows.Int(0, 0)));
      ASSIGN_OR_RETURN(Json stored, store_internal::ParseStoredObject(rows.Text(0, 1), key));
      version = current + 1;
      RETURN_IF_ERROR(SetVersion(version));
      store_internal::StampUpdated(object, stored, version);
      ASSIGN_OR_RETURN(std::string data, store_internal::SerializeObject(object, key));
      const std::string labels = store_internal::LabelsText(object);
      RETURN_IF_ERROR(
          Query("updating " + key,
                "UPDATE objects SET uid = $1, resource_version = $2, labels = $3, "
                "data = $4 WHERE type = $5 AND namespace = $6 AND name = $7",
                {MetaUid(object), std::to_string(version), labels, data, type, ns, name})
              .status());
      RETURN_IF_ERROR(WriteOwnerLinks(type, &stored, &object));
      return AppendChange(version, WatchEvent::Type::kModified, type, ns, name, labels, object,
                          data);
    }));
  }
  notifier_.Publish(version);
  return object;
}

Result<Json> PostgresStore::Delete(const std::string& type, const std::string& ns,
                                   const std::string& name, int64_t expected_version) {
  const std::string key = ObjectKey(type, ns, name);
  int64_t version = 0;
  Json stored;
  {
    MutexLock lock(&mu_);
    RETURN_IF_ERROR(InWriteTransaction([&](int64_t current) REQUIRES(mu_) -> Status {
      ASSIGN_OR_RETURN(Rows rows, Query("reading " + key,
                                        "SELECT resource_version, data FROM objects WHERE type = "
                                        "$1 AND namespace = $2 AND name = $3",
                                        {type, ns, name}));
      if (rows.size() == 0) return NotFound(key + " not found");
      RETURN_IF_ERROR(store_internal::CheckExpectedVersion(key, expected_version, rows.Int(0, 0)));
      std::string data = rows.Text(0, 1);
      ASSIGN_OR_RETURN(stored, store_internal::ParseStoredObject(data, key));
      version = current + 1;
      RETURN_IF_ERROR(SetVersion(version));
      RETURN_IF_ERROR(Query("deleting " + key,
                            "DELETE FROM objects WHERE type = $1 AND namespace = $2 AND name = $3",
                            {type, ns, name})
                          .status());
      RETURN_IF_ERROR(WriteOwnerLinks(type, &stored, nullptr));
      return AppendChange(version, WatchEvent::Type::kDeleted, type, ns, name,
                          store_internal::LabelsText(stored), stored, data);
    }));
  }
  notifier_.Publish(version);
  return stored;
}

Result<ListResult> PostgresStore::List(const std::string& type, const std::string& ns,
                                       const ListOptions& options) {
  ASSIGN_OR_RETURN(LabelSelector selector, LabelSelector::Parse(options.label_selector));
  if (options.limit < 0) {
    return InvalidArgument("list " + type + ": limit must not be negative, got " +
                           std::to_string(options.limit));
  }
  std::pair<std::string, std::string> start;
  bool has_start = !options.continue_token.empty();
  if (has_start) {
    ASSIGN_OR_RETURN(start, store_internal::DecodeContinueToken(options.continue_token));
  }
  // Without a selector the database can apply the limit (one extra row tells whether more exist).
  std::string row_limit =
      selector.empty() && options.limit > 0 ? std::to_string(options.limit + 1) : "ALL";
  store_internal::ListCollector collector(std::move(selector), options.limit);
  MutexLock lock(&mu_);
  RETURN_IF_ERROR(EnsureConnected());
  // One snapshot for the counter and the rows.
  RETURN_IF_ERROR(Query("begin", "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY").status());
  int64_t version = 0;
  Status status = [&]() REQUIRES(mu_) -> Status {
    ASSIGN_OR_RETURN(version, ReadVersion());
    std::string sql =
        "SELECT namespace, name, data FROM objects WHERE type = $1"
        " AND ($2::text = '' OR namespace = $2::text)"
        " AND (NOT $3::boolean OR (namespace, name) > ($4::text, $5::text))"
        " ORDER BY namespace, name LIMIT " +
        row_limit;
    ASSIGN_OR_RETURN(Rows rows,
                     Query("listing " + type, sql.c_str(),
                           {type, ns, has_start ? "true" : "false", start.first, start.second}));
    for (int i = 0; i < rows.size(); ++i) {
      std::string row_ns = rows.Text(i, 0), row_name = rows.Text(i, 1);
      ASSIGN_OR_RETURN(Json object, store_internal::ParseStoredObject(
                                        rows.Text(i, 2), ObjectKey(type, row_ns, row_name)));
      if (!collector.Offer(row_ns, row_name, std::move(object))) break;
    }
    return Status::Ok();
  }();
  if (status.ok()) status = Query("commit", "COMMIT").status();
  if (!status.ok() && PQtransactionStatus(conn_) != PQTRANS_IDLE) {
    Query("rollback", "ROLLBACK").status().ok();
  }
  RETURN_IF_ERROR(status);
  return std::move(collector).Finish(version);
}

Result<int64_t> PostgresStore::ReadCompacted() {
  ASSIGN_OR_RETURN(Rows rows, Query("reading the compacted version",
                                    "SELECT value FROM meta WHERE key = 'compacted'"));
  return rows.size() == 1 ? rows.Int(0, 0) : 0;
}

Result<int64_t> PostgresStore::CompactedVersion() {
  MutexLock lock(&mu_);
  RETURN_IF_ERROR(EnsureConnected());
  return ReadCompacted();
}

Result<int64_t> PostgresStore::Compact(int64_t through) {
  MutexLock lock(&mu_);
  int64_t dropped = 0;
  RETURN_IF_ERROR(InWriteTransaction([&](int64_t current) REQUIRES(mu_) -> Status {
    ASSIGN_OR_RETURN(int64_t compacted, ReadCompacted());
    through = std::min(through, current);
    if (through <= compacted) return Status::Ok();
    ASSIGN_OR_RETURN(Rows count,
                     Query("compacting the change feed",
                           "WITH dropped AS (DELETE FROM changes WHERE version <= $1::bigint "
                           "RETURNING 1) SELECT count(*) FROM dropped",
                           {std::to_string(through)}));
    dropped = count.size() == 1 ? count.Int(0, 0) : 0;
    return Query("recording the compacted version",
                 "INSERT INTO meta (key, value) VALUES ('compacted', $1) "
                 "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                 {std::to_string(through)})
        .status();
  }));
  return dropped;
}

Result<std::vector<WatchEvent>> PostgresStore::ReadChanges(const ChangeFilter& filter,
                                                           int64_t after, size_t limit) {
  std::vector<WatchEvent> events;
  MutexLock lock(&mu_);
  RETURN_IF_ERROR(EnsureConnected());
  ASSIGN_OR_RETURN(int64_t compacted, ReadCompacted());
  if (after < compacted) return store_internal::TooOldVersion(after, compacted);
  std::string sql =
      std::string("SELECT version, type, namespace, name, event, ") +
      store_internal::ChangeObjectColumns(filter) +
      " FROM changes WHERE version > $1::bigint AND ($2::text = '' OR type = $2::text)"
      " AND ($3::text = '' OR namespace = $3::text) ORDER BY version LIMIT " +
      (limit == 0 ? std::string("ALL") : std::to_string(limit));
  ASSIGN_OR_RETURN(Rows rows, Query("reading changes after " + std::to_string(after), sql.c_str(),
                                    {std::to_string(after), filter.store_type, filter.namespace_}));
  for (int i = 0; i < rows.size(); ++i) {
    WatchEvent ev;
    ev.resource_version = rows.Int(i, 0);
    ev.store_type = rows.Text(i, 1);
    ev.namespace_ = rows.Text(i, 2);
    ev.name = rows.Text(i, 3);
    ASSIGN_OR_RETURN(ev.type, store_internal::ParseEventText(rows.Text(i, 4), ev.resource_version));
    ASSIGN_OR_RETURN(ev.object,
                     store_internal::ChangeObject(filter, ev.store_type, ev.namespace_, ev.name,
                                                  rows.Text(i, 5), rows.Text(i, 6)));
    events.push_back(std::move(ev));
  }
  return events;
}

int64_t PostgresStore::CurrentVersion() {
  MutexLock lock(&mu_);
  Result<int64_t> version = [&]() REQUIRES(mu_) -> Result<int64_t> {
    RETURN_IF_ERROR(EnsureConnected());
    return ReadVersion();
  }();
  if (!version.ok()) {
    LogError("store version read failed", {{"error", version.status().ToString()}});
    return 0;
  }
  return *version;
}

int64_t PostgresStore::WaitForChange(int64_t after, std::chrono::milliseconds timeout) {
  return notifier_.Wait(after, timeout, [this] { return CurrentVersion(); });
}

}  // namespace skiff
