#include "serving/runtime_select.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/text.h"
#include "serving/builtin_runtimes.h"

namespace skiff::serving {
namespace {

using ::testing::HasSubstr;

Json Isvc(Json predictor) {
  return {{"apiVersion", "serving.kserve.io/v1beta1"},
          {"kind", "InferenceService"},
          {"metadata", {{"name", "iris"}, {"namespace", "team"}, {"labels", {{"app", "flowers"}}}}},
          {"spec", {{"predictor", predictor}}}};
}

Json Runtime(const std::string& name, Json formats, Json extra = Json::object()) {
  Json rt = {{"metadata", {{"name", name}}},
             {"spec",
              {{"supportedModelFormats", formats},
               {"containers", Json::array({{{"name", "kserve-container"},
                                            {"image", "kserve/xgbserver:v1"},
                                            {"args",
                                             {"--model_name={{.Name}}", "--model_dir=/mnt/models",
                                              "--http_port=8080"}}}})}}}};
  for (const auto& [k, v] : extra.items()) rt["spec"][k] = v;
  return rt;
}

Result<std::string> Choose(const Json& predictor, const std::vector<Json>& ns,
                           const std::vector<Json>& cluster) {
  ASSIGN_OR_RETURN(PredictorPlan plan, PlanPredictor(Isvc(predictor)));
  ASSIGN_OR_RETURN(Json rt, SelectRuntime(plan, ns, cluster));
  return MetaName(rt);
}

TEST(RuntimeSelectTest, PicksTheRuntimeKServeWould) {
  std::vector<Json> cluster = BuiltinClusterServingRuntimes();
  Json xgb = {{"xgboost", {{"storageUri", "file:///m"}}}};
  EXPECT_EQ(*Choose(xgb, {}, cluster), "kserve-xgbserver");
  // mlserver also serves xgboost, at a higher priority, but only over v2... and v2 it is.
  Json xgb_v2 = {{"xgboost", {{"storageUri", "file:///m"}, {"protocolVersion", "v2"}}}};
  EXPECT_EQ(*Choose(xgb_v2, {}, cluster), "kserve-mlserver");
  {
    // ...whose image Skiff's own server stands in for, with flags of its own.
    auto plan = PlanPredictor(Isvc(xgb_v2));
    auto rt = SelectRuntime(*plan, {}, cluster);
    auto spec = PredictorPodSpec(Isvc(xgb_v2), *plan, *rt, "/opt/skiff");
    ASSERT_TRUE(spec.ok()) << spec.status().ToString();
    EXPECT_EQ((*spec)["containers"][0]["args"],
              Json::parse(R"x(["--model_name=iris", "--model_dir=/m",
                              "--http_port=$(PORT)"])x"));
  }
  Json tf = {{"model", {{"modelFormat", {{"name", "tensorflow"}}}}}};
  // TensorFlow: OpenVINO's server has it at the highest priority.
  EXPECT_EQ(*Choose(tf, {}, cluster), "kserve-openvino");
  // A namespace's runtime comes before the cluster's.
  std::vector<Json> ns = {Runtime("mine", {{{"name", "xgboost"}, {"autoSelect", true}}})};
  EXPECT_EQ(*Choose(xgb, ns, cluster), "mine");
  // Not auto-selecting, disabled, or of another version: not chosen.
  ns = {Runtime("manual", {{{"name", "xgboost"}}}),
        Runtime("off", {{{"name", "xgboost"}, {"autoSelect", true}}}, {{"disabled", true}})};
  EXPECT_EQ(*Choose(xgb, ns, cluster), "kserve-xgbserver");
  Json v9 = {{"model", {{"modelFormat", {{"name", "xgboost"}, {"version", "9"}}}}}};
  Result<std::string> none = Choose(v9, ns, cluster);
  EXPECT_EQ(none.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(none.status().message(), HasSubstr("no runtime found to support"));
  // Named: found, or why not.
  Json named = {{"model", {{"modelFormat", {{"name", "xgboost"}}}, {"runtime", "manual"}}}};
  EXPECT_EQ(*Choose(named, ns, cluster), "manual");
  named["model"]["runtime"] = "off";
  EXPECT_THAT(Choose(named, ns, cluster).status().message(), HasSubstr("is disabled"));
  named["model"]["runtime"] = "kserve-sklearnserver";
  EXPECT_THAT(Choose(named, ns, cluster).status().message(),
              HasSubstr("does not support model format \"xgboost\""));
  named["model"]["runtime"] = "nope";
  EXPECT_EQ(Choose(named, ns, cluster).status().code(), StatusCode::kNotFound);
}

TEST(RuntimeSelectTest, KServesXgbServerRunsAsSkiffsOwn) {
  Json isvc = Isvc({{"model",
                     {{"modelFormat", {{"name", "xgboost"}}},
                      {"storageUri", "pvc://models/iris/v1"},
                      {"args", {"--nthread=2"}},
                      {"env", {{{"name", "A"}, {"value", "{{.Labels.app}}"}}}},
                      {"resources", {{"limits", {{"memory", "1Gi"}}}}}}},
                    {"minReplicas", 2},
                    {"serviceAccountName", "sa"}});
  auto plan = PlanPredictor(isvc);
  ASSERT_TRUE(plan.ok());
  Json runtime = Runtime("rt", {{{"name", "xgboost"}}});
  auto spec = PredictorPodSpec(isvc, *plan, runtime, "/opt/skiff");
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  const Json& c = (*spec)["containers"][0];
  EXPECT_EQ(c["command"], Json::parse(R"(["/opt/skiff", "serve", "--format", "xgboost"])"));
  EXPECT_EQ(c["args"],
            Json::parse(R"x(["--model_name=iris", "--model_dir=/tmp/skiff-models-team-iris/iris/v1",
                                      "--http_port=$(PORT)", "--nthread=2"])x"));
  EXPECT_EQ(c["env"][0]["value"], "flowers");
  {
    // A value that names a template is not read again: no loop, no growth.
    Json loop = isvc;
    loop["metadata"]["annotations"] = {{"a", "{{.Annotations.a}}{{.Annotations.a}}"}};
    loop["spec"]["predictor"]["model"]["args"] = {"--x={{.Annotations.a}}{{.Other}}"};
    auto looped = PredictorPodSpec(loop, *PlanPredictor(loop), runtime, "/opt/skiff");
    ASSERT_TRUE(looped.ok());
    EXPECT_EQ((*looped)["containers"][0]["args"].back(),
              "--x={{.Annotations.a}}{{.Annotations.a}}{{.Other}}");
  }
  EXPECT_EQ(c["resources"]["limits"]["memory"], "1Gi");
  EXPECT_EQ(c["ports"][0]["name"], "http");
  EXPECT_EQ(c["readinessProbe"]["httpGet"]["path"], "/v2/health/ready");
  EXPECT_EQ((*spec)["volumes"][0]["persistentVolumeClaim"]["claimName"], "models");
  EXPECT_EQ((*spec)["serviceAccountName"], "sa");
  EXPECT_EQ((*spec)["restartPolicy"], "Always");
  EXPECT_FALSE(spec->contains("minReplicas"));
  EXPECT_FALSE(spec->contains("model"));
}

TEST(RuntimeSelectTest, SaysWhatThisMachineCannotRun) {
  Json isvc = Isvc({{"tensorflow", {{"storageUri", "file:///m"}}}});
  auto plan = PlanPredictor(isvc);
  Json tf;
  for (const Json& rt : BuiltinClusterServingRuntimes()) {
    if (MetaName(rt) == "kserve-tensorflow-serving") tf = rt;
  }
  auto spec = PredictorPodSpec(isvc, *plan, tf, "/opt/skiff");
  EXPECT_EQ(spec.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(spec.status().message(), HasSubstr("TensorFlow Serving"));

  auto mount = [](const std::string& uri) { return MountForStorageUri(uri, "team", "iris"); };
  EXPECT_THAT(mount("gs://kfserving-examples/models/iris").status().message(),
              HasSubstr("not gs://"));
  EXPECT_FALSE(mount("file://relative/path").ok());
  EXPECT_FALSE(mount("file:///a/../etc").ok());
  EXPECT_FALSE(mount("pvc://claim/../../other").ok());
  EXPECT_FALSE(mount("pvc:///x").ok());
  EXPECT_FALSE(mount("pvc://../x").ok());  // a claim is a name, never a way out of its folder
  EXPECT_FALSE(mount("pvc://..").ok());
  auto local = mount("file:///srv/models/iris/");
  ASSERT_TRUE(local.ok());
  EXPECT_EQ(local->volume["hostPath"]["path"], "/srv/models/iris");
  EXPECT_EQ(local->mount_path, "/srv/models/iris");
  EXPECT_EQ(local->model_dir, "/srv/models/iris");
  EXPECT_EQ(SkiffServerFormat("docker.io/kserve/xgbserver:v0.15@sha256:abc", ""), "xgboost");
  EXPECT_EQ(SkiffServerFormat("kserve-xgbserver:replace", "xgboost"), "xgboost");
  EXPECT_EQ(SkiffServerFormat("docker.io/seldonio/mlserver:1.5", "xgboost"), "xgboost");
  EXPECT_EQ(SkiffServerFormat("docker.io/seldonio/mlserver:1.5", "mlflow"), std::nullopt);
  EXPECT_EQ(SkiffServerFormat("python:3.11", "xgboost"), std::nullopt);
}

TEST(RuntimeSelectTest, CustomContainersRunAsTheyAre) {
  Json isvc = Isvc({{"containers",
                     {{{"name", "kserve-container"},
                       {"image", "python:3.11"},
                       {"command", {"python", "-m", "http.server", "$(PORT)"}}}}},
                    {"maxReplicas", 3}});
  auto plan = PlanPredictor(isvc);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->implementation, "containers");
  auto spec = PredictorPodSpec(isvc, *plan, Json(), "/opt/skiff");
  ASSERT_TRUE(spec.ok());
  EXPECT_EQ((*spec)["containers"][0]["ports"][0]["name"], "http");
  EXPECT_FALSE(spec->contains("maxReplicas"));
}

}  // namespace
}  // namespace skiff::serving
