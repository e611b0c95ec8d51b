#include "store/sqlite/sqlite_store.h"

#include <sqlite3.h>
#include <sys/stat.h>

#include <filesystem>
#include <utility>

#include "core/log.h"

namespace skiff {
namespace {

using store_internal::ObjectKey;

// One migration per schema version, applied in order inside one transaction each.
const char* const kMigrations[] = {
    // 1: objects, the change feed and the version counter.
    "CREATE TABLE objects ("
    "  type TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,"
    "  uid TEXT NOT NULL, resource_version INTEGER NOT NULL,"
    "  labels TEXT NOT NULL, data TEXT NOT NULL,"
    "  PRIMARY KEY (type, namespace, name)) WITHOUT ROWID;"
    "CREATE TABLE changes ("
    "  version INTEGER PRIMARY KEY, type TEXT NOT NULL, namespace TEXT NOT NULL,"
    "  name TEXT NOT NULL, event TEXT NOT NULL, data TEXT NOT NULL);"
    "CREATE INDEX changes_by_type ON changes (type, version);"
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "INSERT INTO meta (key, value) VALUES ('version', '0');",
    // 2: the labels of each change, so a controller maps changes to keys without the body.
    "ALTER TABLE changes ADD COLUMN labels TEXT NOT NULL DEFAULT '{}';",
    // 3: the owner index (which objects name which owner in metadata.ownerReferences), filled
    // from the objects stored, and the metadata of each change that the garbage collector maps.
    "ALTER TABLE changes ADD COLUMN meta TEXT NOT NULL DEFAULT '';"
    "CREATE TABLE owner_links ("
    "  owner_uid TEXT NOT NULL, type TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,"
    "  owner_api_version TEXT NOT NULL, owner_kind TEXT NOT NULL, owner_name TEXT NOT NULL,"
    "  block INTEGER NOT NULL,"
    "  PRIMARY KEY (owner_uid, type, namespace, name)) WITHOUT ROWID;"
    "CREATE INDEX owner_links_by_object ON owner_links (type, namespace, name);"
    "INSERT OR IGNORE INTO owner_links"
    "  SELECT json_extract(r.value, '$.uid'), o.type, o.namespace, o.name,"
    "    json_extract(r.value, '$.apiVersion'), json_extract(r.value, '$.kind'),"
    "    json_extract(r.value, '$.name'),"
    "    CASE WHEN json_type(r.value, '$.blockOwnerDeletion') = 'true' THEN 1 ELSE 0 END"
    "  FROM objects o, json_each(o.data, '$.metadata.ownerReferences') r"
    "  WHERE json_type(o.data, '$.metadata.ownerReferences') = 'array'"
    "    AND json_type(r.value) = 'object'"
    "    AND json_type(r.value, '$.uid') = 'text' AND json_extract(r.value, '$.uid') <> ''"
    "    AND json_type(r.value, '$.apiVersion') = 'text'"
    "    AND json_extract(r.value, '$.apiVersion') <> ''"
    "    AND json_type(r.value, '$.kind') = 'text' AND json_extract(r.value, '$.kind') <> ''"
    "    AND json_type(r.value, '$.name') = 'text' AND json_extract(r.value, '$.name') <> ''"
    "  ORDER BY o.type, o.namespace, o.name, r.key;",
};
constexpr int kSchemaVersion = static_cast<int>(std::size(kMigrations));

// A prepared statement, finalized on destruction.
class Statement {
 public:
  Statement(sqlite3* db, const char* sql) {
    rc_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr);
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  bool ok() const { return rc_ == SQLITE_OK || rc_ == SQLITE_ROW || rc_ == SQLITE_DONE; }
  int rc() const { return rc_; }

  Statement& Bind(int index, const std::string& text) {
    if (ok())
      rc_ = sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()),
                              SQLITE_TRANSIENT);
    return *this;
  }
  Statement& Bind(int index, int64_t value) {
    if (ok()) rc_ = sqlite3_bind_int64(stmt_, index, value);
    return *this;
  }
  // True while there is a row; check ok() afterwards for errors.
  bool Step() {
    if (!ok()) return false;
    rc_ = sqlite3_step(stmt_);
    return rc_ == SQLITE_ROW;
  }
  // Runs a statement that returns no rows.
  bool Run() {
    Step();
    return rc_ == SQLITE_DONE;
  }
  std::string Text(int col) {
    const unsigned char* p = sqlite3_column_text(stmt_, col);
    return p ? std::string(reinterpret_cast<const char*>(p),
                           static_cast<size_t>(sqlite3_column_bytes(stmt_, col)))
             : std::string();
  }
  int64_t Int(int col) { return sqlite3_column_int64(stmt_, col); }

 private:
  sqlite3_stmt* stmt_ = nullptr;
  int rc_;
};

}  // namespace

Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::string& path, Clock& clock) {
  if (path.empty()) return InvalidArgument("sqlite store: database path is empty");
  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty() && path != ":memory:") {
    std::error_code ec;
    std::filesystem::create_directories(parent, ec);
    if (ec) {
      return Unavailable("sqlite store " + path + ": cannot create directory " + parent.string() +
                         ": " + ec.message());
    }
  }
  // A store file that exists but is empty was truncated, not created: opening it as a new
  // installation would look like losing every object (and mint a new admin token).
  std::error_code size_error;
  if (path != ":memory:" && std::filesystem::exists(path, size_error) &&
      std::filesystem::file_size(path, size_error) == 0 && !size_error) {
    return FailedPrecondition("sqlite store " + path +
                              " exists but is empty (truncated?): restore it from a backup, or "
                              "remove it to start a new installation");
  }
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  if (rc != SQLITE_OK) {
    std::string message = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close(db);
    return Unavailable("sqlite store " + path + ": cannot open: " + message);
  }
  // The server's user's alone (SQLite makes its -wal and -shm files with the database's mode).
  if (path != ":memory:") ::chmod(path.c_str(), 0600);
  std::unique_ptr<SqliteStore> store(new SqliteStore(path, db, clock));
  {
    MutexLock lock(&store->mu_);
    sqlite3_busy_timeout(db, 10000);
    RETURN_IF_ERROR(store->Exec("PRAGMA journal_mode=WAL"));
    RETURN_IF_ERROR(store->Exec("PRAGMA synchronous=FULL"));
    RETURN_IF_ERROR(store->Migrate());
  }
  return store;
}

SqliteStore::SqliteStore(std::string path, sqlite3* db, Clock& clock)
    : path_(std::move(path)), clock_(clock), db_(db) {}

SqliteStore::~SqliteStore() { sqlite3_close(db_); }

Status SqliteStore::Error(const std::string& what) {
  int code = sqlite3_errcode(db_);
  std::string message = "sqlite store " + path_ + ": " + what + ": " + sqlite3_errmsg(db_);
  if (code == SQLITE_BUSY || code == SQLITE_LOCKED) return Unavailable(message);
  if (code == SQLITE_FULL || code == SQLITE_IOERR || code == SQLITE_CANTOPEN ||
      code == SQLITE_READONLY) {
    return Unavailable(message);
  }
  return Internal(message);
}

Status SqliteStore::Exec(const char* sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    sqlite3_free(err);
    std::string first_words(sql, std::min<size_t>(40, std::char_traits<char>::length(sql)));
    return Error("running '" + first_words + "'");
  }
  return Status::Ok();
}

template <typename Fn>
Status SqliteStore::InWriteTransaction(Fn&& fn) {
  RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  Status status = fn();
  if (status.ok()) status = Exec("COMMIT");
  if (!status.ok() && !sqlite3_get_autocommit(db_)) {
    Exec("ROLLBACK").ok();  // the original error is the one worth reporting
  }
  return status;
}

Status SqliteStore::Migrate() {
  return InWriteTransaction([&]() REQUIRES(mu_) -> Status {
    RETURN_IF_ERROR(
        Exec("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
             "applied_at TEXT NOT NULL)"));
    Statement current(db_, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
    if (!current.Step()) return Error("reading schema version");
    int64_t have = current.Int(0);
    if (have == 0) {
      // Never migrated: a new file has no tables of its own; another program's database has.
      Statement others(db_, "SELECT COUNT(*) FROM sqlite_master WHERE name != 'schema_migrations'");
      if (!others.Step()) return Error("reading the tables");
      if (others.Int(0) > 0) {
        return FailedPrecondition("sqlite store " + path_ +
                                  " is a database that is not Skiff's: refusing to add to it");
      }
    }
    if (have > kSchemaVersion) {
      return FailedPrecondition("sqlite store " + path_ + ": database schema version " +
                                std::to_string(have) + " is newer than this binary supports (" +
                                std::to_string(kSchemaVersion) + ")");
    }
    for (int64_t v = have + 1; v <= kSchemaVersion; ++v) {
      RETURN_IF_ERROR(Exec(kMigrations[v - 1]).WithContext("migration " + std::to_string(v)));
      Statement record(db_, "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)");
      if (!record.Bind(1, v).Bind(2, FormatRfc3339(clock_.Now())).Run()) {
        return Error("recording migration " + std::to_string(v));
      }
    }
    return Status::Ok();
  });
}

Result<int64_t> SqliteStore::ReadVersion() {
  Statement st(db_, "SELECT value FROM meta WHERE key = 'version'");
  if (!st.Step()) {
    if (!st.ok()) return Error("reading the version counter");
    return Internal("sqlite store " + path_ + ": the version counter row is missing");
  }
  return st.Int(0);
}

Result<int64_t> SqliteStore::NextVersion() {
  ASSIGN_OR_RETURN(int64_t version, ReadVersion());
  ++version;
  Statement st(db_, "UPDATE meta SET value = ? WHERE key = 'version'");
  if (!st.Bind(1, version).Run()) return Error("bumping the version counter");
  return version;
}

Status SqliteStore::AppendChange(int64_t version, WatchEvent::Type event, const std::string& type,
                                 const std::string& ns, const std::string& name,
                                 const std::string& labels, const Json& object,
                                 const std::string& data) {
  Statement st(db_,
               "INSERT INTO changes (version, type, namespace, name, event, labels, meta, data) "
               "VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
  st.Bind(1, version).Bind(2, type).Bind(3, ns).Bind(4, name);
  st.Bind(5, std::string(store_internal::EventText(event))).Bind(6, labels);
  st.Bind(7, store_internal::ChangeMetaText(object));
  if (!st.Bind(8, data).Run()) {
    return Error("appending change " + std::to_string(version));
  }
  return Status::Ok();
}

Status SqliteStore::WriteOwnerLinks(const std::string& type, const Json* before,
                                    const Json* after) {
  const std::optional<store_internal::OwnerLinksChange> change =
      store_internal::OwnerLinksChangeOf(type, before, after);
  if (!change) return Status::Ok();
  const Json& object = after ? *after : *before;
  const std::string key = ObjectKey(type, MetaNamespace(object), MetaName(object));
  if (change->remove_old) {
    Statement remove(db_, "DELETE FROM owner_links WHERE type = ? AND namespace = ? AND name = ?");
    remove.Bind(1, type).Bind(2, MetaNamespace(object)).Bind(3, MetaName(object));
    if (!remove.Run()) return Error("unindexing the owners of " + key);
  }
  for (const OwnerLink& link : change->insert) {
    Statement insert(db_,
                     "INSERT INTO owner_links (owner_uid, type, namespace, name, "
                     "owner_api_version, owner_kind, owner_name, block) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
    insert.Bind(1, link.owner_uid).Bind(2, link.store_type).Bind(3, link.namespace_);
    insert.Bind(4, link.name).Bind(5, link.owner_api_version).Bind(6, link.owner_kind);
    insert.Bind(7, link.owner_name).Bind(8, int64_t{link.block_owner_deletion ? 1 : 0});
    if (!insert.Run()) return Error("indexing the owners of " + key);
  }
  return Status::Ok();
}

Result<std::vector<OwnerLink>> SqliteStore::ListOwnerLinks(const std::string& owner_uid) {
  MutexLock lock(&mu_);
  Statement st(db_,
               "SELECT owner_uid, owner_api_version, owner_kind, owner_name, block, type, "
               "namespace, name FROM owner_links WHERE (?1 = '' OR owner_uid = ?1) "
               "ORDER BY owner_uid, type, namespace, name");
  st.Bind(1, owner_uid);
  std::vector<OwnerLink> links;
  while (st.Step()) {
    links.push_back({.owner_uid = st.Text(0),
                     .owner_api_version = st.Text(1),
                     .owner_kind = st.Text(2),
                     .owner_name = st.Text(3),
                     .block_owner_deletion = st.Int(4) != 0,
                     .store_type = st.Text(5),
                     .namespace_ = st.Text(6),
                     .name = st.Text(7)});
  }
  if (!st.ok()) return Error("reading the owner index");
  return links;
}

Result<Json> SqliteStore::Create(const std::string& type, Json object) {
  RETURN_IF_ERROR(store_internal::CheckWritableObject(type, object, "create"));
  const std::string ns = MetaNamespace(object), name = MetaName(object);
  const std::string key = ObjectKey(type, ns, name);
  int64_t version = 0;
  {
    MutexLock lock(&mu_);
    RETURN_IF_ERROR(InWriteTransaction([&]() REQUIRES(mu_) -> Status {
      Statement exists(db_, "SELECT 1 FROM objects WHERE type = ? AND namespace = ? AND name = ?");
      if (exists.Bind(1, type).Bind(2, ns).Bind(3, name).Step()) {
        return AlreadyExists(key + " already exists");
      }
      if (!exists.ok()) return Error("looking up " + key);
      ASSIGN_OR_RETURN(version, NextVersion());
      store_internal::StampCreated(object, version, clock_);
      ASSIGN_OR_RETURN(std::string data, store_internal::SerializeObject(object, key));
      Statement insert(db_,
                       "INSERT INTO objects (type, namespace, name, uid, resource_version, "
                       "labels, data) VALUES (?, ?, ?, ?, ?, ?, ?)");
      insert.Bind(1, type).Bind(2, ns).Bind(3, name).Bind(4, MetaUid(object)).Bind(5, version);
      const std::string labels = store_internal::LabelsText(object);
      if (!insert.Bind(6, labels).Bind(7, data).Run()) return Error("inserting " + key);
      RETURN_IF_ERROR(WriteOwnerLinks(type, nullptr, &object));
      return AppendChange(version, WatchEvent::Type::kAdded, type, ns, name, labels, object, data);
    }));
  }
  notifier_.Publish(version);
  return object;
}

Result<Json> SqliteStore::Get(const std::string& type, const std::string& ns,
                              const std::string& name) {
  const std::string key = ObjectKey(type, ns, name);
  std::string data;
  {
    MutexLock lock(&mu_);
    Statement st(db_, "SELECT data FROM objects WHERE type = ? AND namespace = ? AND name = ?");
    if (!st.Bind(1, type).Bind(2, ns).Bind(3, name).Step()) {
      if (!st.ok()) return Error("reading " + key);
      return NotFound(key + " not found");
    }
    data = st.Text(0);
  }
  return store_internal::ParseStoredObject(data, key);
}

Result<int64_t> SqliteStore::GetResourceVersion(const std::string& type, const std::string& ns,
                                                const std::string& name) {
  MutexLock lock(&mu_);
  Statement st(
      db_, "SELECT resource_version FROM objects WHERE type = ? AND namespace = ? AND name = ?");
  if (!st.Bind(1, type).Bind(2, ns).Bind(3, name).Step()) {
    if (!st.ok()) return Error("reading the version of " + ObjectKey(type, ns, name));
    return NotFound(ObjectKey(type, ns, name) + " not found");
  }
  return st.Int(0);
}

Result<int64_t> SqliteStore::Count(const std::string& type, const std::string& ns) {
  MutexLock lock(&mu_);
  Statement st(db_,
               "SELECT COUNT(*) FROM objects WHERE (?1 = '' OR type = ?1)"
               " AND (?2 = '' OR namespace = ?2)");
  if (!st.Bind(1, type).Bind(2, ns).Step()) return Error("counting " + type);
  return st.Int(0);
}

Result<int64_t> SqliteStore::ReplaceText(const std::string& path, const std::string& from,
                                         const std::string& to, Clock& clock) {
  for (const std::string* text : {&from, &to}) {
    for (char c : *text) {
      if (c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20) {
        return InvalidArgument("replacing text in the store: \"" + *text +
                               "\" holds a character JSON escapes");
      }
    }
  }
  if (from.empty()) return InvalidArgument("replacing text in the store: nothing to replace");
  ASSIGN_OR_RETURN(std::unique_ptr<SqliteStore> store, Open(path, clock));
  MutexLock lock(&store->mu_);
  return store->ReplaceTextLocked(from, to);
}

Result<int64_t> SqliteStore::ReplaceTextLocked(const std::string& from, const std::string& to) {
  int64_t changed = 0;
  RETURN_IF_ERROR(InWriteTransaction([&]() REQUIRES(mu_) -> Status {
    for (const char* table : {"objects", "changes"}) {
      Statement st(db_, (std::string("UPDATE ") + table +
                         " SET data = replace(data, ?1, ?2) WHERE instr(data, ?1) > 0")
                            .c_str());
      st.Bind(1, from).Bind(2, to).Step();
      if (!st.ok()) return Error(std::string("rewriting ") + table);
      if (std::string(table) == "objects") changed = sqlite3_changes(db_);
    }
    return Status::Ok();
  }));
  return changed;
}

Result<int64_t> SqliteStore::Snapshot(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) {
    return AlreadyExists("a snapshot of the store: " + path + " exists already");
  }
  MutexLock lock(&mu_);
  {
    Statement st(db_, "VACUUM INTO ?1");
    st.Bind(1, path).Step();
    if (!st.ok()) return Error("copying the store to " + path);
  }
  // The copy's counter, read from the copy itself (the store may have moved on meanwhile).
  sqlite3* copy = nullptr;
  int64_t version = -1;
  if (sqlite3_open_v2(path.c_str(), &copy, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(copy, "SELECT value FROM meta WHERE key = 'version'", -1, &st,
                           nullptr) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
      version = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
  }
  sqlite3_close(copy);
  if (version < 0) return Internal("the copy of the store at " + path + " does not read back");
  ::chmod(path.c_str(), 0600);
  return version;
}

Result<Json> SqliteStore::Update(const std::string& type, Json object) {
  RETURN_IF_ERROR(store_internal::CheckWritableObject(type, object, "update"));
  const std::string ns = MetaNamespace(object), name = MetaName(object);
  const std::string key = ObjectKey(type, ns, name);
  const int64_t expected = store_internal::ExpectedVersion(object);
  int64_t version = 0;
  {
    MutexLock lock(&mu_);
    RETURN_IF_ERROR(InWriteTransaction([&]() REQUIRES(mu_) -> Status {
      Statement current(db_,
                        "SELECT resource_version, data FROM objects WHERE type = ? AND namespace = "
                        "? AND name = ?");
      if (!current.Bind(1, type).Bind(2, ns).Bind(3, name).Step()) {
        if (!current.ok()) return Error("reading " + key);
        return NotFound(key + " not found");
      }
      RETURN_IF_ERROR(store_internal::CheckExpectedVersion(key, expected, current.Int(0)));
      ASSIGN_OR_RETURN(Json stored, store_internal::ParseStoredObject(current.Text(1), key));
      ASSIGN_OR_RETURN(version, NextVersion());
      store_internal::StampUpdated(object, stored, version);
      ASSIGN_OR_RETURN(std::string data, store_internal::SerializeObject(object, key));
      Statement update(db_,
                       "UPDATE objects SET uid = ?, resource_version = ?, labels = ?, data = ? "
                       "WHERE type = ? AND namespace = ? AND name = ?");
      const std::string labels = store_internal::LabelsText(object);
      update.Bind(1, MetaUid(object)).Bind(2, version).Bind(3, labels);
      if (!update.Bind(4, data).Bind(5, type).Bind(6, ns).Bind(7, name).Run()) {
        return Error("updating " + key);
      }
      RETURN_IF_ERROR(WriteOwnerLinks(type, &stored, &object));
      return AppendChange(version, WatchEvent::Type::kModified, type, ns, name, labels, object,
                          data);
    }));
  }
  notifier_.Publish(version);
  return object;
}

Result<Json> SqliteStore::Delete(const std::string& type, const std::string& ns,
                                 const std::string& name, int64_t expected_version) {
  const std::string key = ObjectKey(type, ns, name);
  int64_t version = 0;
  Json stored;
  {
    MutexLock lock(&mu_);
    RETURN_IF_ERROR(InWriteTransaction([&]() REQUIRES(mu_) -> Status {
      Statement current(db_,
                        "SELECT resource_version, data FROM objects WHERE type = ? AND namespace = "
                        "? AND name = ?");
      if (!current.Bind(1, type).Bind(2, ns).Bind(3, name).Step()) {
        if (!current.ok()) return Error("reading " + key);
        return NotFound(key + " not found");
      }
      RETURN_IF_ERROR(store_internal::CheckExpectedVersion(key, expected_version, current.Int(0)));
      std::string data = current.Text(1);
      ASSIGN_OR_RETURN(stored, store_internal::ParseStoredObject(data, key));
      ASSIGN_OR_RETURN(version, NextVersion());
      Statement remove(db_, "DELETE FROM objects WHERE type = ? AND namespace = ? AND name = ?");
      if (!remove.Bind(1, type).Bind(2, ns).Bind(3, name).Run()) {
        return Error("deleting " + key);
      }
      RETURN_IF_ERROR(WriteOwnerLinks(type, &stored, nullptr));
      return AppendChange(version, WatchEvent::Type::kDeleted, type, ns, name,
                          store_internal::LabelsText(stored), stored, data);
    }));
  }
  notifier_.Publish(version);
  return stored;
}

Result<ListResult> SqliteStore::List(const std::string& type, const std::string& ns,
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
  store_internal::ListCollector collector(std::move(selector), options.limit);
  MutexLock lock(&mu_);
  RETURN_IF_ERROR(Exec("BEGIN"));  // one snapshot for the counter and the rows
  auto finish = [&](const Status& status) REQUIRES(mu_) -> Status {
    Status end = Exec(status.ok() ? "COMMIT" : "ROLLBACK");
    return status.ok() ? end : status;
  };
  int64_t version = 0;
  Status status = [&]() REQUIRES(mu_) -> Status {
    ASSIGN_OR_RETURN(version, ReadVersion());
    Statement st(db_,
                 "SELECT namespace, name, data FROM objects WHERE type = ?1"
                 " AND (?2 = '' OR namespace = ?2)"
                 " AND (?3 = 0 OR (namespace, name) > (?4, ?5))"
                 " ORDER BY namespace, name");
    st.Bind(1, type).Bind(2, ns).Bind(3, static_cast<int64_t>(has_start));
    st.Bind(4, start.first).Bind(5, start.second);
    while (st.Step()) {
      std::string row_ns = st.Text(0), row_name = st.Text(1);
      ASSIGN_OR_RETURN(Json object, store_internal::ParseStoredObject(
                                        st.Text(2), ObjectKey(type, row_ns, row_name)));
      if (!collector.Offer(row_ns, row_name, std::move(object))) break;
    }
    if (!st.ok()) return Error("listing " + type);
    return Status::Ok();
  }();  // the statement is finalized here, before the transaction ends
  RETURN_IF_ERROR(finish(status));
  return std::move(collector).Finish(version);
}

Result<int64_t> SqliteStore::ReadCompacted() {
  Statement st(db_, "SELECT value FROM meta WHERE key = 'compacted'");
  if (!st.Step()) {
    if (!st.ok()) return Error("reading the compacted version");
    return 0;
  }
  return st.Int(0);
}

Result<int64_t> SqliteStore::CompactedVersion() {
  MutexLock lock(&mu_);
  return ReadCompacted();
}

Result<int64_t> SqliteStore::Compact(int64_t through) {
  MutexLock lock(&mu_);
  int64_t dropped = 0;
  RETURN_IF_ERROR(InWriteTransaction([&]() REQUIRES(mu_) -> Status {
    ASSIGN_OR_RETURN(int64_t current, ReadVersion());
    ASSIGN_OR_RETURN(int64_t compacted, ReadCompacted());
    through = std::min(through, current);
    if (through <= compacted) return Status::Ok();
    Statement drop(db_, "DELETE FROM changes WHERE version <= ?1");
    if (!drop.Bind(1, through).Run()) return Error("compacting the change feed");
    dropped = sqlite3_changes(db_);
    Statement mark(db_, "INSERT OR REPLACE INTO meta (key, value) VALUES ('compacted', ?1)");
    if (!mark.Bind(1, through).Run()) return Error("recording the compacted version");
    return Status::Ok();
  }));
  return dropped;
}

Result<std::vector<WatchEvent>> SqliteStore::ReadChanges(const ChangeFilter& filter, int64_t after,
                                                         size_t limit) {
  std::vector<WatchEvent> events;
  MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(int64_t compacted, ReadCompacted());
  if (after < compacted) return store_internal::TooOldVersion(after, compacted);
  const std::string sql = std::string("SELECT version, type, namespace, name, event, ") +
                          store_internal::ChangeObjectColumns(filter) +
                          " FROM changes WHERE version > ?1 AND (?2 = '' OR type = ?2)"
                          " AND (?3 = '' OR namespace = ?3) ORDER BY version LIMIT ?4";
  Statement st(db_, sql.c_str());
  st.Bind(1, after).Bind(2, filter.store_type).Bind(3, filter.namespace_);
  st.Bind(4, limit == 0 ? int64_t{-1} : static_cast<int64_t>(limit));
  while (st.Step()) {
    WatchEvent ev;
    ev.resource_version = st.Int(0);
    ev.store_type = st.Text(1);
    ev.namespace_ = st.Text(2);
    ev.name = st.Text(3);
    ASSIGN_OR_RETURN(ev.type, store_internal::ParseEventText(st.Text(4), ev.resource_version));
    ASSIGN_OR_RETURN(ev.object, store_internal::ChangeObject(filter, ev.store_type, ev.namespace_,
                                                             ev.name, st.Text(5), st.Text(6)));
    events.push_back(std::move(ev));
  }
  if (!st.ok()) return Error("reading changes after " + std::to_string(after));
  return events;
}

int64_t SqliteStore::CurrentVersion() {
  MutexLock lock(&mu_);
  Result<int64_t> version = ReadVersion();
  if (!version.ok()) {
    LogError("store version read failed", {{"error", version.status().ToString()}});
    return 0;
  }
  return *version;
}

int64_t SqliteStore::WaitForChange(int64_t after, std::chrono::milliseconds timeout) {
  return notifier_.Wait(after, timeout, [this] { return CurrentVersion(); });
}

}  // namespace skiff
