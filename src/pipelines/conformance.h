// The KFP IR conformance table: one row per corpus file saying whether Skiff parses it, why it
// was refused, and (when a later step fills it in) whether it runs to success.
//
//   std::vector<ConformanceRow> rows = ...;  // one per file, from ParsePipelineSpec etc.
//   std::string markdown = RenderConformanceTable(rows);
//   RETURN_IF_ERROR(WriteConformanceTable("tests/conformance/kfp_ir.md", rows));
//
// Thread-safe: pure functions (the writer touches only the given file).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/status.h"

namespace skiff::pipelines {

struct ConformanceRow {
  std::string file;                     // base name, e.g. "add_numbers.yaml"
  bool parses = false;                  // ParsePipelineSpec succeeded
  std::string refused_reason;           // the parser's error when it did not
  bool expected_invalid = false;        // a negative vector (invalid_*)
  std::optional<bool> runs_to_success;  // filled by the run step; nullopt = not run
  std::string run_message;              // why it did not run to success, or (runs_to_success
                                        // unset) why it cannot run locally
};

// Markdown: a header, a summary line and a table sorted by file name. The "runs to success"
// column appears only when some row has a run result.
std::string RenderConformanceTable(std::vector<ConformanceRow> rows);

// Renders and writes the table to `path` (parent directory must exist).
Status WriteConformanceTable(const std::string& path, const std::vector<ConformanceRow>& rows);

}  // namespace skiff::pipelines
