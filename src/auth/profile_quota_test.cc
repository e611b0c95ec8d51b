#include "auth/profile_quota.h"

#include <gtest/gtest.h>

namespace skiff {
namespace {

Json ProfileWith(Json quota_spec) {
  return {{"apiVersion", "kubeflow.org/v1"},
          {"kind", "Profile"},
          {"metadata", {{"name", "team-a"}}},
          {"spec",
           {{"owner", {{"kind", "User"}, {"name", "alice"}}},
            {"resourceQuotaSpec", std::move(quota_spec)}}}};
}

TEST(ProfileQuota, AProfileWithoutOneHasNone) {
  Json profile = ProfileWith(nullptr);
  profile["spec"].erase("resourceQuotaSpec");
  ASSERT_TRUE(ParseProfileQuota(profile).ok());
  EXPECT_TRUE(ParseProfileQuota(profile)->empty());
  EXPECT_TRUE(ParseProfileQuota(ProfileWith(nullptr))->empty());
}

TEST(ProfileQuota, KubeflowsExampleIsReadAndWhatIsNotHeldIsNamed) {
  // The example of Kubeflow's own multi-tenancy guide.
  auto quota = ParseProfileQuota(ProfileWith({{"hard",
                                               {{"cpu", "2"},
                                                {"memory", "2Gi"},
                                                {"requests.nvidia.com/gpu", "1"},
                                                {"persistentvolumeclaims", "1"},
                                                {"requests.storage", "5Gi"}}}}));
  ASSERT_TRUE(quota.ok()) << quota.status().ToString();
  EXPECT_EQ(quota->cpu_millis, 2000);
  EXPECT_EQ(quota->memory_bytes, int64_t{2} << 30);
  EXPECT_FALSE(quota->workloads.has_value());
  ASSERT_EQ(quota->objects.count("persistentvolumeclaims"), 1u);
  EXPECT_EQ(quota->objects.at("persistentvolumeclaims").max, 1);
  EXPECT_EQ(quota->unenforced,
            (std::vector<std::string>{"requests.nvidia.com/gpu", "requests.storage"}));
}

TEST(ProfileQuota, CountsNameTheirKindAndTheTightestOfTwoNamesHolds) {
  auto quota = ParseProfileQuota(ProfileWith({{"hard",
                                               {{"count/jobs.batch", 3},
                                                {"count/pipelineruns.pipelines.kubeflow.org", "1k"},
                                                {"secrets", "4"},
                                                {"count/secrets", "2"},
                                                {"requests.cpu", "500m"},
                                                {"cpu", "1"},
                                                {"limits.memory", "1Gi"},
                                                {"requests.memory", "512Mi"},
                                                {"pods", "2"}}},
                                              {"scopes", {"BestEffort"}}}));
  ASSERT_TRUE(quota.ok()) << quota.status().ToString();
  EXPECT_EQ(quota->objects.at("jobs.batch").max, 3);
  EXPECT_EQ(quota->objects.at("jobs.batch").name, "count/jobs.batch");
  EXPECT_EQ(quota->objects.at("pipelineruns.pipelines.kubeflow.org").max, 1000);
  EXPECT_EQ(quota->objects.at("secrets").max, 2);
  EXPECT_EQ(quota->objects.at("secrets").name, "count/secrets");
  EXPECT_EQ(quota->cpu_millis, 500);
  EXPECT_EQ(quota->memory_bytes, int64_t{512} << 20);
  EXPECT_EQ(quota->workloads, 2);
  EXPECT_EQ(quota->unenforced, std::vector<std::string>{"scopes"});
}

TEST(ProfileQuota, ValuesThatAreNoQuantityAndNamesThatAreNoNameAreRefusedByField) {
  auto bad = [](Json hard) { return ParseProfileQuota(ProfileWith({{"hard", std::move(hard)}})); };
  auto q = bad({{"cpu", "two"}});
  EXPECT_EQ(q.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(q.status().message().find("spec.resourceQuotaSpec.hard[cpu]"), std::string::npos)
      << q.status().message();
  EXPECT_EQ(bad({{"pods", -1}}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad({{"memory", "1Zi"}}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad({{"../../etc", "1"}}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad({{"Count/Jobs", "1"}}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad({{"", "1"}}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad({{"cpu", "1e400"}}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseProfileQuota(ProfileWith("all")).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace skiff
