#include "serving/serving_kinds.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "core/admission.h"
#include "core/text.h"

namespace skiff::serving {
namespace {

using ::testing::HasSubstr;

class ServingKindsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    types_.Add(InferenceServiceKind());
    types_.Add(ServingRuntimeKind(false));
    types_.Add(ServingRuntimeKind(true));
  }

  Status AdmitYaml(const std::string& yaml) {
    auto docs = ParseYamlDocuments(yaml, "test.yaml");
    if (!docs.ok()) return docs.status();
    Json obj = (*docs)[0];
    const ResourceType* type = types_.ByKind(TextAt(obj, {"apiVersion"}), TextAt(obj, {"kind"}));
    if (type == nullptr) return NotFound("no kind");
    if (type->namespaced) obj["metadata"]["namespace"] = "team";
    return Admit(*type, {.op = WriteOp::kCreate}, obj, nullptr);
  }

  TypeRegistry types_;
};

std::string Isvc(const std::string& name, const std::string& predictor) {
  return "apiVersion: serving.kserve.io/v1beta1\nkind: InferenceService\nmetadata:\n  name: " +
         name + "\nspec:\n  predictor:\n" + predictor;
}

TEST_F(ServingKindsTest, AcceptsEachWayOfSayingWhatThePredictorServes) {
  EXPECT_TRUE(AdmitYaml(Isvc("iris", "    xgboost:\n      storageUri: file:///m/iris\n")).ok());
  EXPECT_TRUE(AdmitYaml(Isvc("iris", R"(    model:
      modelFormat: {name: xgboost}
      protocolVersion: v2
      storageUri: pvc://models/iris
      args: [--nthread=2]
      env: [{name: A, value: b}]
      resources: {limits: {cpu: "1", memory: 1Gi}}
    minReplicas: 1
    maxReplicas: 3
)"))
                  .ok());
  EXPECT_TRUE(AdmitYaml(Isvc("custom",
                             "    containers:\n    - name: kserve-container\n"
                             "      image: python:3.11\n"))
                  .ok());
}

TEST_F(ServingKindsTest, RefusesWhatKServesWebhookRefuses) {
  struct Case {
    std::string yaml;
    const char* message;
  } cases[] = {
      {Isvc("iris", "    minReplicas: 1\n"), "exactly one of model, a framework"},
      {Isvc("iris", "    xgboost: {storageUri: file:///a}\n    sklearn: {storageUri: file:///a}\n"),
       "found sklearn, xgboost"},
      {Isvc("9lives", "    xgboost: {storageUri: file:///a}\n"), "not a DNS-1035 label"},
      {Isvc("iris", "    xgboost: {storageUri: ftp://host/a}\n"), "no storage scheme KServe knows"},
      {Isvc("iris", "    xgboost: {storageUri: /models/a}\n"), "no storage scheme KServe knows"},
      {Isvc("iris",
            "    xgboost: {storageUri: file:///a}\n    minReplicas: 3\n    maxReplicas: 2\n"),
       "minReplicas: 3 is more than maxReplicas (2)"},
      {Isvc("iris", "    model: {storageUri: file:///a}\n"), "modelFormat"},
      {Isvc("iris", "    xgboost: {protocolVersion: v3}\n"), "protocolVersion"},
      {Isvc("iris", "    xgboost: {storageUri: file:///a}\n    minReplicas: two\n"), "minReplicas"},
      {Isvc("iris", "    xgboost: {storageUri: file:///a}\n    canaryTrafficPercent: 101\n"),
       "canaryTrafficPercent"},
      {"apiVersion: serving.kserve.io/v1alpha1\nkind: ClusterServingRuntime\nmetadata: {name: r}\n"
       "spec:\n  supportedModelFormats: [{name: xgboost}]\n",
       "at least one container"},
      {"apiVersion: serving.kserve.io/v1alpha1\nkind: ServingRuntime\nmetadata: {name: r}\n"
       "spec:\n  supportedModelFormats: [{name: xgboost, priority: 0, autoSelect: true}]\n"
       "  containers: [{name: c, image: x}]\n",
       "priority"},
  };
  for (const Case& c : cases) {
    Status st = AdmitYaml(c.yaml);
    ASSERT_FALSE(st.ok()) << c.yaml;
    std::string all = st.message();
    for (const StatusCause& cause : st.causes()) all += " | " + cause.field + ": " + cause.message;
    EXPECT_THAT(all, HasSubstr(c.message)) << c.yaml;
  }
}

// KServe's samples (the shared corpus, outside this repository).
std::string CorpusSamples() {
  if (const char* c = std::getenv("SKIFF_CORPUS"); c && *c) {
    return std::string(c) + "/kserve/samples";
  }
  const char* src = std::getenv("SKIFF_SOURCE_DIR");
  return std::string(src ? src : ".") + "/../shared/corpus/kserve/samples";
}

TEST_F(ServingKindsTest, EveryCorpusSampleIsAcceptedOrRefusedWithAReason) {
  const std::string dir = CorpusSamples();
  if (!std::filesystem::exists(dir)) {
    GTEST_SKIP() << "the shared corpus is not here: " << dir
                 << " is missing (set SKIFF_CORPUS to the corpus folder to run this test)";
  }
  // Kinds this module does not serve yet, and the API versions KServe no longer serves.
  const std::set<std::string> not_served = {"InferenceGraph", "TrainedModel"};
  const std::set<std::string> legacy = {"serving.kserve.io/v1alpha2",
                                        "serving.kubeflow.org/v1beta1"};
  // Samples KServe's own CRD refuses too: a CPU quantity written as a YAML number (0.1), where
  // the schema of a quantity takes an integer or a string.
  const std::map<std::string, std::string> refused = {
      {"docs__samples__explanation__alibi__cifar10__cifar10.yaml", "got number"},
      {"docs__samples__explanation__alibi__income__income.yaml", "got number"},
      {"docs__samples__explanation__alibi__moviesentiment__moviesentiment.yaml", "got number"},
      {"docs__samples__explanation__alibi__moviesentiment__moviesentiment2.yaml", "got number"},
  };
  std::ifstream sources(dir + "/SOURCES.tsv");
  std::string line;
  int accepted = 0, templates = 0;
  while (std::getline(sources, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> cols;
    std::stringstream row(line);
    for (std::string col; std::getline(row, col, '\t');) cols.push_back(col);
    ASSERT_EQ(cols.size(), 4u) << line;
    std::ifstream file(dir + "/" + cols[0]);
    std::stringstream text;
    text << file.rdbuf();
    auto docs = ParseYamlDocuments(text.str(), cols[0]);
    if (cols[3] == "NO") {
      // A template until its placeholders are filled in: refused as it stands.
      ++templates;
      if (!docs.ok()) continue;
      bool refused = false;
      for (Json& doc : *docs) {
        const ResourceType* type =
            types_.ByKind(TextAt(doc, {"apiVersion"}), TextAt(doc, {"kind"}));
        if (type == nullptr) continue;
        if (type->namespaced) doc["metadata"]["namespace"] = "team";
        refused |= !Admit(*type, {.op = WriteOp::kCreate}, doc, nullptr).ok();
      }
      EXPECT_TRUE(refused) << cols[0] << " is a template, yet every document was accepted";
      continue;
    }
    ASSERT_TRUE(docs.ok()) << cols[0] << ": " << docs.status().ToString();
    for (Json& doc : *docs) {
      const std::string api_version = TextAt(doc, {"apiVersion"}), kind = TextAt(doc, {"kind"});
      const ResourceType* type = types_.ByKind(api_version, kind);
      if (type == nullptr) {
        EXPECT_TRUE(not_served.count(kind) || legacy.count(api_version))
            << cols[0] << ": " << api_version << " " << kind;
        continue;
      }
      if (type->namespaced) doc["metadata"]["namespace"] = "team";
      Status st = Admit(*type, {.op = WriteOp::kCreate}, doc, nullptr);
      std::string causes;
      for (const StatusCause& c : st.causes()) causes += " " + c.field + ": " + c.message;
      if (auto it = refused.find(cols[0]); it != refused.end()) {
        EXPECT_THAT(st.ToString() + causes, HasSubstr(it->second)) << cols[0];
        continue;
      }
      EXPECT_TRUE(st.ok()) << cols[0] << ": " << st.ToString() << causes;
      ++accepted;
    }
  }
  EXPECT_GE(accepted, 100);
  EXPECT_EQ(templates, 17);
}

}  // namespace
}  // namespace skiff::serving
