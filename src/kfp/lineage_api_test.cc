#include "kfp/lineage_api.h"

#include <gtest/gtest.h>

#include "api/api_server.h"
#include "auth/testing/auth_testing.h"
#include "http/http_client.h"
#include "pipelines/run_controller.h"

namespace skiff {
namespace {

constexpr char kData[] = "file:///home/artifacts/r1/producer/out";

Json Artifact(const std::string& uri, Json metadata = Json::object()) {
  return {{"name", "out"},
          {"uri", uri},
          {"schemaTitle", "system.Dataset"},
          {"schemaVersion", "0.0.1"},
          {"metadata", std::move(metadata)}};
}

// A PipelineRun `name` whose producer wrote kData and whose consumer read it, both in `state`;
// times are offset by `minute` so runs order.
Json ProducerConsumerRun(const std::string& name, const std::string& state, int minute) {
  const std::string t0 = "2026-01-01T00:0" + std::to_string(minute) + ":00Z";
  const std::string t1 = "2026-01-01T00:0" + std::to_string(minute) + ":30Z";
  Json io = {{"parameters", Json::object()}, {"artifacts", Json::object()}};
  Json producer = {{"name", "producer"}, {"kind", "CONTAINER"}, {"component", "comp-producer"},
                   {"state", state},     {"start_time", t0},    {"finish_time", t0},
                   {"inputs", io},       {"outputs", io}};
  producer["outputs"]["artifacts"]["out"] = Json::array({Artifact(kData, {{"rows", 3}})});
  Json consumer = {{"name", "consumer"}, {"kind", "CONTAINER"}, {"component", "comp-consumer"},
                   {"state", state},     {"start_time", t1},    {"finish_time", t1},
                   {"inputs", io},       {"outputs", io}};
  consumer["inputs"]["artifacts"]["data"] = Json::array({Artifact(kData)});
  consumer["outputs"]["parameters"]["Output"] = "hello";
  // The root DAG passes the artifact on as a pipeline output: not a producer of its own.
  Json root = {{"name", name}, {"kind", "DAG"}, {"state", state}, {"outputs", io}};
  root["outputs"]["artifacts"]["result"] = Json::array({Artifact(kData)});
  return {{"apiVersion", "pipelines.kubeflow.org/v2beta1"},
          {"kind", "PipelineRun"},
          {"metadata", {{"name", name}, {"namespace", "team-a"}}},
          {"spec", Json::object()},
          {"status",
           {{"engine",
             {{"tasks",
               {{"root", root}, {"root.producer", producer}, {"root.consumer", consumer}}}}}}}};
}

TEST(LineageIndexTest, AnArtifactHasItsProducerAndItsConsumersAcrossRuns) {
  LineageIndex index;
  // The second run came from the cache; added first, it must not become the producer.
  index.AddRun(ProducerConsumerRun("r2", "CACHED", 5));
  index.AddRun(ProducerConsumerRun("r1", "SUCCEEDED", 1));
  ASSERT_EQ(index.Artifacts().size(), 1u);
  const LineageArtifact* a = index.Find(kData);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->type, "system.Dataset");
  EXPECT_EQ(a->schema_version, "0.0.1");
  EXPECT_EQ(a->metadata, (Json{{"rows", 3}}));
  EXPECT_EQ(a->created, "2026-01-01T00:01:00Z");
  ASSERT_TRUE(a->producer.has_value());
  EXPECT_EQ(a->producer->run, "r1");
  EXPECT_EQ(a->producer->task, "root.producer");
  EXPECT_EQ(a->producer->key, "out");
  EXPECT_EQ(a->producer->state, "SUCCEEDED");
  ASSERT_EQ(a->consumers.size(), 2u);
  EXPECT_EQ(a->consumers[0].run, "r1");
  EXPECT_EQ(a->consumers[0].task, "root.consumer");
  EXPECT_EQ(a->consumers[0].key, "data");
  EXPECT_EQ(a->consumers[1].run, "r2");
  EXPECT_EQ(a->consumers[1].state, "CACHED");
  ASSERT_EQ(a->reused_by.size(), 1u);
  EXPECT_EQ(a->reused_by[0].run, "r2");
  EXPECT_EQ(index.Find("file:///nowhere"), nullptr);

  Json json = LineageArtifactJson(*a);
  EXPECT_EQ(json["producer"]["run"], "r1");
  EXPECT_EQ(json["consumers"].size(), 2u);
  EXPECT_EQ(json["reusedBy"][0]["task"], "root.producer");
}

TEST(LineageIndexTest, TheExecutionsOfATaskAreListedAcrossRunsInTimeOrder) {
  LineageIndex index;
  index.AddRun(ProducerConsumerRun("r2", "CACHED", 5));
  index.AddRun(ProducerConsumerRun("r1", "SUCCEEDED", 1));
  std::vector<LineageExecution> consumer = index.Executions("consumer");
  ASSERT_EQ(consumer.size(), 2u);
  EXPECT_EQ(consumer[0].run, "r1");
  EXPECT_EQ(consumer[0].state, "SUCCEEDED");
  EXPECT_EQ(consumer[0].inputs["artifacts"]["data"], Json::array({kData}));
  EXPECT_EQ(consumer[0].outputs["parameters"]["Output"], "hello");
  EXPECT_EQ(consumer[1].run, "r2");
  EXPECT_EQ(consumer[1].state, "CACHED");
  EXPECT_EQ(index.Executions("root.consumer").size(), 2u);
  EXPECT_EQ(index.Executions("").size(), 4u);  // containers only: no DAG
  EXPECT_TRUE(index.Executions("nope").empty());
  EXPECT_EQ(LineageExecutionJson(consumer[1])["startTime"], "2026-01-01T00:05:30Z");
}

TEST(LineageIndexTest, RunsOfAnyShapeAreSkippedNotFatal) {
  LineageIndex index;
  for (const Json& bad :
       {Json(), Json("x"), Json{{"metadata", 5}}, Json{{"metadata", {{"name", "a"}}}},
        Json{{"metadata", {{"name", "b"}}}, {"status", {{"engine", {{"tasks", "x"}}}}}},
        Json{{"metadata", {{"name", "c"}}},
             {"status",
              {{"engine",
                {{"tasks",
                  {{"root.t", "x"},
                   {"root.u", {{"kind", "CONTAINER"}, {"outputs", {{"artifacts", 5}}}}},
                   {"root.v",
                    {{"kind", "CONTAINER"},
                     {"state", 7},
                     {"inputs", {{"artifacts", {{"a", {1, {{"uri", 2}}, "y"}}}}}},
                     {"outputs", {{"artifacts", {{"o", {{"uri", "file:///o"}}}}}}}}}}}}}}}}}) {
    index.AddRun(bad);
  }
  ASSERT_EQ(index.Artifacts().size(), 1u);
  EXPECT_EQ(index.Find("file:///o")->producer->task, "root.v");
  EXPECT_EQ(index.Executions().size(), 2u);
}

// Through the real ApiServer: authenticated, and refused to a user without a role.
class LineageApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = OpenTestStore(dir_, clock_);
    ASSERT_NE(store_, nullptr);
    authn_ = std::make_unique<Authenticator>(*store_, clock_);
    authz_ = std::make_unique<Authorizer>(*store_);
    ASSERT_TRUE(CreateUser(*store_, "root", true).ok());
    ASSERT_TRUE(CreateUser(*store_, "bob", false).ok());
    admin_ = MintToken(*store_, clock_, "root")->token;
    bob_ = MintToken(*store_, clock_, "bob")->token;
    for (const Json& run :
         {ProducerConsumerRun("r1", "SUCCEEDED", 1), ProducerConsumerRun("r2", "CACHED", 5)}) {
      ASSERT_TRUE(store_->Create(pipelines::kPipelineRunType, run).ok());
    }
    server_ = std::make_unique<ApiServer>(ApiServer::Options{}, *store_, *authn_, *authz_, clock_);
    AddLineageRoutes(
        [this](const std::string& method, const std::string& pattern, Handler handler) {
          server_->AddRoute(method, pattern, std::move(handler));
        },
        *store_, *authz_);
    ASSERT_TRUE(server_->Start().ok());
    client_ = std::make_unique<HttpClient>(server_->url());
  }

  HttpResult Get(const std::string& path, const std::string& token) {
    HttpHeaders headers;
    if (!token.empty()) headers["Authorization"] = "Bearer " + token;
    auto r = client_->Request("GET", path, headers, "");
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : HttpResult{};
  }

  TempDir dir_;
  FakeClock clock_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Authenticator> authn_;
  std::unique_ptr<Authorizer> authz_;
  std::unique_ptr<ApiServer> server_;
  std::unique_ptr<HttpClient> client_;
  std::string admin_, bob_;
};

TEST_F(LineageApiTest, ListsDescribesAndFindsExecutionsAcrossTheNamespacesRuns) {
  const std::string base = std::string(kLineageApiPrefix) + "team-a";
  HttpResult list = Get(base + "/artifacts", admin_);
  ASSERT_EQ(list.status, 200) << list.body;
  Json items = Json::parse(list.body)["items"];
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0]["uri"], kData);
  EXPECT_EQ(items[0]["producer"]["run"], "r1");

  HttpResult one = Get(base + "/artifacts/" + PercentEncode(kData), admin_);
  ASSERT_EQ(one.status, 200) << one.body;
  Json artifact = Json::parse(one.body);
  EXPECT_EQ(artifact["kind"], "Artifact");
  EXPECT_EQ(artifact["consumers"].size(), 2u);
  EXPECT_EQ(artifact["metadata"]["rows"], 3);
  HttpResult missing = Get(base + "/artifacts/" + PercentEncode("file:///nope"), admin_);
  EXPECT_EQ(missing.status, 404);

  HttpResult executions = Get(base + "/executions?task=producer", admin_);
  ASSERT_EQ(executions.status, 200) << executions.body;
  Json runs = Json::array();
  const Json listed = Json::parse(executions.body);
  for (const Json& e : listed["items"]) runs.push_back(e["run"]);
  EXPECT_EQ(runs, Json::array({"r1", "r2"}));

  // Another namespace's runs are not seen; reading needs a token and a role.
  EXPECT_EQ(
      Json::parse(Get(std::string(kLineageApiPrefix) + "elsewhere/artifacts", admin_).body)["items"]
          .size(),
      0u);
  EXPECT_EQ(Get(base + "/artifacts", "").status, 401);
  EXPECT_EQ(Get(base + "/artifacts", bob_).status, 403);
  EXPECT_EQ(Get(base + "/executions", bob_).status, 403);
}

}  // namespace
}  // namespace skiff
