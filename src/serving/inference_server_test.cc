#include "serving/inference_server.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <thread>

#include "http/http_client.h"

namespace skiff::serving {
namespace {

using ::testing::HasSubstr;
using Json = nlohmann::json;

// A model that sums each row of its input: [N, F] -> [N].
class RowSum : public Model {
 public:
  explicit RowSum(std::string name) {
    meta_.name = std::move(name);
    meta_.platform = "rowsum";
    meta_.inputs.push_back({"input-0", DataType::kFp32, {-1, -1}});
    meta_.outputs.push_back({"output-0", DataType::kFp32, {-1}});
  }
  const ModelMetadata& Metadata() const override { return meta_; }
  Result<InferResponse> Infer(const InferRequest& request) override {
    const Tensor& t = request.inputs[0];
    if (t.shape.size() != 2) return InvalidArgument("input-0: expected [rows, features]");
    ASSIGN_OR_RETURN(std::vector<float> v, t.ToFloats());
    std::vector<float> sums(static_cast<size_t>(t.shape[0]));
    for (size_t i = 0; i < v.size(); ++i) sums[i / t.shape[1]] += v[i];
    InferResponse out;
    out.id = request.id;
    out.outputs.push_back(Tensor::Fp32("output-0", {t.shape[0]}, sums));
    return out;
  }

 private:
  ModelMetadata meta_;
};

class InferenceServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RegisterRuntime("rowsum", [](const ModelSpec& spec) -> Result<std::unique_ptr<Model>> {
      if (spec.uri == "broken") return InvalidArgument("cannot read broken");
      return std::unique_ptr<Model>(new RowSum(spec.name));
    });
    ASSERT_TRUE(repo_.Load({.name = "sum", .format = "rowsum", .uri = "x"}).ok());
    inference_.AddRoutes(router_);
    ASSERT_TRUE(http_.Start().ok());
    client_ = std::make_unique<HttpClient>("http://127.0.0.1:" + std::to_string(http_.port()));
  }

  HttpResult Call(const std::string& method, const std::string& path, const std::string& body = "",
                  const HttpHeaders& headers = {}) {
    auto r = client_->Request(method, path, headers, body);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : HttpResult{};
  }

  ModelRepository repo_;
  Metrics metrics_;
  InferenceServer inference_{repo_, metrics_, {.repository_format = "rowsum"}};
  Router router_;
  HttpServer http_{{.port = 0},
                   [this](HttpRequest& req, HttpResponder& r) { router_.Dispatch(req, r); }};
  std::unique_ptr<HttpClient> client_;
};

TEST_F(InferenceServerTest, AnswersHealthAndMetadata) {
  EXPECT_EQ(Json::parse(Call("GET", "/v2/health/live").body)["live"], true);
  EXPECT_EQ(Json::parse(Call("GET", "/v2/health/ready").body)["ready"], true);
  Json server = Json::parse(Call("GET", "/v2").body);
  EXPECT_EQ(server["extensions"], Json::parse(R"(["binary_tensor_data", "model_repository"])"));
  Json meta = Json::parse(Call("GET", "/v2/models/sum").body);
  EXPECT_EQ(meta["platform"], "rowsum");
  EXPECT_EQ(meta["inputs"][0],
            Json::parse(R"({"name":"input-0","datatype":"FP32","shape":[-1,-1]})"));
  EXPECT_EQ(Json::parse(Call("GET", "/v2/models/sum/versions/3/ready").body)["ready"], true);
  HttpResult missing = Call("GET", "/v2/models/nope");
  EXPECT_EQ(missing.status, 404);
  EXPECT_THAT(Json::parse(missing.body)["error"].get<std::string>(),
              HasSubstr("model \"nope\" does not exist"));
  EXPECT_EQ(Json::parse(Call("GET", "/v1/models/sum").body),
            Json::parse(R"({"name": "sum", "ready": true})"));
}

TEST_F(InferenceServerTest, InfersOverJsonAndBinaryData) {
  HttpResult r = Call("POST", "/v2/models/sum/infer", R"({"id": "a", "inputs": [
      {"name": "input-0", "shape": [2, 2], "datatype": "INT32", "data": [1, 2, 3, 4]}]})");
  ASSERT_EQ(r.status, 200) << r.body;
  Json out = Json::parse(r.body);
  EXPECT_EQ(out["model_name"], "sum");
  EXPECT_EQ(out["id"], "a");
  EXPECT_EQ(out["outputs"][0]["data"], Json::parse("[3.0, 7.0]"));

  std::string head = R"({"inputs": [{"name": "input-0", "shape": [1, 2], "datatype": "FP64",
      "parameters": {"binary_data_size": 16}}], "parameters": {"binary_data_output": true}})";
  double xs[2] = {0.5, 2};
  std::string body = head + std::string(reinterpret_cast<const char*>(xs), 16);
  HttpResult b = Call("POST", "/v2/models/sum/versions/1/infer", body,
                      {{"Inference-Header-Content-Length", std::to_string(head.size())}});
  ASSERT_EQ(b.status, 200) << b.body;
  size_t n = std::stoul(b.Header("inference-header-content-length"));
  EXPECT_EQ(b.Header("content-type"), "application/octet-stream");
  Json bhead = Json::parse(b.body.substr(0, n));
  EXPECT_EQ(bhead["model_version"], "1");
  EXPECT_EQ(bhead["outputs"][0]["parameters"]["binary_data_size"], 4);
  float sum = 0;
  ASSERT_EQ(b.body.size(), n + 4);
  std::memcpy(&sum, b.body.data() + n, 4);
  EXPECT_EQ(sum, 2.5f);
}

TEST_F(InferenceServerTest, MalformedRequestsGet4xxWithTheProtocolsErrorShape) {
  struct Case {
    std::string path, body;
    HttpHeaders headers;
    int status;
    const char* message;
  } cases[] = {
      {"/v2/models/sum/infer", "{", {}, 400, "inference request"},
      {"/v2/models/sum/infer",
       R"({"inputs": [{"name": "input-0", "datatype": "FP32"}]})",
       {},
       400,
       "shape: missing"},
      {"/v2/models/sum/infer",
       R"({"inputs": [{"name": "input-0", "shape": [3], "datatype": "FP32", "data": [1,2,3]}]})",
       {},
       400,
       "expected [rows, features]"},
      {"/v2/models/sum/infer",
       "{}",
       {{"Inference-Header-Content-Length", "x1"}},
       400,
       "not a byte count"},
      {"/v2/models/nope/infer", "{}", {}, 404, "does not exist"},
      {"/v1/models/sum:predict",
       R"({"instances": [[1, 2], [3]]})",
       {},
       400,
       "instances[1]: 1 features, instances[0] has 2"},
      {"/v1/models/sum:predict",
       R"({"instances": [["a"]]})",
       {},
       400,
       "instances[0][0]: expected a number"},
      {"/v1/models/sum:predict", R"({"inputs": []})", {}, 400, "instances: missing"},
      {"/v1/models/sum:explain", R"({"instances": [[1]]})", {}, 501, "has no explainer"},
      {"/v1/models/sum:train", "{}", {}, 404, "no such V1 verb"},
  };
  for (const Case& c : cases) {
    HttpResult r = Call("POST", c.path, c.body, c.headers);
    EXPECT_EQ(r.status, c.status) << c.path << " " << c.body << " -> " << r.body;
    Json err = Json::parse(r.body, nullptr, false);
    ASSERT_TRUE(err.is_object()) << r.body;
    EXPECT_THAT(err.value("error", ""), HasSubstr(c.message)) << c.body;
  }
  EXPECT_EQ(Json::parse(Call("GET", "/v2/health/live").body)["live"], true);
}

TEST_F(InferenceServerTest, PredictsOverV1) {
  HttpResult r = Call("POST", "/v1/models/sum:predict", R"({"instances": [[1, 2], [3, 4.5]]})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Json::parse(r.body), Json::parse(R"({"predictions": [3.0, 7.5]})"));
}

TEST_F(InferenceServerTest, RepositoryLoadsAndUnloadsModels) {
  EXPECT_EQ(Json::parse(Call("POST", "/v2/repository/index").body),
            Json::parse(R"([{"name": "sum", "state": "READY"}])"));
  EXPECT_EQ(Call("POST", "/v2/repository/models/sum/unload").status, 200);
  EXPECT_EQ(Call("GET", "/v2/models/sum/ready").status, 503);
  EXPECT_EQ(Call("GET", "/v2/health/ready").status, 503);
  HttpResult infer = Call("POST", "/v2/models/sum/infer", "{}");
  EXPECT_EQ(infer.status, 503);
  EXPECT_EQ(Json::parse(Call("POST", "/v2/repository/index", R"({"ready": true})").body),
            Json::array());
  EXPECT_EQ(Call("POST", "/v2/repository/models/sum/load").status, 200);
  EXPECT_EQ(Call("GET", "/v2/models/sum/ready").status, 200);
  // Unknown names load from the repository root only, and never from outside it.
  HttpResult other = Call("POST", "/v2/repository/models/other/load");
  EXPECT_EQ(other.status, 404) << other.body;
  EXPECT_EQ(Call("POST", "/v2/repository/models/nope/unload").status, 404);
}

TEST_F(InferenceServerTest, CountsRequestsInMetrics) {
  Call("POST", "/v1/models/sum:predict", R"({"instances": [[1]]})");
  Call("POST", "/v2/models/zzz/infer", "{}");
  // A request is counted just after its answer is sent: wait for both counts.
  std::string text;
  for (int i = 0; i < 200 && (text.find(R"(code="404")") == std::string::npos ||
                              text.find(R"(code="200")") == std::string::npos);
       ++i) {
    if (i > 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    text = Call("GET", "/metrics").body;
  }
  EXPECT_THAT(
      text, HasSubstr(R"(skiff_inference_requests_total{code="200",model="sum",protocol="v1"} 1)"));
  // An unknown model name is not a label value.
  EXPECT_THAT(text,
              HasSubstr(R"(skiff_inference_requests_total{code="404",model="",protocol="v2"} 1)"));
  EXPECT_THAT(text, HasSubstr("skiff_inference_request_duration_seconds_bucket"));
}

TEST(ModelRepositoryTest, LocalPathsOnly) {
  EXPECT_EQ(*LocalModelPath("file:///m/iris"), "/m/iris");
  EXPECT_EQ(*LocalModelPath("/m/iris"), "/m/iris");
  Result<std::string> s3 = LocalModelPath("s3://bucket/iris");
  EXPECT_EQ(s3.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(s3.status().message(), HasSubstr("s3:// storage is not reachable"));
  EXPECT_THAT(LoadModel({.name = "m", .format = "nope", .uri = "/x"}).status().message(),
              HasSubstr("no runtime for model format \"nope\""));
}

}  // namespace
}  // namespace skiff::serving
