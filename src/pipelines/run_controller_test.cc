#include "pipelines/run_controller.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "pipelines/engine_testing.h"
#include "pipelines/launcher_testing.h"

namespace skiff::pipelines {
namespace {

using std::chrono::milliseconds;

// pipeline_with_after.yaml: print-text, then print-text-2, then print-text-3 (each .after()).
class RunControllerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SKIFF_REQUIRE_CORPUS();  // the run's IR is the corpus's pipeline_with_after.yaml
    store_ = OpenStore("sqlite://" + dir_.path() + "/t.db", clock_).value();
  }

  void MakeController(RunControllerOptions options) {
    options.artifacts_root = dir_.path() + "/artifacts";
    controller_ = std::make_unique<RunController>(*store_, runner_, clock_, options);
  }

  void CreateRun() {
    std::ifstream in(CorpusIrPath("pipeline_with_after.yaml"));
    std::stringstream text;
    text << in.rdbuf();
    Result<std::vector<Json>> docs = ParseYamlDocuments(text.str(), "pipeline_with_after.yaml");
    ASSERT_TRUE(docs.ok()) << docs.status().ToString();
    Json run = MakePipelineRun("default", "r1", (*docs)[0], Json::object(), {}, false);
    ASSERT_TRUE(ValidatePipelineRun(run, true).ok());
    ASSERT_TRUE(store_->Create(kPipelineRunType, run).ok());
  }

  void Reconcile() {
    auto result = controller_->Reconcile("default", "r1");
    ASSERT_TRUE(result.ok()) << result.status().ToString();
  }
  Json Stored() { return store_->Get(kPipelineRunType, "default", "r1").value(); }
  int64_t StoredVersion() {
    return store_->GetResourceVersion(kPipelineRunType, "default", "r1").value();
  }
  std::string StoredTaskState(const std::string& path) {
    const Json run = Stored();
    const Json& tasks = run["status"]["engine"]["tasks"];
    return tasks.contains(path) ? tasks[path].value("state", "") : "(absent)";
  }

  testing::TempDir dir_;
  FakeClock clock_;
  FakeTaskRunner runner_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<RunController> controller_;
};

TEST_F(RunControllerTest, DrivesARunToSuccessAndStoresEveryState) {
  MakeController({.min_persist_interval = milliseconds(0), .persist_cost_factor = 0});
  CreateRun();
  Reconcile();
  EXPECT_EQ(Stored()["status"]["state"], "RUNNING");
  for (const char* task : {"root.print-text", "root.print-text-2", "root.print-text-3"}) {
    runner_.Succeed(task);
    Reconcile();
    EXPECT_EQ(StoredTaskState(task), kSucceeded) << task;
  }
  EXPECT_EQ(Stored()["status"]["state"], "SUCCEEDED");
  EXPECT_TRUE(Stored()["status"].contains("finishedAt"));
}

TEST_F(RunControllerTest, TaskProgressWaitsForThePersistIntervalButTheRunsEndDoesNot) {
  MakeController({.min_persist_interval = std::chrono::hours(1),
                  .max_persist_interval = std::chrono::hours(1)});
  CreateRun();
  Reconcile();  // PENDING -> RUNNING is a change of state: stored at once
  EXPECT_EQ(Stored()["status"]["state"], "RUNNING");
  const int64_t running_version = StoredVersion();
  runner_.Succeed("root.print-text");
  Reconcile();
  // The controller went on from its own copy (print-text-2 started) without writing it.
  EXPECT_EQ(runner_.StartedPaths().size(), 2u);
  EXPECT_EQ(StoredVersion(), running_version);
  EXPECT_EQ(StoredTaskState("root.print-text"), kRunning);
  runner_.Succeed("root.print-text-2");
  Reconcile();
  runner_.Succeed("root.print-text-3");
  Reconcile();
  EXPECT_EQ(Stored()["status"]["state"], "SUCCEEDED");
  EXPECT_EQ(StoredTaskState("root.print-text-2"), kSucceeded);
  EXPECT_EQ(runner_.StartedPaths().size(), 3u) << "no task ran twice";
}

TEST_F(RunControllerTest, AChangeMadeByAnotherWriterIsReadAndWhatWasNotStoredIsRederived) {
  MakeController({.min_persist_interval = std::chrono::hours(1),
                  .max_persist_interval = std::chrono::hours(1)});
  CreateRun();
  Reconcile();
  runner_.Succeed("root.print-text");
  Reconcile();  // print-text-2 started, not stored
  Json run = Stored();
  run["spec"]["cancelRequested"] = true;  // what terminate does
  ASSERT_TRUE(store_->Update(kPipelineRunType, run).ok());
  Reconcile();
  Reconcile();
  Json stored = Stored();
  EXPECT_EQ(stored["status"]["state"], "CANCELED") << stored["status"].dump();
  EXPECT_EQ(runner_.StartedPaths().size(), 2u) << "nothing new started after the terminate";
}

TEST_F(RunControllerTest, ARetryAskedForInTheSpecReRunsOnlyWhatFailed) {
  MakeController({.min_persist_interval = milliseconds(0), .persist_cost_factor = 0});
  CreateRun();
  Reconcile();
  runner_.Succeed("root.print-text");
  Reconcile();
  runner_.Fail("root.print-text-2");
  Reconcile();
  ASSERT_EQ(Stored()["status"]["state"], "FAILED");
  Reconcile();
  EXPECT_EQ(Stored()["status"]["state"], "FAILED") << "a finished run stays as it is";
  Json run = Stored();
  run["spec"]["retries"] = 1;  // what the KFP API's :retry writes; any writer of the spec may
  ASSERT_TRUE(store_->Update(kPipelineRunType, run).ok());
  Reconcile();
  Json stored = Stored();
  EXPECT_EQ(stored["status"]["state"], "RUNNING") << stored["status"].dump();
  EXPECT_EQ(stored["status"]["retries"], 1);
  EXPECT_EQ(StoredTaskState("root.print-text"), kSucceeded) << "kept from the first attempt";
  runner_.Succeed("root.print-text-2");
  Reconcile();
  runner_.Succeed("root.print-text-3");
  Reconcile();
  EXPECT_EQ(Stored()["status"]["state"], "SUCCEEDED");
  EXPECT_EQ(runner_.StartedPaths().size(), 4u) << "print-text ran once, print-text-2 twice";
}

TEST_F(RunControllerTest, ARunThatIsGoneIsForgotten) {
  MakeController({});
  CreateRun();
  Reconcile();
  ASSERT_TRUE(store_->Delete(kPipelineRunType, "default", "r1").ok());
  auto result = controller_->Reconcile("default", "r1");
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_FALSE(result->has_value());
}

// A loop of `n` iterations, each one container task.
Json LoopIr(int n) {
  Json items = Json::array();
  for (int i = 0; i < n; ++i) items.push_back(i);
  return {
      {"pipelineInfo", {{"name", "wide"}}},
      {"schemaVersion", "2.1.0"},
      {"root",
       {{"dag",
         {{"tasks",
           {{"loop",
             {{"taskInfo", {{"name", "loop"}}},
              {"componentRef", {{"name", "comp-loop"}}},
              {"parameterIterator",
               {{"itemInput", "item"}, {"items", {{"raw", items.dump()}}}}}}}}}}}}},
      {"components",
       {{"comp-loop",
         {{"inputDefinitions", {{"parameters", {{"item", {{"parameterType", "NUMBER_INTEGER"}}}}}}},
          {"dag",
           {{"tasks",
             {{"work",
               {{"taskInfo", {{"name", "work"}}},
                {"componentRef", {{"name", "comp-work"}}},
                {"inputs",
                 {{"parameters", {{"x", {{"componentInputParameter", "item"}}}}}}}}}}}}}}},
        {"comp-work",
         {{"executorLabel", "exec-work"},
          {"inputDefinitions",
           {{"parameters", {{"x", {{"parameterType", "NUMBER_INTEGER"}}}}}}}}}}},
      {"deploymentSpec",
       {{"executors",
         {{"exec-work", {{"container", {{"image", "alpine"}, {"command", {"sleep", "600"}}}}}}}}}}};
}

TEST(RunControllerScaleTest, TerminateStopsARunOfAThousandTasksInOneReconcile) {
  testing::TempDir dir;
  FakeClock clock;
  FakeTaskRunner runner;
  auto store = OpenStore("sqlite://" + dir.path() + "/t.db", clock).value();
  RunController controller(*store, runner, clock,
                           {.artifacts_root = dir.path() + "/artifacts",
                            .min_persist_interval = milliseconds(0),
                            .persist_cost_factor = 0});
  constexpr int kTasks = 1000;
  Json run = MakePipelineRun("default", "wide", LoopIr(kTasks), Json::object(), {}, false);
  ASSERT_TRUE(ValidatePipelineRun(run, true).ok()) << ValidatePipelineRun(run, true).ToString();
  ASSERT_TRUE(store->Create(kPipelineRunType, run).ok());
  for (int i = 0; i < 20 && runner.started.size() < kTasks; ++i) {
    ASSERT_TRUE(controller.Reconcile("default", "wide").ok());
  }
  ASSERT_EQ(runner.started.size(), static_cast<size_t>(kTasks));

  Json stored = store->Get(kPipelineRunType, "default", "wide").value();
  stored["spec"]["cancelRequested"] = true;  // what :terminate writes
  ASSERT_TRUE(store->Update(kPipelineRunType, stored).ok());
  ASSERT_TRUE(controller.Reconcile("default", "wide").ok());
  EXPECT_EQ(runner.cancelled.size(), static_cast<size_t>(kTasks)) << "every task told to stop";
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(controller.Reconcile("default", "wide").ok());
  stored = store->Get(kPipelineRunType, "default", "wide").value();
  EXPECT_EQ(stored["status"]["state"], "CANCELED");
  EXPECT_EQ(runner.started.size(), static_cast<size_t>(kTasks)) << "nothing started after it";
}

}  // namespace
}  // namespace skiff::pipelines
