// PostgresStore: the conformance suite against a real PostgreSQL server started in a temporary
// directory for this test binary (PostgresTestingServer), plus PostgreSQL-specific checks.
#include "store/postgres/postgres_store.h"

#include <libpq-fe.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <thread>
#include <vector>

#include "core/thread_annotations.h"
#include "store/postgres/testing_server.h"
#include "store/store_test_suite.h"

namespace skiff::testing {
namespace {

// Starts the server on first use and stops it when the test program ends.
class PostgresEnvironment : public ::testing::Environment {
 public:
  static PostgresEnvironment* Instance() {
    static PostgresEnvironment* const env = [] {
      auto* e = new PostgresEnvironment;
      ::testing::AddGlobalTestEnvironment(e);  // gtest owns it
      return e;
    }();
    return env;
  }

  Result<PostgresTestingServer*> Server() {
    MutexLock lock(&mu_);
    if (server_ == nullptr && start_error_.ok()) {
      Result<std::unique_ptr<PostgresTestingServer>> started = PostgresTestingServer::Start();
      if (started.ok()) {
        server_ = std::move(started).value();
      } else {
        start_error_ = started.status().WithContext("starting the testing PostgreSQL server");
      }
    }
    if (!start_error_.ok()) return start_error_;
    return server_.get();
  }

  void TearDown() override {
    MutexLock lock(&mu_);
    server_.reset();  // pg_ctl stop -m fast, then the directory is removed
  }

 private:
  Mutex mu_;
  std::unique_ptr<PostgresTestingServer> server_ GUARDED_BY(mu_);
  Status start_error_ GUARDED_BY(mu_);
};

// Registered before main() runs, so TearDown runs after the last test.
[[maybe_unused]] PostgresEnvironment* const kEnvironment = PostgresEnvironment::Instance();

Result<std::string> NewPostgresDatabase() {
  static std::atomic<int> counter{0};
  ASSIGN_OR_RETURN(PostgresTestingServer * server, PostgresEnvironment::Instance()->Server());
  return server->CreateDatabase("store_test_" + std::to_string(counter++));
}

Status ExecPostgresSql(const std::string& url, const std::string& sql) {
  std::unique_ptr<PGconn, void (*)(PGconn*)> conn(PQconnectdb(url.c_str()), &PQfinish);
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    return Unavailable(std::string("connect: ") + PQerrorMessage(conn.get()));
  }
  std::unique_ptr<PGresult, void (*)(PGresult*)> result(PQexec(conn.get(), sql.c_str()), &PQclear);
  if (PQresultStatus(result.get()) != PGRES_COMMAND_OK &&
      PQresultStatus(result.get()) != PGRES_TUPLES_OK) {
    return Internal(std::string("exec: ") + PQresultErrorMessage(result.get()));
  }
  return Status::Ok();
}

const StoreTestBackend kPostgresBackend{"Postgres", NewPostgresDatabase, ExecPostgresSql, nullptr};

INSTANTIATE_TEST_SUITE_P(Postgres, StoreConformanceTest, ::testing::Values(&kPostgresBackend),
                         StoreTestBackendName);

TEST(PostgresStoreOnARealServerTest, BothUrlSchemesConnectAndShareTheData) {
  Result<std::string> url = NewPostgresDatabase();
  ASSERT_TRUE(url.ok()) << url.status().ToString();
  FakeClock clock;
  Result<std::unique_ptr<Store>> a = OpenStore(*url, clock);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  std::string short_scheme = "postgres" + url->substr(std::string("postgresql").size());
  Result<std::unique_ptr<Store>> b = OpenStore(short_scheme, clock);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  ASSERT_TRUE((*a)->Create("things", MakeTestObject("default", "x")).ok());
  EXPECT_TRUE((*b)->Get("things", "default", "x").ok());
}

TEST(PostgresStoreOnARealServerTest, ConcurrentOpenersMigrateOnce) {
  Result<std::string> url = NewPostgresDatabase();
  ASSERT_TRUE(url.ok()) << url.status().ToString();
  FakeClock clock;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      Result<std::unique_ptr<Store>> store = OpenStore(*url, clock);
      if (!store.ok()) ++failures;
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures, 0);
  Result<std::unique_ptr<Store>> store = OpenStore(*url, clock);
  ASSERT_TRUE(store.ok());
  EXPECT_EQ((*store)->CurrentVersion(), 0);
}

TEST(PostgresStoreOnARealServerTest, AStoreReconnectsAfterItsConnectionIsKilled) {
  Result<std::string> url = NewPostgresDatabase();
  ASSERT_TRUE(url.ok()) << url.status().ToString();
  FakeClock clock;
  Result<std::unique_ptr<Store>> store = OpenStore(*url, clock);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  ASSERT_TRUE((*store)->Create("things", MakeTestObject("default", "x")).ok());
  // Terminate every other backend connected to this database (the store's connection).
  std::string db = url->substr(url->rfind('/') + 1);
  ASSERT_TRUE(ExecPostgresSql(*url,
                              "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                              "datname = '" +
                                  db + "' AND pid <> pg_backend_pid()")
                  .ok());
  // The first call may see the dead connection (Unavailable); the store then reconnects.
  Result<Json> first = (*store)->Get("things", "default", "x");
  if (!first.ok()) {
    EXPECT_EQ(first.status().code(), StatusCode::kUnavailable) << first.status().ToString();
  }
  Result<Json> again = (*store)->Get("things", "default", "x");
  EXPECT_TRUE(again.ok()) << again.status().ToString();
}

TEST(PostgresTestingServerTest, MissingServerBinariesAreAClearError) {
  ASSERT_EQ(setenv("SKIFF_PG_BIN", "/nonexistent/pg/bin", 1), 0);
  Result<std::unique_ptr<PostgresTestingServer>> server = PostgresTestingServer::Start();
  unsetenv("SKIFF_PG_BIN");
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(server.status().message().find("/nonexistent/pg/bin"), std::string::npos);
  EXPECT_NE(server.status().message().find("initdb"), std::string::npos);
}

TEST(PostgresTestingServerTest, StopIsIdempotentAndTheDirectoryIsRemoved) {
  Result<std::unique_ptr<PostgresTestingServer>> server = PostgresTestingServer::Start();
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  std::string dir = (*server)->directory();
  std::string url = (*server)->Url("postgres");
  ASSERT_EQ(PQping(url.c_str()), PQPING_OK);
  EXPECT_TRUE((*server)->Stop().ok());
  EXPECT_TRUE((*server)->Stop().ok());
  EXPECT_NE(PQping(url.c_str()), PQPING_OK);
  server->reset();
  EXPECT_FALSE(std::filesystem::exists(dir));
}

}  // namespace
}  // namespace skiff::testing
