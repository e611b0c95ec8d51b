// OpenStore: URL dispatch and its errors.
#include "store/store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "store/postgres/postgres_store.h"

namespace skiff {
namespace {

namespace fs = std::filesystem;

class OpenStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("skiff-open-store-test-" + std::to_string(getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
  FakeClock clock_;
};

TEST_F(OpenStoreTest, SqliteUrlAndBarePathOpenTheSameDatabase) {
  std::string path = (dir_ / "skiff.db").string();
  {
    Result<std::unique_ptr<Store>> store = OpenStore("sqlite://" + path, clock_);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    Json obj = {{"metadata", {{"name", "a"}, {"namespace", "default"}}}};
    ASSERT_TRUE((*store)->Create("things", obj).ok());
  }
  Result<std::unique_ptr<Store>> bare = OpenStore(path, clock_);
  ASSERT_TRUE(bare.ok()) << bare.status().ToString();
  EXPECT_TRUE((*bare)->Get("things", "default", "a").ok());
}

TEST_F(OpenStoreTest, AnEmptyOrForeignSqliteFileIsRefusedAndLeftAsItIs) {
  const std::string empty = (dir_ / "empty.db").string();
  { std::ofstream touch(empty); }
  Result<std::unique_ptr<Store>> store = OpenStore(empty, clock_);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(store.status().message().find("exists but is empty"), std::string::npos);
  EXPECT_EQ(fs::file_size(empty), 0u) << "nothing written into it";

  const std::string foreign = (dir_ / "foreign.db").string();
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(foreign.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "CREATE TABLE songs (title TEXT)", nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
  }
  store = OpenStore(foreign, clock_);
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.status().message().find("not Skiff's"), std::string::npos)
      << store.status().ToString();

  const std::string fresh = (dir_ / "fresh.db").string();
  EXPECT_TRUE(OpenStore(fresh, clock_).ok()) << "a file that does not exist is a new store";
  EXPECT_TRUE(OpenStore(fresh, clock_).ok()) << "and opens again";
}

TEST_F(OpenStoreTest, AnUnknownSchemeIsRejectedByName) {
  Result<std::unique_ptr<Store>> store = OpenStore("mysql://root@localhost/skiff", clock_);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(store.status().message().find("'mysql'"), std::string::npos);
}

TEST_F(OpenStoreTest, EmptyUrlsAreRejected) {
  EXPECT_EQ(OpenStore("", clock_).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(OpenStore("sqlite://", clock_).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(OpenStoreTest, AnUnreachablePostgresIsUnavailableAndTheErrorHidesThePassword) {
  // Port 1 on localhost: nothing listens there.
  Result<std::unique_ptr<Store>> store =
      OpenStore("postgresql://skiff:hunter2@127.0.0.1:1/skiff?connect_timeout=5", clock_);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(store.status().message().find("hunter2"), std::string::npos)
      << store.status().message();
  EXPECT_NE(store.status().message().find("127.0.0.1:1"), std::string::npos);
}

TEST(PostgresStoreTest, RedactUrlHidesOnlyThePassword) {
  EXPECT_EQ(PostgresStore::RedactUrl("postgresql://u:secret@h:5432/db"),
            "postgresql://u:***@h:5432/db");
  EXPECT_EQ(PostgresStore::RedactUrl("postgresql://u@h:5432/db"), "postgresql://u@h:5432/db");
  EXPECT_EQ(PostgresStore::RedactUrl("postgres://h:5432/db"), "postgres://h:5432/db");
}

TEST(WatchEventTypeNameTest, NamesEveryType) {
  EXPECT_STREQ(WatchEventTypeName(WatchEvent::Type::kAdded), "ADDED");
  EXPECT_STREQ(WatchEventTypeName(WatchEvent::Type::kModified), "MODIFIED");
  EXPECT_STREQ(WatchEventTypeName(WatchEvent::Type::kDeleted), "DELETED");
}

}  // namespace
}  // namespace skiff
