#include "pipelines/cache.h"

#include <gtest/gtest.h>

#include "core/clock.h"
#include "pipelines/launcher_testing.h"
#include "store/store.h"

namespace skiff::pipelines {
namespace {

using testing::InvocationFor;
using testing::LoadTestIr;
using testing::TempDir;

class CacheFingerprintTest : public ::testing::Test {
 protected:
  TaskInvocation Base() {
    TaskInvocation inv = InvocationFor(LoadTestIr("add_numbers.yaml"), "comp-add-numbers",
                                       {{"a", 1}, {"b", 2}}, "/artifacts");
    inv.artifact_inputs["d"] = {
        {.name = "d", .uri = "file:///x/d", .schema_title = "system.Dataset"}};
    return inv;
  }
  std::string Key(const TaskInvocation& inv) {
    auto k = CacheFingerprint(inv);
    EXPECT_TRUE(k.ok()) << k.status().ToString();
    return k.ok() ? *k : "";
  }
};

TEST_F(CacheFingerprintTest, IsStableAndIgnoresRunAndTaskIdentity) {
  TaskInvocation a = Base();
  TaskInvocation b = Base();
  b.run_id = "run-2";
  b.run_name = "other";
  b.task_path = "root.loop.iteration-3.add-numbers";
  b.workload_id = "run-2.x.1";
  b.attempt = 1;
  EXPECT_EQ(Key(a), Key(b));
  EXPECT_EQ(Key(a).size(), 64u);
}

TEST_F(CacheFingerprintTest, ChangesWhenAnythingThatDecidesTheOutputsChanges) {
  const std::string base = Key(Base());
  TaskInvocation inv = Base();
  inv.parameter_inputs["a"] = 5;
  EXPECT_NE(Key(inv), base);
  inv = Base();
  inv.artifact_inputs["d"][0].uri = "file:///x/other";
  EXPECT_NE(Key(inv), base);
  inv = Base();
  inv.artifact_inputs["d"][0].metadata["rows"] = 10;
  EXPECT_NE(Key(inv), base);
  inv = Base();
  inv.executor_spec["container"]["image"] = "python:3.12";
  EXPECT_NE(Key(inv), base);
  inv = Base();
  inv.executor_spec["container"]["args"].push_back("--extra");
  EXPECT_NE(Key(inv), base);
  inv = Base();
  inv.pipeline_root = "file:///elsewhere";
  EXPECT_NE(Key(inv), base);
  inv = Base();
  inv.component_spec["outputDefinitions"]["parameters"]["Output"]["parameterType"] = "STRING";
  EXPECT_NE(Key(inv), base);
}

TEST_F(CacheFingerprintTest, AnExplicitDefaultEqualsAnOmittedOne) {
  Json ir = LoadTestIr("container_with_if_placeholder.yaml");
  TaskInvocation omitted = InvocationFor(ir, "comp-container-with-if-placeholder", {}, "/a");
  TaskInvocation given = InvocationFor(ir, "comp-container-with-if-placeholder",
                                       {{"optional_input", "default"}}, "/a");
  EXPECT_EQ(Key(omitted), Key(given));
}

TEST(ComponentAllowsCachingTest, ExitHandlerTasksWithFinalStatusAreNeverCached) {
  EXPECT_TRUE(ComponentAllowsCaching(Json::parse(R"({"inputDefinitions": {"parameters":
      {"a": {"parameterType": "STRING"}}}})")));
  EXPECT_FALSE(ComponentAllowsCaching(Json::parse(R"({"inputDefinitions": {"parameters":
      {"status": {"parameterType": "TASK_FINAL_STATUS"}}}})")));
}

class StoreTaskCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = OpenStore("sqlite://" + dir_.path() + "/skiff.db", clock_);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
    cache_ = std::make_unique<StoreTaskCache>(*store_);
  }
  TempDir dir_;
  FakeClock clock_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<StoreTaskCache> cache_;
};

TEST_F(StoreTaskCacheTest, MissesThenReturnsRecordedOutputsAsCached) {
  auto miss = cache_->Lookup("team-a", "abc");
  ASSERT_TRUE(miss.ok()) << miss.status().ToString();
  EXPECT_FALSE(miss->has_value());

  TaskInvocation inv;
  inv.run_id = "run-1";
  inv.namespace_ = "team-a";
  inv.task_path = "root.train";
  TaskOutcome outcome;
  outcome.state = TaskOutcome::State::kSucceeded;
  outcome.output_parameters["Output"] = 3;
  outcome.output_artifacts["model"] = {{.name = "model",
                                        .uri = "file:///a/model",
                                        .schema_title = "system.Model",
                                        .schema_version = "0.0.1",
                                        .metadata = {{"framework", "xgb"}}}};
  ASSERT_TRUE(cache_->Record(inv, "abc", outcome).ok());

  auto hit = cache_->Lookup("team-a", "abc");
  ASSERT_TRUE(hit.ok());
  ASSERT_TRUE(hit->has_value());
  const TaskOutcome& got = **hit;
  EXPECT_EQ(got.state, TaskOutcome::State::kCached);
  EXPECT_EQ(got.output_parameters.at("Output"), 3);
  ASSERT_EQ(got.output_artifacts.at("model").size(), 1u);
  EXPECT_EQ(got.output_artifacts.at("model")[0].uri, "file:///a/model");
  EXPECT_EQ(got.output_artifacts.at("model")[0].schema_title, "system.Model");
  EXPECT_EQ(got.output_artifacts.at("model")[0].metadata["framework"], "xgb");
  EXPECT_NE(got.message.find("run-1"), std::string::npos);

  auto other_ns = cache_->Lookup("team-b", "abc");
  ASSERT_TRUE(other_ns.ok());
  EXPECT_FALSE(other_ns->has_value());
}

TEST_F(StoreTaskCacheTest, ANewerSuccessOverwritesTheEntry) {
  TaskInvocation inv;
  inv.namespace_ = "team-a";
  TaskOutcome first;
  first.output_parameters["Output"] = 1;
  TaskOutcome second;
  second.output_parameters["Output"] = 2;
  ASSERT_TRUE(cache_->Record(inv, "k", first).ok());
  ASSERT_TRUE(cache_->Record(inv, "k", second).ok());
  auto hit = cache_->Lookup("team-a", "k");
  ASSERT_TRUE(hit.ok() && hit->has_value());
  EXPECT_EQ((*hit)->output_parameters.at("Output"), 2);
}

}  // namespace
}  // namespace skiff::pipelines
