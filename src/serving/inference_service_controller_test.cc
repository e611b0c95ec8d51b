#include "serving/inference_service_controller.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "backend/fake_backend.h"
#include "core/admission.h"
#include "core/testing/temp_dir.h"
#include "core/text.h"
#include "jobs/job_controller.h"
#include "serving/builtin_runtimes.h"
#include "serving/serving_kinds.h"

namespace skiff::serving {
namespace {

using std::chrono::milliseconds;
using ::testing::HasSubstr;

class InferenceServiceControllerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    types_.Add(InferenceServiceKind());
    types_.Add(ServingRuntimeKind(false));
    types_.Add(ServingRuntimeKind(true));
    jobs::Register(modules_);
    store_ = OpenStore("sqlite://" + dir_.path() + "/t.db", clock_).value();
    ASSERT_TRUE(ApplyBuiltinRuntimes(*store_, types_).ok());
    InferenceServiceControllerOptions options;
    options.skiff_binary = "/opt/skiff";
    options.server_url = [] { return std::string("http://127.0.0.1:8888"); };
    options.types = &types_;
    controller_ = std::make_unique<InferenceServiceController>(*store_, backend_, clock_,
                                                               endpoints_, options);
  }

  void Apply(const std::string& name, Json predictor) {
    Json isvc = {{"apiVersion", "serving.kserve.io/v1beta1"},
                 {"kind", "InferenceService"},
                 {"metadata", {{"name", name}, {"namespace", "team"}}},
                 {"spec", {{"predictor", predictor}}}};
    ASSERT_TRUE(Admit(types_, kInferenceServiceType, {}, isvc, nullptr).ok());
    ASSERT_TRUE(store_->Create(kInferenceServiceType, isvc).ok());
  }
  std::optional<milliseconds> Reconcile(const std::string& name) {
    auto r = controller_->Reconcile("team", name);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : std::nullopt;
  }
  Json Get(const std::string& name) {
    return store_->Get(kInferenceServiceType, "team", name).value();
  }
  std::vector<Json> Pods(const std::string& name) {
    ListOptions o{.label_selector = std::string(kInferenceServiceLabel) + "=" + name};
    return store_->List(jobs::kPodType, "team", o).value().items;
  }
  std::string Condition(const Json& isvc, const std::string& type) {
    for (const Json& c : At(isvc, {"status", "conditions"})) {
      if (c["type"] == type) return TextAt(c, {"status"}) + "/" + TextAt(c, {"reason"});
    }
    return "";
  }

  TempDir dir_;
  FakeClock clock_;
  FakeBackend backend_{clock_};
  TypeRegistry types_;
  ModuleRegistry modules_{types_};
  std::unique_ptr<Store> store_;
  ServingEndpoints endpoints_;
  std::unique_ptr<InferenceServiceController> controller_;
};

TEST_F(InferenceServiceControllerTest, RunsReplicasAndRoutesToTheReadyOnes) {
  Apply("iris", {{"xgboost", {{"storageUri", "file:///srv/iris"}}}, {"minReplicas", 2}});
  Reconcile("iris");
  std::vector<Json> pods = Pods("iris");
  ASSERT_EQ(pods.size(), 2u);
  ASSERT_EQ(backend_.launched().size(), 2u);
  const WorkloadSpec w = backend_.launched()[0];  // a copy: launched() returns one
  EXPECT_EQ(w.containers[0].command[0], "/opt/skiff");
  EXPECT_EQ(pods[0]["metadata"]["ownerReferences"][0]["kind"], "InferenceService");
  EXPECT_EQ(pods[0]["metadata"]["ownerReferences"][0]["controller"], true);
  // Not ready until the readiness probe passes.
  Json isvc = Get("iris");
  EXPECT_EQ(Condition(isvc, "Ready"), "False/PredictorNotReady");
  EXPECT_EQ(isvc["status"]["modelStatus"]["states"]["activeModelState"], "Pending");
  EXPECT_TRUE(endpoints_.Rotation("team", "iris").empty());

  ASSERT_TRUE(backend_.SetReady(w.id, true).ok());
  EXPECT_EQ(Reconcile("iris"), milliseconds(250));  // one of two: look again soon
  isvc = Get("iris");
  EXPECT_EQ(Condition(isvc, "PredictorReady"), "True/");
  EXPECT_EQ(Condition(isvc, "Ready"), "True/");
  EXPECT_EQ(isvc["status"]["url"], "http://127.0.0.1:8888/serving/team/iris");
  EXPECT_EQ(isvc["status"]["modelStatus"]["transitionStatus"], "UpToDate");
  EXPECT_EQ(endpoints_.Rotation("team", "iris").size(), 1u);
  ASSERT_TRUE(backend_.SetReady(backend_.launched()[1].id, true).ok());
  Reconcile("iris");
  auto first = endpoints_.Rotation("team", "iris");
  auto second = endpoints_.Rotation("team", "iris");
  ASSERT_EQ(first.size(), 2u);
  EXPECT_NE(first[0], second[0]);  // in turn

  // Nothing changes on a second look; a changed spec replaces the replicas.
  Reconcile("iris");
  EXPECT_EQ(Pods("iris").size(), 2u);
  Json changed = Get("iris");
  changed["spec"]["predictor"]["minReplicas"] = 1;
  changed["spec"]["predictor"]["xgboost"]["args"] = {"--nthread=2"};
  ASSERT_TRUE(store_->Update(kInferenceServiceType, changed).ok());
  Reconcile("iris");
  pods = Pods("iris");
  ASSERT_EQ(pods.size(), 1u);
  EXPECT_THAT(pods[0]["spec"]["containers"][0]["args"].dump(), HasSubstr("--nthread=2"));
}

TEST_F(InferenceServiceControllerTest, ManyReplicasComeInBatches) {
  Apply("many", {{"xgboost", {{"storageUri", "file:///srv/iris"}}}, {"minReplicas", 100000}});
  EXPECT_EQ(Reconcile("many"), milliseconds(250));
  EXPECT_EQ(Pods("many").size(), 16u);
  Reconcile("many");
  EXPECT_EQ(Pods("many").size(), 32u);
}

TEST_F(InferenceServiceControllerTest, SaysWhyAPredictorCannotRunHere) {
  Apply("flowers", {{"tensorflow", {{"storageUri", "file:///srv/flowers"}}}});
  EXPECT_EQ(Reconcile("flowers"), milliseconds(30000));
  Json isvc = Get("flowers");
  EXPECT_EQ(Condition(isvc, "Ready"), "False/RuntimeNotRunnable");
  EXPECT_THAT(isvc["status"]["modelStatus"]["lastFailureInfo"]["message"].get<std::string>(),
              HasSubstr("which this machine does not run"));
  EXPECT_TRUE(Pods("flowers").empty());

  Apply("remote", {{"xgboost", {{"storageUri", "gs://kfserving-examples/models/xgboost/iris"}}}});
  Reconcile("remote");
  isvc = Get("remote");
  EXPECT_EQ(Condition(isvc, "PredictorReady"), "False/StorageNotSupported");
  EXPECT_THAT(Condition(isvc, "Ready"), HasSubstr("False"));

  Apply("odd", {{"model", {{"modelFormat", {{"name", "mystery"}}}}}});
  Reconcile("odd");
  EXPECT_EQ(Condition(Get("odd"), "Ready"), "False/NoSupportingRuntime");
  EXPECT_EQ(Get("odd")["status"]["modelStatus"]["transitionStatus"], "InvalidSpec");
}

TEST_F(InferenceServiceControllerTest, AReplicaThatKeepsFailingIsReported) {
  Apply("iris", {{"xgboost", {{"storageUri", "file:///srv/iris"}}}});
  Reconcile("iris");
  ASSERT_EQ(backend_.launched().size(), 1u);
  ASSERT_TRUE(backend_.Finish(backend_.launched()[0].id, 1).ok());
  Reconcile("iris");
  Json isvc = Get("iris");
  EXPECT_EQ(Condition(isvc, "PredictorReady"), "False/ModelLoadFailed");
  EXPECT_EQ(isvc["status"]["modelStatus"]["transitionStatus"], "BlockedByFailedLoad");
  EXPECT_EQ(isvc["status"]["modelStatus"]["states"]["activeModelState"], "FailedToLoad");
}

TEST_F(InferenceServiceControllerTest, ADeletedServiceLeavesTheRouter) {
  Apply("iris", {{"xgboost", {{"storageUri", "file:///srv/iris"}}}});
  Reconcile("iris");
  ASSERT_TRUE(backend_.SetReady(backend_.launched()[0].id, true).ok());
  Reconcile("iris");
  EXPECT_FALSE(endpoints_.Rotation("team", "iris").empty());
  ASSERT_TRUE(store_->Delete(kInferenceServiceType, "team", "iris").ok());
  Reconcile("iris");
  EXPECT_TRUE(endpoints_.Rotation("team", "iris").empty());
}

}  // namespace
}  // namespace skiff::serving
