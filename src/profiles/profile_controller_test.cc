#include "profiles/profile_controller.h"

#include <gtest/gtest.h>

#include "auth/testing/auth_testing.h"
#include "backend/fake_backend.h"

namespace skiff::profiles {
namespace {

class ProfileControllerTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_NE(store_, nullptr); }

  void Apply(Json quota_spec) {
    Json profile = {{"apiVersion", "kubeflow.org/v1"},
                    {"kind", "Profile"},
                    {"metadata", {{"name", "team-a"}}},
                    {"spec", {{"owner", {{"kind", "User"}, {"name", "alice"}}}}}};
    if (!quota_spec.is_null()) profile["spec"]["resourceQuotaSpec"] = std::move(quota_spec);
    Result<Json> stored = store_->Get(kProfileType, "", "team-a");
    if (stored.ok()) {
      profile["metadata"] = (*stored)["metadata"];
      if (stored->contains("status")) profile["status"] = (*stored)["status"];
      ASSERT_TRUE(store_->Update(kProfileType, profile).ok());
    } else {
      ASSERT_TRUE(store_->Create(kProfileType, profile).ok());
    }
  }

  void Reconcile() {
    auto done = controller_.Reconcile("", "team-a");
    ASSERT_TRUE(done.ok()) << done.status().ToString();
  }

  // The QuotaEnforced condition of team-a (null when none).
  Json Condition() {
    Json profile = *store_->Get(kProfileType, "", "team-a");
    for (const Json& c : profile["status"].value("conditions", Json::array())) {
      if (c["type"] == "QuotaEnforced") return c;
    }
    return nullptr;
  }

  TempDir dir_;
  FakeClock clock_;
  std::unique_ptr<Store> store_ = OpenTestStore(dir_, clock_);
  FakeBackend backend_{clock_};
  ProfileController controller_{*store_, backend_, clock_};
};

TEST_F(ProfileControllerTest, TheComputeQuotaGoesToTheBackendAndWhatIsNotHeldIsReported) {
  Apply({{"hard", {{"cpu", "2"}, {"pods", 3}, {"requests.nvidia.com/gpu", "1"}}}});
  Reconcile();
  ASSERT_EQ(backend_.quotas().count("team-a"), 1u);
  EXPECT_EQ(backend_.quotas().at("team-a"), (WorkloadQuota{.cpu_millis = 2000, .workloads = 3}));
  Json c = Condition();
  ASSERT_FALSE(c.is_null());
  EXPECT_EQ(c["status"], "False");
  EXPECT_EQ(c["reason"], "PartlyEnforced");
  EXPECT_EQ(c["message"], "not held: requests.nvidia.com/gpu");

  Apply({{"hard", {{"cpu", "2"}, {"memory", "1Gi"}}}});
  Reconcile();
  EXPECT_EQ(backend_.quotas().at("team-a"),
            (WorkloadQuota{.cpu_millis = 2000, .memory_bytes = int64_t{1} << 30}));
  c = Condition();
  EXPECT_EQ(c["status"], "True");
  EXPECT_EQ(c["reason"], "Enforced");

  // Nothing changed: nothing is written.
  int64_t version = *store_->GetResourceVersion(kProfileType, "", "team-a");
  Reconcile();
  EXPECT_EQ(*store_->GetResourceVersion(kProfileType, "", "team-a"), version);
}

TEST_F(ProfileControllerTest, ARemovedQuotaOrProfileIsLifted) {
  Apply({{"hard", {{"pods", 1}}}});
  Reconcile();
  ASSERT_EQ(backend_.quotas().count("team-a"), 1u);
  Apply(nullptr);
  Reconcile();
  EXPECT_EQ(backend_.quotas().count("team-a"), 0u);
  EXPECT_TRUE(Condition().is_null());

  Apply({{"hard", {{"pods", 1}}}});
  Reconcile();
  ASSERT_TRUE(store_->Delete(kProfileType, "", "team-a").ok());
  Reconcile();
  EXPECT_TRUE(backend_.quotas().empty());
}

}  // namespace
}  // namespace skiff::profiles
