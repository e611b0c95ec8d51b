#include "api/kfp/kfp_api.h"

#include <gtest/gtest.h>

#include "api/http_client.h"
#include "api/kfp/kfp_list.h"
#include "api/kfp/kfp_run_retry.h"
#include "auth/testing/auth_testing.h"
#include "pipelines/recurring_run_controller.h"
#include "pipelines/run_controller.h"

namespace skiff {
namespace {

using pipelines::CronSchedule;
using pipelines::RecurringRunController;
using pipelines::Schedule;

TimePoint At(const std::string& rfc3339) {
  TimePoint t;
  EXPECT_TRUE(ParseRfc3339(rfc3339, &t)) << rfc3339;
  return t;
}

// ---- filter, sort, paging ----

TEST(KfpFilterTest, AcceptsTheClientsIntegerOperationAndCamelCaseValue) {
  auto f = ParseKfpFilter(
      R"({"predicates":[{"operation":1,"key":"display_name","stringValue":"Default"}]})");
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_TRUE(KfpFilterMatches(*f, {{"display_name", "Default"}}));
  EXPECT_FALSE(KfpFilterMatches(*f, {{"display_name", "Other"}}));
}

TEST(KfpFilterTest, SupportsInSubstringAndTimestampComparisons) {
  auto f = ParseKfpFilter(R"({"predicates":[
      {"operation":"IN","key":"state","string_values":{"values":["FAILED","SUCCEEDED"]}},
      {"operation":"IS_SUBSTRING","key":"name","string_value":"nightly"},
      {"operation":"GREATER_THAN","key":"created_at","timestamp_value":"2026-01-01T00:00:00Z"}]})");
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  Json run = {{"state", "FAILED"},
              {"display_name", "the nightly run"},
              {"created_at", "2026-02-01T00:00:00Z"}};
  EXPECT_TRUE(KfpFilterMatches(*f, run));
  run["created_at"] = "2025-12-31T00:00:00Z";
  EXPECT_FALSE(KfpFilterMatches(*f, run));
  run["created_at"] = "2026-02-01T00:00:00Z";
  run["state"] = "RUNNING";
  EXPECT_FALSE(KfpFilterMatches(*f, run));
}

TEST(KfpFilterTest, NotEqualsAndLessThanOnLongValues) {
  auto f = ParseKfpFilter(R"({"predicates":[
      {"operation":"NOT_EQUALS","key":"storage_state","string_value":"ARCHIVED"},
      {"operation":"LESS_THAN","key":"created_at","long_value":"1800000000"}]})");
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_TRUE(KfpFilterMatches(
      *f, {{"storage_state", "AVAILABLE"}, {"created_at", "2026-01-01T00:00:00Z"}}));
  EXPECT_FALSE(KfpFilterMatches(
      *f, {{"storage_state", "ARCHIVED"}, {"created_at", "2026-01-01T00:00:00Z"}}));
}

TEST(KfpFilterTest, MalformedFiltersNameWhatIsWrong) {
  auto bad_json = ParseKfpFilter("{predicates:");
  ASSERT_FALSE(bad_json.ok());
  EXPECT_NE(bad_json.status().message().find("not valid JSON"), std::string::npos);
  auto bad_op =
      ParseKfpFilter(R"({"predicates":[{"operation":"LIKE","key":"a","string_value":"x"}]})");
  ASSERT_FALSE(bad_op.ok());
  EXPECT_NE(bad_op.status().message().find("predicates[0].operation"), std::string::npos);
  auto no_value = ParseKfpFilter(R"({"predicates":[{"operation":"EQUALS","key":"a"}]})");
  ASSERT_FALSE(no_value.ok());
  EXPECT_NE(no_value.status().message().find("exactly one value"), std::string::npos);
  auto no_key = ParseKfpFilter(R"({"predicates":[{"operation":"EQUALS","string_value":"x"}]})");
  ASSERT_FALSE(no_key.ok());
  EXPECT_NE(no_key.status().message().find(".key"), std::string::npos);
}

TEST(KfpListQueryTest, SortsDescendingAndPagesWithTokens) {
  std::vector<Json> runs;
  for (int i = 0; i < 5; ++i) {
    runs.push_back({{"run_id", "r" + std::to_string(i)},
                    {"created_at", "2026-01-0" + std::to_string(i + 1) + "T00:00:00Z"}});
  }
  auto q = KfpListQuery::FromRequest("", "created_at desc", "2", "");
  ASSERT_TRUE(q.ok());
  KfpPage p1 = q->Apply(runs, "created_at");
  ASSERT_EQ(p1.items.size(), 2u);
  EXPECT_EQ(p1.items[0]["run_id"], "r4");
  EXPECT_EQ(p1.items[1]["run_id"], "r3");
  EXPECT_EQ(p1.total_size, 5);
  ASSERT_FALSE(p1.next_page_token.empty());
  auto q2 = KfpListQuery::FromRequest("", "created_at desc", "2", p1.next_page_token);
  ASSERT_TRUE(q2.ok());
  KfpPage p2 = q2->Apply(runs, "created_at");
  EXPECT_EQ(p2.items[0]["run_id"], "r2");
  auto q3 = KfpListQuery::FromRequest("", "created_at desc", "2", p2.next_page_token);
  KfpPage p3 = q3->Apply(runs, "created_at");
  ASSERT_EQ(p3.items.size(), 1u);
  EXPECT_EQ(p3.items[0]["run_id"], "r0");
  EXPECT_TRUE(p3.next_page_token.empty());
}

TEST(KfpListQueryTest, RejectsBadPageTokensSizesAndSortDirections) {
  EXPECT_FALSE(KfpListQuery::FromRequest("", "", "ten", "").ok());
  EXPECT_FALSE(KfpListQuery::FromRequest("", "", "", "garbage!").ok());
  EXPECT_FALSE(KfpListQuery::FromRequest("", "created_at sideways", "", "").ok());
}

// ---- cron and periodic schedules ----

TEST(CronScheduleTest, SixFieldsWithSecondsFireOnTheMatchingSecond) {
  auto c = CronSchedule::Parse("*/10 * * * * *");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(FormatRfc3339(*c->Next(At("2026-03-01T10:00:03Z"))), "2026-03-01T10:00:10Z");
  EXPECT_EQ(FormatRfc3339(*c->Next(At("2026-03-01T10:00:10Z"))), "2026-03-01T10:00:20Z");
}

TEST(CronScheduleTest, RangesNamesAndDayRollover) {
  auto c = CronSchedule::Parse("0 30 9 * * MON-FRI");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  // 2026-03-06 is a Friday: the next weekday 09:30 after Friday 10:00 is Monday.
  EXPECT_EQ(FormatRfc3339(*c->Next(At("2026-03-06T10:00:00Z"))), "2026-03-09T09:30:00Z");
  auto monthly = CronSchedule::Parse("@monthly");
  ASSERT_TRUE(monthly.ok());
  EXPECT_EQ(FormatRfc3339(*monthly->Next(At("2026-12-15T00:00:00Z"))), "2027-01-01T00:00:00Z");
  auto five = CronSchedule::Parse("15 2 * * *");  // five fields: seconds = 0
  ASSERT_TRUE(five.ok());
  EXPECT_EQ(FormatRfc3339(*five->Next(At("2026-03-01T02:15:00Z"))), "2026-03-02T02:15:00Z");
}

TEST(CronScheduleTest, BadExpressionsAreRefusedWithTheField) {
  auto a = CronSchedule::Parse("0 61 * * * *");
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.status().message().find("minute"), std::string::npos);
  auto b = CronSchedule::Parse("* * *");
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.status().message().find("3 fields"), std::string::npos);
  EXPECT_FALSE(CronSchedule::Parse("0 0 0 31-1 * *").ok());
  EXPECT_FALSE(CronSchedule::Parse("0 */0 * * * *").ok());
  EXPECT_FALSE(CronSchedule::Parse("@sometimes").ok());
}

TEST(ScheduleTest, PeriodicCountsFromStartAndStopsAtEnd) {
  auto s = Schedule::FromTrigger({{"intervalSecond", 60},
                                  {"startTime", "2026-03-01T00:00:00Z"},
                                  {"endTime", "2026-03-01T00:02:00Z"}});
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(FormatRfc3339(*s->Next(At("2026-02-01T00:00:00Z"))), "2026-03-01T00:00:00Z");
  EXPECT_EQ(FormatRfc3339(*s->Next(At("2026-03-01T00:00:30Z"))), "2026-03-01T00:01:00Z");
  EXPECT_EQ(FormatRfc3339(*s->Next(At("2026-03-01T00:01:00Z"))), "2026-03-01T00:02:00Z");
  EXPECT_FALSE(s->Next(At("2026-03-01T00:02:00Z")).has_value());
  EXPECT_FALSE(Schedule::FromTrigger({{"intervalSecond", 0}}).ok());
  EXPECT_FALSE(Schedule::FromTrigger({{"intervalSecond", 5}, {"cron", "* * * * * *"}}).ok());
}

// ---- recurring run controller ----

const char* kTinyIr = R"({
  "pipelineInfo": {"name": "tiny"},
  "schemaVersion": "2.1.0", "sdkVersion": "kfp-2.14.3",
  "root": {"dag": {"tasks": {"echo": {"taskInfo": {"name": "echo"},
      "componentRef": {"name": "comp-echo"}}}}},
  "components": {"comp-echo": {"executorLabel": "exec-echo"}},
  "deploymentSpec": {"executors": {"exec-echo": {"container": {
      "image": "alpine", "command": ["echo", "hi"]}}}}
})";

class RecurringRunControllerTest : public ::testing::Test {
 protected:
  void SetUp() override { store_ = OpenTestStore(dir_, clock_); }

  Json MakeRecurringRun(Json trigger, int max_concurrency = 1, bool no_catchup = false) {
    Json rr = {{"apiVersion", "pipelines.kubeflow.org/v2beta1"},
               {"kind", "RecurringRun"},
               {"metadata", {{"name", "nightly"}, {"namespace", "default"}}},
               {"spec",
                {{"displayName", "nightly"},
                 {"pipelineSpec", Json::parse(kTinyIr)},
                 {"trigger", trigger},
                 {"maxConcurrency", max_concurrency},
                 {"noCatchup", no_catchup},
                 {"enabled", true}}}};
    auto created = store_->Create(pipelines::kRecurringRunType, rr);
    EXPECT_TRUE(created.ok()) << created.status().ToString();
    return *created;
  }

  std::vector<std::string> FiredRuns() {
    auto runs = store_->List(pipelines::kPipelineRunType, "default", {});
    std::vector<std::string> names;
    for (const Json& r : runs->items) names.push_back(MetaName(r));
    return names;
  }

  void FinishAllRuns() {
    auto runs = store_->List(pipelines::kPipelineRunType, "default", {});
    for (Json r : runs->items) {
      r["status"]["state"] = "SUCCEEDED";
      ASSERT_TRUE(store_->Update(pipelines::kPipelineRunType, r).ok());
    }
  }

  TempDir dir_;
  FakeClock clock_{At("2026-03-01T00:00:00Z")};
  std::unique_ptr<Store> store_;
};

TEST_F(RecurringRunControllerTest, FiresOnEachPeriodWithLabelAndRecurringRunId) {
  MakeRecurringRun({{"intervalSecond", 60}});
  RecurringRunController rrc(*store_, clock_);
  auto wait = rrc.Reconcile("default", "nightly");
  ASSERT_TRUE(wait.ok());
  EXPECT_EQ(**wait, std::chrono::seconds(60));
  EXPECT_TRUE(FiredRuns().empty());
  clock_.Advance(std::chrono::seconds(60));
  ASSERT_TRUE(rrc.Reconcile("default", "nightly").ok());
  std::vector<std::string> fired = FiredRuns();
  ASSERT_EQ(fired.size(), 1u);
  auto run = store_->Get(pipelines::kPipelineRunType, "default", fired[0]);
  EXPECT_EQ(MetaLabels(*run)[pipelines::kRecurringRunLabel], "nightly");
  EXPECT_EQ((*run)["spec"]["recurringRunId"], "nightly");
  EXPECT_EQ((*run)["spec"]["scheduledAt"], "2026-03-01T00:01:00Z");
}

TEST_F(RecurringRunControllerTest, MaxConcurrencyHoldsBackTheNextRunUntilOneFinishes) {
  MakeRecurringRun({{"intervalSecond", 10}});
  RecurringRunController rrc(*store_, clock_);
  clock_.Advance(std::chrono::seconds(10));
  ASSERT_TRUE(rrc.Reconcile("default", "nightly").ok());
  clock_.Advance(std::chrono::seconds(10));
  ASSERT_TRUE(rrc.Reconcile("default", "nightly").ok());
  EXPECT_EQ(FiredRuns().size(), 1u);  // the first one is still active
  FinishAllRuns();
  ASSERT_TRUE(rrc.Reconcile("default", "nightly").ok());
  EXPECT_EQ(FiredRuns().size(), 2u);
}

TEST_F(RecurringRunControllerTest, CatchesUpMissedTimesOnceEachAcrossARestart) {
  MakeRecurringRun({{"intervalSecond", 10}}, /*max_concurrency=*/10);
  clock_.Advance(std::chrono::seconds(35));  // 3 times missed while "down"
  {
    RecurringRunController rrc(*store_, clock_);
    ASSERT_TRUE(rrc.Reconcile("default", "nightly").ok());
  }
  EXPECT_EQ(FiredRuns().size(), 1u);
  RecurringRunController restarted(*store_, clock_);  // resumes from status.lastScheduledAt
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(restarted.Reconcile("default", "nightly").ok());
  EXPECT_EQ(FiredRuns().size(), 3u);
}

TEST_F(RecurringRunControllerTest, NoCatchupFiresOnlyTheLatestMissedTime) {
  MakeRecurringRun({{"intervalSecond", 10}}, 10, /*no_catchup=*/true);
  clock_.Advance(std::chrono::seconds(35));
  RecurringRunController rrc(*store_, clock_);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(rrc.Reconcile("default", "nightly").ok());
  std::vector<std::string> fired = FiredRuns();
  ASSERT_EQ(fired.size(), 1u);
  EXPECT_EQ(fired[0], RecurringRunController::RunName("nightly", At("2026-03-01T00:00:30Z")));
}

TEST_F(RecurringRunControllerTest, DisabledRecurringRunDoesNotFire) {
  Json rr = MakeRecurringRun({{"cron", "* * * * * *"}});
  rr["spec"]["enabled"] = false;
  ASSERT_TRUE(store_->Update(pipelines::kRecurringRunType, rr).ok());
  clock_.Advance(std::chrono::seconds(30));
  RecurringRunController rrc(*store_, clock_);
  ASSERT_TRUE(rrc.Reconcile("default", "nightly").ok());
  EXPECT_TRUE(FiredRuns().empty());
}

// ---- retry ----

TEST(ResetRunForRetryTest, KeepsSucceededTasksAndDropsTheFailedOnes) {
  Json run = {
      {"spec", {{"cancelRequested", false}}},
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

// ---- the HTTP surface: error shapes and authorization ----

class KfpApiServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = OpenTestStore(dir_, clock_);
    ASSERT_TRUE(CreateUser(*store_, "bob", false).ok());
    authz_ = std::make_unique<Authorizer>(*store_);
    api_ = std::make_unique<KfpApi>(*store_, *authz_, clock_);
    RegisterKfpApi(*api_, [&](const std::string& m, const std::string& p, Handler h) {
      router_.Add(m, p, std::move(h));
    });
    server_ = std::make_unique<HttpServer>(HttpServer::Options{},
                                           [&](HttpRequest& req, HttpResponder& r) {
                                             // Stands in for ApiServer's authentication.
                                             std::string who = req.Header("x-test-user");
                                             req.principal = {who, who == "admin"};
                                             router_.Dispatch(req, r);
                                           });
    ASSERT_TRUE(server_->Start().ok());
    client_ = std::make_unique<HttpClient>("http://127.0.0.1:" + std::to_string(server_->port()));
  }
  void TearDown() override { server_->Shutdown(); }

  HttpResult Call(const std::string& user, const std::string& method, const std::string& target,
                  const std::string& body = "", HttpHeaders headers = {}) {
    headers["x-test-user"] = user;
    if (!headers.contains("Content-Type")) headers["Content-Type"] = "application/json";
    auto r = client_->Request(method, target, headers, body);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : HttpResult{};
  }

  TempDir dir_;
  FakeClock clock_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Authorizer> authz_;
  std::unique_ptr<KfpApi> api_;
  Router router_;
  std::unique_ptr<HttpServer> server_;
  std::unique_ptr<HttpClient> client_;
};

std::string Multipart(const std::string& content) {
  return "--XyZ\r\nContent-Disposition: form-data; name=\"uploadfile\"; filename=\"p.yaml\"\r\n"
         "Content-Type: application/octet-stream\r\n\r\n" +
         content + "\r\n--XyZ--\r\n";
}

TEST_F(KfpApiServerTest, ExperimentLifecycleAndKfpErrorShape) {
  HttpResult c =
      Call("admin", "POST", "/apis/v2beta1/experiments", R"({"display_name":"Default"})");
  ASSERT_EQ(c.status, 200) << c.body;
  std::string id = Json::parse(c.body)["experiment_id"];
  HttpResult dup =
      Call("admin", "POST", "/apis/v2beta1/experiments", R"({"display_name":"Default"})");
  EXPECT_EQ(dup.status, 409);
  HttpResult list = Call(
      "admin", "GET",
      "/apis/v2beta1/experiments?filter=" +
          PercentEncode(
              R"({"predicates":[{"operation":1,"key":"display_name","stringValue":"Default"}]})"));
  ASSERT_EQ(list.status, 200);
  EXPECT_EQ(Json::parse(list.body)["experiments"][0]["experiment_id"], id);
  ASSERT_EQ(Call("admin", "POST", "/apis/v2beta1/experiments/" + id + ":archive").status, 200);
  EXPECT_EQ(
      Json::parse(Call("admin", "GET", "/apis/v2beta1/experiments/" + id).body)["storage_state"],
      "ARCHIVED");
  ASSERT_EQ(Call("admin", "DELETE", "/apis/v2beta1/experiments/" + id).status, 200);
  HttpResult gone = Call("admin", "GET", "/apis/v2beta1/experiments/" + id);
  EXPECT_EQ(gone.status, 404);
  Json err = Json::parse(gone.body);
  EXPECT_EQ(err["code"], 5);
  EXPECT_EQ(err["error"], err["message"]);
  EXPECT_TRUE(err["details"].is_array());
  HttpResult bad = Call("admin", "GET", "/apis/v2beta1/experiments?filter=%7Bnope");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(Json::parse(bad.body)["code"], 3);
}

TEST_F(KfpApiServerTest, UploadValidatesTheIrAndTheRequestShape) {
  HttpHeaders mp = {{"Content-Type", "multipart/form-data; boundary=XyZ"}};
  HttpResult ok =
      Call("admin", "POST", "/apis/v2beta1/pipelines/upload?name=tiny", Multipart(kTinyIr), mp);
  ASSERT_EQ(ok.status, 200) << ok.body;
  std::string pid = Json::parse(ok.body)["pipeline_id"];
  HttpResult versions = Call("admin", "GET", "/apis/v2beta1/pipelines/" + pid + "/versions");
  ASSERT_EQ(versions.status, 200);
  EXPECT_EQ(
      Json::parse(versions.body)["pipeline_versions"][0]["pipeline_spec"]["pipelineInfo"]["name"],
      "tiny");
  HttpResult invalid = Call("admin", "POST", "/apis/v2beta1/pipelines/upload?name=bad",
                            Multipart(R"({"pipelineInfo": {"name": "x"}})"), mp);
  EXPECT_EQ(invalid.status, 400);
  EXPECT_NE(Json::parse(invalid.body)["message"].get<std::string>().find("invalid pipeline spec"),
            std::string::npos);
  HttpResult wrong_type = Call("admin", "POST", "/apis/v2beta1/pipelines/upload?name=x", kTinyIr);
  EXPECT_EQ(wrong_type.status, 400);
  HttpResult in_use = Call("admin", "DELETE", "/apis/v2beta1/pipelines/" + pid);
  EXPECT_EQ(in_use.status, 409);
  EXPECT_EQ(Call("admin", "DELETE", "/apis/v2beta1/pipelines/" + pid + "?cascade=true").status,
            200);
}

TEST_F(KfpApiServerTest, RunsAreCreatedFromInlineSpecsAndUnknownIdsAre404) {
  HttpResult run =
      Call("admin", "POST", "/apis/v2beta1/runs",
           Json{{"display_name", "r1"}, {"pipeline_spec", Json::parse(kTinyIr)}}.dump());
  ASSERT_EQ(run.status, 200) << run.body;
  Json r = Json::parse(run.body);
  EXPECT_EQ(r["state"], "PENDING");
  EXPECT_EQ(r["display_name"], "r1");
  std::string id = r["run_id"];
  auto stored = store_->Get(pipelines::kPipelineRunType, "default", id);
  ASSERT_TRUE(stored.ok());
  HttpResult got = Call("admin", "GET", "/apis/v2beta1/runs/" + id);
  EXPECT_EQ(Json::parse(got.body)["run_id"], id);
  ASSERT_EQ(Call("admin", "POST", "/apis/v2beta1/runs/" + id + ":terminate").status, 200);
  EXPECT_TRUE(
      (*store_->Get(pipelines::kPipelineRunType, "default", id))["spec"]["cancelRequested"]);
  EXPECT_EQ(Call("admin", "POST", "/apis/v2beta1/runs/" + id + ":retry").status, 400);
  EXPECT_EQ(Call("admin", "GET", "/apis/v2beta1/runs/nope").status, 404);
  HttpResult bad_params = Call("admin", "POST", "/apis/v2beta1/runs",
                               Json{{"pipeline_spec", Json::parse(kTinyIr)},
                                    {"runtime_config", {{"parameters", {{"zz", 1}}}}}}
                                   .dump());
  EXPECT_EQ(bad_params.status, 400);
  HttpResult bad_cron = Call("admin", "POST", "/apis/v2beta1/recurringruns",
                             Json{{"display_name", "x"},
                                  {"pipeline_spec", Json::parse(kTinyIr)},
                                  {"trigger", {{"cron_schedule", {{"cron", "0 99 * * * *"}}}}}}
                                 .dump());
  EXPECT_EQ(bad_cron.status, 400);
  EXPECT_NE(bad_cron.body.find("minute"), std::string::npos);
}

TEST_F(KfpApiServerTest, AUserWithoutARoleIsRefusedEveryOperationWith403) {
  HttpResult exp = Call("admin", "POST", "/apis/v2beta1/experiments", R"({"display_name":"e"})");
  std::string eid = Json::parse(exp.body)["experiment_id"];
  HttpResult run =
      Call("admin", "POST", "/apis/v2beta1/runs",
           Json{{"experiment_id", eid}, {"pipeline_spec", Json::parse(kTinyIr)}}.dump());
  std::string rid = Json::parse(run.body)["run_id"];
  const std::vector<std::pair<std::string, std::string>> calls = {
      {"GET", "/apis/v2beta1/experiments"},
      {"GET", "/apis/v2beta1/experiments/" + eid},
      {"DELETE", "/apis/v2beta1/experiments/" + eid},
      {"POST", "/apis/v2beta1/experiments/" + eid + ":archive"},
      {"GET", "/apis/v2beta1/runs"},
      {"GET", "/apis/v2beta1/runs/" + rid},
      {"POST", "/apis/v2beta1/runs/" + rid + ":terminate"},
      {"DELETE", "/apis/v2beta1/runs/" + rid},
      {"GET", "/apis/v2beta1/pipelines"},
      {"GET", "/apis/v2beta1/recurringruns"}};
  for (const auto& [method, path] : calls) {
    HttpResult r = Call("bob", method, path);
    EXPECT_EQ(r.status, 403) << method << " " << path << " " << r.body;
    EXPECT_EQ(Json::parse(r.body)["code"], 7) << path;
  }
  HttpResult create =
      Call("bob", "POST", "/apis/v2beta1/runs",
           Json{{"experiment_id", eid}, {"pipeline_spec", Json::parse(kTinyIr)}}.dump());
  EXPECT_EQ(create.status, 403);
  EXPECT_TRUE(store_->Get(pipelines::kPipelineRunType, "default", rid).ok());
}

}  // namespace
}  // namespace skiff
