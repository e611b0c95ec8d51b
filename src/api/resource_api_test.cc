#include "api/resource_api.h"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <set>
#include <thread>

#include "api/api_server.h"
#include "auth/testing/auth_testing.h"
#include "core/schema.h"
#include "core/text.h"
#include "core/thread_annotations.h"
#include "http/http_client.h"

namespace skiff {
namespace {

constexpr char kJobs[] = "/apis/batch/v1/namespaces/team-a/jobs";

Json Job(const std::string& name, const std::map<std::string, std::string>& labels = {}) {
  Json job = {{"apiVersion", "batch/v1"},
              {"kind", "Job"},
              {"metadata", {{"name", name}}},
              {"spec", {{"parallelism", 1}}}};
  if (!labels.empty()) job["metadata"]["labels"] = labels;
  return job;
}

// A real ApiServer on port 0 over a SQLite store in a temp dir, with an admin token and a user
// "bob" who has no role anywhere.
// A watch held open on a thread of its own, until the server ends it, or Leave() was called and
// one more event arrives.
class HeldWatch {
 public:
  HeldWatch(const std::string& url, const std::string& path, const std::string& token)
      : thread_([this, url, path, token] {
          HttpClient client(url);
          result_ = client.StreamLines(path, {{"Authorization", "Bearer " + token}},
                                       [this](std::string_view) {
                                         MutexLock lock(&mu_);
                                         streaming_ = true;
                                         cv_.SignalAll();
                                         return !leave_.load();
                                       });
        }) {}
  ~HeldWatch() {
    if (thread_.joinable()) thread_.join();
  }

  // Returns once the first event arrived.
  void WaitStreaming() {
    MutexLock lock(&mu_);
    cv_.Wait(mu_, [&] { return streaming_; });
  }
  void Leave() { leave_ = true; }
  Result<HttpResult> Join() {
    thread_.join();
    return result_;
  }

 private:
  Mutex mu_;
  CondVar cv_;
  bool streaming_ = false;
  std::atomic<bool> leave_{false};
  Result<HttpResult> result_ = Internal("not run");
  std::thread thread_;  // last: it starts once the members above exist
};

class ResourceApiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // The kinds these tests use: the auth kinds, the core ones, and a Job-like kind whose
    // schema and rule stand in for a module's.
    TypeRegistry& types = TypeRegistry::Global();
    RegisterCoreKinds(types);
    RegisterAuthKinds(types);
    types.Add({"", "v1", "Pod", "pods", true, {"po"}});
    ResourceType job{"batch", "v1", "Job", "jobs", true, {"job"}};
    job.schema = KindSchema({{"spec", openapi::Object({{"parallelism", openapi::Integer(0)},
                                                       {"completions", openapi::Integer(0)},
                                                       {"suspend", openapi::Boolean()},
                                                       {"mode", openapi::Enum({"A", "B"})}})},
                             {"status", openapi::Object({{"active", openapi::Integer(0)}})}});
    job.validate = [](Json& obj, bool) -> Status {
      Json& spec = obj["spec"];
      if (!spec.is_object()) spec = Json::object();
      if (spec.value("parallelism", 1) > 100) {
        return InvalidArgument("spec.parallelism: must be at most 100");
      }
      if (!spec.contains("completions")) spec["completions"] = 1;  // a default
      return Status::Ok();
    };
    types.Add(std::move(job));
  }

  void SetUp() override {
    store_ = OpenTestStore(dir_, clock_);
    ASSERT_NE(store_, nullptr);
    authn_ = std::make_unique<Authenticator>(*store_, clock_);
    authz_ = std::make_unique<Authorizer>(*store_);
    ASSERT_TRUE(CreateUser(*store_, "root", true).ok());
    ASSERT_TRUE(CreateUser(*store_, "bob", false).ok());
    admin_token_ = MintToken(*store_, clock_, "root")->token;
    bob_token_ = MintToken(*store_, clock_, "bob")->token;
    server_ = std::make_unique<ApiServer>(ApiServer::Options{}, *store_, *authn_, *authz_, clock_);
    server_->resources().set_watch_poll(std::chrono::milliseconds(20));
    ASSERT_TRUE(server_->Start().ok());
    client_ = std::make_unique<HttpClient>(server_->url());
  }

  HttpResult Call(const std::string& method, const std::string& path, const std::string& body = "",
                  const std::string& token = "admin", HttpHeaders headers = {}) {
    std::string t = token == "admin" ? admin_token_ : token == "bob" ? bob_token_ : token;
    if (!t.empty()) headers["Authorization"] = "Bearer " + t;
    auto res = client_->Request(method, path, headers, body);
    EXPECT_TRUE(res.ok()) << res.status().ToString();
    return res.ok() ? *res : HttpResult{};
  }
  static Json Body(const HttpResult& r) { return Json::parse(r.body); }

  TempDir dir_;
  FakeClock clock_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Authenticator> authn_;
  std::unique_ptr<Authorizer> authz_;
  std::unique_ptr<ApiServer> server_;
  std::unique_ptr<HttpClient> client_;
  std::string admin_token_;
  std::string bob_token_;
};

TEST_F(ResourceApiTest, CreateThenGetReturnsTheStoredObjectWithDefaults) {
  HttpResult r = Call("POST", kJobs, Job("pi").dump());
  ASSERT_EQ(r.status, 201) << r.body;
  Json created = Body(r);
  EXPECT_EQ(created["metadata"]["namespace"], "team-a");
  EXPECT_FALSE(created["metadata"]["uid"].get<std::string>().empty());
  EXPECT_EQ(created["spec"]["completions"], 1);
  r = Call("GET", std::string(kJobs) + "/pi");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(Body(r), created);
  r = Call("POST", kJobs, Job("pi").dump());
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(Body(r)["reason"], "AlreadyExists");
}

TEST_F(ResourceApiTest, YamlBodiesAreAccepted) {
  std::string yaml =
      "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: from-yaml\nspec:\n"
      "  parallelism: 2\n";
  HttpResult r = Call("POST", kJobs, yaml, "admin", {{"Content-Type", "application/yaml"}});
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(Body(r)["spec"]["parallelism"], 2);
}

TEST_F(ResourceApiTest, ListFiltersByLabelAndPages) {
  for (int i = 0; i < 5; ++i) {
    std::string tier = i % 2 == 0 ? "web" : "db";
    ASSERT_EQ(Call("POST", kJobs, Job("j" + std::to_string(i), {{"tier", tier}}).dump()).status,
              201);
  }
  HttpResult r = Call("GET", std::string(kJobs) + "?labelSelector=tier%3Dweb");
  ASSERT_EQ(r.status, 200) << r.body;
  Json list = Body(r);
  EXPECT_EQ(list["kind"], "JobList");
  EXPECT_EQ(list["apiVersion"], "batch/v1");
  EXPECT_FALSE(list["metadata"]["resourceVersion"].get<std::string>().empty());
  ASSERT_EQ(list["items"].size(), 3u);
  EXPECT_EQ(list["items"][0]["metadata"]["name"], "j0");

  std::vector<std::string> names;
  std::string cont;
  do {
    std::string path = std::string(kJobs) + "?limit=2";
    if (!cont.empty()) path += "&continue=" + PercentEncode(cont);
    r = Call("GET", path);
    ASSERT_EQ(r.status, 200) << r.body;
    Json page = Body(r);
    EXPECT_LE(page["items"].size(), 2u);
    for (const Json& item : page["items"]) names.push_back(MetaName(item));
    cont = page["metadata"].value("continue", "");
  } while (!cont.empty());
  EXPECT_EQ(names, (std::vector<std::string>{"j0", "j1", "j2", "j3", "j4"}));

  EXPECT_EQ(Call("GET", std::string(kJobs) + "?limit=-1").status, 400);
  r = Call("GET", std::string(kJobs) + "?labelSelector=a%20in%20(");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(Body(r)["message"].get<std::string>().find("labelSelector"), std::string::npos);
}

TEST_F(ResourceApiTest, AdminListsAcrossNamespaces) {
  ASSERT_EQ(Call("POST", kJobs, Job("a").dump()).status, 201);
  ASSERT_EQ(Call("POST", "/apis/batch/v1/namespaces/team-b/jobs", Job("b").dump()).status, 201);
  HttpResult r = Call("GET", "/apis/batch/v1/jobs");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r)["items"].size(), 2u);
  EXPECT_EQ(Call("GET", "/apis/batch/v1/jobs", "", "bob").status, 403);
}

TEST_F(ResourceApiTest, ReplaceWithAStaleVersionIsAConflictAndKeepsTheStatus) {
  Json created = Body(Call("POST", kJobs, Job("pi").dump()));
  // A controller writes status through the /status subresource.
  Json with_status = created;
  with_status["status"] = {{"active", 1}};
  HttpResult r = Call("PUT", std::string(kJobs) + "/pi/status", with_status.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  Json after_status = Body(r);
  EXPECT_EQ(after_status["status"]["active"], 1);

  // A user's PUT with the current version updates spec and cannot touch status.
  Json edit = after_status;
  edit["spec"]["parallelism"] = 3;
  edit["status"] = {{"active", 99}};
  r = Call("PUT", std::string(kJobs) + "/pi", edit.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  Json replaced = Body(r);
  EXPECT_EQ(replaced["spec"]["parallelism"], 3);
  EXPECT_EQ(replaced["status"]["active"], 1);

  // The version it was based on is now stale.
  r = Call("PUT", std::string(kJobs) + "/pi", edit.dump());
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(Body(r)["reason"], "Conflict");
}

TEST_F(ResourceApiTest, MergePatchChangesOnlyWhatItNames) {
  Json job = Job("pi", {{"a", "1"}, {"b", "2"}});
  ASSERT_EQ(Call("POST", kJobs, job.dump()).status, 201);
  Json patch = {{"metadata", {{"labels", {{"a", nullptr}, {"c", "3"}}}}},
                {"spec", {{"parallelism", 4}}}};
  HttpResult r = Call("PATCH", std::string(kJobs) + "/pi", patch.dump(), "admin",
                      {{"Content-Type", "application/merge-patch+json"}});
  ASSERT_EQ(r.status, 200) << r.body;
  Json patched = Body(r);
  EXPECT_EQ(patched["metadata"]["labels"], (Json{{"b", "2"}, {"c", "3"}}));
  EXPECT_EQ(patched["spec"]["parallelism"], 4);
  EXPECT_EQ(patched["spec"]["completions"], 1);

  r = Call("PATCH", std::string(kJobs) + "/pi", R"({"spec":{"parallelism":"two"}})", "admin",
           {{"Content-Type", "application/merge-patch+json"}});
  EXPECT_EQ(r.status, 422);
  // JSON patch (RFC 6902), checked by the same admission.
  r = Call("PATCH", std::string(kJobs) + "/pi",
           R"([{"op":"test","path":"/spec/parallelism","value":4},
               {"op":"replace","path":"/spec/parallelism","value":5}])",
           "admin", {{"Content-Type", "application/json-patch+json"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r)["spec"]["parallelism"], 5);
  r = Call("PATCH", std::string(kJobs) + "/pi",
           R"([{"op":"replace","path":"/spec/parallelism","value":"five"}])", "admin",
           {{"Content-Type", "application/json-patch+json"}});
  EXPECT_EQ(r.status, 422) << r.body;
  r = Call("PATCH", std::string(kJobs) + "/pi",
           R"([{"op":"test","path":"/spec/parallelism","value":4}])", "admin",
           {{"Content-Type", "application/json-patch+json"}});
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("the test failed"), std::string::npos) << r.body;
  r = Call("PATCH", std::string(kJobs) + "/pi", R"({"op":"remove"})", "admin",
           {{"Content-Type", "application/json-patch+json"}});
  EXPECT_EQ(r.status, 400) << r.body;
  // A strategic merge patch is not taken for a merge patch for a kind without a strategy (a
  // custom kind): its directives would become data.
  const std::string before = Body(Call("GET", std::string(kJobs) + "/pi"))["spec"].dump();
  r = Call("PATCH", std::string(kJobs) + "/pi", R"({"spec":{"$patch":"replace","parallelism":7}})",
           "admin", {{"Content-Type", "application/strategic-merge-patch+json"}});
  EXPECT_EQ(r.status, 415);
  EXPECT_EQ(Body(r)["reason"], "UnsupportedMediaType");
  EXPECT_EQ(Body(Call("GET", std::string(kJobs) + "/pi"))["spec"].dump(), before);
  r = Call("PATCH", std::string(kJobs) + "/nope", R"({"spec":{}})", "admin",
           {{"Content-Type", "application/merge-patch+json"}});
  EXPECT_EQ(r.status, 404);
}

TEST_F(ResourceApiTest, ServerSideApplyCreatesOwnsAndRefusesToTakeAnotherManagersField) {
  const HttpHeaders apply = {{"Content-Type", "application/apply-patch+yaml"}};
  const std::string pi = std::string(kJobs) + "/pi";
  const std::string config =
      "apiVersion: batch/v1\nkind: Job\nmetadata: {name: pi}\n"
      "spec: {parallelism: 2}\n";
  HttpResult r = Call("PATCH", pi, config, "admin", apply);
  EXPECT_EQ(r.status, 400) << "an apply names its field manager";
  EXPECT_NE(r.body.find("fieldManager"), std::string::npos) << r.body;

  r = Call("PATCH", pi + "?fieldManager=kubectl", config, "admin", apply);
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(Body(r)["spec"]["completions"], 1) << "defaulted as on a create";
  EXPECT_EQ(Body(r)["metadata"]["managedFields"][0]["manager"], "kubectl");
  EXPECT_EQ(Body(r)["metadata"]["managedFields"][0]["operation"], "Apply");
  const std::string version = TextAt(Body(r), {"metadata", "resourceVersion"});
  clock_.Advance(std::chrono::seconds(5));
  r = Call("PATCH", pi + "?fieldManager=kubectl", config, "admin", apply);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(TextAt(Body(r), {"metadata", "resourceVersion"}), version)
      << "the same apply is a no-op";

  // Another manager changes the field; applying the old value again is a conflict naming it.
  r = Call("PATCH", pi + "?fieldManager=editor", R"({"spec":{"parallelism":3}})", "admin",
           {{"Content-Type", "application/merge-patch+json"}});
  ASSERT_EQ(r.status, 200) << r.body;
  r = Call("PATCH", pi + "?fieldManager=kubectl", config, "admin", apply);
  ASSERT_EQ(r.status, 409) << r.body;
  EXPECT_EQ(Body(r)["details"]["causes"][0]["field"], ".spec.parallelism");
  EXPECT_EQ(Body(r)["details"]["causes"][0]["reason"], "FieldManagerConflict");
  EXPECT_NE(r.body.find(R"(conflict with \"editor\")"), std::string::npos) << r.body;
  r = Call("PATCH", pi + "?fieldManager=kubectl&force=true", config, "admin", apply);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r)["spec"]["parallelism"], 2);

  // What admission refuses, an apply cannot store; force belongs to applies only.
  r = Call("PATCH", pi + "?fieldManager=kubectl", "spec: {parallelism: two}\n", "admin", apply);
  EXPECT_EQ(r.status, 422) << r.body;
  r = Call("PATCH", pi + "?force=true", R"({"spec":{"parallelism":3}})", "admin",
           {{"Content-Type", "application/merge-patch+json"}});
  EXPECT_EQ(r.status, 400) << r.body;
  r = Call("PATCH", pi + "?fieldManager=%01", config, "admin", apply);
  EXPECT_EQ(r.status, 400) << r.body;
  // Without a fieldManager, a write is recorded under its client's name.
  r = Call("POST", kJobs, Job("other").dump(), "admin", {{"User-Agent", "kfp-client/2.0"}});
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(Body(r)["metadata"]["managedFields"][0]["manager"], "kfp-client");
}

TEST_F(ResourceApiTest, AnApplyThatWouldCreateNeedsTheRightToCreate) {
  HttpResult r = Call("PATCH", std::string(kJobs) + "/pi?fieldManager=bob", Job("pi").dump(), "bob",
                      {{"Content-Type", "application/apply-patch+yaml"}});
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_EQ(Call("GET", std::string(kJobs) + "/pi").status, 404);
}

TEST_F(ResourceApiTest, AnObjectWithFinalizersIsMarkedAndGoesWhenTheLastIsRemoved) {
  const HttpHeaders merge = {{"Content-Type", "application/merge-patch+json"}};
  Json job = Job("held");
  job["metadata"]["finalizers"] = {"example.com/hold"};
  ASSERT_EQ(Call("POST", kJobs, job.dump()).status, 201);
  const std::string held = std::string(kJobs) + "/held";
  HttpResult r = Call("DELETE", held);
  ASSERT_EQ(r.status, 202) << r.body;
  EXPECT_FALSE(TextAt(Body(r), {"metadata", "deletionTimestamp"}).empty()) << r.body;
  const std::string version = TextAt(Body(r), {"metadata", "resourceVersion"});
  r = Call("DELETE", held);
  EXPECT_EQ(r.status, 202);
  EXPECT_EQ(TextAt(Body(r), {"metadata", "resourceVersion"}), version) << "marked once";
  EXPECT_EQ(Call("GET", held).status, 200);
  // While it is being deleted it takes no new finalizer, and no write unmarks it.
  r = Call("PATCH", held, R"({"metadata":{"finalizers":["example.com/hold","example.com/more"]}})",
           "admin", merge);
  EXPECT_EQ(r.status, 422) << r.body;
  r = Call("PATCH", held, R"({"metadata":{"deletionTimestamp":null,"labels":{"a":"b"}}})", "admin",
           merge);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_FALSE(TextAt(Body(r), {"metadata", "deletionTimestamp"}).empty());
  // The write that removes the last finalizer ends it.
  r = Call("PATCH", held, R"({"metadata":{"finalizers":null}})", "admin", merge);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Call("GET", held).status, 404);
}

TEST_F(ResourceApiTest, OrphanAndForegroundDeletesLeaveTheObjectToTheGarbageCollector) {
  ASSERT_EQ(Call("POST", kJobs, Job("pi").dump()).status, 201);
  const std::string pi = std::string(kJobs) + "/pi";
  HttpResult r = Call("DELETE", pi, R"({"propagationPolicy":"Orphan"})");
  ASSERT_EQ(r.status, 202) << r.body;
  EXPECT_EQ(Body(r)["metadata"]["finalizers"], Json::array({"orphan"}));
  EXPECT_FALSE(TextAt(Body(r), {"metadata", "deletionTimestamp"}).empty());
  // Asked again, the policy given last holds; with Background no finalizer is left: it goes.
  r = Call("DELETE", pi + "?propagationPolicy=Foreground");
  ASSERT_EQ(r.status, 202) << r.body;
  EXPECT_EQ(Body(r)["metadata"]["finalizers"], Json::array({"foregroundDeletion"}));
  EXPECT_EQ(Call("DELETE", pi, R"({"orphanDependents":false})").status, 200);
  EXPECT_EQ(Call("GET", pi).status, 404);
  // Another finalizer keeps holding it.
  Json held = Job("held");
  held["metadata"]["finalizers"] = {"example.com/hold"};
  ASSERT_EQ(Call("POST", kJobs, held.dump()).status, 201);
  r = Call("DELETE", std::string(kJobs) + "/held", R"({"orphanDependents":true})");
  ASSERT_EQ(r.status, 202) << r.body;
  EXPECT_EQ(Body(r)["metadata"]["finalizers"], Json::array({"example.com/hold", "orphan"}));
  r = Call("DELETE", std::string(kJobs) + "/held?propagationPolicy=Background");
  ASSERT_EQ(r.status, 202) << r.body;
  EXPECT_EQ(Body(r)["metadata"]["finalizers"], Json::array({"example.com/hold"}));
}

TEST_F(ResourceApiTest, DeleteOptionsCarryPreconditionsAndAPropagationPolicy) {
  ASSERT_EQ(Call("POST", kJobs, Job("pi").dump()).status, 201);
  const std::string pi = std::string(kJobs) + "/pi";
  EXPECT_EQ(Call("DELETE", pi, R"({"preconditions":{"uid":"not-its-uid"}})").status, 409);
  HttpResult r = Call("DELETE", pi + "?propagationPolicy=Sideways");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("propagationPolicy"), std::string::npos) << r.body;
  EXPECT_EQ(Call("DELETE", pi, R"({"propagationPolicy":5})").status, 400);
  EXPECT_EQ(Call("DELETE", pi, R"({"preconditions":"x"})").status, 400);
  // kubectl delete --dry-run=server says so in the body: nothing goes.
  EXPECT_EQ(Call("DELETE", pi, R"({"dryRun":["All"]})").status, 200);
  EXPECT_EQ(Call("DELETE", pi, R"({"dryRun":["Some"]})").status, 400);
  EXPECT_EQ(Call("GET", pi).status, 200);
  const std::string uid = TextAt(Body(Call("GET", pi)), {"metadata", "uid"});
  r = Call("DELETE", pi,
           R"({"kind":"DeleteOptions","apiVersion":"v1","propagationPolicy":"Background",)"
           R"("preconditions":{"uid":")" +
               uid + R"("}})");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Call("GET", pi).status, 404);
}

TEST_F(ResourceApiTest, DeleteRemovesTheObject) {
  ASSERT_EQ(Call("POST", kJobs, Job("pi").dump()).status, 201);
  HttpResult r = Call("DELETE", std::string(kJobs) + "/pi");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(MetaName(Body(r)), "pi");
  r = Call("GET", std::string(kJobs) + "/pi");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(Body(r)["reason"], "NotFound");
  EXPECT_EQ(Call("DELETE", std::string(kJobs) + "/pi").status, 404);
}

TEST_F(ResourceApiTest, WatchStreamsAddedModifiedDeleted) {
  Json list = Body(Call("GET", kJobs));
  std::string rv = list["metadata"]["resourceVersion"];
  std::vector<Json> events;
  Result<HttpResult> watch_result = Internal("not run");
  std::thread watcher([&] {
    HttpClient watch_client(server_->url());
    watch_result = watch_client.StreamLines(
        std::string(kJobs) + "?watch=true&resourceVersion=" + rv,
        {{"Authorization", "Bearer " + admin_token_}}, [&](std::string_view line) {
          events.push_back(Json::parse(line));
          return events.size() < 3;
        });
  });
  Json created = Body(Call("POST", kJobs, Job("pi").dump()));
  // Another namespace's job is not part of this watch.
  ASSERT_EQ(Call("POST", "/apis/batch/v1/namespaces/team-b/jobs", Job("other").dump()).status, 201);
  created["spec"]["parallelism"] = 2;
  ASSERT_EQ(Call("PUT", std::string(kJobs) + "/pi", created.dump()).status, 200);
  ASSERT_EQ(Call("DELETE", std::string(kJobs) + "/pi").status, 200);
  watcher.join();
  ASSERT_TRUE(watch_result.ok()) << watch_result.status().ToString();
  EXPECT_EQ(watch_result->status, 200);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0]["type"], "ADDED");
  EXPECT_EQ(events[1]["type"], "MODIFIED");
  EXPECT_EQ(events[1]["object"]["spec"]["parallelism"], 2);
  EXPECT_EQ(events[2]["type"], "DELETED");
  for (const Json& ev : events) EXPECT_EQ(MetaName(ev["object"]), "pi");
}

TEST_F(ResourceApiTest, WatchWithoutAVersionStartsWithTheCurrentObjects) {
  ASSERT_EQ(Call("POST", kJobs, Job("existing").dump()).status, 201);
  std::vector<Json> events;
  HttpClient watch_client(server_->url());
  auto res = watch_client.StreamLines(std::string(kJobs) + "?watch=1",
                                      {{"Authorization", "Bearer " + admin_token_}},
                                      [&](std::string_view line) {
                                        events.push_back(Json::parse(line));
                                        return false;
                                      });
  ASSERT_TRUE(res.ok());
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]["type"], "ADDED");
  EXPECT_EQ(MetaName(events[0]["object"]), "existing");
}

TEST_F(ResourceApiTest, FieldSelectorsFilterListsAndWatchesAndUnknownFieldsAre400) {
  ASSERT_EQ(Call("POST", kJobs, Job("one").dump()).status, 201);
  ASSERT_EQ(Call("POST", kJobs, Job("two").dump()).status, 201);
  Json listed = Body(Call("GET", std::string(kJobs) + "?fieldSelector=metadata.name%3Dtwo"));
  ASSERT_EQ(listed["items"].size(), 1u);
  EXPECT_EQ(MetaName(listed["items"][0]), "two");
  listed = Body(Call("GET", std::string(kJobs) + "?fieldSelector=metadata.name!%3Dtwo"));
  ASSERT_EQ(listed["items"].size(), 1u);
  EXPECT_EQ(MetaName(listed["items"][0]), "one");
  HttpResult refused = Call("GET", std::string(kJobs) + "?fieldSelector=spec.parallelism%3D1");
  EXPECT_EQ(refused.status, 400);
  EXPECT_NE(refused.body.find("field label not supported: spec.parallelism"), std::string::npos);

  std::vector<Json> events;
  HttpClient watch_client(server_->url());
  auto res = watch_client.StreamLines(
      std::string(kJobs) + "?watch=1&fieldSelector=metadata.name%3Dtwo&timeoutSeconds=1",
      {{"Authorization", "Bearer " + admin_token_}}, [&](std::string_view line) {
        events.push_back(Json::parse(line));
        return true;
      });
  ASSERT_TRUE(res.ok());
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(MetaName(events[0]["object"]), "two");
}

TEST_F(ResourceApiTest, AStreamingListEndsItsInitialEventsWithAnAnnotatedBookmark) {
  ASSERT_EQ(Call("POST", kJobs, Job("one").dump()).status, 201);
  std::string rv = Body(Call("GET", kJobs))["metadata"]["resourceVersion"];
  // As client-go's watch-list asks (kubectl wait, informers).
  const std::string path = std::string(kJobs) +
                           "?watch=1&sendInitialEvents=true&allowWatchBookmarks=true"
                           "&resourceVersionMatch=NotOlderThan&resourceVersion=" +
                           rv;
  std::vector<Json> events;
  HttpClient watch_client(server_->url());
  auto res = watch_client.StreamLines(path, {{"Authorization", "Bearer " + admin_token_}},
                                      [&](std::string_view line) {
                                        events.push_back(Json::parse(line));
                                        return events.size() < 2;
                                      });
  ASSERT_TRUE(res.ok());
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0]["type"], "ADDED");
  EXPECT_EQ(MetaName(events[0]["object"]), "one");
  EXPECT_EQ(events[1]["type"], "BOOKMARK");
  EXPECT_EQ(events[1]["object"]["kind"], "Job");
  EXPECT_EQ(events[1]["object"]["metadata"]["resourceVersion"], rv);
  EXPECT_EQ(events[1]["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"], "true");

  // The API server's rules for the parameters.
  EXPECT_EQ(Call("GET", std::string(kJobs) + "?watch=1&sendInitialEvents=true").status, 400);
  EXPECT_EQ(Call("GET", std::string(kJobs) +
                            "?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan")
                .status,
            400);
  EXPECT_EQ(Call("GET", std::string(kJobs) + "?watch=1&resourceVersionMatch=Exact").status, 400);
}

TEST_F(ResourceApiTest, AQuietWatchThatAskedForBookmarksGetsThem) {
  server_->resources().set_bookmark_interval(std::chrono::milliseconds(50));
  std::string rv = Body(Call("GET", kJobs))["metadata"]["resourceVersion"];
  std::vector<Json> events;
  HttpClient watch_client(server_->url());
  auto res = watch_client.StreamLines(
      std::string(kJobs) + "?watch=1&allowWatchBookmarks=true&resourceVersion=" + rv,
      {{"Authorization", "Bearer " + admin_token_}}, [&](std::string_view line) {
        events.push_back(Json::parse(line));
        return false;
      });
  ASSERT_TRUE(res.ok());
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]["type"], "BOOKMARK");
  EXPECT_EQ(events[0]["object"]["metadata"]["resourceVersion"], rv);
  EXPECT_FALSE(events[0]["object"]["metadata"].contains("annotations"));
}

TEST_F(ResourceApiTest, AWatchTimeoutOfAnySizeIsServedAndAZeroOneEndsAtOnce) {
  ASSERT_EQ(Call("POST", kJobs, Job("existing").dump()).status, 201);
  HttpClient watch_client(server_->url());
  for (const char* timeout : {"9223372036854775807", "31536000000"}) {
    std::vector<Json> events;
    auto res = watch_client.StreamLines(std::string(kJobs) + "?watch=1&timeoutSeconds=" + timeout,
                                        {{"Authorization", "Bearer " + admin_token_}},
                                        [&](std::string_view line) {
                                          events.push_back(Json::parse(line));
                                          return false;
                                        });
    ASSERT_TRUE(res.ok()) << timeout;
    EXPECT_EQ(res->status, 200) << timeout;
    EXPECT_EQ(events.size(), 1u) << timeout;
  }
  std::vector<Json> events;
  auto res = watch_client.StreamLines(std::string(kJobs) + "?watch=1&timeoutSeconds=0",
                                      {{"Authorization", "Bearer " + admin_token_}},
                                      [&](std::string_view line) {
                                        events.push_back(Json::parse(line));
                                        return true;
                                      });
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(events.size(), 1u) << "the current objects, then the end";
  EXPECT_EQ(Call("GET", std::string(kJobs) + "?watch=1&timeoutSeconds=-1").status, 400);
  EXPECT_EQ(Call("GET", std::string(kJobs) + "?watch=1&timeoutSeconds=99999999999999999999").status,
            400);
}

TEST_F(ResourceApiTest, DeepDocumentsAndHugeNumbersAre400AndStoreNothing) {
  const std::string cms = "/api/v1/namespaces/team-a/configmaps";
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  for (const char* type : {"application/json", "application/yaml"}) {
    std::string body = R"({"metadata": {"name": "deep"}, "data": {"a": "b"}, "x": )" + deep + "}";
    HttpResult r = Call("POST", cms, body, "admin", {{"Content-Type", type}});
    ASSERT_EQ(r.status, 400) << type << ": " << r.body.substr(0, 300);
    EXPECT_NE(Body(r)["message"].get<std::string>().find("nested deeper than 128"),
              std::string::npos)
        << r.body;
    r = Call("POST", cms, R"({"metadata": {"name": "big"}, "data": {"a": "b"}, "n": 1e400})",
             "admin", {{"Content-Type", type}});
    ASSERT_EQ(r.status, 400) << type << ": " << r.body;
  }
  EXPECT_EQ(Call("GET", cms + "/deep").status, 404);
  EXPECT_EQ(Call("GET", cms + "/big").status, 404);
}

TEST_F(ResourceApiTest, MalformedYamlIs400NamingTheLine) {
  HttpResult r = Call("POST", kJobs, "metadata: {name: x\nspec: [", "admin",
                      {{"Content-Type", "application/yaml"}});
  ASSERT_EQ(r.status, 400);
  Json status = Body(r);
  EXPECT_EQ(status["kind"], "Status");
  EXPECT_EQ(status["status"], "Failure");
  EXPECT_EQ(status["code"], 400);
  EXPECT_NE(status["message"].get<std::string>().find("line"), std::string::npos);
  r = Call("POST", kJobs, "{\"metadata\": ", "admin");
  ASSERT_EQ(r.status, 400);
  EXPECT_NE(Body(r)["message"].get<std::string>().find("line"), std::string::npos);
  EXPECT_EQ(Call("POST", kJobs, "[1, 2]").status, 400);
  EXPECT_EQ(Call("POST", kJobs, "").status, 400);
}

TEST_F(ResourceApiTest, UnknownKindIs404NamingIt) {
  HttpResult r = Call("POST", "/apis/example.com/v1/namespaces/team-a/widgets",
                      R"({"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w"}})");
  ASSERT_EQ(r.status, 404);
  EXPECT_NE(Body(r)["message"].get<std::string>().find("widgets"), std::string::npos);
  r = Call("GET", "/apis/batch/v2/namespaces/team-a/jobs");
  EXPECT_EQ(r.status, 404);
  r = Call("GET", "/apis/skiff.dev/v1/namespaces/team-a/users");
  EXPECT_EQ(r.status, 404);
  EXPECT_NE(Body(r)["message"].get<std::string>().find("cluster-scoped"), std::string::npos);
}

TEST_F(ResourceApiTest, SchemaErrorsAre422NamingEveryField) {
  Json bad = Job("bad");
  bad["spec"]["parallelism"] = "two";
  bad["spec"]["suspend"] = "yes";
  bad["spec"]["mode"] = "C";
  HttpResult r = Call("POST", kJobs, bad.dump());
  ASSERT_EQ(r.status, 422) << r.body;
  Json status = Body(r);
  EXPECT_EQ(status["reason"], "Invalid");
  EXPECT_EQ(status["code"], 422);
  ASSERT_EQ(status["details"]["causes"].size(), 3u) << r.body;
  std::set<std::string> fields;
  for (const Json& c : status["details"]["causes"]) fields.insert(c["field"].get<std::string>());
  EXPECT_EQ(fields, (std::set<std::string>{"spec.parallelism", "spec.suspend", "spec.mode"}));
  EXPECT_NE(status["message"].get<std::string>().find("spec.suspend: expected boolean, got string"),
            std::string::npos)
      << r.body;
  // Nothing was stored.
  EXPECT_EQ(Call("GET", std::string(kJobs) + "/bad").status, 404);
}

TEST_F(ResourceApiTest, RuleErrorsAre422NamingTheField) {
  Json bad = Job("bad");
  bad["spec"]["parallelism"] = 101;
  HttpResult r = Call("POST", kJobs, bad.dump());
  ASSERT_EQ(r.status, 422) << r.body;
  Json status = Body(r);
  EXPECT_EQ(status["details"]["causes"][0]["field"], "spec.parallelism");
}

TEST_F(ResourceApiTest, UnknownFieldsArePrunedWithAWarningOrRefusedWhenStrict) {
  Json job = Job("extra");
  job["spec"]["paralelism"] = 2;
  HttpResult r = Call("POST", kJobs, job.dump());
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_FALSE(Body(r)["spec"].contains("paralelism"));
  EXPECT_NE(r.headers["warning"].find(R"(299 - "unknown field \"spec.paralelism\"")"),
            std::string::npos)
      << r.headers["warning"];
  job["metadata"]["name"] = "strict";
  r = Call("POST", std::string(kJobs) + "?fieldValidation=Strict", job.dump());
  ASSERT_EQ(r.status, 422) << r.body;
  EXPECT_EQ(Body(r)["details"]["causes"][0]["field"], "spec.paralelism");
  EXPECT_EQ(Body(r)["details"]["causes"][0]["reason"], "FieldValueUnknown");
  EXPECT_EQ(Call("POST", std::string(kJobs) + "?fieldValidation=Loose", job.dump()).status, 400);
}

TEST_F(ResourceApiTest, StatusWritesAreCheckedAgainstTheSchema) {
  // A kind whose status is typed: a forged status of the wrong shape is refused.
  ResourceType widget{"status.example.com", "v1", "Gadget", "gadgets", true, {}};
  widget.schema = KindSchema({{"status", openapi::Object({{"conditions", openapi::Conditions()},
                                                          {"count", openapi::Integer(0)}})}});
  TypeRegistry::Global().Add(widget);
  const std::string widgets = "/apis/status.example.com/v1/namespaces/team-a/gadgets";
  ASSERT_EQ(Call("POST", widgets, R"({"metadata":{"name":"w"}})").status, 201);
  HttpResult r = Call("PUT", widgets + "/w/status", R"({"status":{"conditions":"x"}})");
  ASSERT_EQ(r.status, 422) << r.body;
  EXPECT_EQ(Body(r)["details"]["causes"][0]["field"], "status.conditions");
  r = Call("PATCH", widgets + "/w/status", R"({"status":{"count":-1}})", "admin",
           {{"Content-Type", "application/merge-patch+json"}});
  EXPECT_EQ(r.status, 422) << r.body;
  r = Call("PATCH", widgets + "/w/status", R"({"status":{"count":2}})", "admin",
           {{"Content-Type", "application/merge-patch+json"}});
  EXPECT_EQ(r.status, 200) << r.body;
}

TEST_F(ResourceApiTest, BodyThatDisagreesWithTheUrlIs400) {
  Json wrong_kind = Job("x");
  wrong_kind["kind"] = "Pod";
  HttpResult r = Call("POST", kJobs, wrong_kind.dump());
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(Body(r)["details"]["field"], "kind");
  Json wrong_version = Job("x");
  wrong_version["apiVersion"] = "batch/v2";
  EXPECT_EQ(Call("POST", kJobs, wrong_version.dump()).status, 400);
  Json wrong_ns = Job("x");
  wrong_ns["metadata"]["namespace"] = "team-b";
  r = Call("POST", kJobs, wrong_ns.dump());
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(Body(r)["details"]["field"], "metadata.namespace");
  r = Call("POST", kJobs, Job("Not_A_Name").dump());
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(Body(r)["details"]["field"], "metadata.name");
  ASSERT_EQ(Call("POST", kJobs, Job("x").dump()).status, 201);
  r = Call("PUT", std::string(kJobs) + "/x", Job("y").dump());
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(Body(r)["details"]["field"], "metadata.name");
}

TEST_F(ResourceApiTest, GenerateNameMakesAUniqueName) {
  Json job = Job("");
  job["metadata"].erase("name");
  job["metadata"]["generateName"] = "pi-";
  HttpResult r = Call("POST", kJobs, job.dump());
  ASSERT_EQ(r.status, 201) << r.body;
  std::string name = MetaName(Body(r));
  EXPECT_EQ(name.rfind("pi-", 0), 0u);
  EXPECT_EQ(name.size(), 8u);
}

TEST_F(ResourceApiTest, AnImmutableSecretOrConfigMapChangesOnlyItsMetadata) {
  const std::string secrets = "/api/v1/namespaces/team-a/secrets";
  Json secret = {{"apiVersion", "v1"},
                 {"kind", "Secret"},
                 {"metadata", {{"name", "s"}}},
                 {"stringData", {{"k", "v"}}},
                 {"immutable", true}};
  ASSERT_EQ(Call("POST", secrets, secret.dump()).status, 201);
  const HttpHeaders merge = {{"Content-Type", "application/merge-patch+json"}};
  for (const Json& patch : {Json{{"stringData", {{"k", "changed"}}}}, Json{{"stringData", nullptr}},
                            Json{{"immutable", false}}, Json{{"stringData", {{"new", "x"}}}}}) {
    HttpResult r = Call("PATCH", secrets + "/s", patch.dump(), "admin", merge);
    EXPECT_EQ(r.status, 422) << patch.dump() << " " << r.body;
    EXPECT_EQ(Body(r)["details"]["causes"][0]["reason"], "FieldValueForbidden") << r.body;
  }
  secret["stringData"]["k"] = "changed";
  EXPECT_EQ(Call("PUT", secrets + "/s", secret.dump()).status, 422);
  HttpResult labelled = Call("PATCH", secrets + "/s",
                             Json{{"metadata", {{"labels", {{"a", "b"}}}}}}.dump(), "admin", merge);
  EXPECT_EQ(labelled.status, 200) << labelled.body;
  HttpResult same =
      Call("PATCH", secrets + "/s", Json{{"stringData", {{"k", "v"}}}}.dump(), "admin", merge);
  EXPECT_EQ(same.status, 200) << "the same value again is no change: " << same.body;
  EXPECT_EQ(Call("DELETE", secrets + "/s").status, 200);

  const std::string config_maps = "/api/v1/namespaces/team-a/configmaps";
  Json cm = {{"apiVersion", "v1"},
             {"kind", "ConfigMap"},
             {"metadata", {{"name", "c"}}},
             {"data", {{"k", "v"}}}};
  ASSERT_EQ(Call("POST", config_maps, cm.dump()).status, 201);
  EXPECT_EQ(
      Call("PATCH", config_maps + "/c", Json{{"data", {{"k", "w"}}}}.dump(), "admin", merge).status,
      200)
      << "not immutable: changes are fine";
  EXPECT_EQ(
      Call("PATCH", config_maps + "/c", Json{{"immutable", true}}.dump(), "admin", merge).status,
      200);
  EXPECT_EQ(
      Call("PATCH", config_maps + "/c", Json{{"data", {{"k", "x"}}}}.dump(), "admin", merge).status,
      422);
}

TEST_F(ResourceApiTest, ALongGenerateNameIsCutSoThatTheObjectCanBeUsedByName) {
  // Once a 250-character generateName made a 255-character name that GET, PUT and DELETE
  // refused: an object nobody could delete.
  Json job = Job("");
  job["metadata"].erase("name");
  job["metadata"]["generateName"] = std::string(249, 'a') + "-";
  HttpResult r = Call("POST", kJobs, job.dump());
  ASSERT_EQ(r.status, 201) << r.body;
  std::string name = MetaName(Body(r));
  EXPECT_EQ(name.size(), 63u);
  EXPECT_EQ(name.rfind(std::string(58, 'a'), 0), 0u);
  std::string path = std::string(kJobs) + "/" + name;
  EXPECT_EQ(Call("GET", path).status, 200);
  EXPECT_EQ(Call("DELETE", path).status, 200);
  job["metadata"]["generateName"] = std::string(253, 'a');
  r = Call("POST", kJobs, job.dump());
  EXPECT_EQ(r.status, 400) << "past a name's own limit";
  EXPECT_EQ(Body(r)["details"]["field"], "metadata.generateName");
}

TEST_F(ResourceApiTest, MissingOrBadTokenIs401) {
  HttpResult r = Call("GET", kJobs, "", "");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(Body(r)["reason"], "Unauthorized");
  EXPECT_EQ(Call("GET", kJobs, "", "skf_nope_nope").status, 401);
  EXPECT_EQ(Call("GET", "/metrics", "", "").status, 401);
}

TEST_F(ResourceApiTest, UserWithoutARoleIsRefusedEveryVerbWithoutLearningAnything) {
  ASSERT_EQ(Call("POST", kJobs, Job("secret-job").dump()).status, 201);
  std::string base = kJobs;
  std::string body = Job("x").dump();
  struct Case {
    std::string method, path, body, content_type;
  };
  std::vector<Case> cases = {
      {"GET", base, "", ""},
      {"GET", base + "?watch=true", "", ""},
      {"GET", base + "/secret-job", "", ""},
      {"GET", base + "/does-not-exist", "", ""},
      {"POST", base, body, ""},
      {"POST", base, "not: [valid", "application/yaml"},
      {"PUT", base + "/secret-job", body, ""},
      {"PUT", base + "/secret-job/status", body, ""},
      {"PATCH", base + "/secret-job", R"({"spec":{}})", "application/merge-patch+json"},
      {"DELETE", base + "/secret-job", "", ""},
      {"DELETE", base + "/does-not-exist", "", ""},
      {"GET", "/api/v1/namespaces/team-a/pods", "", ""},
      {"GET", "/apis/skiff.dev/v1/users", "", ""},
      {"GET", "/apis/skiff.dev/v1/users/root", "", ""},
      {"GET", "/apis/kubeflow.org/v1/profiles/team-a", "", ""},
  };
  for (const Case& c : cases) {
    HttpHeaders headers;
    if (!c.content_type.empty()) headers["Content-Type"] = c.content_type;
    HttpResult r = Call(c.method, c.path, c.body, "bob", headers);
    EXPECT_EQ(r.status, 403) << c.method << " " << c.path << ": " << r.body;
    EXPECT_EQ(r.body.find("secret-job"), std::string::npos) << r.body;
    EXPECT_EQ(r.body.find("does-not-exist"), std::string::npos) << r.body;
    if (r.status == 403) {
      EXPECT_EQ(Body(r)["reason"], "Forbidden");
    }
  }
  HttpResult r = Call("GET", base, "", "bob");
  EXPECT_EQ(Body(r)["message"], "user \"bob\" may not list in namespace \"team-a\"");
  // Nothing changed.
  EXPECT_EQ(Call("GET", base + "/secret-job").status, 200);
}

TEST_F(ResourceApiTest, OnlyAClusterAdminWritesAStatusEvenInTheirOwnProfile) {
  Json profile = {{"apiVersion", "kubeflow.org/v1"},
                  {"kind", "Profile"},
                  {"metadata", {{"name", "team-bob"}}},
                  {"spec", {{"owner", {{"kind", "User"}, {"name", "bob"}}}}}};
  ASSERT_EQ(Call("POST", "/apis/kubeflow.org/v1/profiles", profile.dump()).status, 201);
  const std::string mine = "/apis/batch/v1/namespaces/team-bob/jobs/mine";
  ASSERT_EQ(
      Call("POST", "/apis/batch/v1/namespaces/team-bob/jobs", Job("mine").dump(), "bob").status,
      201);
  Json forged = Body(Call("GET", mine, "", "bob"));
  forged["status"] = {{"succeeded", 1}};
  HttpResult put = Call("PUT", mine + "/status", forged.dump(), "bob");
  EXPECT_EQ(put.status, 403) << put.body;
  EXPECT_NE(put.body.find("written by its controller"), std::string::npos) << put.body;
  EXPECT_EQ(Call("PATCH", mine + "/status", R"({"status":{"succeeded":1}})", "bob",
                 {{"Content-Type", "application/merge-patch+json"}})
                .status,
            403);
  EXPECT_EQ(Call("GET", mine + "/status", "", "bob").status, 200) << "reading it is fine";
  EXPECT_FALSE(Body(Call("GET", mine)).value("status", Json::object()).contains("succeeded"));
  EXPECT_EQ(Call("PUT", mine + "/status", forged.dump()).status, 200) << "the admin's hatch";
}

TEST_F(ResourceApiTest, ProfileOwnerAndRoleBindingsGrantAccess) {
  Json profile = {{"apiVersion", "kubeflow.org/v1"},
                  {"kind", "Profile"},
                  {"metadata", {{"name", "team-bob"}}},
                  {"spec", {{"owner", {{"kind", "User"}, {"name", "bob"}}}}}};
  ASSERT_EQ(Call("POST", "/apis/kubeflow.org/v1/profiles", profile.dump()).status, 201);
  const std::string bobs = "/apis/batch/v1/namespaces/team-bob/jobs";
  ASSERT_EQ(Call("POST", bobs, Job("mine").dump(), "bob").status, 201);
  EXPECT_EQ(Call("GET", "/apis/kubeflow.org/v1/profiles/team-bob", "", "bob").status, 200);
  EXPECT_EQ(Call("GET", "/apis/kubeflow.org/v1/profiles", "", "bob").status, 403);

  ASSERT_TRUE(CreateUser(*store_, "carol", false).ok());
  std::string carol = MintToken(*store_, clock_, "carol")->token;
  Json binding = {{"apiVersion", "skiff.dev/v1"},
                  {"kind", "RoleBinding"},
                  {"metadata", {{"name", "user-carol"}}},
                  {"spec", {{"user", "carol"}, {"role", "view"}}}};
  ASSERT_EQ(
      Call("POST", "/apis/skiff.dev/v1/namespaces/team-bob/rolebindings", binding.dump(), "bob")
          .status,
      201);
  EXPECT_EQ(Call("GET", bobs, "", carol).status, 200);
  EXPECT_EQ(Call("DELETE", bobs + "/mine", "", carol).status, 403);
  EXPECT_EQ(
      Call("POST", "/apis/skiff.dev/v1/namespaces/team-bob/rolebindings", binding.dump(), carol)
          .status,
      403);
}

TEST_F(ResourceApiTest, MintEndpointLetsUsersMintOnlyForThemselves) {
  HttpResult r = Call("POST", "/apis/skiff.dev/v1/tokens:mint", R"({"user":"bob"})");
  ASSERT_EQ(r.status, 201) << r.body;
  std::string minted = Body(r)["token"];
  EXPECT_EQ(minted.rfind("skf_", 0), 0u);
  auto who = authn_->VerifyToken(minted);
  ASSERT_TRUE(who.ok());
  EXPECT_EQ(who->user, "bob");

  r = Call("POST", "/apis/skiff.dev/v1/tokens:mint", "{}", "bob");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(authn_->VerifyToken(Body(r)["token"].get<std::string>())->user, "bob");
  EXPECT_EQ(Call("POST", "/apis/skiff.dev/v1/tokens:mint", R"({"user":"root"})", "bob").status,
            403);
  r = Call("POST", "/apis/skiff.dev/v1/tokens:mint", R"({"user":"ghost"})");
  EXPECT_EQ(r.status, 404);
}

TEST_F(ResourceApiTest, DeletingATokenThroughTheApiRevokesItAtOnce) {
  ASSERT_EQ(Call("GET", kJobs, "", "bob").status, 403);  // authenticated (and cached)
  std::string id;
  std::string secret;
  ASSERT_TRUE(ParseToken(bob_token_, &id, &secret).ok());
  ASSERT_EQ(Call("DELETE", "/apis/skiff.dev/v1/apitokens/" + id).status, 200);
  EXPECT_EQ(Call("GET", kJobs, "", "bob").status, 401);
}

TEST_F(ResourceApiTest, HealthzIsOpenAndMetricsCountRequests) {
  HttpResult r = Call("GET", "/healthz", "", "");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(Body(r), (Json{{"status", "ok"}}));
  ASSERT_EQ(Call("POST", kJobs, Job("pi").dump()).status, 201);
  r = Call("GET", "/metrics");
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("skiff_http_requests_total{"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("code=\"201\""), std::string::npos);
  EXPECT_NE(r.body.find("route=\"/apis/{group}/{version}/namespaces/{namespace}/{plural}\""),
            std::string::npos);
  EXPECT_NE(r.body.find("skiff_http_request_duration_seconds_bucket"), std::string::npos);
  EXPECT_NE(r.body.find("skiff_store_operations_total{op=\"create\",result=\"ok\"}"),
            std::string::npos)
      << r.body;
}

TEST_F(ResourceApiTest, AUserPastTheirWatchLimitGets429AndOthersAreServed) {
  server_->resources().set_watch_limits(/*per_user=*/1, /*total=*/10);
  ASSERT_EQ(Call("POST", kJobs, Job("pi").dump()).status, 201);
  HeldWatch held(server_->url(), std::string(kJobs) + "?watch=true", admin_token_);
  held.WaitStreaming();
  HttpResult second = Call("GET", std::string(kJobs) + "?watch=true");
  EXPECT_EQ(second.status, 429) << second.body;
  EXPECT_EQ(second.Header("retry-after"), "5");
  EXPECT_EQ(Body(second)["reason"], "TooManyRequests");
  EXPECT_EQ(Call("GET", kJobs).status, 200) << "other requests are served";
  held.Leave();
  ASSERT_EQ(Call("POST", kJobs, Job("wake").dump()).status, 201);  // an event: the client leaves
  Result<HttpResult> ended = held.Join();
  ASSERT_TRUE(ended.ok()) << ended.status().ToString();
  EXPECT_EQ(ended->status, 200);
  // The server notices the closed watch within its poll and frees the slot.
  int status = 0;
  for (int i = 0; i < 200 && status != 200; ++i) {
    status = Call("GET", std::string(kJobs) + "?watch=true&timeoutSeconds=0").status;
    if (status != 200) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(status, 200) << "the slot is free again once the watch ended";
}

TEST_F(ResourceApiTest, AUserPastTheirRequestsInFlightGets429AndOthersAreServed) {
  ApiServer server({.max_requests_per_user = 1}, *store_, *authn_, *authz_, clock_);
  Mutex mu;
  bool entered = false, leave = false;
  CondVar cv;
  server.AddRoute("GET", "/slow", [&](const HttpRequest&, HttpResponder& r) {
    MutexLock lock(&mu);
    entered = true;
    cv.SignalAll();
    while (!leave) cv.Wait(mu);
    r.SendJson(200, {{"slow", true}});
  });
  ASSERT_TRUE(server.Start().ok());
  auto get = [&](const std::string& path, const std::string& token) {
    HttpClient client(server.url());
    return client.Request("GET", path, {{"Authorization", "Bearer " + token}}, "");
  };
  std::thread held([&] { EXPECT_EQ(get("/slow", bob_token_)->status, 200); });
  {
    MutexLock lock(&mu);
    while (!entered) cv.Wait(mu);
  }
  Result<HttpResult> second = get("/slow", bob_token_);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->status, 429) << second->body;
  EXPECT_EQ(second->Header("retry-after"), "1");
  EXPECT_EQ(Body(*second)["reason"], "TooManyRequests");
  EXPECT_EQ(get("/healthz", bob_token_)->status, 200) << "health checks are not counted";
  EXPECT_EQ(get(kJobs, admin_token_)->status, 200) << "another user is served";
  {
    MutexLock lock(&mu);
    leave = true;
    cv.SignalAll();
  }
  held.join();
  // The slot is freed just after the answer went out: bob is served again (403: no role) soon.
  int status = 429;
  for (int i = 0; i < 200 && status == 429; ++i) {
    status = get(kJobs, bob_token_)->status;
    if (status == 429) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(status, 403);
  server.Shutdown();
}

TEST_F(ResourceApiTest, DiscoveryListsEveryServedKindAsTheApiServerDoes) {
  HttpResult version = Call("GET", "/version", "", "");
  ASSERT_EQ(version.status, 200) << "without a token, as the API server answers it";
  EXPECT_EQ(Body(version)["major"], "1");
  EXPECT_EQ(Body(version)["gitVersion"].get<std::string>().rfind("v1.", 0), 0u);
  EXPECT_EQ(Call("GET", "/api", "", "").status, 401);

  Json api = Body(Call("GET", "/api"));
  EXPECT_EQ(api["kind"], "APIVersions");
  EXPECT_EQ(api["versions"], Json::array({"v1"}));
  Json core = Body(Call("GET", "/api/v1"));
  EXPECT_EQ(core["groupVersion"], "v1");
  std::map<std::string, Json> by_name;
  for (const Json& r : core["resources"]) by_name[r["name"]] = r;
  ASSERT_TRUE(by_name.count("pods"));
  EXPECT_EQ(by_name["pods"]["kind"], "Pod");
  EXPECT_EQ(by_name["pods"]["namespaced"], true);
  EXPECT_EQ(by_name["pods/log"]["verbs"], Json::array({"get"}));
  EXPECT_TRUE(by_name.count("secrets"));

  Json groups = Body(Call("GET", "/apis"));
  EXPECT_EQ(groups["kind"], "APIGroupList");
  bool batch = false;
  for (const Json& g : groups["groups"]) {
    if (g["name"] == "batch") {
      batch = true;
      EXPECT_EQ(g["preferredVersion"]["groupVersion"], "batch/v1");
    }
    EXPECT_NE(g["name"], "") << "the core group is under /api";
  }
  EXPECT_TRUE(batch);
  EXPECT_EQ(Body(Call("GET", "/apis/batch"))["kind"], "APIGroup");
  Json jobs = Body(Call("GET", "/apis/batch/v1"));
  ASSERT_FALSE(jobs["resources"].empty());
  EXPECT_EQ(jobs["resources"][0]["name"], "jobs");
  EXPECT_EQ(jobs["resources"][0]["shortNames"], Json::array({"job"}));
  EXPECT_EQ(jobs["resources"][1]["name"], "jobs/status");
  EXPECT_EQ(Call("GET", "/apis/batch/v2").status, 404);
  EXPECT_EQ(Call("GET", "/apis/nope.example.com").status, 404);
  EXPECT_EQ(Call("GET", "/api/v2").status, 404);
}

TEST_F(ResourceApiTest, AggregatedDiscoveryAnswersClientsThatOfferIt) {
  // What client-go sends (discovery_client.go): aggregated v2 first, then the legacy forms.
  const HttpHeaders accept = {
      {"Accept",
       "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
       "application/json;q=0.9,*/*;q=0.8"}};
  HttpResult r = Call("GET", "/apis", "", "admin", accept);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.headers["content-type"],
            "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList");
  Json list = Body(r);
  EXPECT_EQ(list["kind"], "APIGroupDiscoveryList");
  EXPECT_EQ(list["apiVersion"], "apidiscovery.k8s.io/v2");
  Json batch;
  for (const Json& g : list["items"]) {
    EXPECT_NE(TextAt(g, {"metadata", "name"}), "") << "the core group is under /api";
    if (TextAt(g, {"metadata", "name"}) == "batch") batch = g;
  }
  ASSERT_EQ(batch["versions"].size(), 1u) << list.dump();
  EXPECT_EQ(batch["versions"][0]["version"], "v1");
  EXPECT_EQ(batch["versions"][0]["freshness"], "Current");
  const Json& jobs = batch["versions"][0]["resources"][0];
  EXPECT_EQ(jobs["resource"], "jobs");
  EXPECT_EQ(jobs["responseKind"], Json({{"group", "batch"}, {"version", "v1"}, {"kind", "Job"}}));
  EXPECT_EQ(jobs["scope"], "Namespaced");
  EXPECT_EQ(jobs["singularResource"], "job");
  EXPECT_EQ(jobs["shortNames"], Json::array({"job"}));
  EXPECT_EQ(jobs["subresources"][0]["subresource"], "status");
  EXPECT_EQ(jobs["subresources"][0]["verbs"], Json::array({"get", "patch", "update"}));

  Json core = Body(Call("GET", "/api", "", "admin", accept));
  ASSERT_EQ(core["items"].size(), 1u);
  std::map<std::string, Json> by_name;
  for (const Json& res : core["items"][0]["versions"][0]["resources"])
    by_name[res["resource"]] = res;
  ASSERT_TRUE(by_name.count("pods"));
  EXPECT_EQ(by_name["pods"]["subresources"][1]["subresource"], "log");
  EXPECT_TRUE(by_name.count("namespaces"));
  // A client that offers only the legacy forms (or v2beta1) gets them.
  r = Call(
      "GET", "/apis", "", "admin",
      {{"Accept", "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"}});
  EXPECT_EQ(Body(r)["kind"], "APIGroupList");
}

TEST_F(ResourceApiTest, ProfilesAreNamespacesEachUserSeesTheirsOnly) {
  Json profile = {{"apiVersion", "kubeflow.org/v1"},
                  {"kind", "Profile"},
                  {"metadata", {{"name", "team-b"}}},
                  {"spec", {{"owner", {{"kind", "User"}, {"name", "bob"}}}}}};
  ASSERT_TRUE(store_->Create(kProfileType, profile).ok());
  auto names = [](const HttpResult& r) {
    std::vector<std::string> out;
    const Json body = Json::parse(r.body);
    for (const Json& ns : body["items"]) out.push_back(ns["metadata"]["name"]);
    return out;
  };
  HttpResult all = Call("GET", "/api/v1/namespaces");
  ASSERT_EQ(all.status, 200) << all.body;
  EXPECT_EQ(Body(all)["kind"], "NamespaceList");
  EXPECT_EQ(names(all), (std::vector<std::string>{"default", "team-b"}));
  EXPECT_EQ(names(Call("GET", "/api/v1/namespaces", "", "bob")),
            std::vector<std::string>{"team-b"});
  HttpResult mine = Call("GET", "/api/v1/namespaces/team-b", "", "bob");
  ASSERT_EQ(mine.status, 200) << mine.body;
  EXPECT_EQ(Body(mine)["status"]["phase"], "Active");
  EXPECT_FALSE(Body(mine)["metadata"]["uid"].get<std::string>().empty());
  EXPECT_EQ(Call("GET", "/api/v1/namespaces/default", "", "bob").status, 403);
  EXPECT_EQ(Call("GET", "/api/v1/namespaces/nowhere", "", "bob").status, 403) << "no oracle";
  EXPECT_EQ(Call("GET", "/api/v1/namespaces/nowhere").status, 404);
  EXPECT_EQ(Call("POST", "/api/v1/namespaces", "{}").status, 404) << "made by a Profile";
}

TEST_F(ResourceApiTest, DeleteCollectionDeletesWhatItsSelectorSelects) {
  for (int i = 0; i < 4; ++i) {
    std::string tier = i % 2 == 0 ? "web" : "db";
    ASSERT_EQ(Call("POST", kJobs, Job("j" + std::to_string(i), {{"tier", tier}}).dump()).status,
              201);
  }
  EXPECT_EQ(Call("DELETE", kJobs, "", "bob").status, 403);
  HttpResult gone = Call("DELETE", std::string(kJobs) + "?labelSelector=tier%3Dweb");
  ASSERT_EQ(gone.status, 200) << gone.body;
  EXPECT_EQ(Body(gone)["kind"], "JobList");
  EXPECT_EQ(Body(gone)["items"].size(), 2u);
  Json left = Body(Call("GET", kJobs));
  ASSERT_EQ(left["items"].size(), 2u);
  EXPECT_EQ(left["items"][0]["metadata"]["labels"]["tier"], "db");
  EXPECT_EQ(Call("DELETE", std::string(kJobs) + "?labelSelector=%3D%3D").status, 400);
  ASSERT_EQ(Call("DELETE", kJobs).status, 200);
  EXPECT_TRUE(Body(Call("GET", kJobs))["items"].empty());
}

TEST_F(ResourceApiTest, ADryRunIsAdmittedAndAnsweredButStoresNothing) {
  HttpResult dry = Call("POST", std::string(kJobs) + "?dryRun=All", Job("ghost").dump());
  ASSERT_EQ(dry.status, 201) << dry.body;
  EXPECT_EQ(Body(dry)["spec"]["completions"], 1) << "defaulted as a create is";
  EXPECT_EQ(Call("GET", std::string(kJobs) + "/ghost").status, 404);
  Json bad = Job("ghost");
  bad["spec"]["parallelism"] = "many";
  EXPECT_EQ(Call("POST", std::string(kJobs) + "?dryRun=All", bad.dump()).status, 422);
  EXPECT_EQ(Call("POST", std::string(kJobs) + "?dryRun=Some", Job("ghost").dump()).status, 400);
  EXPECT_EQ(Call("POST", std::string(kJobs) + "?dryRun=All", Job("ghost").dump(), "bob").status,
            403);

  ASSERT_EQ(Call("POST", kJobs, Job("real").dump()).status, 201);
  const std::string real = std::string(kJobs) + "/real";
  Json changed = Body(Call("GET", real));
  changed["spec"]["parallelism"] = 7;
  EXPECT_EQ(Body(Call("PUT", real + "?dryRun=All", changed.dump()))["spec"]["parallelism"], 7);
  EXPECT_EQ(Call("PATCH", real + "?dryRun=All", R"({"spec":{"parallelism":9}})", "admin",
                 {{"Content-Type", "application/merge-patch+json"}})
                .status,
            200);
  EXPECT_EQ(Call("DELETE", real + "?dryRun=All").status, 200);
  EXPECT_EQ(Call("DELETE", std::string(kJobs) + "?dryRun=All").status, 200);
  Json stored = Body(Call("GET", real));
  EXPECT_EQ(stored["spec"]["parallelism"], 1) << "nothing of the dry runs was stored";
}

TEST_F(ResourceApiTest, AnAccessReviewAnswersAsTheResourceApiWould) {
  constexpr char kReviews[] = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews";
  auto review = [](const std::string& verb, const std::string& resource) {
    return Json{
        {"kind", "SelfSubjectAccessReview"},
        {"apiVersion", "authorization.k8s.io/v1"},
        {"spec",
         {{"resourceAttributes",
           {{"namespace", "team-a"}, {"verb", verb}, {"group", "batch"}, {"resource", resource}}}}}}
        .dump();
  };
  HttpResult r = Call("POST", kReviews, review("create", "jobs"));
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(Body(r)["status"]["allowed"], true);
  r = Call("POST", kReviews, review("create", "jobs"), "bob");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(Body(r)["status"]["allowed"], false);
  EXPECT_EQ(Call("POST", std::string(kJobs), Job("x").dump(), "bob").status, 403);
  r = Call("POST", kReviews, review("create", "nothings"), "bob");
  EXPECT_EQ(Body(r)["status"]["allowed"], false);
  EXPECT_EQ(Call("POST", kReviews, review("frobnicate", "jobs")).status, 400);
  EXPECT_EQ(Call("POST", kReviews, R"({"spec": 3})").status, 400);
  EXPECT_EQ(Call("POST", kReviews, R"({"kind": "Pod", "spec": {}})").status, 400);
  r = Call("POST", kReviews,
           R"({"spec": {"nonResourceAttributes": {"path": "/version", "verb": "get"}}})", "bob");
  EXPECT_EQ(Body(r)["status"]["allowed"], true);
  // Discovery lists the group so that kubectl finds it.
  Json group = Body(Call("GET", "/apis/authorization.k8s.io/v1"));
  EXPECT_EQ(group["resources"][0]["name"], "selfsubjectaccessreviews");
}

TEST_F(ResourceApiTest, AClientThatPrintsGetsTables) {
  ASSERT_EQ(Call("POST", kJobs, Job("pi").dump()).status, 201);
  const HttpHeaders table = {
      {"Accept", "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"}};
  Json listed = Body(Call("GET", kJobs, "", "admin", table));
  EXPECT_EQ(listed["kind"], "Table");
  ASSERT_EQ(listed["columnDefinitions"].size(), 2u);  // Name, Age: the test kind has no columns
  EXPECT_EQ(listed["columnDefinitions"][0]["format"], "name");
  ASSERT_EQ(listed["rows"].size(), 1u);
  EXPECT_EQ(listed["rows"][0]["cells"][0], "pi");
  EXPECT_EQ(listed["rows"][0]["object"]["kind"], "PartialObjectMetadata");
  EXPECT_EQ(listed["rows"][0]["object"]["metadata"]["name"], "pi");
  Json one = Body(Call("GET", std::string(kJobs) + "/pi", "", "admin", table));
  EXPECT_EQ(one["kind"], "Table");
  EXPECT_EQ(one["rows"][0]["cells"][0], "pi");
  // Without the Table media type, objects as ever.
  EXPECT_EQ(Body(Call("GET", kJobs))["kind"], "JobList");
}

TEST_F(ResourceApiTest, ShutdownEndsAnOpenWatch) {
  ASSERT_EQ(Call("POST", kJobs, Job("pi").dump()).status, 201);
  HeldWatch held(server_->url(), std::string(kJobs) + "?watch=true", admin_token_);
  held.WaitStreaming();
  server_->Shutdown();
  Result<HttpResult> res = held.Join();
  ASSERT_TRUE(res.ok()) << res.status().ToString();
  EXPECT_EQ(res->status, 200);
}

}  // namespace
}  // namespace skiff
