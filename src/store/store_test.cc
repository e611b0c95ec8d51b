// OpenStore: URL dispatch and its errors.
#include "store/store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

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
