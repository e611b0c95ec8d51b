// Test helpers for the launcher's tests: a temp dir, compiled KFP IR from launcher_testdata/ and
// TaskInvocations built from one of its components the way the engine builds them.
//
//   TempDir dir;
//   Json ir = LoadTestIr("add_numbers.yaml");
//   TaskInvocation inv = InvocationFor(ir, "comp-add-numbers", {{"a", 1}, {"b", 2}}, dir.path());
//
// Test-only; thread-compatible.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "core/resource.h"
#include "core/testing/temp_dir.h"
#include "pipelines/task.h"

namespace skiff::pipelines::testing {

using ::skiff::TempDir;

inline std::string TestDataDir() {
  return (std::filesystem::path(__FILE__).parent_path() / "launcher_testdata").string();
}

inline std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void WriteText(const std::string& path, const std::string& text) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

// The pipeline spec of a compiled pipeline file (the platform spec, when the file has a second
// YAML document, is under "platforms" as the SDK writes it).
inline Json LoadIrFile(const std::string& path) {
  auto docs = ParseYamlDocuments(ReadText(path), path);
  EXPECT_TRUE(docs.ok()) << docs.status().ToString();
  if (!docs.ok() || docs->empty()) return Json::object();
  Json spec = (*docs)[0];
  if (spec.contains("pipelineSpec")) spec = spec["pipelineSpec"];
  for (size_t i = 1; i < docs->size(); ++i) {
    if ((*docs)[i].contains("platforms")) spec["platforms"] = (*docs)[i]["platforms"];
  }
  return spec;
}

inline Json LoadTestIr(const std::string& name) { return LoadIrFile(TestDataDir() + "/" + name); }

inline TaskInvocation InvocationFor(const Json& ir, const std::string& component,
                                    std::map<std::string, Json> parameters,
                                    const std::string& artifacts_root) {
  TaskInvocation inv;
  inv.run_id = "run-1";
  inv.run_name = "my-run";
  inv.namespace_ = "team-a";
  inv.task_name = component.substr(component.rfind("comp-") == 0 ? 5 : 0);
  inv.task_path = "root." + inv.task_name;
  inv.workload_id = "run-1." + inv.task_path + ".0";
  inv.component_spec = ir.value("components", Json::object()).value(component, Json::object());
  std::string label = inv.component_spec.value("executorLabel", "");
  inv.executor_spec = ir.value("deploymentSpec", Json::object())
                          .value("executors", Json::object())
                          .value(label, Json::object());
  Json k8s = ir.value("platforms", Json::object()).value("kubernetes", Json::object());
  Json execs = k8s.value("deploymentSpec", Json::object()).value("executors", Json::object());
  if (execs.contains(label)) inv.platform_config = execs[label];
  inv.parameter_inputs = std::move(parameters);
  inv.pipeline_root = "file://" + artifacts_root;
  return inv;
}

}  // namespace skiff::pipelines::testing
