#include "pipelines/engine.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "pipelines/engine_testing.h"

namespace skiff::pipelines {
namespace {

using ::testing::ElementsAre;
using ::testing::UnorderedElementsAre;

// Runs the corpus's IR files; skipped where the corpus is absent.
class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override { SKIFF_REQUIRE_CORPUS(); }

  void Load(const std::string& file) {
    Result<PipelineSpec> spec = LoadPipelineSpecFile(CorpusIrPath(file));
    ASSERT_TRUE(spec.ok()) << spec.status().ToString();
    spec_ = std::move(spec).value();
    ctx_.run_id = "run-1";
    ctx_.run_name = "my-run";
    ctx_.pipeline_root = "file:///tmp/root";
  }

  // One Reconcile; true when the run is done.
  bool Step() {
    Result<bool> done = engine_.Reconcile(spec_, ctx_, status_, runner_, clock_);
    EXPECT_TRUE(done.ok()) << done.status().ToString();
    return done.ok() && *done;
  }

  std::string State(const std::string& path) const {
    if (!status_["tasks"].contains(path)) return "(absent)";
    return status_["tasks"][path].value("state", "");
  }
  std::string RunState() const { return status_.value("state", ""); }
  const Json& Task(const std::string& path) const { return status_["tasks"][path]; }

  PipelineSpec spec_;
  RunContext ctx_;
  Json status_;
  FakeTaskRunner runner_;
  FakeClock clock_;
  Engine engine_;
};

TEST_F(EngineTest, RunsASingleTaskWithPipelineParametersAndRecordsItsOutputs) {
  Load("add_numbers.yaml");
  ctx_.parameters = {{"a", 1}, {"b", 2}};
  EXPECT_FALSE(Step());
  ASSERT_THAT(runner_.StartedPaths(), ElementsAre("root.add-numbers"));
  const TaskInvocation& inv = runner_.started[0];
  EXPECT_EQ(inv.parameter_inputs.at("a"), 1);
  EXPECT_EQ(inv.parameter_inputs.at("b"), 2);
  EXPECT_EQ(inv.workload_id, "run-1.root.add-numbers.0");
  EXPECT_EQ(inv.task_name, "add-numbers");
  EXPECT_EQ(inv.pipeline_root, "file:///tmp/root");
  EXPECT_TRUE(inv.executor_spec.contains("container"));
  EXPECT_EQ(State("root.add-numbers"), kRunning);
  EXPECT_FALSE(Step());  // still running: nothing new happens
  EXPECT_EQ(runner_.started.size(), 1u);
  runner_.Succeed("root.add-numbers", {{"Output", 3}});
  EXPECT_TRUE(Step());
  EXPECT_EQ(RunState(), kSucceeded);
  EXPECT_EQ(Task("root.add-numbers")["outputs"]["parameters"]["Output"], 3);
}

TEST_F(EngineTest, MissingRequiredParameterIsAnErrorNamingIt) {
  Load("add_numbers.yaml");
  ctx_.parameters = {{"a", 1}};
  Result<bool> r = engine_.Reconcile(spec_, ctx_, status_, runner_, clock_);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("'b'"), std::string::npos) << r.status().message();
  EXPECT_TRUE(runner_.started.empty());
}

TEST_F(EngineTest, OverrideOfTheWrongTypeIsRefused) {
  Load("add_numbers.yaml");
  ctx_.parameters = {{"a", "one"}, {"b", 2}};
  Result<bool> r = engine_.Reconcile(spec_, ctx_, status_, runner_, clock_);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("NUMBER_INTEGER"), std::string::npos);
  ctx_.parameters = {{"a", 1}, {"b", 2}, {"c", 3}};
  r = engine_.Reconcile(spec_, ctx_, status_, runner_, clock_);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("'c'"), std::string::npos);
}

TEST_F(EngineTest, ParameterDefaultsApplyAndWholeDoublesAreIntegers) {
  Load("pipeline_with_retry.yaml");
  ctx_.parameters = {{"b", 2}};
  Step();
  const TaskInvocation* inv = runner_.Find("root.add");
  ASSERT_NE(inv, nullptr);
  EXPECT_EQ(inv->parameter_inputs.at("a"), 1.0);
  EXPECT_EQ(inv->parameter_inputs.at("b"), 2);
}

TEST(ResolvePipelineParametersTest, AnIntegerParameterOutsideInt64IsRefusedNotCast) {
  Result<PipelineSpec> spec = ParsePipelineSpec(R"(
pipelineInfo: {name: p}
schemaVersion: 2.1.0
root:
  inputDefinitions: {parameters: {n: {parameterType: NUMBER_INTEGER}}}
  dag: {tasks: {a: {componentRef: {name: comp-a}, taskInfo: {name: a}}}}
components:
  comp-a: {executorLabel: exec-a}
deploymentSpec:
  executors:
    exec-a: {container: {image: python:3.11, command: [echo]}}
)",
                                                "p.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  for (const Json& bad : {Json(1e300), Json(-1e300), Json(2.5), Json(0x1p63),
                          Json(uint64_t{9223372036854775808ull})}) {
    auto r = ResolvePipelineParameters(*spec, {{"n", bad}});
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find("parameter 'n': expected NUMBER_INTEGER"),
              std::string::npos)
        << r.status().message();
  }
  auto whole = ResolvePipelineParameters(*spec, {{"n", 4.0}});
  ASSERT_TRUE(whole.ok()) << whole.status().ToString();
  EXPECT_TRUE(whole->at("n").is_number_integer());
  EXPECT_EQ(whole->at("n"), 4);
  auto lowest = ResolvePipelineParameters(*spec, {{"n", -0x1p63}});
  ASSERT_TRUE(lowest.ok()) << lowest.status().ToString();
  EXPECT_EQ(lowest->at("n").get<int64_t>(), INT64_MIN);
}

TEST_F(EngineTest, ConditionTrueRunsTheHeadsBranchAndSkipsTails) {
  Load("flip_coin.yaml");
  Step();
  ASSERT_THAT(runner_.StartedPaths(), ElementsAre("root.flip-coin"));
  runner_.Succeed("root.flip-coin", {{"Output", "heads"}});
  Step();
  EXPECT_EQ(State("root.condition-4"), kSkipped);
  EXPECT_EQ(State("root.condition-1"), kRunning);
  ASSERT_THAT(runner_.StartedPaths(), ElementsAre("root.flip-coin", "root.condition-1.random-num"));
  EXPECT_EQ(runner_.Find("root.condition-1.random-num")->parameter_inputs.at("high"), 9.0);
  runner_.Succeed("root.condition-1.random-num", {{"Output", 7}});
  Step();
  EXPECT_EQ(State("root.condition-1.condition-3"), kSkipped);
  const TaskInvocation* msg = runner_.Find("root.condition-1.condition-2.print-msg");
  ASSERT_NE(msg, nullptr);
  EXPECT_EQ(msg->parameter_inputs.at("msg"), "heads and 7 > 5!");
  runner_.Succeed("root.condition-1.condition-2.print-msg");
  EXPECT_TRUE(Step());
  EXPECT_EQ(RunState(), kSucceeded);
  EXPECT_EQ(State("root.condition-4.random-num-2"), "(absent)");
}

TEST_F(EngineTest, ConditionOnTailsSkipsHeads) {
  Load("flip_coin.yaml");
  Step();
  runner_.Succeed("root.flip-coin", {{"Output", "tails"}});
  Step();
  EXPECT_EQ(State("root.condition-1"), kSkipped);
  runner_.Succeed("root.condition-4.random-num-2", {{"Output", 12}});
  Step();
  EXPECT_EQ(State("root.condition-4.condition-5"), kSkipped);
  runner_.Succeed("root.condition-4.condition-6.print-msg-4");
  EXPECT_TRUE(Step());
  EXPECT_EQ(RunState(), kSucceeded);
}

TEST_F(EngineTest, NestedPipelineMapsInputsAndRunsInOrder) {
  Load("pipeline_in_pipeline.yaml");
  Step();
  EXPECT_THAT(runner_.StartedPaths(),
              UnorderedElementsAre("root.print-op1", "root.inner-pipeline.print-op1"));
  EXPECT_EQ(runner_.Find("root.inner-pipeline.print-op1")->parameter_inputs.at("msg"), "world");
  runner_.Succeed("root.inner-pipeline.print-op1", {{"Output", "world!"}});
  Step();
  const TaskInvocation* op2 = runner_.Find("root.inner-pipeline.print-op2");
  ASSERT_NE(op2, nullptr);
  EXPECT_EQ(op2->parameter_inputs.at("msg"), "world!");
  runner_.Succeed("root.inner-pipeline.print-op2");
  runner_.Succeed("root.print-op1", {{"Output", "Hello"}});
  EXPECT_TRUE(Step());
  EXPECT_EQ(RunState(), kSucceeded);
  EXPECT_EQ(State("root.inner-pipeline"), kSucceeded);
}

TEST_F(EngineTest, OneOfTakesTheBranchThatRan) {
  Load("if_elif_else_with_oneof_parameters.yaml");
  Step();
  runner_.Succeed("root.roll-die-pipeline.flip-three-sided-die", {{"Output", "tails"}});
  Step();
  const std::string branches = "root.roll-die-pipeline.condition-branches-1";
  EXPECT_EQ(State(branches + ".condition-2"), kSkipped);
  EXPECT_EQ(State(branches + ".condition-4"), kSkipped);
  runner_.Succeed(branches + ".condition-3.print-and-return-2", {{"Output", "Got tails!"}});
  Step();
  const TaskInvocation* last = runner_.Find("root.print-and-return");
  ASSERT_NE(last, nullptr);
  EXPECT_EQ(last->parameter_inputs.at("text"), "Got tails!");
  runner_.Succeed("root.print-and-return", {{"Output", "Got tails!"}});
  EXPECT_TRUE(Step());
  EXPECT_EQ(RunState(), kSucceeded);
}

TEST_F(EngineTest, ParallelForOverAPipelineParameterRespectsParallelismLimit) {
  Load("pipeline_with_parallelfor_parallelism.yaml");
  ctx_.parameters = {{"loop_parameter", Json::array({"a", "b", "c"})}};
  Step();
  // for-loop-1 has parallelismLimit 2: iterations 0 and 1 only.
  EXPECT_EQ(State("root.for-loop-1.iteration-0"), kRunning);
  EXPECT_EQ(State("root.for-loop-1.iteration-1"), kRunning);
  EXPECT_EQ(State("root.for-loop-1.iteration-2"), "(absent)");
  // for-loop-8 (raw list of dicts, limit 1): one iteration at a time.
  EXPECT_EQ(State("root.for-loop-8.iteration-0"), kRunning);
  EXPECT_EQ(State("root.for-loop-8.iteration-1"), "(absent)");
  const TaskInvocation* x = runner_.Find("root.for-loop-8.iteration-0.print-int");
  ASSERT_NE(x, nullptr);
  EXPECT_EQ(x->parameter_inputs.at("x"), 1);  // parseJson(string_value)["a"] of {"a":1,"b":2}
  EXPECT_EQ(runner_.Find("root.for-loop-1.iteration-1.print-text")->parameter_inputs.at("msg"),
            "b");
  runner_.Succeed("root.for-loop-1.iteration-0.print-text");
  for (int i = 0; i < 3; ++i) {
    runner_.Succeed("root.for-loop-1.iteration-0.for-loop-2.iteration-" + std::to_string(i) +
                    ".print-text-2");
  }
  Step();
  EXPECT_EQ(State("root.for-loop-1.iteration-0"), kSucceeded);
  EXPECT_EQ(State("root.for-loop-1.iteration-2"), kRunning);
  runner_.Succeed("root.for-loop-8.iteration-0.print-int");
  Step();
  EXPECT_EQ(State("root.for-loop-8.iteration-1"), kRunning);
  EXPECT_EQ(State("root.for-loop-8.iteration-2"), "(absent)");
}

TEST_F(EngineTest, ALoopOfMoreItemsThanTheLimitFailsNamingIt) {
  Load("pipeline_with_parallelfor_parallelism.yaml");
  Json many = Json::array();
  for (int i = 0; i < 10'001; ++i) many.push_back(i);
  ctx_.parameters = {{"loop_parameter", many}};
  Step();
  EXPECT_EQ(State("root.for-loop-1"), kFailed);
  EXPECT_EQ(State("root.for-loop-1.iteration-0"), "(absent)") << "no iteration started";
  EXPECT_NE(status_["tasks"]["root.for-loop-1"].value("message", "").find("at most 10000"),
            std::string::npos)
      << status_["tasks"]["root.for-loop-1"].dump().substr(0, 300);
}

TEST_F(EngineTest, ParallelForOverAnUpstreamListOfDicts) {
  Load("pipeline_with_parallelfor_parallelism.yaml");
  ctx_.parameters = {{"loop_parameter", Json::array()}};
  Step();
  EXPECT_EQ(State("root.for-loop-1"), kSucceeded);  // an empty list runs no iteration
  runner_.Succeed("root.list-dict-maker-1", {{"Output", Json::parse(R"([{"a":1},{"a":2}])")}});
  Step();
  EXPECT_EQ(runner_.Find("root.for-loop-10.iteration-1.print-int-3")->parameter_inputs.at("x"), 2);
}

TEST_F(EngineTest, LoopItemFieldsAreSelectedFromDictItems) {
  Load("pipeline_with_loops.yaml");
  Step();
  runner_.Succeed("root.args-generator-op",
                  {{"Output", Json::parse(R"([{"A_a":"1","B_b":"2"},{"A_a":"10","B_b":"20"}])")}});
  Step();
  const TaskInvocation* t = runner_.Find("root.for-loop-2.iteration-1.print-text-2");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->parameter_inputs.at("msg"), "10");
  EXPECT_EQ(runner_.Find("root.for-loop-4.iteration-0.print-text-5")->parameter_inputs.at("msg"),
            "2");
  EXPECT_EQ(runner_.Find("root.for-loop-1.iteration-1.print-text")->parameter_inputs.at("msg"),
            "b");
}

TEST_F(EngineTest, CollectedParametersBecomeAList) {
  Load("collected_parameters.yaml");
  Step();
  runner_.Succeed("root.collecting-parameters.split-ids", {{"Output", Json::array({"s1", "s2"})}});
  Step();
  runner_.Succeed("root.collecting-parameters.for-loop-1.iteration-0.prepend-id",
                  {{"Output", "model_id_s1"}});
  runner_.Succeed("root.collecting-parameters.for-loop-1.iteration-1.prepend-id",
                  {{"Output", "model_id_s2"}});
  Step();
  runner_.Succeed("root.collecting-parameters.for-loop-1.iteration-0.consume-single-id");
  runner_.Succeed("root.collecting-parameters.for-loop-1.iteration-1.consume-single-id");
  Step();
  const TaskInvocation* inner = runner_.Find("root.collecting-parameters.consume-ids");
  ASSERT_NE(inner, nullptr);
  EXPECT_EQ(inner->parameter_inputs.at("ids"), Json::array({"model_id_s1", "model_id_s2"}));
  runner_.Succeed("root.collecting-parameters.consume-ids");
  Step();
  const TaskInvocation* outer = runner_.Find("root.consume-ids");
  ASSERT_NE(outer, nullptr);
  EXPECT_EQ(outer->parameter_inputs.at("ids"), Json::array({"model_id_s1", "model_id_s2"}));
  runner_.Succeed("root.consume-ids");
  EXPECT_TRUE(Step());
  EXPECT_EQ(RunState(), kSucceeded);
}

TEST_F(EngineTest, CollectedArtifactsAreConcatenatedAcrossIterations) {
  Load("collected_artifacts.yaml");
  Step();
  const std::string c = "root.collecting-artifacts";
  runner_.Succeed(c + ".split-ids", {{"Output", Json::array({"x"})}});
  runner_.Succeed(c + ".split-chars", {{"Output", Json::array({"a", "b"})}});
  Step();
  runner_.Succeed(c + ".for-loop-1.iteration-0.create-file", {},
                  {{"file", {Artifact{"file", "file:///f", "system.Artifact", "0.0.1"}}}});
  for (int i = 0; i < 2; ++i) {
    std::string it = c + ".for-loop-1.iteration-0.for-loop-2.iteration-" + std::to_string(i);
    runner_.Succeed(
        it + ".single-node-dag.create-dataset", {},
        {{"data", {Artifact{"data", "file:///d" + std::to_string(i), "system.Dataset", "0.0.1"}}}});
  }
  Step();
  for (int i = 0; i < 2; ++i) {
    std::string it = c + ".for-loop-1.iteration-0.for-loop-2.iteration-" + std::to_string(i);
    const TaskInvocation* reader = runner_.Find(it + ".read-single-dataset-generate-model");
    ASSERT_NE(reader, nullptr);
    EXPECT_EQ(reader->artifact_inputs.at("data")[0].uri, "file:///d" + std::to_string(i));
    runner_.Succeed(
        it + ".read-single-dataset-generate-model", {},
        {{"results",
          {Artifact{"results", "file:///m" + std::to_string(i), "system.Model", "0.0.1"}}}});
  }
  Step();
  const TaskInvocation* models = runner_.Find(c + ".for-loop-1.iteration-0.read-models");
  ASSERT_NE(models, nullptr);
  ASSERT_EQ(models->artifact_inputs.at("models").size(), 2u);
  EXPECT_EQ(models->artifact_inputs.at("models")[1].uri, "file:///m1");
  EXPECT_EQ(
      runner_.Find(c + ".for-loop-1.iteration-0.read-datasets")->artifact_inputs.at("data").size(),
      2u);
}

TEST_F(EngineTest, ParallelForOverArtifacts) {
  Load("pipeline_with_parallelfor_list_artifacts_GH-12033.yaml");
  Step();
  // make-artifacts is a nested pipeline whose loop produces one artifact per text.
  std::vector<TaskInvocation> makers;
  for (const TaskInvocation& inv : runner_.started) {
    if (inv.task_name == "make-artifact") makers.push_back(inv);
  }
  ASSERT_GE(makers.size(), 2u);
  for (size_t i = 0; i < makers.size(); ++i) {
    std::string uri = "file:///a" + std::to_string(i);
    runner_.Succeed(makers[i].task_path, {},
                    {{"Output", {Artifact{"Output", uri, "system.Artifact", "0.0.1"}}}});
  }
  Step();
  EXPECT_EQ(State("root.make-artifacts"), kSucceeded);
  const TaskInvocation* t = runner_.Find("root.for-loop-1.iteration-1.print-artifact-name");
  ASSERT_NE(t, nullptr);
  ASSERT_EQ(t->artifact_inputs.at("artifact").size(), 1u);
  EXPECT_EQ(t->artifact_inputs.at("artifact")[0].uri, "file:///a1");
}

TEST_F(EngineTest, ExitHandlerRunsAfterFailureWithFinalStatus) {
  Load("pipeline_with_task_final_status.yaml");
  Step();
  EXPECT_THAT(runner_.StartedPaths(),
              UnorderedElementsAre("root.exit-handler-1.fail-op", "root.exit-handler-1.print-op"));
  runner_.Fail("root.exit-handler-1.fail-op", "exit code 1");
  Step();
  EXPECT_EQ(runner_.Find("root.exit-op"), nullptr);  // print-op is still running
  runner_.Succeed("root.exit-handler-1.print-op");
  Step();
  EXPECT_EQ(State("root.exit-handler-1"), kFailed);
  const TaskInvocation* exit_op = runner_.Find("root.exit-op");
  ASSERT_NE(exit_op, nullptr);
  const Json& final_status = exit_op->parameter_inputs.at("status");
  EXPECT_EQ(final_status["state"], "FAILED");
  EXPECT_EQ(final_status["pipelineTaskName"], "my-pipeline");  // its taskInfo.name
  EXPECT_EQ(final_status["pipelineJobResourceName"], "my-run");
  EXPECT_EQ(final_status["error"]["message"], "task 'fail-op' failed");
  EXPECT_EQ(exit_op->parameter_inputs.at("user_input"), "Hello World!");
  runner_.Succeed("root.exit-op");
  EXPECT_TRUE(Step());
  EXPECT_EQ(RunState(), kFailed);
}

TEST_F(EngineTest, ExitHandlerSeesSuccess) {
  Load("pipeline_with_task_final_status.yaml");
  Step();
  runner_.Succeed("root.exit-handler-1.fail-op");
  runner_.Succeed("root.exit-handler-1.print-op");
  Step();
  ASSERT_NE(runner_.Find("root.exit-op"), nullptr);
  EXPECT_EQ(runner_.Find("root.exit-op")->parameter_inputs.at("status")["state"], "COMPLETE");
  runner_.Succeed("root.exit-op");
  EXPECT_TRUE(Step());
  EXPECT_EQ(RunState(), kSucceeded);
}

TEST_F(EngineTest, IgnoreUpstreamFailureRunsTheDownstreamTask) {
  Load("pipeline_with_task_using_ignore_upstream_failure.yaml");
  Step();
  runner_.Fail("root.fail-op");
  Step();
  const TaskInvocation* print = runner_.Find("root.print-op");
  ASSERT_NE(print, nullptr);
  EXPECT_EQ(print->parameter_inputs.count("message"), 0u);  // the upstream output is absent
  runner_.Succeed("root.print-op");
  EXPECT_TRUE(Step());
  EXPECT_EQ(RunState(), kFailed);
  EXPECT_EQ(State("root.print-op"), kSucceeded);
}

TEST_F(EngineTest, FailureSkipsDependantsAndFailsTheRun) {
  Load("pipeline_in_pipeline.yaml");
  Step();
  runner_.Fail("root.inner-pipeline.print-op1");
  Step();
  EXPECT_EQ(State("root.inner-pipeline.print-op2"), kSkipped);
  EXPECT_EQ(State("root.inner-pipeline"), kFailed);
  EXPECT_EQ(RunState(), kRunning);  // root.print-op1 still runs to completion
  runner_.Succeed("root.print-op1");
  EXPECT_TRUE(Step());
  EXPECT_EQ(RunState(), kFailed);
}

TEST_F(EngineTest, RetriesWithBackoffOnTheClock) {
  Load("pipeline_with_retry.yaml");
  spec_.root.dag->tasks["add"].retry->backoff_duration = std::chrono::seconds(10);
  spec_.root.dag->tasks["add"].retry->backoff_factor = 2.0;
  spec_.root.dag->tasks["add"].retry->backoff_max_duration = std::chrono::seconds(15);
  Step();
  runner_.Fail("root.add", "boom");
  Step();
  EXPECT_EQ(runner_.started.size(), 1u);
  clock_.Advance(std::chrono::seconds(9));
  Step();
  EXPECT_EQ(runner_.started.size(), 1u);
  clock_.Advance(std::chrono::seconds(1));
  Step();
  ASSERT_EQ(runner_.started.size(), 2u);
  EXPECT_EQ(runner_.started[1].attempt, 1);
  EXPECT_EQ(runner_.started[1].workload_id, "run-1.root.add.1");
  runner_.Fail("root.add", "boom");
  Step();
  clock_.Advance(std::chrono::seconds(14));  // 20s backoff capped at 15s
  Step();
  EXPECT_EQ(runner_.started.size(), 2u);
  clock_.Advance(std::chrono::seconds(1));
  Step();
  ASSERT_EQ(runner_.started.size(), 3u);
  runner_.Succeed("root.add", {{"Output", 8.0}});
  EXPECT_TRUE(Step());
  EXPECT_EQ(RunState(), kSucceeded);
  EXPECT_EQ(Task("root.add")["attempts"].size(), 3u);
  EXPECT_EQ(Task("root.add")["attempts"][0]["state"], kFailed);
}

TEST_F(EngineTest, RetriesRunOutAndTheTaskFails) {
  Load("pipeline_with_retry.yaml");  // maxRetryCount 3, backoff 0s
  Step();
  for (int i = 0; i < 4; ++i) {
    runner_.Fail("root.add", "boom");
    Step();
  }
  EXPECT_EQ(runner_.started.size(), 4u);
  EXPECT_EQ(RunState(), kFailed);
  EXPECT_EQ(Task("root.add")["attempts"].size(), 4u);
}

TEST_F(EngineTest, ImporterResolvesWithoutAWorkload) {
  Load("pipeline_with_importer.yaml");
  Step();
  EXPECT_EQ(State("root.importer"), kSucceeded);
  const TaskInvocation* train = runner_.Find("root.train");
  ASSERT_NE(train, nullptr);
  const Artifact& ds = train->artifact_inputs.at("dataset")[0];
  EXPECT_EQ(ds.uri, "gs://ml-pipeline-playground/shakespeare1.txt");
  EXPECT_EQ(ds.schema_title, "system.Dataset");
  EXPECT_EQ(ds.metadata["key"], "value");
  runner_.Succeed("root.train", {{"scalar", "123"}}, {{"model", {Artifact{"model", "file:///m"}}}});
  Step();
  // The inner importer takes its URI from a pipeline parameter.
  const TaskInvocation* train2 = runner_.Find("root.condition-1.train-2");
  ASSERT_NE(train2, nullptr);
  EXPECT_EQ(train2->artifact_inputs.at("dataset")[0].uri,
            "gs://ml-pipeline-playground/shakespeare2.txt");
  EXPECT_TRUE(Task("root.condition-1.importer-2")["reimport"].get<bool>());
}

TEST_F(EngineTest, RuntimeConstantsAreResolvedLikeTheDriver) {
  Load("pipeline_with_placeholders.yaml");
  Step();
  ASSERT_FALSE(runner_.started.empty());
  std::string all;
  for (const TaskInvocation& inv : runner_.started) {
    for (const auto& [k, v] : inv.parameter_inputs) all += v.dump() + "\n";
  }
  EXPECT_EQ(all.find("{{$."), std::string::npos) << all;
  EXPECT_NE(all.find("my-run"), std::string::npos) << all;
  EXPECT_NE(all.find("run-1"), std::string::npos) << all;
  EXPECT_NE(all.find("print-all-placeholders"), std::string::npos) << all;
}

TEST_F(EngineTest, ResumesFromSerialisedStatusWithoutRestartingFinishedTasks) {
  Load("pipeline_in_pipeline.yaml");
  Step();
  runner_.Succeed("root.inner-pipeline.print-op1", {{"Output", "x"}});
  Step();
  // Crash: the status survives as text; a new engine and a runner that still knows the workloads.
  std::string stored = status_.dump();
  status_ = Json::parse(stored);
  Engine fresh;
  size_t before = runner_.started.size();
  Result<bool> r = fresh.Reconcile(spec_, ctx_, status_, runner_, clock_);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(runner_.started.size(), before);  // nothing started again
  runner_.Succeed("root.inner-pipeline.print-op2");
  runner_.Succeed("root.print-op1");
  r = fresh.Reconcile(spec_, ctx_, status_, runner_, clock_);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(*r);
  EXPECT_EQ(RunState(), kSucceeded);
  EXPECT_EQ(runner_.started.size(), before);
}

TEST_F(EngineTest, CancelStopsRunningTasksAndMarksTheRest) {
  Load("pipeline_in_pipeline.yaml");
  Step();
  Engine::RequestCancel(status_);
  EXPECT_TRUE(Step());
  EXPECT_EQ(RunState(), kCanceled);
  EXPECT_THAT(runner_.cancelled,
              UnorderedElementsAre("root.print-op1", "root.inner-pipeline.print-op1"));
  EXPECT_EQ(State("root.inner-pipeline.print-op2"), kCanceled);
}

TEST_F(EngineTest, AStartErrorFailsTheTask) {
  Load("add_numbers.yaml");
  ctx_.parameters = {{"a", 1}, {"b", 2}};
  runner_.FailStartOf("root.add-numbers");
  EXPECT_TRUE(Step());
  EXPECT_EQ(RunState(), kFailed);
  EXPECT_NE(Task("root.add-numbers")["message"].get<std::string>().find("backend down"),
            std::string::npos);
}

TEST_F(EngineTest, PlatformSettingsNamedByADagInputAreResolvedForTheLauncher) {
  Load("pvc-mount.yaml");
  ctx_.parameters = {{"pvc_name", "my-claim"}};
  EXPECT_FALSE(Step());
  const TaskInvocation* producer = runner_.Find("root.producer");
  ASSERT_NE(producer, nullptr);
  const Json& mount = producer->platform_config["pvcMount"][0];
  EXPECT_EQ(mount["pvcNameParameter"]["resolved"], "my-claim") << mount.dump();
  EXPECT_EQ(mount["mountPath"], "/data");
}

TEST_F(EngineTest, ATaskWaitsForTheTaskWhoseOutputItsOlderStylePvcMountNames) {
  // kfp-kubernetes before 1.1: the reference sits on the pvcMount entry, and dependentTasks does
  // not list the producer.
  Load("apiserver-server_pipeline_with_volume.yaml");
  Step();
  ASSERT_NE(runner_.Find("root.createpvc"), nullptr);
  EXPECT_EQ(runner_.Find("root.comp"), nullptr) << "started before the claim it mounts exists";
  runner_.Succeed("root.createpvc", {{"name", "claim-1"}});
  Step();
  const TaskInvocation* comp = runner_.Find("root.comp");
  ASSERT_NE(comp, nullptr);
  EXPECT_EQ(comp->platform_config["pvcMount"][0]["resolved"], "claim-1")
      << comp->platform_config.dump();
}

TEST_F(EngineTest, ASettingNamedByAnOptionalInputWithoutValueResolvesToNull) {
  Load("missing_kubernetes_optional_inputs.yaml");
  Step();
  const TaskInvocation* task = runner_.Find("root.log-message");
  ASSERT_NE(task, nullptr);
  const Json& env = task->platform_config["secretAsEnv"][0]["secretNameParameter"];
  ASSERT_TRUE(env.contains("resolved")) << env.dump();
  EXPECT_TRUE(env["resolved"].is_null()) << env.dump();
}

TEST_F(EngineTest, TaskTimeoutFromPlatformConfigFailsTheTask) {
  Load("timeout.yaml");
  Step();
  ASSERT_FALSE(runner_.started.empty());
  std::string path = runner_.started[0].task_path;
  clock_.Advance(std::chrono::seconds(19));
  Step();
  EXPECT_EQ(State(path), kRunning);
  clock_.Advance(std::chrono::seconds(1));
  EXPECT_TRUE(Step());
  EXPECT_EQ(State(path), kFailed);
  EXPECT_THAT(runner_.cancelled, ElementsAre(path));
}

}  // namespace
}  // namespace skiff::pipelines
