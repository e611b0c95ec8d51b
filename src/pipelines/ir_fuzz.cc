// Fuzz target: the KFP IR parser (pipelines/ir.h, ParsePipelineSpec).
//
// For any bytes the parser returns a PipelineSpec or an error; it never crashes, throws or hangs.
// A spec it accepts holds what the engine relies on without checking again: every task's
// componentRef and every container component's executor exist, every task it waits for is in
// its DAG, each DAG's tasks can be ordered (no dependency cycle), and the components reachable
// from the root nest to a bounded depth (no component contains itself).
//
//   build/fuzz/ir_fuzz -dict=src/pipelines/fuzz_corpus/ir.dict build/fuzz/ir/corpus \
//       src/pipelines/fuzz_corpus/ir
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <string>

#include "core/testing/fuzz_check.h"
#include "pipelines/ir.h"

namespace {

using skiff::pipelines::ComponentSpec;
using skiff::pipelines::PipelineSpec;

// More than the parser's own limit on DAG nesting (64): passing it means the limit failed.
constexpr int kMaxDepth = 100;

// Checks `component` and what it reaches; returns how deep its DAGs nest (0 for a container).
// Each component is checked once (`height`); one met again while its own check is in progress
// contains itself.
int CheckComponent(const PipelineSpec& spec, const ComponentSpec& component,
                   std::map<const ComponentSpec*, int>& height) {
  if (auto it = height.find(&component); it != height.end()) {
    skiff::FuzzCheck("ir_fuzz", it->second >= 0, "a component contains itself", component.name);
    return it->second;
  }
  height[&component] = -1;  // in progress
  if (!component.dag) {
    skiff::FuzzCheck("ir_fuzz", spec.Executor(component.executor_label) != nullptr,
                     "a component's executor is missing",
                     component.name + " -> " + component.executor_label);
    return height[&component] = 0;
  }
  // Kahn's algorithm over the DAG: every task must be placed.
  std::map<std::string, std::set<std::string>> waits_for;
  for (const auto& [key, task] : component.dag->tasks) {
    std::set<std::string>& upstream = waits_for[key];
    for (const std::string& up : task.Upstream()) {
      skiff::FuzzCheck("ir_fuzz", component.dag->tasks.count(up) == 1,
                       "a task waits for a task not in its DAG",
                       component.name + "." + key + " -> " + up);
      upstream.insert(up);
    }
  }
  std::set<std::string> done;
  for (bool progress = true; progress;) {
    progress = false;
    for (const auto& [key, upstream] : waits_for) {
      if (done.count(key)) continue;
      bool ready = true;
      for (const std::string& up : upstream) ready = ready && done.count(up) == 1;
      if (ready) {
        done.insert(key);
        progress = true;
      }
    }
  }
  skiff::FuzzCheck("ir_fuzz", done.size() == waits_for.size(), "a DAG's tasks cannot be ordered",
                   component.name);

  int deepest = 0;
  for (const auto& [key, task] : component.dag->tasks) {
    const ComponentSpec* ref = spec.Component(task.component);
    skiff::FuzzCheck("ir_fuzz", ref != nullptr, "a task's componentRef is missing",
                     component.name + "." + key + " -> " + task.component);
    deepest = std::max(deepest, CheckComponent(spec, *ref, height));
  }
  skiff::FuzzCheck("ir_fuzz", deepest + 1 <= kMaxDepth, "DAGs nest deeper than the parser allows",
                   component.name);
  return height[&component] = deepest + 1;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  skiff::Result<PipelineSpec> spec = skiff::pipelines::ParsePipelineSpec(text, "fuzz.yaml");
  if (!spec.ok()) return 0;
  std::map<const ComponentSpec*, int> height;
  CheckComponent(*spec, spec->root, height);
  for (const auto& [name, component] : spec->components) {
    (void)spec->PlatformConfig(component.executor_label);
  }
  return 0;
}
