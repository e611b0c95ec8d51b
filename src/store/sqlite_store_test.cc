// SqliteStore: the conformance suite plus what only an embedded file database has to prove,
// chiefly that an acknowledged write survives kill -9.
#include "store/sqlite/sqlite_store.h"

#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "store/store_test_suite.h"

namespace skiff::testing {
namespace {

namespace fs = std::filesystem;

fs::path NewTempDir() {
  static std::atomic<int> counter{0};
  fs::path dir = fs::temp_directory_path() / ("skiff-sqlite-test-" + std::to_string(getpid()) +
                                              "-" + std::to_string(counter++));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::string PathOf(const std::string& url) { return url.substr(std::string("sqlite://").size()); }

Status ExecSqliteSql(const std::string& url, const std::string& sql) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open(PathOf(url).c_str(), &db);
  std::string error;
  if (rc == SQLITE_OK) {
    sqlite3_busy_timeout(db, 5000);
    rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr);
  }
  if (rc != SQLITE_OK) error = sqlite3_errmsg(db);
  sqlite3_close(db);
  return rc == SQLITE_OK ? Status::Ok() : Internal("sqlite3 exec: " + error);
}

const StoreTestBackend kSqliteBackend{
    "Sqlite",
    []() -> Result<std::string> { return "sqlite://" + (NewTempDir() / "skiff.db").string(); },
    ExecSqliteSql,
    [](const std::string& url) { fs::remove_all(fs::path(PathOf(url)).parent_path()); },
};

INSTANTIATE_TEST_SUITE_P(Sqlite, StoreConformanceTest, ::testing::Values(&kSqliteBackend),
                         StoreTestBackendName);

class SqliteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = NewTempDir(); }
  void TearDown() override { fs::remove_all(dir_); }
  std::string DbPath() const { return (dir_ / "skiff.db").string(); }

  // Reads one PRAGMA on a separate connection.
  std::string Pragma(const std::string& name) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open(DbPath().c_str(), &db), SQLITE_OK);
    std::string value;
    sqlite3_exec(
        db, ("PRAGMA " + name).c_str(),
        [](void* out, int, char** values, char**) {
          *static_cast<std::string*>(out) = values[0] ? values[0] : "";
          return 0;
        },
        &value, nullptr);
    sqlite3_close(db);
    return value;
  }

  fs::path dir_;
  FakeClock clock_;
};

TEST_F(SqliteStoreTest, TheDatabaseIsInWalModeWithASchemaVersion) {
  ASSERT_TRUE(SqliteStore::Open(DbPath(), clock_).ok());
  EXPECT_EQ(Pragma("journal_mode"), "wal");
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(DbPath().c_str(), &db), SQLITE_OK);
  int64_t version = -1;
  sqlite3_exec(
      db, "SELECT MAX(version) FROM schema_migrations",
      [](void* out, int, char** values, char**) {
        *static_cast<int64_t*>(out) = std::stoll(values[0]);
        return 0;
      },
      &version, nullptr);
  sqlite3_close(db);
  EXPECT_EQ(version, 3);
}

TEST_F(SqliteStoreTest, ADatabaseOfSchemaVersion1IsMigratedWithItsObjectsAndChanges) {
  // The schema as the first release wrote it, with one object and its change.
  ASSERT_TRUE(ExecSqliteSql(
                  "sqlite://" + DbPath(),
                  "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT "
                  "NOT NULL);"
                  "INSERT INTO schema_migrations VALUES (1, '2026-01-01T00:00:00Z');"
                  "CREATE TABLE objects (type TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT "
                  "NOT NULL, uid TEXT NOT NULL, resource_version INTEGER NOT NULL, labels TEXT NOT "
                  "NULL, data TEXT NOT NULL, PRIMARY KEY (type, namespace, name)) WITHOUT ROWID;"
                  "CREATE TABLE changes (version INTEGER PRIMARY KEY, type TEXT NOT NULL, "
                  "namespace TEXT NOT NULL, name TEXT NOT NULL, event TEXT NOT NULL, data TEXT NOT "
                  "NULL);"
                  "CREATE INDEX changes_by_type ON changes (type, version);"
                  "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
                  "INSERT INTO meta VALUES ('version', '1');"
                  "INSERT INTO objects VALUES ('w.x', 'default', 'old', 'u1', 1, '{}', "
                  "'{\"metadata\":{\"name\":\"old\",\"namespace\":\"default\","
                  "\"resourceVersion\":\"1\",\"uid\":\"u1\"},\"spec\":{\"a\":1}}');"
                  "INSERT INTO changes VALUES (1, 'w.x', 'default', 'old', 'ADDED', "
                  "'{\"metadata\":{\"name\":\"old\"}}');")
                  .ok());
  Result<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(DbPath(), clock_);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  Result<Json> old = (*store)->Get("w.x", "default", "old");
  ASSERT_TRUE(old.ok()) << old.status().ToString();
  EXPECT_EQ((*old)["spec"]["a"], 1);
  ChangeFilter filter;
  filter.metadata_only = true;
  Result<std::vector<WatchEvent>> changes = (*store)->ReadChanges(filter, 0, 10);
  ASSERT_TRUE(changes.ok()) << changes.status().ToString();
  ASSERT_EQ(changes->size(), 1u);
  EXPECT_EQ((*changes)[0].object["metadata"]["labels"], Json::object());
  Json added = {
      {"apiVersion", "x/v1"},
      {"kind", "W"},
      {"metadata", {{"name", "new"}, {"namespace", "default"}, {"labels", {{"k", "v"}}}}}};
  ASSERT_TRUE((*store)->Create("w.x", added).ok());
  changes = (*store)->ReadChanges(filter, 1, 10);
  ASSERT_TRUE(changes.ok());
  ASSERT_EQ(changes->size(), 1u);
  EXPECT_EQ((*changes)[0].resource_version, 2);
  EXPECT_EQ((*changes)[0].object["metadata"]["labels"]["k"], "v");
}

TEST_F(SqliteStoreTest, ASnapshotIsACompleteStoreAsOfOneMomentWhileWritesGoOn) {
  auto store = SqliteStore::Open(DbPath(), clock_);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(
        (*store)
            ->Create("widgets.example.dev", testing::MakeTestObject("ns", "w" + std::to_string(i)))
            .ok());
  }
  // A writer keeps going on another store object on the same file while the copy is made.
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    auto other = SqliteStore::Open(DbPath(), clock_);
    for (int i = 0; !stop && other.ok(); ++i) {
      (void)(*other)->Create("gadgets.example.dev",
                             testing::MakeTestObject("ns", "g" + std::to_string(i)));
    }
  });
  const std::string copy = (dir_ / "backup" / "copy.db").string();
  fs::create_directories(dir_ / "backup");
  Result<int64_t> version = (*store)->Snapshot(copy);
  stop = true;
  writer.join();
  ASSERT_TRUE(version.ok()) << version.status().ToString();
  EXPECT_EQ(fs::status(copy).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);

  auto restored = SqliteStore::Open(copy, clock_);
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  EXPECT_EQ((*restored)->CurrentVersion(), *version);
  // Every object written up to the copy's version is in it: 20 widgets and as many gadgets as
  // the writer had made by then.
  EXPECT_EQ(*(*restored)->Count("widgets.example.dev", ""), 20);
  EXPECT_EQ(*(*restored)->Count("", ""), *version);
  EXPECT_EQ((*store)->Snapshot(copy).status().code(), StatusCode::kAlreadyExists);
}

TEST_F(SqliteStoreTest, OpeningCreatesMissingParentDirectories) {
  std::string nested = (dir_ / "a" / "b" / "skiff.db").string();
  Result<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(nested, clock_);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_TRUE(fs::exists(nested));
}

TEST_F(SqliteStoreTest, AFileThatIsNotADatabaseIsAClearError) {
  {
    std::FILE* f = std::fopen(DbPath().c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs("this is a text file, definitely not SQLite, padded to be long enough......\n", f);
    std::fclose(f);
  }
  Result<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(DbPath(), clock_);
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.status().message().find(DbPath()), std::string::npos) << store.status().message();
  EXPECT_NE(store.status().message().find("not a database"), std::string::npos)
      << store.status().message();
}

TEST_F(SqliteStoreTest, ANewerSchemaThanTheBinaryKnowsIsRefused) {
  ASSERT_TRUE(SqliteStore::Open(DbPath(), clock_).ok());
  ASSERT_TRUE(
      ExecSqliteSql("sqlite://" + DbPath(), "INSERT INTO schema_migrations VALUES (99, 'future')")
          .ok());
  Result<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(DbPath(), clock_);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(store.status().message().find("99"), std::string::npos);
}

// The child writes `count` objects, reporting each acknowledged write with one byte on `ack_fd`,
// then kills itself with SIGKILL: nothing after the last ack may be needed for durability.
[[noreturn]] void WriteThenDie(const std::string& path, int count, int ack_fd) {
  FakeClock clock;
  Result<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(path, clock);
  if (!store.ok()) _exit(10);
  for (int i = 0; i < count; ++i) {
    Json obj = MakeTestObject("default", "obj-" + std::to_string(i));
    if (!(*store)->Create("widgets.example.dev", obj).ok()) _exit(11);
    char ack = 1;
    if (write(ack_fd, &ack, 1) != 1) _exit(12);
  }
  raise(SIGKILL);
  _exit(13);
}

TEST_F(SqliteStoreTest, EveryAcknowledgedWriteSurvivesSigkillOfTheWriter) {
  constexpr int kCount = 40;
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(fds[0]);
    WriteThenDie(DbPath(), kCount, fds[1]);
  }
  close(fds[1]);
  int acks = 0;
  char byte;
  while (read(fds[0], &byte, 1) == 1) ++acks;
  close(fds[0]);
  int wstatus = 0;
  ASSERT_EQ(waitpid(pid, &wstatus, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(wstatus)) << "child exited with " << WEXITSTATUS(wstatus);
  EXPECT_EQ(WTERMSIG(wstatus), SIGKILL);
  ASSERT_EQ(acks, kCount);

  Result<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(DbPath(), clock_);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  Result<ListResult> list = (*store)->List("widgets.example.dev", "", ListOptions{});
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  EXPECT_EQ(list->items.size(), static_cast<size_t>(kCount));
  EXPECT_EQ((*store)->CurrentVersion(), kCount);
}

TEST_F(SqliteStoreTest, WritesAcknowledgedBeforeAnOutsideKillAreAllThere) {
  constexpr int kCount = 400;
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(fds[0]);
    WriteThenDie(DbPath(), kCount, fds[1]);
  }
  close(fds[1]);
  // Kill the writer mid-stream, at an arbitrary point after the 25th acknowledgement.
  int acks = 0;
  char byte;
  while (acks < 25 && read(fds[0], &byte, 1) == 1) ++acks;
  kill(pid, SIGKILL);
  while (read(fds[0], &byte, 1) == 1) ++acks;  // acks already sent before the kill landed
  close(fds[0]);
  int wstatus = 0;
  ASSERT_EQ(waitpid(pid, &wstatus, 0), pid);
  ASSERT_GE(acks, 25);

  Result<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(DbPath(), clock_);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  for (int i = 0; i < acks; ++i) {
    EXPECT_TRUE((*store)->Get("widgets.example.dev", "default", "obj-" + std::to_string(i)).ok())
        << "acknowledged write " << i << " of " << acks << " was lost";
  }
  // Versions stay dense: nothing half-written.
  int64_t version = (*store)->CurrentVersion();
  EXPECT_GE(version, acks);
  EXPECT_EQ((*store)->List("widgets.example.dev", "", ListOptions{})->items.size(),
            static_cast<size_t>(version));
}

}  // namespace
}  // namespace skiff::testing
