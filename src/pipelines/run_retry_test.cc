#include "pipelines/run_retry.h"

#include <gtest/gtest.h>

#include <cstdint>

namespace skiff::pipelines {
namespace {

TEST(ResetRunForRetryTest, KeepsSucceededTasksAndDropsTheFailedOnes) {
  Json run = {
      {"spec", {{"cancelRequested", false}, {"retries", 1}}},
      {"status",
       {{"state", "FAILED"},
        {"finishedAt", "x"},
        {"engine",
         {{"state", "FAILED"},
          {"failing", true},
          {"tasks",
           {{"root",
             {{"kind", "DAG"}, {"state", "FAILED"}, {"children", {"root.a", "root.b", "root.c"}}}},
            {"root.a", {{"kind", "CONTAINER"}, {"state", "SUCCEEDED"}}},
            {"root.b", {{"kind", "CONTAINER"}, {"state", "FAILED"}}},
            {"root.c", {{"kind", "CONTAINER"}, {"state", "SKIPPED"}}}}}}}}}};
  ASSERT_TRUE(ResetRunForRetry(run).ok());
  const Json& tasks = run["status"]["engine"]["tasks"];
  EXPECT_TRUE(tasks.contains("root.a"));
  EXPECT_FALSE(tasks.contains("root.b"));
  EXPECT_FALSE(tasks.contains("root.c"));
  EXPECT_EQ(tasks["root"]["state"], "RUNNING");
  EXPECT_EQ(tasks["root"]["children"], Json::array({"root.a"}));
  EXPECT_EQ(run["status"]["state"], "PENDING");
  EXPECT_EQ(run["status"]["engine"]["failing"], false);
  EXPECT_EQ(run["status"]["engine"]["generation"], 1) << "re-run tasks need fresh workload ids";
  EXPECT_FALSE(run["status"].contains("finishedAt"));
}

TEST(ResetRunForRetryTest, RefusesARunThatDidNotFail) {
  Json run = {{"spec", Json::object()}, {"status", {{"state", "RUNNING"}}}};
  Status s = ResetRunForRetry(run);
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
}

TEST(ResetRunForRetryTest, RecordsTheRetriesAskedForInTheSpec) {
  Json run = {{"spec", {{"retries", 3}}}, {"status", {{"state", "CANCELED"}, {"retries", 1}}}};
  EXPECT_TRUE(RetryRequested(run));
  ASSERT_TRUE(ResetRunForRetry(run).ok());
  EXPECT_EQ(run["status"]["retries"], 3);
  EXPECT_FALSE(RetryRequested(run));
  EXPECT_FALSE(RetryRequested(Json{{"spec", Json::object()}})) << "nothing asked";
}

TEST(RequestRetryTest, AsksThroughTheSpecOnceAndStopsAtTheLimit) {
  Json run = {{"spec", Json::object()}, {"status", {{"state", "FAILED"}, {"retries", 2}}}};
  ASSERT_TRUE(RequestRetry(run).ok());
  EXPECT_EQ(run["spec"]["retries"], 3);
  EXPECT_EQ(run["spec"]["cancelRequested"], false);
  ASSERT_TRUE(RequestRetry(run).ok());
  EXPECT_EQ(run["spec"]["retries"], 3) << "asked already: nothing more";
  Json running = {{"spec", Json::object()}, {"status", {{"state", "RUNNING"}}}};
  EXPECT_EQ(RequestRetry(running).code(), StatusCode::kFailedPrecondition);
  Json worn = {{"spec", Json::object()},
               {"status", {{"state", "FAILED"}, {"retries", kMaxRunRetries}}}};
  EXPECT_EQ(RequestRetry(worn).code(), StatusCode::kFailedPrecondition);
  // A count past the limit, stored around the schema, stays at the limit.
  Json huge = {{"spec", {{"retries", INT64_MAX}}},
               {"status", {{"state", "FAILED"}, {"retries", INT64_MAX}}}};
  huge["spec"]["retries"] = INT64_MAX;
  EXPECT_FALSE(RetryRequested(huge));
  huge["status"]["retries"] = INT64_MAX - 1;
  ASSERT_TRUE(ResetRunForRetry(huge).ok());
  EXPECT_EQ(huge["status"]["retries"], kMaxRunRetries);
}

}  // namespace
}  // namespace skiff::pipelines
