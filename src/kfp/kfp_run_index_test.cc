#include "kfp/kfp_run_index.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "auth/testing/auth_testing.h"

namespace skiff {
namespace {

constexpr char kType[] = "widgets.example.com";

class KfpRunIndexTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = OpenTestStore(dir_, clock_);
    index_ = std::make_unique<KfpRunIndex>(*store_, kType, [](const Json& obj) {
      return Json{
          {"ns", MetaNamespace(obj)}, {"name", MetaName(obj)}, {"size", obj["spec"]["size"]}};
    });
  }

  void Put(const std::string& ns, const std::string& name, int size) {
    Json obj = {{"apiVersion", "example.com/v1"},
                {"kind", "Widget"},
                {"metadata", {{"name", name}, {"namespace", ns}}},
                {"spec", {{"size", size}}}};
    auto existing = store_->Get(kType, ns, name);
    auto written = existing.ok() ? store_->Update(kType, obj) : store_->Create(kType, obj);
    ASSERT_TRUE(written.ok()) << written.status().ToString();
  }

  // "ns/name=size" for each summary, in the index's order.
  std::vector<std::string> Seen(const std::string& ns) {
    auto summaries = index_->Summaries(ns);
    EXPECT_TRUE(summaries.ok()) << summaries.status().ToString();
    std::vector<std::string> out;
    for (const KfpRunIndex::Summary& s :
         summaries.ok() ? *summaries : std::vector<KfpRunIndex::Summary>{}) {
      out.push_back((*s)["ns"].get<std::string>() + "/" + (*s)["name"].get<std::string>() + "=" +
                    std::to_string((*s)["size"].get<int>()));
    }
    return out;
  }

  TempDir dir_;
  FakeClock clock_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<KfpRunIndex> index_;
};

TEST_F(KfpRunIndexTest, FollowsCreatesUpdatesAndDeletesWithoutListingAgain) {
  Put("a", "w1", 1);
  Put("a", "w2", 2);
  Put("b", "w3", 3);
  EXPECT_EQ(Seen("a"), (std::vector<std::string>{"a/w1=1", "a/w2=2"}));
  EXPECT_EQ(index_->full_loads(), 1);
  Put("a", "w0", 0);
  Put("a", "w2", 20);
  ASSERT_TRUE(store_->Delete(kType, "a", "w1").ok());
  Put("c", "w4", 4);
  EXPECT_EQ(Seen("a"), (std::vector<std::string>{"a/w0=0", "a/w2=20"}));
  EXPECT_EQ(Seen(""), (std::vector<std::string>{"a/w0=0", "a/w2=20", "b/w3=3", "c/w4=4"}));
  EXPECT_EQ(Seen("b"), (std::vector<std::string>{"b/w3=3"}));
  EXPECT_TRUE(Seen("nobody").empty());
  EXPECT_EQ(index_->full_loads(), 1);
}

TEST_F(KfpRunIndexTest, ChangesToOtherTypesAreNotItsConcern) {
  Put("a", "w1", 1);
  EXPECT_EQ(Seen("a").size(), 1u);
  Json other = {{"apiVersion", "v1"},
                {"kind", "ConfigMap"},
                {"metadata", {{"name", "w1"}, {"namespace", "a"}}},
                {"data", Json::object()}};
  ASSERT_TRUE(store_->Create("configmaps", other).ok());
  ASSERT_TRUE(store_->Delete("configmaps", "a", "w1").ok());
  EXPECT_EQ(Seen("a"), (std::vector<std::string>{"a/w1=1"}));
  EXPECT_EQ(index_->full_loads(), 1);
}

TEST_F(KfpRunIndexTest, ABurstOfChangesIsReadWithOneFullListInstead) {
  Put("a", "first", 1);
  EXPECT_EQ(Seen("a").size(), 1u);
  for (int i = 0; i < 100; ++i) Put("a", "w" + std::to_string(1000 + i), i);
  EXPECT_EQ(Seen("a").size(), 101u);
  EXPECT_EQ(index_->full_loads(), 2);
  Put("a", "first", 7);
  EXPECT_EQ(Seen("a").front(), "a/first=7");
  EXPECT_EQ(index_->full_loads(), 2);
}

}  // namespace
}  // namespace skiff
