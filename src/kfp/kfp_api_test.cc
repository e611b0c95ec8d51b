#include "kfp/kfp_api.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include "api/api_server.h"
#include "auth/testing/auth_testing.h"
#include "backend/fake_backend.h"
#include "controller/controller.h"
#include "http/http_client.h"
#include "kfp/kfp_list.h"
#include "kfp/kfp_module.h"
#include "pipelines/recurring_run_controller.h"
#include "pipelines/run_controller.h"

namespace skiff {
namespace {

using pipelines::CronSchedule;
using pipelines::RecurringRunController;
using pipelines::Schedule;

// The pipelines module's kinds: every write of the KFP API and the recurring run controller is
// admitted by their registration.
[[maybe_unused]] const bool kPipelineKindsRegistered = [] {
  pipelines::Register(ModuleRegistry::Global());
  return true;
}();

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

TEST(KfpFilterTest, ALongValueThatIsNoInt64IsRefusedNamingTheField) {
  for (const char* bad : {R"("-")", R"("")", R"("12a")", R"("+5")", R"("99999999999999999999")",
                          R"("-9223372036854775809")"}) {
    auto f = ParseKfpFilter(std::string(R"({"predicates":[{"operation":"EQUALS","key":"x",)") +
                            R"("long_value":)" + bad + "}]}");
    ASSERT_FALSE(f.ok()) << bad;
    EXPECT_EQ(f.status().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(f.status().message().find("filter.predicates[0].long_value: not an integer"),
              std::string::npos)
        << f.status().message();
  }
  auto f = ParseKfpFilter(
      R"({"predicates":[{"operation":"EQUALS","key":"x","long_value":"-9223372036854775808"}]})");
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_TRUE(KfpFilterMatches(*f, {{"x", INT64_MIN}}));
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

TEST(KfpListQueryTest, TimestampsInAnyRfc3339FormSortAsInstants) {
  // -02:00 makes the second one the latest; the third has fractional seconds.
  std::vector<Json> runs = {{{"run_id", "a"}, {"created_at", "2026-01-01T00:30:00Z"}},
                            {{"run_id", "b"}, {"created_at", "2025-12-31T23:00:00-02:00"}},
                            {{"run_id", "c"}, {"created_at", "2026-01-01T00:00:00.5Z"}},
                            {{"run_id", "d"}, {"created_at", "2024-02-29T12:00:00Z"}}};
  auto q = KfpListQuery::FromRequest("", "created_at desc", "", "");
  ASSERT_TRUE(q.ok());
  KfpPage page = q->Apply(runs, "created_at");
  std::vector<std::string> order;
  for (const Json& r : page.items) order.push_back(r["run_id"]);
  EXPECT_EQ(order, (std::vector<std::string>{"b", "a", "c", "d"}));
  std::vector<const Json*> pointers;
  for (const Json& r : runs) pointers.push_back(&r);
  auto asc = KfpListQuery::FromRequest("", "", "2", "");
  KfpSelection first = asc->Select(pointers, "created_at");
  EXPECT_EQ(first.page, (std::vector<size_t>{3, 2}));
  EXPECT_EQ(first.total_size, 4);
  EXPECT_FALSE(first.next_page_token.empty());
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

TEST_F(RecurringRunControllerTest, AFlipOfEnabledByAnyWriterSkipsTheTimesPassedWhileDisabled) {
  Json rr = MakeRecurringRun({{"intervalSecond", 10}});
  RecurringRunController rrc(*store_, clock_);
  ASSERT_TRUE(rrc.Reconcile("default", "nightly").ok());
  // Disabled and enabled again by plain spec writes (as a PUT through the generic API does).
  auto flip = [&](bool enabled) {
    Json now = *store_->Get(pipelines::kRecurringRunType, "default", "nightly");
    now["spec"]["enabled"] = enabled;
    ASSERT_TRUE(store_->Update(pipelines::kRecurringRunType, now).ok());
    ASSERT_TRUE(rrc.Reconcile("default", "nightly").ok());
  };
  flip(false);
  clock_.Advance(std::chrono::seconds(35));
  flip(true);
  EXPECT_TRUE(FiredRuns().empty()) << "the three times passed while disabled are not caught up";
  Json status = (*store_->Get(pipelines::kRecurringRunType, "default", "nightly"))["status"];
  EXPECT_EQ(status["enabledAt"], "2026-03-01T00:00:35Z");
  EXPECT_EQ(status["updatedAt"], "2026-03-01T00:00:35Z");
  clock_.Advance(std::chrono::seconds(10));
  ASSERT_TRUE(rrc.Reconcile("default", "nightly").ok());
  EXPECT_EQ(FiredRuns().size(), 1u);
}

TEST_F(RecurringRunControllerTest, AFiredRunIsAdmittedAsAUsersRunIs) {
  // Stored without admission (as by an older version): a parameter the pipeline does not have.
  Json rr = MakeRecurringRun({{"intervalSecond", 10}});
  rr["spec"]["parameters"] = {{"zz", "not declared"}};
  ASSERT_TRUE(store_->Update(pipelines::kRecurringRunType, rr).ok());
  clock_.Advance(std::chrono::seconds(10));
  RecurringRunController rrc(*store_, clock_);
  auto wait = rrc.Reconcile("default", "nightly");
  ASSERT_TRUE(wait.ok()) << wait.status().ToString();
  EXPECT_FALSE(wait->has_value()) << "nothing to retry until the spec changes";
  EXPECT_TRUE(FiredRuns().empty());
  std::string message =
      (*store_->Get(pipelines::kRecurringRunType, "default", "nightly"))["status"]["message"];
  EXPECT_NE(message.find("is refused"), std::string::npos) << message;
  EXPECT_NE(message.find("zz"), std::string::npos) << message;
}

// ---- the HTTP surface: error shapes and authorization ----

std::string Multipart(const std::string& content) {
  return "--XyZ\r\nContent-Disposition: form-data; name=\"uploadfile\"; filename=\"p.yaml\"\r\n"
         "Content-Type: application/octet-stream\r\n\r\n" +
         content + "\r\n--XyZ--\r\n";
}

class KfpApiServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = OpenTestStore(dir_, clock_);
    ASSERT_TRUE(CreateUser(*store_, "bob", false).ok());
    authz_ = std::make_unique<Authorizer>(*store_);
    KfpApiOptions options;
    options.max_upload_bytes = kMaxUpload;
    api_ = std::make_unique<KfpApi>(*store_, *authz_, clock_, options);
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

  // Uploads larger than this get 413 (the default, 32 MiB, is needlessly big for a test).
  static constexpr size_t kMaxUpload = 64 * 1024;

  // The pipeline id of kTinyIr uploaded under `name`.
  std::string UploadTiny(const std::string& name) {
    HttpResult r =
        Call("admin", "POST", "/apis/v2beta1/pipelines/upload?name=" + name, Multipart(kTinyIr),
             {{"Content-Type", "multipart/form-data; boundary=XyZ"}});
    EXPECT_EQ(r.status, 200) << r.body;
    return r.status == 200 ? Json::parse(r.body)["pipeline_id"].get<std::string>() : "";
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
  EXPECT_EQ(bad_params.status, 422) << "admitted as any PipelineRun is: " << bad_params.body;
  HttpResult bad_cron = Call("admin", "POST", "/apis/v2beta1/recurringruns",
                             Json{{"display_name", "x"},
                                  {"pipeline_spec", Json::parse(kTinyIr)},
                                  {"trigger", {{"cron_schedule", {{"cron", "0 99 * * * *"}}}}}}
                                 .dump());
  EXPECT_EQ(bad_cron.status, 400);
  EXPECT_NE(bad_cron.body.find("minute"), std::string::npos);
}

TEST_F(KfpApiServerTest, AUserWithoutARoleIsRefusedEveryOperationAndLearnsNothing) {
  HttpResult exp = Call("admin", "POST", "/apis/v2beta1/experiments", R"({"display_name":"e"})");
  std::string eid = Json::parse(exp.body)["experiment_id"];
  HttpResult run =
      Call("admin", "POST", "/apis/v2beta1/runs",
           Json{{"experiment_id", eid}, {"pipeline_spec", Json::parse(kTinyIr)}}.dump());
  std::string rid = Json::parse(run.body)["run_id"];
  const std::vector<std::pair<std::string, std::string>> calls = {
      {"GET", "/apis/v2beta1/experiments"},
      {"GET", "/apis/v2beta1/runs"},
      {"GET", "/apis/v2beta1/pipelines"},
      {"GET", "/apis/v2beta1/recurringruns"}};
  for (const auto& [method, path] : calls) {
    HttpResult r = Call("bob", method, path);
    EXPECT_EQ(r.status, 403) << method << " " << path << " " << r.body;
    EXPECT_EQ(Json::parse(r.body)["code"], 7) << path;
  }
  // By id, another tenant's object is answered as an unknown id is: no oracle of what exists.
  const std::string unknown = "00000000-0000-0000-0000-000000000000";
  const std::vector<std::pair<std::string, std::string>> by_id = {
      {"GET", "/apis/v2beta1/experiments/"},          {"DELETE", "/apis/v2beta1/experiments/"},
      {"POST", "/apis/v2beta1/experiments/:archive"}, {"GET", "/apis/v2beta1/runs/"},
      {"POST", "/apis/v2beta1/runs/:terminate"},      {"DELETE", "/apis/v2beta1/runs/"}};
  for (const auto& [method, pattern] : by_id) {
    const std::string id = pattern.find("experiments") != std::string::npos ? eid : rid;
    auto at = [&pattern = pattern](const std::string& which) {
      std::string path = pattern;
      size_t colon = path.find(':');
      if (colon == std::string::npos) return path + which;
      return path.substr(0, colon) + which + path.substr(colon);
    };
    HttpResult existing = Call("bob", method, at(id));
    HttpResult absent = Call("bob", method, at(unknown));
    EXPECT_EQ(existing.status, 404) << method << " " << at(id) << " " << existing.body;
    EXPECT_EQ(absent.status, 404) << method << " " << at(unknown);
    std::string said = existing.body;  // with the id swapped, the very same answer
    for (size_t p = said.find(id); p != std::string::npos; p = said.find(id, p + unknown.size())) {
      said.replace(p, id.size(), unknown);
    }
    EXPECT_EQ(said, absent.body);
  }
  HttpResult create =
      Call("bob", "POST", "/apis/v2beta1/runs",
           Json{{"experiment_id", eid}, {"pipeline_spec", Json::parse(kTinyIr)}}.dump());
  EXPECT_EQ(create.status, 404) << "another tenant's experiment is not there for bob";
  EXPECT_TRUE(store_->Get(pipelines::kPipelineRunType, "default", rid).ok());
}

TEST_F(KfpApiServerTest, ListRunsFollowsCreatesDeletesAndStatusChanges) {
  std::vector<std::string> ids;
  for (const char* name : {"r1", "r2", "r3"}) {
    HttpResult r =
        Call("admin", "POST", "/apis/v2beta1/runs",
             Json{{"display_name", name}, {"pipeline_spec", Json::parse(kTinyIr)}}.dump());
    ASSERT_EQ(r.status, 200) << r.body;
    ids.push_back(Json::parse(r.body)["run_id"]);
    clock_.Advance(std::chrono::seconds(1));
  }
  auto list = [&](const std::string& query) {
    HttpResult r = Call("admin", "GET", "/apis/v2beta1/runs" + query);
    EXPECT_EQ(r.status, 200) << r.body;
    return Json::parse(r.body);
  };
  Json first = list("?page_size=2&sort_by=created_at%20desc");
  EXPECT_EQ(first["total_size"], 3);
  ASSERT_EQ(first["runs"].size(), 2u);
  EXPECT_EQ(first["runs"][0]["display_name"], "r3");
  EXPECT_TRUE(first["runs"][0]["run_details"]["task_details"].is_array());
  EXPECT_FALSE(first["runs"][0].contains("pipeline_spec"));
  Json second = list("?page_size=2&sort_by=created_at%20desc&page_token=" +
                     PercentEncode(first["next_page_token"].get<std::string>()));
  ASSERT_EQ(second["runs"].size(), 1u);
  EXPECT_EQ(second["runs"][0]["display_name"], "r1");

  ASSERT_EQ(Call("admin", "DELETE", "/apis/v2beta1/runs/" + ids[1]).status, 200);
  auto stored = store_->Get(pipelines::kPipelineRunType, "default", ids[0]);
  ASSERT_TRUE(stored.ok());
  (*stored)["status"] = {{"state", "SUCCEEDED"}};
  ASSERT_TRUE(store_->Update(pipelines::kPipelineRunType, *stored).ok());
  Json after = list("");
  EXPECT_EQ(after["total_size"], 2);
  Json succeeded =
      list("?filter=" + PercentEncode(R"({"predicates":[{"operation":"EQUALS",)"
                                      R"("key":"state","string_value":"SUCCEEDED"}]})"));
  ASSERT_EQ(succeeded["runs"].size(), 1u);
  EXPECT_EQ(succeeded["runs"][0]["run_id"], ids[0]);
  // Another namespace's runs are not listed in this one.
  EXPECT_EQ(list("?namespace=elsewhere")["total_size"], 0);
}

// ---- invalid requests: each answered in KFP's error shape with the matching status ----

// Checks `r` is a KFP error {"error", "code", "message", "details": []} with HTTP status `http`
// and gRPC code `grpc`, and returns its message.
std::string ExpectKfpError(const HttpResult& r, int http, int grpc) {
  EXPECT_EQ(r.status, http) << r.body;
  Json body = Json::parse(r.body, nullptr, false);
  if (!body.is_object()) {
    ADD_FAILURE() << "not a JSON object: " << r.body;
    return "";
  }
  EXPECT_EQ(body.value("code", -1), grpc) << r.body;
  EXPECT_EQ(body.value("error", ""), body.value("message", "")) << r.body;
  EXPECT_TRUE(body.contains("details") && body["details"].is_array()) << r.body;
  return body.value("message", "");
}

TEST_F(KfpApiServerTest, ABigRunsTaskDetailsComeInPages) {
  HttpResult run =
      Call("admin", "POST", "/apis/v2beta1/runs",
           Json{{"display_name", "big"}, {"pipeline_spec", Json::parse(kTinyIr)}}.dump());
  ASSERT_EQ(run.status, 200) << run.body;
  const std::string id = Json::parse(run.body)["run_id"];
  auto stored = store_->Get(pipelines::kPipelineRunType, "default", id);
  ASSERT_TRUE(stored.ok());
  Json tasks = Json::object();
  for (int i = 0; i < 2500; ++i) {
    char path[32];
    std::snprintf(path, sizeof path, "root.t-%05d", i);
    tasks[path] = {{"name", path + 5}, {"state", "SUCCEEDED"}};
  }
  (*stored)["status"] = {{"state", "RUNNING"}, {"engine", {{"tasks", tasks}}}};
  ASSERT_TRUE(store_->Update(pipelines::kPipelineRunType, *stored).ok());

  std::vector<std::string> seen;
  std::string query;
  int pages = 0;
  do {
    HttpResult got = Call("admin", "GET", "/apis/v2beta1/runs/" + id + query);
    ASSERT_EQ(got.status, 200) << got.body;
    Json details = Json::parse(got.body)["run_details"];
    EXPECT_LE(details["task_details"].size(), 1000u);
    for (const Json& t : details["task_details"]) seen.push_back(t["task_path"]);
    query = details.contains("next_task_details_page_token")
                ? "?task_details_page_token=" +
                      PercentEncode(details["next_task_details_page_token"].get<std::string>())
                : "";
    ++pages;
  } while (!query.empty() && pages < 10);
  EXPECT_EQ(pages, 3);
  ASSERT_EQ(seen.size(), 2500u);
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()).size(), 2500u) << "each task once";

  HttpResult all =
      Call("admin", "GET", "/apis/v2beta1/runs/" + id + "?task_details_page_size=5000");
  EXPECT_EQ(Json::parse(all.body)["run_details"]["task_details"].size(), 2500u);
  EXPECT_FALSE(Json::parse(all.body)["run_details"].contains("next_task_details_page_token"));
  // A listed run carries the first page only.
  Json listed = Json::parse(Call("admin", "GET", "/apis/v2beta1/runs").body);
  EXPECT_EQ(listed["runs"][0]["run_details"]["task_details"].size(), 1000u);
  for (const char* bad : {"?task_details_page_size=0", "?task_details_page_size=10001",
                          "?task_details_page_size=x", "?task_details_page_token=%25%25"}) {
    EXPECT_EQ(Call("admin", "GET", "/apis/v2beta1/runs/" + id + bad).status, 400) << bad;
  }
}

TEST_F(KfpApiServerTest, CreatingARunOfAnUnknownPipelineOrVersionIs404AndStoresNothing) {
  const std::string pid = UploadTiny("known");
  auto run_of = [&](Json reference) {
    return Call("admin", "POST", "/apis/v2beta1/runs",
                Json{{"display_name", "r"}, {"pipeline_version_reference", reference}}.dump());
  };
  std::string msg = ExpectKfpError(run_of({{"pipeline_id", "no-such-pipeline"}}), 404, 5);
  EXPECT_NE(msg.find("pipeline 'no-such-pipeline' not found"), std::string::npos) << msg;
  msg = ExpectKfpError(run_of({{"pipeline_id", pid}, {"pipeline_version_id", "no-such-version"}}),
                       404, 5);
  EXPECT_NE(msg.find("pipeline version 'no-such-version' not found"), std::string::npos) << msg;
  // The lowerCamelCase spelling is looked up the same way.
  ExpectKfpError(run_of({{"pipelineId", pid}, {"pipelineVersionId", "no-such-version"}}), 404, 5);
  // A version of another pipeline is not a version of this one.
  const std::string other = UploadTiny("other");
  HttpResult versions = Call("admin", "GET", "/apis/v2beta1/pipelines/" + other + "/versions");
  const std::string other_version =
      Json::parse(versions.body)["pipeline_versions"][0]["pipeline_version_id"];
  ExpectKfpError(run_of({{"pipeline_id", pid}, {"pipeline_version_id", other_version}}), 404, 5);
  msg = ExpectKfpError(
      Call("admin", "POST", "/apis/v2beta1/runs",
           Json{{"experiment_id", "no-such-experiment"}, {"pipeline_spec", Json::parse(kTinyIr)}}
               .dump()),
      404, 5);
  EXPECT_NE(msg.find("experiment 'no-such-experiment' not found"), std::string::npos) << msg;
  // The same reference to an existing version starts a run.
  ASSERT_EQ(run_of({{"pipeline_id", pid}}).status, 200);
  auto runs = store_->List(pipelines::kPipelineRunType, "", {});
  ASSERT_TRUE(runs.ok());
  EXPECT_EQ(runs->items.size(), 1u);
}

TEST_F(KfpApiServerTest, AnUploadOverTheLimitIs413InTheKfpShape) {
  const HttpHeaders mp = {{"Content-Type", "multipart/form-data; boundary=XyZ"}};
  // Valid IR padded past the limit with trailing spaces: only the size is wrong.
  const std::string big = std::string(kTinyIr) + std::string(kMaxUpload, ' ');
  std::string msg = ExpectKfpError(
      Call("admin", "POST", "/apis/v2beta1/pipelines/upload?name=big", Multipart(big), mp), 413, 8);
  EXPECT_NE(msg.find("the limit is " + std::to_string(kMaxUpload)), std::string::npos) << msg;
  const std::string pid = UploadTiny("small");
  ExpectKfpError(
      Call("admin", "POST", "/apis/v2beta1/pipelines/upload_version?name=v2&pipelineid=" + pid,
           Multipart(big), mp),
      413, 8);
  // Just under the limit is fine.
  const std::string fits =
      std::string(kTinyIr) + std::string(kMaxUpload - Multipart(kTinyIr).size(), ' ');
  ASSERT_EQ(Multipart(fits).size(), kMaxUpload);
  EXPECT_EQ(
      Call("admin", "POST", "/apis/v2beta1/pipelines/upload?name=fits", Multipart(fits), mp).status,
      200);
  auto pipelines = store_->List(kKfpPipelineType, "", {});
  ASSERT_TRUE(pipelines.ok());
  EXPECT_EQ(pipelines->items.size(), 2u);  // "small" and "fits"
}

TEST_F(KfpApiServerTest, AnUploadThatIsNotMultipartFormDataIs400) {
  const std::string pid = UploadTiny("p");
  for (const std::string& target :
       {std::string("/apis/v2beta1/pipelines/upload?name=x"),
        "/apis/v2beta1/pipelines/upload_version?name=v&pipelineid=" + pid}) {
    std::string msg = ExpectKfpError(
        Call("admin", "POST", target, kTinyIr, {{"Content-Type", "application/json"}}), 400, 3);
    EXPECT_NE(msg.find("expected multipart/form-data"), std::string::npos) << msg;
    ExpectKfpError(Call("admin", "POST", target, kTinyIr, {{"Content-Type", "text/plain"}}), 400,
                   3);
    msg = ExpectKfpError(Call("admin", "POST", target, Multipart(kTinyIr),
                              {{"Content-Type", "multipart/form-data"}}),
                         400, 3);
    EXPECT_NE(msg.find("boundary missing"), std::string::npos) << msg;
    const std::string wrong_field =
        "--XyZ\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\n" + std::string(kTinyIr) +
        "\r\n--XyZ--\r\n";
    msg = ExpectKfpError(Call("admin", "POST", target, wrong_field,
                              {{"Content-Type", "multipart/form-data; boundary=XyZ"}}),
                         400, 3);
    EXPECT_NE(msg.find("no file field 'uploadfile'"), std::string::npos) << msg;
  }
  auto pipelines = store_->List(kKfpPipelineType, "", {});
  ASSERT_TRUE(pipelines.ok());
  EXPECT_EQ(pipelines->items.size(), 1u);
}

TEST_F(KfpApiServerTest, APipelineWhoseComponentContainsItselfIsRefusedAtUploadAndCreateRun) {
  Json ir = Json::parse(kTinyIr);
  ir["root"]["dag"]["tasks"]["echo"]["componentRef"]["name"] = "comp-loop";
  ir["components"]["comp-loop"] = {
      {"dag",
       {{"tasks",
         {{"again",
           {{"taskInfo", {{"name", "again"}}}, {"componentRef", {{"name", "comp-loop"}}}}}}}}}};
  std::string msg = ExpectKfpError(
      Call("admin", "POST", "/apis/v2beta1/pipelines/upload?name=loop", Multipart(ir.dump()),
           {{"Content-Type", "multipart/form-data; boundary=XyZ"}}),
      400, 3);
  EXPECT_NE(msg.find("component cycle: comp-loop -> comp-loop"), std::string::npos) << msg;
  msg = ExpectKfpError(Call("admin", "POST", "/apis/v2beta1/runs",
                            Json{{"display_name", "r"}, {"pipeline_spec", ir}}.dump()),
                       400, 3);
  EXPECT_NE(msg.find("component cycle"), std::string::npos) << msg;
  EXPECT_TRUE(store_->List(kKfpPipelineType, "", {})->items.empty());
  EXPECT_TRUE(store_->List(pipelines::kPipelineRunType, "", {})->items.empty());
}

TEST_F(KfpApiServerTest, AFilterLongValueOfAMinusSignIs400) {
  const std::string filter =
      R"({"predicates":[{"operation":"EQUALS","key":"created_at","long_value":"-"}]})";
  for (const char* list : {"experiments", "pipelines", "runs", "recurringruns"}) {
    std::string msg = ExpectKfpError(
        Call("admin", "GET",
             std::string("/apis/v2beta1/") + list + "?filter=" + PercentEncode(filter)),
        400, 3);
    EXPECT_NE(msg.find("long_value: not an integer"), std::string::npos) << list << ": " << msg;
  }
}

TEST_F(KfpApiServerTest, ObjectsStoredWithoutASpecAreListedWithDefaultsNotA500) {
  ASSERT_EQ(Call("admin", "POST", "/apis/v2beta1/experiments", R"({"display_name":"good"})").status,
            200);
  const std::string pid = UploadTiny("good");
  // Written straight to the store, as objects stored before a schema existed may be.
  auto bare = [](const char* kind, const std::string& name) {
    return Json{{"apiVersion", "pipelines.kubeflow.org/v2beta1"},
                {"kind", kind},
                {"metadata", {{"name", name}, {"namespace", "default"}}}};
  };
  ASSERT_TRUE(store_->Create(kKfpExperimentType, bare("Experiment", "no-spec")).ok());
  Json wrong = bare("Experiment", "string-spec");
  wrong["spec"] = "x";
  ASSERT_TRUE(store_->Create(kKfpExperimentType, wrong).ok());
  Json numbers = bare("Experiment", "number-fields");
  numbers["spec"] = {{"displayName", 5}, {"storageState", true}};
  ASSERT_TRUE(store_->Create(kKfpExperimentType, numbers).ok());
  ASSERT_TRUE(store_->Create(kKfpPipelineType, bare("Pipeline", "no-spec")).ok());
  wrong = bare("Pipeline", "string-spec");
  wrong["spec"] = 7;
  ASSERT_TRUE(store_->Create(kKfpPipelineType, wrong).ok());
  Json version = bare("PipelineVersion", "no-spec-version");
  version["metadata"]["labels"] = {{kKfpPipelineIdLabel, pid}};
  ASSERT_TRUE(store_->Create(kKfpPipelineVersionType, version).ok());
  Json rr = bare("RecurringRun", "odd-recurring-run");
  rr["spec"] = {{"enabled", "yes"}, {"maxConcurrency", "x"}, {"trigger", 5}};
  ASSERT_TRUE(store_->Create(pipelines::kRecurringRunType, rr).ok());

  HttpResult experiments = Call("admin", "GET", "/apis/v2beta1/experiments");
  ASSERT_EQ(experiments.status, 200) << experiments.body;
  std::set<std::string> names;
  const Json listed = Json::parse(experiments.body);
  for (const Json& e : listed["experiments"]) names.insert(e["display_name"]);
  EXPECT_EQ(names, (std::set<std::string>{"good", "no-spec", "string-spec", "number-fields"}));
  HttpResult pipelines = Call("admin", "GET", "/apis/v2beta1/pipelines");
  ASSERT_EQ(pipelines.status, 200) << pipelines.body;
  EXPECT_EQ(Json::parse(pipelines.body)["total_size"], 3);
  HttpResult versions = Call("admin", "GET", "/apis/v2beta1/pipelines/" + pid + "/versions");
  ASSERT_EQ(versions.status, 200) << versions.body;
  EXPECT_EQ(Json::parse(versions.body)["total_size"], 2);
  EXPECT_EQ(Call("admin", "GET", "/apis/v2beta1/recurringruns").status, 200);
  EXPECT_EQ(Call("admin", "GET", "/apis/v2beta1/experiments/no-spec").status, 200);
  EXPECT_EQ(Call("admin", "GET", "/apis/v2beta1/pipelines/names/good").status, 200);
  // Creating next to them, and archiving one of them, work too.
  EXPECT_EQ(Call("admin", "POST", "/apis/v2beta1/experiments", R"({"display_name":"new"})").status,
            200);
  EXPECT_EQ(Call("admin", "POST", "/apis/v2beta1/experiments/string-spec:archive").status, 200);
  EXPECT_EQ(UploadTiny("another").empty(), false);
}

TEST_F(KfpApiServerTest, Int64FieldsSentAsProto3JsonStringsAreAccepted) {
  HttpResult created =
      Call("admin", "POST", "/apis/v2beta1/recurringruns",
           Json{{"display_name", "hourly"},
                {"pipeline_spec", Json::parse(kTinyIr)},
                {"max_concurrency", "2"},
                {"trigger", {{"periodic_schedule", {{"interval_second", "3600"}}}}}}
               .dump());
  ASSERT_EQ(created.status, 200) << created.body;
  Json api = Json::parse(created.body);
  EXPECT_EQ(api["trigger"]["periodic_schedule"]["interval_second"], "3600");
  EXPECT_EQ(api["max_concurrency"], "2");
  auto stored = store_->Get(pipelines::kRecurringRunType, "default", api["recurring_run_id"]);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ((*stored)["spec"]["trigger"]["intervalSecond"], 3600);
  EXPECT_EQ((*stored)["spec"]["maxConcurrency"], 2);
  auto recurring = [&](Json periodic, Json extra = Json::object()) {
    Json body = {{"display_name", "x"},
                 {"pipeline_spec", Json::parse(kTinyIr)},
                 {"trigger", {{"periodic_schedule", periodic}}}};
    body.update(extra);
    return Call("admin", "POST", "/apis/v2beta1/recurringruns", body.dump());
  };
  for (Json bad : {Json("-"), Json(""), Json("36x"), Json("99999999999999999999"), Json(1.5)}) {
    std::string msg = ExpectKfpError(recurring({{"interval_second", bad}}), 400, 3);
    EXPECT_NE(msg.find("interval_second"), std::string::npos) << bad << ": " << msg;
  }
  std::string msg =
      ExpectKfpError(recurring({{"interval_second", "60"}}, {{"max_concurrency", "-"}}), 400, 3);
  EXPECT_NE(msg.find("max_concurrency: not an integer"), std::string::npos) << msg;
  msg = ExpectKfpError(recurring({{"interval_second", "60"}}, {{"no_catchup", "yes"}}), 400, 3);
  EXPECT_NE(msg.find("no_catchup: must be a boolean"), std::string::npos) << msg;
}

// kTinyIr with an integer pipeline parameter `n`.
Json IrWithAnIntParameter() {
  Json ir = Json::parse(kTinyIr);
  ir["root"]["inputDefinitions"] = {{"parameters", {{"n", {{"parameterType", "NUMBER_INTEGER"}}}}}};
  return ir;
}

TEST_F(KfpApiServerTest, AnIntParameterThatIsNoInt64Is422NamingTheParameter) {
  auto run_with = [&](const std::string& n) {
    return Call("admin", "POST", "/apis/v2beta1/runs",
                R"({"display_name":"r","pipeline_spec":)" + IrWithAnIntParameter().dump() +
                    R"(,"runtime_config":{"parameters":{"n":)" + n + "}}}");
  };
  for (const char* bad :
       {"1e300", "-1e300", "2.5", "9223372036854775808", "18446744073709551615", "9.3e18"}) {
    std::string msg = ExpectKfpError(run_with(bad), 422, 3);
    EXPECT_NE(msg.find("parameter 'n'"), std::string::npos) << bad << ": " << msg;
  }
  HttpResult whole = run_with("3.0");
  ASSERT_EQ(whole.status, 200) << whole.body;
  EXPECT_EQ(Json::parse(whole.body)["runtime_config"]["parameters"]["n"], 3.0);
  EXPECT_EQ(run_with("-9223372036854775808").status, 200);
  auto runs = store_->List(pipelines::kPipelineRunType, "", {});
  ASSERT_TRUE(runs.ok());
  EXPECT_EQ(runs->items.size(), 2u);
}

// Through the real ApiServer and its token check, the module's routes installed as `skiff up`
// installs them.
TEST(KfpHealthzTest, AnswersWithoutATokenWhileEveryOtherCallNeedsAGoodOne) {
  TempDir dir;
  FakeClock clock;
  std::unique_ptr<Store> store = OpenTestStore(dir, clock);
  ASSERT_NE(store, nullptr);
  Authenticator authn(*store, clock);
  Authorizer authz(*store);
  ASSERT_TRUE(CreateUser(*store, "root", true).ok());
  const std::string token = MintToken(*store, clock, "root")->token;
  ApiServer server(ApiServer::Options{}, *store, authn, authz, clock);
  TypeRegistry types;
  ModuleRegistry modules(types);
  RegisterKfpModule(modules);
  FakeBackend backend(clock);
  RouteContext context{*store, backend, authz, clock, dir.path()};
  context.add_route = [&](const std::string& m, const std::string& p, Handler h) {
    server.AddRoute(m, p, std::move(h));
  };
  std::vector<std::shared_ptr<void>> keep;
  ASSERT_TRUE(modules.InstallRoutes(context, &keep).ok());
  ASSERT_EQ(keep.size(), 1u);  // the module's KfpApi
  ASSERT_TRUE(server.Start().ok());
  HttpClient client(server.url());
  auto get = [&](const std::string& path, const std::string& bearer) {
    HttpHeaders headers;
    if (!bearer.empty()) headers["Authorization"] = "Bearer " + bearer;
    auto r = client.Request("GET", path, headers, "");
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : HttpResult{};
  };
  for (const std::string& bearer : {std::string(), std::string("bad"), token}) {
    HttpResult health = get("/apis/v2beta1/healthz", bearer);
    EXPECT_EQ(health.status, 200) << bearer << ": " << health.body;
    EXPECT_EQ(Json::parse(health.body)["multi_user"], true);
  }
  EXPECT_EQ(get("/apis/v2beta1/experiments", "bad").status, 401);
  EXPECT_EQ(get("/apis/v2beta1/experiments", "").status, 401);
  EXPECT_EQ(get("/apis/v2beta1/experiments", token).status, 200);
  EXPECT_EQ(get("/apis/v2beta1/openapi.json", "").status, 401);
  server.Shutdown();
}

// ---- the OpenAPI document ----

std::set<std::string> RegisteredKfpRoutes() {
  TempDir dir;
  FakeClock clock;
  std::unique_ptr<Store> store = OpenTestStore(dir, clock);
  Authorizer authz(*store);
  KfpApi api(*store, authz, clock);
  std::set<std::string> routes;
  RegisterKfpApi(api, [&](const std::string& method, const std::string& pattern, const Handler&) {
    EXPECT_TRUE(routes.insert(method + " " + pattern).second) << "twice: " << method << pattern;
  });
  return routes;
}

// "{a}/x/{b}:read" -> {"a", "b"}.
std::set<std::string> PathParams(const std::string& path) {
  std::set<std::string> out;
  for (size_t open = path.find('{'); open != std::string::npos; open = path.find('{', open + 1)) {
    out.insert(path.substr(open + 1, path.find('}', open) - open - 1));
  }
  return out;
}

TEST(KfpOpenApiTest, DocumentsEveryRegisteredRouteAndNothingElse) {
  const Json& doc = KfpOpenApiDocument();
  ASSERT_FALSE(doc.is_discarded()) << "src/kfp/kfp_openapi.json is not valid JSON";
  EXPECT_EQ(doc["swagger"], "2.0");
  std::set<std::string> documented;
  std::set<std::string> operation_ids;
  for (const auto& [path, ops] : doc["paths"].items()) {
    for (const auto& [method, op] : ops.items()) {
      std::string upper = method;
      std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
      const std::string route = op.value("x-skiff-route", path);
      documented.insert(upper + " " + route);
      EXPECT_TRUE(operation_ids.insert(op.value("operationId", "")).second)
          << "operationId missing or repeated at " << upper << " " << path;
      // The path's parameters are exactly the "in: path" parameters.
      std::set<std::string> declared;
      for (const Json& p : op.value("parameters", Json::array())) {
        if (p.value("in", "") == "path") declared.insert(p.value("name", ""));
      }
      EXPECT_EQ(PathParams(path), declared) << upper << " " << path;
      // A "{id}:action" path is served by a route whose last segment is one "{..._action}".
      const size_t colon = path.rfind(':');
      if (colon != std::string::npos && path.rfind('}') < colon) {
        EXPECT_TRUE(op.contains("x-skiff-route")) << path;
        const std::string prefix = path.substr(0, path.rfind('{'));
        EXPECT_EQ(route.rfind(prefix, 0), 0u) << path << " served by " << route;
        EXPECT_TRUE(route.ends_with("_action}")) << route;
      }
      for (const Json& r : op["responses"]) {
        if (r.contains("schema") && r["schema"].contains("$ref")) {
          const std::string ref = r["schema"]["$ref"];
          EXPECT_TRUE(doc["definitions"].contains(ref.substr(ref.rfind('/') + 1))) << ref;
        }
      }
    }
  }
  const std::set<std::string> registered = RegisteredKfpRoutes();
  EXPECT_GE(registered.size(), 30u);
  for (const std::string& r : registered)
    EXPECT_TRUE(documented.contains(r)) << "undocumented: " << r;
  for (const std::string& d : documented)
    EXPECT_TRUE(registered.contains(d)) << "not served: " << d;
  // Every $ref anywhere points at a definition.
  std::function<void(const Json&)> check_refs = [&](const Json& j) {
    if (j.is_object()) {
      if (j.contains("$ref")) {
        const std::string ref = j["$ref"];
        EXPECT_TRUE(doc["definitions"].contains(ref.substr(ref.rfind('/') + 1))) << ref;
      }
      for (const Json& v : j) check_refs(v);
    } else if (j.is_array()) {
      for (const Json& v : j) check_refs(v);
    }
  };
  check_refs(doc);
}

TEST_F(KfpApiServerTest, TheDocumentedActionsAreTheOnesTheHandlersAccept) {
  // "{id}:archive" and "{id}:unarchive" documented for one route -> that route's handler accepts
  // exactly those: an unknown action is refused with the list it knows, "(archive, unarchive)".
  std::map<std::string, std::set<std::string>> documented;  // route -> actions
  std::map<std::string, std::string> example;               // route -> a path to call
  for (const auto& [path, ops] : KfpOpenApiDocument()["paths"].items()) {
    for (const auto& [method, op] : ops.items()) {
      if (!op.contains("x-skiff-route")) continue;
      const std::string route = method + " " + op["x-skiff-route"].get<std::string>();
      documented[route].insert(path.substr(path.rfind(':') + 1));
      std::string target = path.substr(0, path.rfind(':'));
      for (size_t open; (open = target.find('{')) != std::string::npos;) {
        target.replace(open, target.find('}', open) - open + 1, "x");
      }
      example[route] = method + " " + target + ":bogus";
    }
  }
  ASSERT_EQ(documented.size(), 4u);  // experiments, runs, artifacts, recurring runs
  for (const auto& [route, actions] : documented) {
    const std::string call = example[route];
    const std::string method = call.substr(0, call.find(' '));
    std::string upper = method;
    std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
    std::string msg = ExpectKfpError(Call("admin", upper, call.substr(call.find(' ') + 1)), 404, 5);
    const size_t open = msg.rfind('('), close = msg.rfind(')');
    ASSERT_TRUE(open != std::string::npos && close > open) << msg;
    std::set<std::string> accepted;
    std::stringstream list(msg.substr(open + 1, close - open - 1));
    for (std::string a; std::getline(list, a, ',');) accepted.insert(a.substr(a[0] == ' '));
    EXPECT_EQ(accepted, actions) << route;
  }
}

TEST_F(KfpApiServerTest, TheOpenApiDocumentIsServedAsJson) {
  HttpResult r = Call("admin", "GET", "/apis/v2beta1/openapi.json");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.headers["content-type"], "application/json");
  EXPECT_EQ(Json::parse(r.body), KfpOpenApiDocument());
}

}  // namespace
}  // namespace skiff
