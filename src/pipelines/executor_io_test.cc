#include "pipelines/executor_io.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "pipelines/launcher_testing.h"

namespace skiff::pipelines {
namespace {

using testing::InvocationFor;
using testing::LoadTestIr;
using testing::TempDir;
using testing::WriteText;

TEST(LocalPathForUriTest, MapsSchemesAsTheKfpLauncherDoes) {
  EXPECT_EQ(LocalPathForUri("file:///home/me/a/b"), "/home/me/a/b");
  EXPECT_EQ(LocalPathForUri("gs://bucket/k/x"), "/gcs/bucket/k/x");
  EXPECT_EQ(LocalPathForUri("minio://mlpipeline/v2/x"), "/minio/mlpipeline/v2/x");
  EXPECT_EQ(LocalPathForUri("s3://b/k"), "/s3/b/k");
  EXPECT_EQ(LocalPathForUri("/plain/path"), "/plain/path");
  EXPECT_EQ(LocalPathForUri("weird://x"), "weird://x");
}

TEST(ComponentUriTest, FileUrisBecomePlainPathsAndBackAgain) {
  EXPECT_EQ(ComponentUri("file:///a/b"), "/a/b");
  EXPECT_EQ(ComponentUri("gs://a/b"), "gs://a/b");
  EXPECT_EQ(RecordedUri("/a/b"), "file:///a/b");
  EXPECT_EQ(RecordedUri("gs://a/b"), "gs://a/b");
}

TEST(ParseParameterTextTest, ParsesEveryTypeLikeTextToPbValue) {
  EXPECT_EQ(*ParseParameterText(" hi \n", "STRING", "p"), Json(" hi \n"));
  EXPECT_EQ(*ParseParameterText("42\n", "NUMBER_INTEGER", "p"), Json(42));
  EXPECT_EQ(*ParseParameterText("-7", "NUMBER_INTEGER", "p"), Json(-7));
  EXPECT_EQ(*ParseParameterText("2.5", "NUMBER_DOUBLE", "p"), Json(2.5));
  EXPECT_EQ(*ParseParameterText("3.0", "NUMBER_DOUBLE", "p"), Json(3));
  EXPECT_EQ(*ParseParameterText("True\n", "BOOLEAN", "p"), Json(true));
  EXPECT_EQ(*ParseParameterText("0", "BOOLEAN", "p"), Json(false));
  EXPECT_EQ(*ParseParameterText("[1, \"a\"]", "LIST", "p"), Json::parse(R"([1,"a"])"));
  EXPECT_EQ(*ParseParameterText("{\"k\": 1.0}", "STRUCT", "p"), Json::parse(R"({"k":1})"));
}

TEST(ParseParameterTextTest, RejectsTextOfTheWrongTypeNamingTheParameter) {
  auto r = ParseParameterText("4.5", "NUMBER_INTEGER", "output parameter 'n'");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("output parameter 'n'"), std::string::npos);
  EXPECT_FALSE(ParseParameterText("yes", "BOOLEAN", "p").ok());
  EXPECT_FALSE(ParseParameterText("{}", "LIST", "p").ok());
  EXPECT_FALSE(ParseParameterText("[1", "STRUCT", "p").ok());
  EXPECT_FALSE(ParseParameterText("", "NUMBER_DOUBLE", "p").ok());
}

TEST(BuildTaskIoTest, BuildsTheExecutorInputShapeWithDefaultsApplied) {
  TempDir dir;
  Json ir = LoadTestIr("container_with_if_placeholder.yaml");
  TaskInvocation inv = InvocationFor(ir, "comp-container-with-if-placeholder", {}, dir.path());
  auto io = BuildTaskIo(inv, {.output_file_prefix = dir.path() + "/work/t1", .salt = "s1"});
  ASSERT_TRUE(io.ok()) << io.status().ToString();
  const Json& ei = io->executor_input;
  EXPECT_EQ(ei["inputs"]["parameterValues"]["optional_input"], "default");
  EXPECT_EQ(ei["outputs"]["parameters"]["output_path"]["outputFile"],
            dir.path() + "/work/t1.out.output_path");
  std::string root = dir.path() + "/run-1/root/container-with-if-placeholder/s1";
  const Json& ds = ei["outputs"]["artifacts"]["dataset"]["artifacts"][0];
  EXPECT_EQ(ds["name"], "dataset");
  EXPECT_EQ(ds["uri"], root + "/dataset");  // a plain path: the Python SDK's path == uri
  EXPECT_EQ(ds["type"]["schemaTitle"], "system.Dataset");
  // The executor output stays with the task, not in the artifact store.
  EXPECT_EQ(ei["outputs"]["outputFile"], dir.path() + "/work/t1.output_metadata.json");
  EXPECT_EQ(io->output_artifacts.at("dataset").uri, "file://" + root + "/dataset");
  EXPECT_EQ(io->task_root_uri, "file://" + root);
}

TEST(BuildTaskIoTest, WholeNumbersLoseTheirFractionAndInputArtifactsBecomePlainPaths) {
  TempDir dir;
  Json ir = LoadTestIr("add_numbers.yaml");
  TaskInvocation inv = InvocationFor(ir, "comp-add-numbers", {{"a", 1.0}, {"b", 2}}, dir.path());
  inv.artifact_inputs["data"] = {{.name = "data",
                                  .uri = "file:///x/data",
                                  .schema_title = "system.Dataset",
                                  .schema_version = "0.0.1"}};
  auto io = BuildTaskIo(inv, {.output_file_prefix = dir.path() + "/o", .salt = "s"});
  ASSERT_TRUE(io.ok());
  EXPECT_EQ(io->executor_input["inputs"]["parameterValues"].dump(), R"({"a":1,"b":2})");
  const Json& a = io->executor_input["inputs"]["artifacts"]["data"]["artifacts"][0];
  EXPECT_EQ(a["uri"], "/x/data");
  EXPECT_EQ(a["type"]["schemaTitle"], "system.Dataset");
  EXPECT_TRUE(io->executor_input["outputs"]["parameters"].contains("Output"));
}

TEST(BuildTaskIoTest, RejectsAMalformedComponentSpecNamingTheTask) {
  TaskInvocation inv;
  inv.task_path = "root.bad";
  inv.component_spec = Json::array();
  inv.pipeline_root = "file:///tmp";
  auto io = BuildTaskIo(inv, {.output_file_prefix = "/tmp/o", .salt = "s"});
  ASSERT_FALSE(io.ok());
  EXPECT_NE(io.status().message().find("root.bad"), std::string::npos);
}

class CollectOutputsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ir_ = LoadTestIr("container_with_artifact_output.yaml");
    inv_ =
        InvocationFor(ir_, "comp-container-with-artifact-output", {{"num_epochs", 3}}, dir_.path());
    auto io = BuildTaskIo(inv_, {.output_file_prefix = dir_.path() + "/o/t", .salt = "s"});
    ASSERT_TRUE(io.ok());
    io_ = *io;
    ASSERT_TRUE(PrepareOutputFolders(io_).ok());
  }
  TempDir dir_;
  Json ir_;
  TaskInvocation inv_;
  TaskIo io_;
};

TEST_F(CollectOutputsTest, PrepareOutputFoldersCreatesEveryParentFolder) {
  EXPECT_TRUE(std::filesystem::is_directory(dir_.path() + "/o"));  // the parameter files' folder
  EXPECT_TRUE(
      std::filesystem::is_directory(std::filesystem::path(io_.executor_output_file).parent_path()));
}

TEST_F(CollectOutputsTest, ReadsParameterFilesWhenThereIsNoExecutorOutput) {
  WriteText(io_.output_parameter_files.at("model_config_path"), "/models/cfg.json");
  auto out = CollectOutputs(io_, inv_.component_spec);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(out->parameters.at("model_config_path"), "/models/cfg.json");
  ASSERT_EQ(out->artifacts.at("model").size(), 1u);
  EXPECT_EQ(out->artifacts.at("model")[0].uri, io_.output_artifacts.at("model").uri);
  EXPECT_EQ(out->artifacts.at("model")[0].schema_title, "system.Model");
}

TEST_F(CollectOutputsTest, ExecutorOutputWinsAndArtifactMetadataIsMerged) {
  WriteText(io_.output_parameter_files.at("model_config_path"), "from-file");
  WriteText(io_.executor_output_file, R"({"parameterValues": {"model_config_path": "from-eo"},
      "artifacts": {"model": {"artifacts": [{"name": "model", "uri": "/elsewhere/model",
                                             "metadata": {"accuracy": 0.9}}]}}})");
  auto out = CollectOutputs(io_, inv_.component_spec);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(out->parameters.at("model_config_path"), "from-eo");
  const Artifact& model = out->artifacts.at("model")[0];
  EXPECT_EQ(model.uri, "file:///elsewhere/model");
  EXPECT_EQ(model.metadata["accuracy"], 0.9);
  EXPECT_EQ(model.schema_title, "system.Model");
}

TEST_F(CollectOutputsTest, ADeclaredParameterWithoutFileFailsNamingIt) {
  auto out = CollectOutputs(io_, inv_.component_spec);
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("'model_config_path'"), std::string::npos);
}

TEST_F(CollectOutputsTest, AMalformedExecutorOutputIsAnErrorNamingTheFile) {
  WriteText(io_.output_parameter_files.at("model_config_path"), "x");
  WriteText(io_.executor_output_file, "{not json");
  auto out = CollectOutputs(io_, inv_.component_spec);
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("output_metadata.json"), std::string::npos);
}

TEST(CollectOutputsTypedTest, MetricsArtifactsKeepTheirSchemaTitleAndMetadata) {
  TempDir dir;
  Json ir = LoadTestIr("metrics_visualization_v2.yaml");
  TaskInvocation inv = InvocationFor(ir, "comp-digit-classification", {}, dir.path());
  auto io = BuildTaskIo(inv, {.output_file_prefix = dir.path() + "/o", .salt = "s"});
  ASSERT_TRUE(io.ok()) << io.status().ToString();
  ASSERT_TRUE(io->output_artifacts.count("metrics"));
  WriteText(io->executor_output_file,
            R"({"artifacts": {"metrics": {"artifacts": [{"name": "metrics",
                "metadata": {"accuracy": 97.5}}]}}})");
  auto out = CollectOutputs(*io, inv.component_spec);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  const Artifact& m = out->artifacts.at("metrics")[0];
  EXPECT_EQ(m.schema_title, "system.Metrics");
  EXPECT_EQ(m.metadata["accuracy"], 97.5);
  EXPECT_EQ(m.uri, io->output_artifacts.at("metrics").uri);
}

}  // namespace
}  // namespace skiff::pipelines
