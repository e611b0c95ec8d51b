#include "auth/quota_store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "auth/auth.h"
#include "auth/testing/auth_testing.h"

namespace skiff {
namespace {

Json Job(const std::string& ns, const std::string& name) {
  return {{"apiVersion", "batch/v1"},
          {"kind", "Job"},
          {"metadata", {{"name", name}, {"namespace", ns}}},
          {"spec", Json::object()}};
}

class QuotaStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::unique_ptr<Store> inner = OpenTestStore(dir_, clock_);
    ASSERT_NE(inner, nullptr);
    store_ = std::make_unique<QuotaStore>(std::move(inner));
    Json profile = {{"apiVersion", "kubeflow.org/v1"},
                    {"kind", "Profile"},
                    {"metadata", {{"name", "team-a"}}},
                    {"spec",
                     {{"owner", {{"kind", "User"}, {"name", "alice"}}},
                      {"resourceQuotaSpec", {{"hard", {{"count/jobs.batch", "2"}}}}}}}};
    ASSERT_TRUE(store_->Create(kProfileType, profile).ok());
  }

  TempDir dir_;
  FakeClock clock_;
  std::unique_ptr<Store> store_;
};

TEST_F(QuotaStoreTest, ACreatePastTheCountIsForbiddenNamingTheQuota) {
  ASSERT_TRUE(store_->Create("jobs.batch", Job("team-a", "one")).ok());
  ASSERT_TRUE(store_->Create("jobs.batch", Job("team-a", "two")).ok());
  auto third = store_->Create("jobs.batch", Job("team-a", "three"));
  ASSERT_EQ(third.status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(third.status().message(),
            "jobs.batch \"three\" is forbidden: exceeded quota: profile team-a, requested: "
            "count/jobs.batch=1, used: count/jobs.batch=2, limited: count/jobs.batch=2");
  EXPECT_EQ(store_->Get("jobs.batch", "team-a", "three").status().code(), StatusCode::kNotFound);
  // Once one is gone, there is room again.
  ASSERT_TRUE(store_->Delete("jobs.batch", "team-a", "one", 0).ok());
  EXPECT_TRUE(store_->Create("jobs.batch", Job("team-a", "three")).ok());
}

TEST_F(QuotaStoreTest, OtherKindsAndOtherNamespacesAreNotLimited) {
  for (int i = 0; i < 3; ++i) {
    const std::string name = "j" + std::to_string(i);
    EXPECT_TRUE(store_->Create("jobs.batch", Job("team-b", name)).ok());
    Json pod = Job("team-a", name);
    pod["kind"] = "Pod";
    pod["apiVersion"] = "v1";
    EXPECT_TRUE(store_->Create("pods", pod).ok());
  }
  EXPECT_EQ(*store_->Count("jobs.batch", "team-b"), 3);
  EXPECT_EQ(*store_->Count("pods", "team-a"), 3);
  EXPECT_EQ(*store_->Count("pods", ""), 3);
}

TEST_F(QuotaStoreTest, CreatesAtOnceCannotBothTakeTheLastPlace) {
  std::atomic<int> created{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      if (store_->Create("jobs.batch", Job("team-a", "j" + std::to_string(i))).ok()) ++created;
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(created.load(), 2);
  EXPECT_EQ(*store_->Count("jobs.batch", "team-a"), 2);
}

TEST_F(QuotaStoreTest, RaisingTheQuotaMakesRoom) {
  ASSERT_TRUE(store_->Create("jobs.batch", Job("team-a", "one")).ok());
  ASSERT_TRUE(store_->Create("jobs.batch", Job("team-a", "two")).ok());
  Json profile = *store_->Get(kProfileType, "", "team-a");
  profile["spec"]["resourceQuotaSpec"]["hard"]["count/jobs.batch"] = 3;
  ASSERT_TRUE(store_->Update(kProfileType, profile).ok());
  EXPECT_TRUE(store_->Create("jobs.batch", Job("team-a", "three")).ok());
  EXPECT_FALSE(store_->Create("jobs.batch", Job("team-a", "four")).ok());
}

}  // namespace
}  // namespace skiff
