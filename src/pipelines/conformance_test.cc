#include "pipelines/conformance.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "pipelines/engine.h"
#include "pipelines/engine_testing.h"
#include "pipelines/ir.h"

namespace skiff::pipelines {
namespace {

namespace fs = std::filesystem;

TEST(ConformanceTest, EveryCorpusFileParsesAndNegativeVectorsAreRefused) {
  SKIFF_REQUIRE_CORPUS();
  fs::path dir = CorpusDir() + "/kfp/ir";
  ASSERT_TRUE(fs::is_directory(dir)) << dir;
  std::vector<ConformanceRow> rows;
  for (const fs::directory_entry& e : fs::directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    ConformanceRow row;
    row.file = e.path().filename().string();
    row.expected_invalid = row.file.rfind("invalid_", 0) == 0;
    Result<PipelineSpec> spec = LoadPipelineSpecFile(e.path().string());
    row.parses = spec.ok();
    if (!spec.ok()) row.refused_reason = spec.status().message();
    if (row.expected_invalid) {
      EXPECT_FALSE(row.parses) << row.file << " should be refused";
      // The error names the file.
      EXPECT_EQ(row.refused_reason.rfind(row.file + ": ", 0), 0u) << row.refused_reason;
    } else {
      EXPECT_TRUE(row.parses) << row.refused_reason;
    }
    rows.push_back(std::move(row));
  }
  EXPECT_EQ(rows.size(), 216u);
  const char* src = std::getenv("SKIFF_SOURCE_DIR");
  ASSERT_NE(src, nullptr) << "SKIFF_SOURCE_DIR must point at the source tree";
  // The "runs to success" column comes from tools/run_corpus.py's results, when present.
  std::ifstream runs_file(std::string(src) + "/tests/conformance/kfp_runs.json");
  if (runs_file) {
    Json runs = Json::parse(runs_file, nullptr, false);
    ASSERT_TRUE(runs.is_object()) << "tests/conformance/kfp_runs.json is not a JSON object";
    for (ConformanceRow& row : rows) {
      if (!runs.contains(row.file)) continue;
      const Json& r = runs[row.file];
      std::string result = r.value("result", ""), reason = r.value("reason", "");
      if (result == "runs") {
        row.runs_to_success = true;
      } else if (result == "fails") {
        row.runs_to_success = false;
        row.run_message = reason;
      } else {
        row.run_message = "not runnable locally: " + reason;
      }
    }
  }
  Status written = WriteConformanceTable(std::string(src) + "/tests/conformance/kfp_ir.md", rows);
  EXPECT_TRUE(written.ok()) << written.ToString();
}

// A typed stand-in value for a parameter of `type`.
Json Sample(ParameterType type) {
  switch (type) {
    case ParameterType::kInteger:
      return 1;
    case ParameterType::kDouble:
      return 1.5;
    case ParameterType::kBoolean:
      return true;
    case ParameterType::kList:
      return Json::array({"a"});
    case ParameterType::kStruct:
      return Json::object({{"a", "1"}});
    default:
      return "1";
  }
}

// Drives every valid corpus pipeline with a runner that succeeds each task with typed sample
// outputs: the engine must never crash or report a corrupt status, whatever the IR holds.
TEST(ConformanceTest, EveryValidPipelineCanBeDrivenByTheEngine) {
  SKIFF_REQUIRE_CORPUS();
  fs::path dir = CorpusDir() + "/kfp/ir";
  for (const fs::directory_entry& e : fs::directory_iterator(dir)) {
    Result<PipelineSpec> spec = LoadPipelineSpecFile(e.path().string());
    if (!spec.ok()) continue;
    RunContext ctx{.run_id = "r", .run_name = "r", .pipeline_root = "file:///tmp/r"};
    for (const auto& [name, def] : spec->root.inputs.parameters) {
      if (!def.default_value && !def.is_optional) ctx.parameters[name] = Sample(def.type);
    }
    FakeTaskRunner runner;
    FakeClock clock;
    Engine engine;
    Json status;
    bool done = false;
    for (int round = 0; round < 200 && !done; ++round) {
      Result<bool> r = engine.Reconcile(*spec, ctx, status, runner, clock);
      ASSERT_TRUE(r.ok()) << e.path().filename() << ": " << r.status().ToString();
      done = *r;
      for (const std::string& path : runner.Running()) {
        const TaskInvocation* inv = runner.Find(path);
        std::map<std::string, Json> params;
        std::map<std::string, std::vector<Artifact>> artifacts;
        const Json outs = inv->component_spec.value("outputDefinitions", Json::object());
        const Json out_params = outs.value("parameters", Json::object());
        const Json out_artifacts = outs.value("artifacts", Json::object());
        for (auto& [name, def] : out_params.items()) {
          params[name] = def.value("parameterType", "") == "STRING"           ? Json("heads")
                         : def.value("parameterType", "") == "NUMBER_INTEGER" ? Json(1)
                         : def.value("parameterType", "") == "NUMBER_DOUBLE"  ? Json(1.5)
                         : def.value("parameterType", "") == "BOOLEAN"        ? Json(true)
                         : def.value("parameterType", "") == "LIST"           ? Json::array({"a"})
                         : def.value("parameterType", "") == "STRUCT" ? Json::object({{"a", "1"}})
                                                                      : Json("1");
        }
        for (auto& [name, def] : out_artifacts.items()) {
          artifacts[name] = {Artifact{name, "file:///tmp/r/" + path + "/" + name}};
        }
        runner.Succeed(path, params, artifacts);
      }
      clock.Advance(std::chrono::seconds(1));
    }
    EXPECT_TRUE(done) << e.path().filename() << " did not finish";
  }
}

TEST(ConformanceTest, NegativeVectorsNameTheField) {
  SKIFF_REQUIRE_CORPUS();
  Result<PipelineSpec> no_name = LoadPipelineSpecFile(CorpusIrPath("invalid_no_name.yaml"));
  ASSERT_FALSE(no_name.ok());
  EXPECT_EQ(no_name.status().message(), "invalid_no_name.yaml: pipelineInfo.name: required");
  Result<PipelineSpec> misspelled = LoadPipelineSpecFile(CorpusIrPath("invalid_invalid_yaml.yaml"));
  ASSERT_FALSE(misspelled.ok());
  EXPECT_NE(misspelled.status().message().find("components_1"), std::string::npos)
      << misspelled.status().message();
}

TEST(ConformanceTest, TableHasOneRowPerFileAndARunColumnOnlyWhenRunsAreKnown) {
  std::vector<ConformanceRow> rows(2);
  rows[0].file = "b.yaml";
  rows[0].parses = true;
  rows[1].file = "a.yaml";
  rows[1].refused_reason = "a.yaml: x|y: required";
  std::string table = RenderConformanceTable(rows);
  EXPECT_EQ(table.find("runs to success"), std::string::npos);
  EXPECT_LT(table.find("| a.yaml | no | a.yaml: x\\|y: required |"), table.find("| b.yaml |"));
  rows[0].runs_to_success = false;
  rows[0].run_message = "task failed";
  table = RenderConformanceTable(rows);
  EXPECT_NE(table.find("| b.yaml | yes |  | no: task failed |"), std::string::npos) << table;
  EXPECT_NE(table.find("| a.yaml | no | a.yaml: x\\|y: required | - |"), std::string::npos);
  rows[1].run_message = "not runnable locally: needs a GPU";
  table = RenderConformanceTable(rows);
  EXPECT_NE(
      table.find("| a.yaml | no | a.yaml: x\\|y: required | not runnable locally: needs a GPU |"),
      std::string::npos)
      << table;
  EXPECT_NE(table.find("0 of 1 run to success"), std::string::npos) << table;
  EXPECT_NE(table.find("1 not runnable locally"), std::string::npos) << table;
}

}  // namespace
}  // namespace skiff::pipelines
