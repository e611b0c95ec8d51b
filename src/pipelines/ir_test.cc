#include "pipelines/ir.h"

#include <gtest/gtest.h>

#include "pipelines/engine_testing.h"

namespace skiff::pipelines {
namespace {

const char* kMinimal = R"(
pipelineInfo: {name: p}
schemaVersion: 2.1.0
sdkVersion: kfp-2.13.0
root:
  dag:
    tasks:
      a:
        componentRef: {name: comp-a}
        taskInfo: {name: a}
components:
  comp-a: {executorLabel: exec-a}
deploymentSpec:
  executors:
    exec-a: {container: {image: python:3.11, command: [echo]}}
)";

std::string Replace(std::string text, const std::string& from, const std::string& to) {
  size_t pos = text.find(from);
  if (pos != std::string::npos) text.replace(pos, from.size(), to);
  return text;
}

TEST(IrTest, ParsesAMinimalPipeline) {
  Result<PipelineSpec> spec = ParsePipelineSpec(kMinimal, "p.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->name, "p");
  ASSERT_TRUE(spec->root.dag.has_value());
  EXPECT_EQ(spec->root.dag->tasks.at("a").component, "comp-a");
  EXPECT_EQ(spec->Executor("exec-a")->kind, ExecutorSpec::Kind::kContainer);
}

TEST(IrTest, UnknownExecutorTypeIsNamed) {
  Result<PipelineSpec> spec = ParsePipelineSpec(
      Replace(kMinimal, "{container: {image: python:3.11, command: [echo]}}", "{resolver: {}}"),
      "p.yaml");
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().message(),
            "p.yaml: deploymentSpec.executors.exec-a: unknown executor type 'resolver' (want "
            "container or importer)");
}

TEST(IrTest, ResourceQuantitiesThatDoNotParseAreRefusedNamingTheField) {
  const std::string container = "{container: {image: python:3.11, command: [echo]}}";
  auto with_resources = [&](const std::string& resources) {
    return ParsePipelineSpec(
        Replace(kMinimal, container,
                "{container: {image: python:3.11, command: [echo], resources: " + resources + "}}"),
        "p.yaml");
  };
  for (const char* bad :
       {"{resourceCpuLimit: '1e400'}", "{resourceMemoryLimit: 12Qi}", "{cpuLimit: -1}",
        "{memoryLimit: 1.0e300}", "{resourceCpuRequest: [1]}", "{resourceMemoryRequest: '-5Gi'}"}) {
    Result<PipelineSpec> spec = with_resources(bad);
    ASSERT_FALSE(spec.ok()) << bad;
    EXPECT_NE(spec.status().message().find("deploymentSpec.executors.exec-a.container.resources."),
              std::string::npos)
        << spec.status().message();
  }
  for (const char* good :
       {"{resourceCpuLimit: 500m, resourceMemoryLimit: 4Gi}", "{cpuLimit: 2, memoryLimit: 0.5}",
        "{resourceCpuLimit: \"{{$.inputs.parameters['pipelinechannel--cpu']}}\"}"}) {
    Result<PipelineSpec> spec = with_resources(good);
    EXPECT_TRUE(spec.ok()) << good << ": " << spec.status().ToString();
  }
}

TEST(IrTest, APipelineOfMoreThanTenThousandTasksIsRefusedNamingTheLimit) {
  // A DAG component of 200 tasks, used by 60 tasks of the root: 60 * (1 + 200) tasks in a run.
  Json doc = ParseYamlDocuments(kMinimal, "p.yaml").value()[0];
  Json inner = Json::object();
  for (int i = 0; i < 200; ++i) {
    inner["t" + std::to_string(i)] = {{"componentRef", {{"name", "comp-a"}}},
                                      {"taskInfo", {{"name", "t" + std::to_string(i)}}}};
  }
  doc["components"]["comp-inner"] = {{"dag", {{"tasks", inner}}}};
  Json root = Json::object();
  for (int i = 0; i < 60; ++i) {
    root["s" + std::to_string(i)] = {{"componentRef", {{"name", "comp-inner"}}},
                                     {"taskInfo", {{"name", "s" + std::to_string(i)}}}};
  }
  doc["root"]["dag"]["tasks"] = root;
  Result<PipelineSpec> spec = ParsePipelineSpec(doc.dump(), "big.json");
  ASSERT_FALSE(spec.ok());
  EXPECT_NE(spec.status().message().find("more than 10000 tasks"), std::string::npos)
      << spec.status().message();
  // 40 of them (8,040 tasks) are a pipeline like any other.
  Json smaller = Json::object();
  for (int i = 0; i < 40; ++i) smaller["s" + std::to_string(i)] = root["s" + std::to_string(i)];
  doc["root"]["dag"]["tasks"] = smaller;
  EXPECT_TRUE(ParsePipelineSpec(doc.dump(), "big.json").ok());
}

TEST(IrTest, MissingComponentAndExecutorAreNamed) {
  Result<PipelineSpec> spec = ParsePipelineSpec(Replace(kMinimal, "componentRef: {name: comp-a}",
                                                        "componentRef: {name: "
                                                        "comp-b}"),
                                                "p.yaml");
  ASSERT_FALSE(spec.ok());
  EXPECT_NE(spec.status().message().find("component 'comp-b' not in components"),
            std::string::npos);
  spec = ParsePipelineSpec(Replace(kMinimal, "{executorLabel: exec-a}", "{executorLabel: exec-z}"),
                           "p.yaml");
  ASSERT_FALSE(spec.ok());
  EXPECT_NE(spec.status().message().find("components.comp-a.executorLabel: executor 'exec-z'"),
            std::string::npos);
}

TEST(IrTest, DependencyOnUnknownTaskOrCycleIsRefused) {
  Result<PipelineSpec> spec = ParsePipelineSpec(Replace(kMinimal, "taskInfo: {name: a}",
                                                        "taskInfo: {name: a}\n"
                                                        "        dependentTasks: [zz]"),
                                                "p.yaml");
  ASSERT_FALSE(spec.ok());
  EXPECT_NE(spec.status().message().find("root.dag.tasks.a: refers to unknown task 'zz'"),
            std::string::npos);
  spec = ParsePipelineSpec(Replace(kMinimal, "taskInfo: {name: a}",
                                   "taskInfo: {name: a}\n"
                                   "        dependentTasks: [a]"),
                           "p.yaml");
  ASSERT_FALSE(spec.ok());
}

TEST(IrTest, UnsupportedSchemaVersionIsRefused) {
  Result<PipelineSpec> spec = ParsePipelineSpec(Replace(kMinimal, "2.1.0", "3.0.0"), "p.yaml");
  ASSERT_FALSE(spec.ok());
  EXPECT_NE(spec.status().message().find("schemaVersion"), std::string::npos);
}

TEST(IrTest, GarbageIsRefusedWithoutCrashing) {
  for (const char* text : {"", "[1, 2]", "{", "pipelineInfo: 3", ": : :", "root: {dag: []}"}) {
    Result<PipelineSpec> spec = ParsePipelineSpec(text, "g.yaml");
    EXPECT_FALSE(spec.ok()) << text;
  }
}

TEST(IrTest, ReadsThePlatformSpecDocument) {
  SKIFF_REQUIRE_CORPUS();
  Result<PipelineSpec> spec = LoadPipelineSpecFile(CorpusIrPath("timeout.yaml"));
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  const ComponentSpec* comp = spec->Component(spec->root.dag->tasks.begin()->second.component);
  ASSERT_NE(comp, nullptr);
  Json config = spec->PlatformConfig(comp->executor_label);
  EXPECT_EQ(config["activeDeadlineSeconds"], "20");
}

TEST(IrTest, ReadsTheJobWrapperAndSchema200Constants) {
  SKIFF_REQUIRE_CORPUS();
  Result<PipelineSpec> job = LoadPipelineSpecFile(CorpusIrPath("default_pipeline.json"));
  ASSERT_TRUE(job.ok()) << job.status().ToString();
  EXPECT_TRUE(job->runtime_config.contains("parameters"));
  Result<PipelineSpec> old =
      LoadPipelineSpecFile(CorpusIrPath("lightweight_python_functions_v2_pipeline.json"));
  ASSERT_TRUE(old.ok()) << old.status().ToString();
  const TaskSpec& train = old->root.dag->tasks.at("train");
  EXPECT_EQ(train.parameters.at("num_steps").constant, 100);
  EXPECT_EQ(old->Component("comp-train")->inputs.parameters.at("num_steps").type,
            ParameterType::kInteger);
}

TEST(IrTest, ReadsIteratorsRetryAndTriggerPolicies) {
  SKIFF_REQUIRE_CORPUS();
  Result<PipelineSpec> spec =
      LoadPipelineSpecFile(CorpusIrPath("pipeline_with_parallelfor_parallelism.yaml"));
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  const TaskSpec& loop = spec->root.dag->tasks.at("for-loop-1");
  ASSERT_TRUE(loop.iterator.has_value());
  EXPECT_EQ(loop.iterator->parallelism_limit, 2);
  EXPECT_EQ(loop.iterator->input_name, "pipelinechannel--loop_parameter");
  EXPECT_EQ(spec->root.dag->tasks.at("for-loop-8").iterator->raw_items->size(), 3u);
  Result<PipelineSpec> retry = LoadPipelineSpecFile(CorpusIrPath("pipeline_with_retry.yaml"));
  ASSERT_TRUE(retry.ok());
  const RetryPolicy& r = *retry->root.dag->tasks.at("add").retry;
  EXPECT_EQ(r.max_retry_count, 3);
  EXPECT_EQ(r.backoff_max_duration, std::chrono::seconds(3600));
  Result<PipelineSpec> exit = LoadPipelineSpecFile(CorpusIrPath("pipeline_with_exit_handler.yaml"));
  ASSERT_TRUE(exit.ok());
  EXPECT_TRUE(exit->root.dag->tasks.at("print-op").all_upstream_completed);
}

// A pipeline whose root runs `first`; `dags` maps a DAG component to the one component its single
// task runs; every other component is a container.
Json NestedPipeline(const std::string& first, const std::map<std::string, std::string>& dags) {
  auto dag_of = [](const std::string& comp) {
    return Json{
        {"tasks", {{"t", {{"componentRef", {{"name", comp}}}, {"taskInfo", {{"name", "t"}}}}}}}};
  };
  Json components = {{"comp-leaf", {{"executorLabel", "exec-leaf"}}}};
  for (const auto& [name, inner] : dags) components[name] = {{"dag", dag_of(inner)}};
  return Json{{"pipelineInfo", {{"name", "p"}}},
              {"schemaVersion", "2.1.0"},
              {"root", {{"dag", dag_of(first)}}},
              {"components", components},
              {"deploymentSpec",
               {{"executors", {{"exec-leaf", {{"container", {{"image", "python:3.11"}}}}}}}}}};
}

TEST(IrTest, AComponentWhoseDagContainsItselfIsRefusedNamingTheCycle) {
  Result<PipelineSpec> self =
      PipelineSpecFromDocuments({NestedPipeline("comp-a", {{"comp-a", "comp-a"}})}, "p.yaml");
  ASSERT_FALSE(self.ok());
  EXPECT_EQ(self.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(self.status().message(),
            "p.yaml: components.comp-a: component cycle: comp-a -> comp-a (a component's DAG may "
            "not contain itself)");
  Result<PipelineSpec> indirect = PipelineSpecFromDocuments(
      {NestedPipeline("comp-a",
                      {{"comp-a", "comp-b"}, {"comp-b", "comp-c"}, {"comp-c", "comp-a"}})},
      "p.yaml");
  ASSERT_FALSE(indirect.ok());
  EXPECT_NE(
      indirect.status().message().find("component cycle: comp-a -> comp-b -> comp-c -> comp-a"),
      std::string::npos)
      << indirect.status().message();
  // A cycle among components the root never runs is refused as well.
  Result<PipelineSpec> unreachable = PipelineSpecFromDocuments(
      {NestedPipeline("comp-leaf", {{"comp-x", "comp-y"}, {"comp-y", "comp-x"}})}, "p.yaml");
  ASSERT_FALSE(unreachable.ok());
  EXPECT_NE(unreachable.status().message().find("component cycle: comp-x -> comp-y -> comp-x"),
            std::string::npos)
      << unreachable.status().message();
}

TEST(IrTest, DagsNestedDeeperThanTheLimitAreRefused) {
  // root + n DAG components in a chain: n + 1 nested DAGs.
  auto chain = [](int n) {
    std::map<std::string, std::string> dags;
    for (int i = 0; i < n; ++i) {
      dags["comp-" + std::to_string(i)] =
          i + 1 < n ? "comp-" + std::to_string(i + 1) : std::string("comp-leaf");
    }
    return NestedPipeline("comp-0", dags);
  };
  Result<PipelineSpec> at_limit = PipelineSpecFromDocuments({chain(63)}, "p.yaml");
  EXPECT_TRUE(at_limit.ok()) << at_limit.status().ToString();
  Result<PipelineSpec> deeper = PipelineSpecFromDocuments({chain(64)}, "p.yaml");
  ASSERT_FALSE(deeper.ok());
  EXPECT_EQ(deeper.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(deeper.status().message().find("DAGs nest more than 64 levels deep"), std::string::npos)
      << deeper.status().message();
  // A long chain is refused without recursing once per component.
  EXPECT_FALSE(PipelineSpecFromDocuments({chain(10000)}, "p.yaml").ok());
}

TEST(IrTest, DurationsParseLikeProtobuf) {
  EXPECT_EQ(*ParseProtoDuration("0s", "d"), std::chrono::milliseconds(0));
  EXPECT_EQ(*ParseProtoDuration("1.5s", "d"), std::chrono::milliseconds(1500));
  EXPECT_FALSE(ParseProtoDuration("5m", "d").ok());
  EXPECT_FALSE(ParseProtoDuration("xs", "d").ok());
}

}  // namespace
}  // namespace skiff::pipelines
