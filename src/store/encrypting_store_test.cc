#include "store/encrypting_store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "core/clock.h"
#include "core/files.h"
#include "core/testing/temp_dir.h"

namespace skiff {
namespace {

Json Secret(const std::string& name, const std::string& value) {
  return {{"apiVersion", "v1"},
          {"kind", "Secret"},
          {"metadata", {{"name", name}, {"namespace", "team-a"}}},
          {"data", {{"password", value}}},
          {"stringData", {{"user", "alice"}}}};
}

class EncryptingStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = dir_.path() + "/skiff.db";
    auto raw = OpenStore("sqlite://" + db_, clock_);
    ASSERT_TRUE(raw.ok()) << raw.status().ToString();
    raw_ = raw->get();
    auto key = LoadOrCreateSecretsKey(dir_.path() + "/secrets.key", **raw);
    ASSERT_TRUE(key.ok()) << key.status().ToString();
    key_ = *key;
    store_ = std::make_unique<EncryptingStore>(std::move(raw).value(), key_);
  }

  TempDir dir_;
  FakeClock clock_;
  std::string db_, key_;
  Store* raw_ = nullptr;  // owned by store_
  std::unique_ptr<EncryptingStore> store_;
};

TEST_F(EncryptingStoreTest, SecretsReadAsWrittenAndAreNotInTheDatabase) {
  auto created = store_->Create("secrets", Secret("db", "c3VwZXItc2VjcmV0LXZhbHVl"));
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_EQ((*created)["data"]["password"], "c3VwZXItc2VjcmV0LXZhbHVl");
  auto got = store_->Get("secrets", "team-a", "db");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ((*got)["data"]["password"], "c3VwZXItc2VjcmV0LXZhbHVl");
  EXPECT_EQ((*got)["stringData"]["user"], "alice");
  EXPECT_FALSE(got->contains("encrypted"));

  Json stored = *raw_->Get("secrets", "team-a", "db");
  EXPECT_FALSE(stored.contains("data"));
  EXPECT_FALSE(stored.contains("stringData"));
  EXPECT_EQ(stored["encrypted"].get<std::string>().rfind("aesgcm:v1:", 0), 0u);
  for (const char* file : {"", "-wal"}) {
    std::string bytes = ReadFile(db_ + file).value_or("");
    EXPECT_EQ(bytes.find("c3VwZXItc2VjcmV0LXZhbHVl"), std::string::npos) << file;
    EXPECT_EQ(bytes.find("alice"), std::string::npos) << file;
  }

  Json changed = *got;
  changed["data"]["password"] = "bmV3";
  ASSERT_TRUE(store_->Update("secrets", changed).ok());
  auto listed = store_->List("secrets", "", {});
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->items.size(), 1u);
  EXPECT_EQ(listed->items[0]["data"]["password"], "bmV3");
  auto events = store_->ReadChanges({.store_type = "secrets"}, 0, 10);
  ASSERT_TRUE(events.ok());
  ASSERT_FALSE(events->empty());
  EXPECT_EQ(events->back().object["data"]["password"], "bmV3") << "a watch sees the values";
  auto deleted = store_->Delete("secrets", "team-a", "db", 0);
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ((*deleted)["data"]["password"], "bmV3");
}

TEST_F(EncryptingStoreTest, ACiphertextMovedToAnotherSecretOrReadWithAnotherKeyDoesNotOpen) {
  ASSERT_TRUE(store_->Create("secrets", Secret("a", "YQ==")).ok());
  ASSERT_TRUE(store_->Create("secrets", Secret("b", "Yg==")).ok());
  Json a = *raw_->Get("secrets", "team-a", "a");
  Json b = *raw_->Get("secrets", "team-a", "b");
  b["encrypted"] = a["encrypted"];
  ASSERT_TRUE(raw_->Update("secrets", b).ok());
  auto moved = store_->Get("secrets", "team-a", "b");
  ASSERT_FALSE(moved.ok());
  EXPECT_NE(moved.status().message().find("Secret team-a/b"), std::string::npos)
      << moved.status().message();

  std::string other_key(32, 'k');
  EncryptingStore other(OpenStore("sqlite://" + db_, clock_).value(), other_key);
  auto wrong = other.Get("secrets", "team-a", "a");
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.status().message().find("secrets.key"), std::string::npos);
}

TEST_F(EncryptingStoreTest, PlainSecretsOfAnOlderStoreAreEncryptedOnce) {
  ASSERT_TRUE(raw_->Create("secrets", Secret("old", "b2xk")).ok());
  EXPECT_EQ((*store_->Get("secrets", "team-a", "old"))["data"]["password"], "b2xk");
  EXPECT_EQ(*store_->EncryptAll(), 1);
  EXPECT_TRUE(raw_->Get("secrets", "team-a", "old")->contains("encrypted"));
  EXPECT_EQ(*store_->EncryptAll(), 0);
  EXPECT_EQ((*store_->Get("secrets", "team-a", "old"))["data"]["password"], "b2xk");
}

TEST_F(EncryptingStoreTest, TheKeyIsTheServersAloneAndALostOneIsNotReplacedSilently) {
  struct stat st {};
  ASSERT_EQ(::stat((dir_.path() + "/secrets.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto again = LoadOrCreateSecretsKey(dir_.path() + "/secrets.key", *raw_);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, key_) << "the same key at the next start";

  ASSERT_TRUE(store_->Create("secrets", Secret("s", "cw==")).ok());
  ASSERT_EQ(::unlink((dir_.path() + "/secrets.key").c_str()), 0);
  auto lost = LoadOrCreateSecretsKey(dir_.path() + "/secrets.key", *raw_);
  ASSERT_FALSE(lost.ok());
  EXPECT_NE(lost.status().message().find("team-a/s"), std::string::npos);
  EXPECT_FALSE(ReadFile(dir_.path() + "/secrets.key").ok()) << "no new key over the lost one";

  ASSERT_TRUE(WriteFileAtomically(dir_.path() + "/secrets.key", "not a key\n").ok());
  EXPECT_FALSE(LoadOrCreateSecretsKey(dir_.path() + "/secrets.key", *raw_).ok());
}

}  // namespace
}  // namespace skiff
