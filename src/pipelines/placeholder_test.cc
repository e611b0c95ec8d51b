#include "pipelines/placeholder.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "pipelines/engine_testing.h"
#include "pipelines/executor_io.h"
#include "pipelines/launcher_testing.h"

namespace skiff::pipelines {
namespace {

using testing::InvocationFor;
using testing::LoadIrFile;
using testing::LoadTestIr;
using testing::TempDir;

// Builds the context the launcher builds for `inv`.
PlaceholderContext ContextFor(const TaskInvocation& inv, const std::string& dir) {
  auto io = BuildTaskIo(inv, {.output_file_prefix = dir + "/o", .salt = "s"});
  EXPECT_TRUE(io.ok()) << io.status().ToString();
  PlaceholderContext ctx;
  ctx.task = inv.task_path;
  ctx.executor_input = io.ok() ? io->executor_input : Json::object();
  for (const auto& [name, v] : inv.parameter_inputs) {
    if (!v.is_null()) ctx.present_inputs.insert(name);
  }
  for (const auto& [name, list] : inv.artifact_inputs) ctx.present_inputs.insert(name);
  ctx.pipeline_root = inv.pipeline_root;
  ctx.job_name = inv.run_name;
  ctx.job_uuid = inv.run_id;
  ctx.task_name = inv.task_name;
  return ctx;
}

Result<CommandLine> Resolve(const TaskInvocation& inv, const std::string& dir) {
  const Json& c = inv.executor_spec["container"];
  return ResolveCommandLine(c.value("command", Json()), c.value("args", Json()),
                            ContextFor(inv, dir));
}

TEST(FormatParameterValueTest, FormatsLikeTheGoLauncher) {
  EXPECT_EQ(FormatParameterValue("text"), "text");
  EXPECT_EQ(FormatParameterValue(3), "3");
  EXPECT_EQ(FormatParameterValue(3.0), "3");
  EXPECT_EQ(FormatParameterValue(0.1), "0.1");
  EXPECT_EQ(FormatParameterValue(-2.5), "-2.5");
  EXPECT_EQ(FormatParameterValue(1e21), "1000000000000000000000");
  EXPECT_EQ(FormatParameterValue(true), "true");
  EXPECT_EQ(FormatParameterValue(false), "false");
  EXPECT_EQ(FormatParameterValue(Json::parse(R"([1, 2.0, "a"])")), R"([1,2,"a"])");
  EXPECT_EQ(FormatParameterValue(Json::parse(R"({"b": 1, "a": {"c": true}})")),
            R"({"a":{"c":true},"b":1})");
}

TEST(ResolveCommandLineTest, DollarBecomesTheExecutorInputJson) {
  TempDir dir;
  TaskInvocation inv = InvocationFor(LoadTestIr("add_numbers.yaml"), "comp-add-numbers",
                                     {{"a", 1}, {"b", 2}}, dir.path());
  auto cl = Resolve(inv, dir.path());
  ASSERT_TRUE(cl.ok()) << cl.status().ToString();
  ASSERT_EQ(cl->args.size(), 4u);
  EXPECT_EQ(cl->args[0], "--executor_input");
  Json ei = Json::parse(cl->args[1]);
  EXPECT_EQ(ei["inputs"]["parameterValues"]["a"], 1);
  EXPECT_EQ(ei["outputs"]["parameters"]["Output"]["outputFile"], dir.path() + "/o.out.Output");
  EXPECT_EQ(cl->args[1].find('\n'), std::string::npos);  // single line
  EXPECT_EQ(cl->args[3], "add_numbers");
  EXPECT_EQ(cl->command[0], "sh");
}

TEST(ResolveCommandLineTest, IfPresentTakesThenWhenTheInputIsGiven) {
  TempDir dir;
  TaskInvocation inv = InvocationFor(LoadTestIr("container_with_if_placeholder.yaml"),
                                     "comp-container-with-if-placeholder",
                                     {{"optional_input", "hello"}}, dir.path());
  auto cl = Resolve(inv, dir.path());
  ASSERT_TRUE(cl.ok()) << cl.status().ToString();
  std::string root = dir.path() + "/run-1/root/container-with-if-placeholder/s";
  EXPECT_EQ(cl->command,
            (std::vector<std::string>{"my_program", "hello", "--dataset", root + "/dataset"}));
  EXPECT_EQ(cl->args,
            (std::vector<std::string>{"--output_path", dir.path() + "/o.out.output_path"}));
}

TEST(ResolveCommandLineTest, IfPresentTakesElseWhenTheInputIsAbsentEvenWithADefault) {
  TempDir dir;
  TaskInvocation inv = InvocationFor(LoadTestIr("container_with_if_placeholder.yaml"),
                                     "comp-container-with-if-placeholder", {}, dir.path());
  auto cl = Resolve(inv, dir.path());
  ASSERT_TRUE(cl.ok()) << cl.status().ToString();
  EXPECT_EQ(cl->command, (std::vector<std::string>{"my_program", "bye", "--dataset", "bye"}));
}

TEST(ResolveCommandLineTest, NullCountsAsAbsentAndAMissingElseExpandsToNothing) {
  TempDir dir;
  TaskInvocation inv =
      InvocationFor(LoadTestIr("placeholder_with_if_placeholder_none_input_value.yaml"),
                    "comp-component-with-optional-inputs",
                    {{"required_input", "r"}, {"optional_input_2", nullptr}}, dir.path());
  auto cl = Resolve(inv, dir.path());
  ASSERT_TRUE(cl.ok()) << cl.status().ToString();
  EXPECT_EQ(cl->command, (std::vector<std::string>{"echo"}));
  EXPECT_EQ(cl->args, (std::vector<std::string>{"--arg0", "r", "--arg2", "default value"}));
}

TEST(ResolveCommandLineTest, ConcatJoinsItsParts) {
  TempDir dir;
  TaskInvocation inv =
      InvocationFor(LoadTestIr("container_with_concat_placeholder.yaml"),
                    "comp-container-with-concat-placeholder", {{"text1", "abc"}}, dir.path());
  auto cl = Resolve(inv, dir.path());
  ASSERT_TRUE(cl.ok()) << cl.status().ToString();
  ASSERT_EQ(cl->command.size(), 2u);
  EXPECT_EQ(cl->command[1],
            "prefix-abc" + dir.path() + "/run-1/root/container-with-concat-placeholder/s/text2");
}

TEST(ResolveCommandLineTest, ArtifactPathsUrisAndMetadataResolve) {
  TempDir dir;
  Json ir = LoadTestIr("two_step_pipeline_containerized.yaml");
  TaskInvocation inv = InvocationFor(ir, "comp-component2", {}, dir.path());
  inv.artifact_inputs["input_gcs"] = {{.name = "output_gcs", .uri = "file:///data/x"}};
  auto cl = Resolve(inv, dir.path());
  ASSERT_TRUE(cl.ok()) << cl.status().ToString();
  EXPECT_EQ(cl->args, (std::vector<std::string>{"/data/x"}));

  TaskInvocation out =
      InvocationFor(LoadTestIr("container_with_artifact_output.yaml"),
                    "comp-container-with-artifact-output", {{"num_epochs", 4}}, dir.path());
  auto cl2 = Resolve(out, dir.path());
  ASSERT_TRUE(cl2.ok()) << cl2.status().ToString();
  std::string root = dir.path() + "/run-1/root/container-with-artifact-output/s";
  EXPECT_EQ(cl2->args, (std::vector<std::string>{"--epochs", "4", "--model_path", root + "/model",
                                                 "--model_metadata", "{}", "--model_config_path",
                                                 dir.path() + "/o.out.model_config_path"}));
}

TEST(ResolveCommandLineTest, ArgvZeroOnlyGetsTheDollarPlaceholder) {
  PlaceholderContext ctx;
  ctx.task = "root.t";
  ctx.executor_input = {{"inputs", {{"parameterValues", {{"x", "v"}}}}},
                        {"outputs", Json::object()}};
  auto cl = ResolveCommandLine(
      Json::array({"{{$.inputs.parameters['x']}}", "{{$.inputs.parameters['x']}}"}), Json(), ctx);
  ASSERT_TRUE(cl.ok());
  EXPECT_EQ(cl->command[0], "{{$.inputs.parameters['x']}}");
  EXPECT_EQ(cl->command[1], "v");
  auto dollar = ResolveCommandLine(Json(), Json::array({"{{$}}"}), ctx);
  ASSERT_TRUE(dollar.ok());
  EXPECT_EQ(Json::parse(dollar->args[0]), ctx.executor_input);
}

TEST(ResolveCommandLineTest, UnknownPlaceholdersAreErrorsNamingTaskAndPlaceholder) {
  PlaceholderContext ctx;
  ctx.task = "root.vertex";
  ctx.executor_input = {{"inputs", Json::object()}, {"outputs", Json::object()}};
  auto cl = ResolveCommandLine(Json::array({"run", "--payload={{$.json_escape[1]}}"}), Json(), ctx);
  ASSERT_FALSE(cl.ok());
  EXPECT_NE(cl.status().message().find("root.vertex"), std::string::npos);
  EXPECT_NE(cl.status().message().find("{{$.json_escape[1]}}"), std::string::npos);
  auto missing =
      ResolveCommandLine(Json::array({"run", "{{$.inputs.parameters['nope']}}"}), Json(), ctx);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("'nope'"), std::string::npos);
}

TEST(ResolveCommandLineTest, PipelineLevelPlaceholdersResolve) {
  PlaceholderContext ctx;
  ctx.task = "root.t";
  ctx.executor_input = {{"inputs", Json::object()}, {"outputs", {{"outputFile", "/r/out.json"}}}};
  ctx.pipeline_root = "file:///root";
  ctx.job_name = "job";
  ctx.job_uuid = "uuid";
  auto s = SubstitutePlaceholders(
      "{{$.pipeline_root}}|{{$.pipeline_job_name}}|{{$.pipeline_job_uuid}}|{{$.outputs.output_file}"
      "}",
      ctx);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(*s, "file:///root|job|uuid|/r/out.json");
}

// Every container executor of the whole KFP corpus resolves, except the Vertex-only forms.
TEST(ResolveCommandLineTest, EveryCorpusExecutorResolvesExceptVertexOnlyForms) {
  SKIFF_REQUIRE_CORPUS();
  const std::string corpus = CorpusDir() + "/kfp/ir";
  TempDir dir;
  int resolved = 0, vertex_only = 0;
  for (const auto& entry : std::filesystem::directory_iterator(corpus)) {
    std::string name = entry.path().filename().string();
    if (name.rfind("invalid_", 0) == 0) continue;
    auto docs = ParseYamlDocuments(testing::ReadText(entry.path().string()), name);
    if (!docs.ok() || docs->empty()) continue;
    Json ir = LoadIrFile(entry.path().string());
    if (!ir.contains("components") || !ir["components"].is_object()) continue;
    for (auto it = ir["components"].begin(); it != ir["components"].end(); ++it) {
      const Json& comp = it.value();
      if (!comp.contains("executorLabel")) continue;
      const Json& exec =
          ir["deploymentSpec"]["executors"][comp["executorLabel"].get<std::string>()];
      if (!exec.contains("container")) continue;
      TaskInvocation inv = InvocationFor(ir, it.key(), {}, dir.path());
      const Json defs = comp.value("inputDefinitions", Json::object());
      const Json pdefs = defs.value("parameters", Json::object());
      const Json adefs = defs.value("artifacts", Json::object());
      for (auto p = pdefs.begin(); p != pdefs.end(); ++p) inv.parameter_inputs[p.key()] = "v";
      for (auto a = adefs.begin(); a != adefs.end(); ++a) {
        inv.artifact_inputs[a.key()] = {{.name = a.key(), .uri = "gs://b/" + a.key()}};
      }
      auto cl = Resolve(inv, dir.path());
      if (cl.ok()) {
        ++resolved;
        continue;
      }
      const std::string& msg = cl.status().message();
      bool vertex = msg.find("json_escape") != std::string::npos ||
                    msg.find("metadata key") != std::string::npos ||
                    msg.find("pipeline_google_cloud") != std::string::npos ||
                    msg.find("persistent_resource") != std::string::npos ||
                    msg.find("artifacts['in_datasets']}}") != std::string::npos;
      EXPECT_TRUE(vertex) << name << " " << it.key() << ": " << msg;
      ++vertex_only;
    }
  }
  EXPECT_GT(resolved, 800);  // 836 of 994 at the corpus commit
  EXPECT_LT(vertex_only, 200);
}

}  // namespace
}  // namespace skiff::pipelines
