// Test doubles for the DAG engine (in the spirit of ninja's FakeCommandRunner): a TaskRunner that
// records Start calls and lets a test finish tasks with chosen outputs, and corpus helpers.
//
//   FakeTaskRunner runner;
//   engine.Reconcile(spec, ctx, status, runner, clock);
//   runner.Succeed("root.add-numbers", {{"Output", 3}});
//
// Thread-compatible; tests only.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "pipelines/ir.h"
#include "pipelines/task.h"

namespace skiff::pipelines {

// The shared corpus (KFP IR files and others, outside this repository): $SKIFF_CORPUS, else
// <source dir>/../shared/corpus, the source dir being $SKIFF_SOURCE_DIR (ctest sets it) or the
// tree this header is in. Every test that reads the corpus finds it here and skips, naming the
// folder, where it is absent (a clean clone):
//
//   TEST(ConformanceTest, EveryCorpusFileParses) {
//     SKIFF_REQUIRE_CORPUS();
//     for (const auto& e : std::filesystem::directory_iterator(CorpusDir() + "/kfp/ir")) ...
inline std::string CorpusDir() {
  if (const char* dir = std::getenv("SKIFF_CORPUS"); dir != nullptr && *dir != '\0') return dir;
  const char* src = std::getenv("SKIFF_SOURCE_DIR");
  const std::string source_dir =
      src != nullptr && *src != '\0'
          ? std::string(src)
          : std::filesystem::path(__FILE__).parent_path().parent_path().parent_path().string();
  return source_dir + "/../shared/corpus";
}

inline std::string CorpusIrPath(const std::string& file) { return CorpusDir() + "/kfp/ir/" + file; }

// Why corpus tests cannot run ("" when they can): the KFP IR folder is missing.
inline std::string CorpusMissing() {
  const std::string ir = CorpusDir() + "/kfp/ir";
  std::error_code ec;
  if (std::filesystem::is_directory(ir, ec)) return "";
  return "the shared corpus is not here: " + ir +
         " is missing (set SKIFF_CORPUS to the corpus folder to run this test)";
}

// Skips the calling test (or fixture SetUp) when the corpus is absent.
#define SKIFF_REQUIRE_CORPUS()                                                               \
  do {                                                                                       \
    if (const std::string missing = ::skiff::pipelines::CorpusMissing(); !missing.empty()) { \
      GTEST_SKIP() << missing;                                                               \
    }                                                                                        \
  } while (false)

class FakeTaskRunner : public TaskRunner {
 public:
  Status Start(const TaskInvocation& inv) override {
    if (fail_start_.count(inv.task_path)) return Unavailable("backend down");
    if (!active_.count(inv.workload_id)) {
      started.push_back(inv);
      active_[inv.workload_id] = inv;
    }
    return Status::Ok();
  }

  Result<std::optional<TaskOutcome>> Poll(const TaskInvocation& inv) override {
    if (!active_.count(inv.workload_id)) {
      return NotFound("workload " + inv.workload_id + " was never started");
    }
    auto it = outcomes_.find(inv.workload_id);
    if (it == outcomes_.end()) return std::optional<TaskOutcome>();
    return std::optional<TaskOutcome>(it->second);
  }

  Status Cancel(const TaskInvocation& inv) override {
    cancelled.push_back(inv.task_path);
    TaskOutcome o;
    o.state = TaskOutcome::State::kFailed;
    o.message = "cancelled";
    outcomes_[inv.workload_id] = o;
    return Status::Ok();
  }

  Result<std::string> Logs(const TaskInvocation&) override { return std::string(); }

  // The newest invocation for `task_path`, or nullptr.
  const TaskInvocation* Find(const std::string& task_path) const {
    for (auto it = started.rbegin(); it != started.rend(); ++it) {
      if (it->task_path == task_path) return &*it;
    }
    return nullptr;
  }

  // Finishes the newest attempt of `task_path`.
  void Finish(const std::string& task_path, TaskOutcome outcome) {
    const TaskInvocation* inv = Find(task_path);
    if (inv == nullptr) {
      missing.push_back(task_path);
      return;
    }
    outcomes_[inv->workload_id] = std::move(outcome);
  }
  void Succeed(const std::string& task_path, std::map<std::string, Json> params = {},
               std::map<std::string, std::vector<Artifact>> artifacts = {}) {
    TaskOutcome o;
    o.state = TaskOutcome::State::kSucceeded;
    o.output_parameters = std::move(params);
    o.output_artifacts = std::move(artifacts);
    Finish(task_path, std::move(o));
  }
  void Fail(const std::string& task_path, const std::string& message = "exit code 1") {
    TaskOutcome o;
    o.state = TaskOutcome::State::kFailed;
    o.message = message;
    o.exit_code = 1;
    Finish(task_path, std::move(o));
  }
  void FailStartOf(const std::string& task_path) { fail_start_.insert(task_path); }

  // Task paths started but not finished.
  std::set<std::string> Running() const {
    std::set<std::string> out;
    for (const auto& [id, inv] : active_) {
      if (!outcomes_.count(id)) out.insert(inv.task_path);
    }
    return out;
  }
  std::vector<std::string> StartedPaths() const {
    std::vector<std::string> out;
    for (const TaskInvocation& inv : started) out.push_back(inv.task_path);
    return out;
  }

  std::vector<TaskInvocation> started;  // every distinct Start, in order
  std::vector<std::string> cancelled;
  std::vector<std::string> missing;  // Finish calls for tasks never started (a test bug)

 private:
  std::map<std::string, TaskInvocation> active_;  // workload_id -> invocation
  std::map<std::string, TaskOutcome> outcomes_;   // workload_id -> outcome
  std::set<std::string> fail_start_;
};

}  // namespace skiff::pipelines
