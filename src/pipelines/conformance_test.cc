#include "pipelines/conformance.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "pipelines/engine_testing.h"
#include "pipelines/ir.h"

namespace skiff::pipelines {
namespace {

namespace fs = std::filesystem;

TEST(ConformanceTest, EveryCorpusFileParsesAndNegativeVectorsAreRefused) {
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
  Status written = WriteConformanceTable(std::string(src) + "/tests/conformance/kfp_ir.md", rows);
  EXPECT_TRUE(written.ok()) << written.ToString();
}

TEST(ConformanceTest, NegativeVectorsNameTheField) {
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
}

}  // namespace
}  // namespace skiff::pipelines
