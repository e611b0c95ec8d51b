#include "jobs/pod_controller.h"

#include <gtest/gtest.h>

#include "backend/fake_backend.h"
#include "core/testing/temp_dir.h"
#include "core/text.h"
#include "jobs/job_controller.h"

namespace skiff::jobs {
namespace {

using std::chrono::milliseconds;

Json MakePod(const std::string& name, Json owners = Json::array()) {
  Json pod = {
      {"apiVersion", "v1"},
      {"kind", "Pod"},
      {"metadata", {{"name", name}, {"namespace", "default"}}},
      {"spec",
       {{"restartPolicy", "Never"},
        {"containers",
         Json::array(
             {{{"name", "main"}, {"image", "busybox"}, {"command", {"sh", "-c", "echo hi"}}}})}}}};
  if (!owners.empty()) pod["metadata"]["ownerReferences"] = owners;
  return pod;
}

class PodControllerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = OpenStore("sqlite://" + dir_.path() + "/t.db", clock_).value();
    pods_ = std::make_unique<PodController>(*store_, backend_,
                                            PodControllerOptions{.stop_grace = milliseconds(10)});
  }
  std::optional<milliseconds> Reconcile(const std::string& name) {
    auto r = pods_->Reconcile("default", name);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : std::nullopt;
  }
  Json Get(const std::string& name) { return store_->Get(kPodType, "default", name).value(); }
  static std::string Id(const std::string& name) { return PodWorkloadId("default", name); }

  TempDir dir_;
  FakeClock clock_;
  FakeBackend backend_{clock_};
  std::unique_ptr<Store> store_;
  std::unique_ptr<PodController> pods_;
};

TEST_F(PodControllerTest, APodOfItsOwnIsRunAndItsStatusFollowsItsWorkload) {
  ASSERT_TRUE(store_->Create(kPodType, MakePod("solo")).ok());
  EXPECT_TRUE(Reconcile("solo").has_value()) << "looked at again while it runs";
  ASSERT_EQ(backend_.launched().size(), 1u);
  EXPECT_EQ(backend_.launched()[0].labels.at(kWorkloadPodLabel), "solo");
  EXPECT_EQ(PodPhase(Get("solo")), "Running");
  ASSERT_TRUE(backend_.Finish(Id("solo"), 0).ok());
  EXPECT_FALSE(Reconcile("solo").has_value());
  EXPECT_EQ(PodPhase(Get("solo")), "Succeeded");
  EXPECT_EQ(backend_.launched().size(), 1u);
}

TEST_F(PodControllerTest, APodTheRulesRefuseFailsWithoutBeingLaunched) {
  Json pod = MakePod("broken");
  pod["spec"] = {{"containers", Json::array({{{"name", 7}}})}};  // written around the API
  ASSERT_TRUE(store_->Create(kPodType, pod).ok());
  EXPECT_FALSE(Reconcile("broken").has_value());
  EXPECT_TRUE(backend_.launched().empty());
  EXPECT_EQ(PodPhase(Get("broken")), "Failed");
  EXPECT_EQ(Get("broken")["status"]["reason"], "CreateContainerConfigError");
}

TEST_F(PodControllerTest, APodWithAControllerIsLeftToIt) {
  Json owner = {{"apiVersion", "batch/v1"},
                {"kind", "Job"},
                {"name", "pi"},
                {"uid", "0b8c1f0e-0000-4000-8000-000000000001"},
                {"controller", true}};
  ASSERT_TRUE(store_->Create(kPodType, MakePod("owned", {owner})).ok());
  EXPECT_FALSE(Reconcile("owned").has_value());
  EXPECT_TRUE(backend_.launched().empty());
  // An owner that is no controller (a ConfigMap's, say) does not run it.
  owner["controller"] = false;
  ASSERT_TRUE(store_->Create(kPodType, MakePod("referenced", {owner})).ok());
  Reconcile("referenced");
  EXPECT_EQ(backend_.launched().size(), 1u);
}

TEST_F(PodControllerTest, APodBeingDeletedIsStoppedWhileItsFinalizersHoldIt) {
  Json pod = MakePod("held");
  pod["metadata"]["finalizers"] = {"example.com/hold"};
  pod = store_->Create(kPodType, pod).value();
  Reconcile("held");
  pod = Get("held");
  pod["metadata"]["deletionTimestamp"] = FormatRfc3339(clock_.Now());
  ASSERT_TRUE(store_->Update(kPodType, pod).ok());
  EXPECT_FALSE(Reconcile("held").has_value());
  EXPECT_EQ(backend_.stop_calls().size(), 1u);
  EXPECT_EQ(PodPhase(Get("held")), "Failed");
}

TEST_F(PodControllerTest, ADeletedPodsWorkloadIsStoppedAndRemoved) {
  ASSERT_TRUE(store_->Create(kPodType, MakePod("gone")).ok());
  Reconcile("gone");
  ASSERT_TRUE(store_->Delete(kPodType, "default", "gone").ok());
  Reconcile("gone");
  EXPECT_EQ(backend_.stop_calls().size(), 1u);
  EXPECT_EQ(backend_.Observe(Id("gone")).status().code(), StatusCode::kNotFound);
}

TEST_F(PodControllerTest, AWorkloadThatIsNoPodsIsNotStoppedForAPodOfItsName) {
  WorkloadSpec other;
  other.id = Id("task");
  other.labels = {{kWorkloadNamespaceLabel, "default"}};
  other.containers.push_back({.name = "main", .command = {"true"}});
  ASSERT_TRUE(backend_.Launch(other).ok());
  Reconcile("task");
  EXPECT_TRUE(backend_.stop_calls().empty());
  EXPECT_TRUE(backend_.Observe(other.id).ok());
}

TEST_F(PodControllerTest, AWorkloadsLabelsNameItsPod) {
  auto key = PodController::KeyForWorkload(
      {{kWorkloadPodLabel, "p"}, {kWorkloadNamespaceLabel, "team"}, {"app", "x"}});
  ASSERT_TRUE(key.has_value());
  EXPECT_EQ(*key, std::make_pair(std::string("team"), std::string("p")));
  EXPECT_FALSE(PodController::KeyForWorkload({{kWorkloadNamespaceLabel, "team"}}).has_value());
}

}  // namespace
}  // namespace skiff::jobs
