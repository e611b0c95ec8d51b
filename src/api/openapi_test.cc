#include "api/openapi.h"

#include <gtest/gtest.h>

#include "core/schema.h"

namespace skiff {
namespace {

// A responder that keeps what a handler sent.
class Recorder : public HttpResponder {
 public:
  void Send(int status, std::string body, HttpHeaders headers) override {
    status_ = status;
    body_ = std::move(body);
    headers_ = std::move(headers);
  }
  bool StartStream(int, HttpHeaders) override { return false; }
  bool Write(std::string_view) override { return false; }
  void End() override {}
  bool Cancelled() const override { return true; }

  std::string body_;
  HttpHeaders headers_;
};

class OpenApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ResourceType job{"batch", "v1", "Job", "jobs", true, {"job"}};
    job.schema = KindSchema({{"spec", openapi::Object({{"parallelism", openapi::Integer(0)}})}});
    types_.Add(std::move(job));
    types_.Add({"pipelines.kubeflow.org", "v2beta1", "PipelineRun", "pipelineruns", true, {}});
    types_.Add({"kubeflow.org", "v1", "Profile", "profiles", false, {}});
    AddOpenApiRoutes(router_, types_);
  }

  Recorder Get(const std::string& target, HttpHeaders headers = {}) {
    HttpRequest req;
    req.method = "GET";
    req.target = target;
    req.path = target.substr(0, target.find('?'));
    req.headers = std::move(headers);
    Recorder r;
    router_.Dispatch(req, r);
    return r;
  }

  TypeRegistry types_;
  Router router_;
};

TEST_F(OpenApiTest, TheRootNamesADocumentPerGroupVersionWithItsHash) {
  Recorder root = Get("/openapi/v3");
  ASSERT_EQ(root.status(), 200);
  Json paths = Json::parse(root.body_)["paths"];
  ASSERT_EQ(paths.size(), 3u) << paths.dump();
  const std::string url = paths["apis/batch/v1"]["serverRelativeURL"];
  ASSERT_EQ(url.rfind("/openapi/v3/apis/batch/v1?hash=", 0), 0u) << url;
  EXPECT_EQ(url.size(), std::string("/openapi/v3/apis/batch/v1?hash=").size() + 128);
  Recorder doc = Get(url);
  ASSERT_EQ(doc.status(), 200);
  Json batch = Json::parse(doc.body_);
  EXPECT_EQ(batch["openapi"], "3.0.0");
  EXPECT_EQ(Get("/openapi/v3/apis/nothing/v1").status(), 404);
}

TEST_F(OpenApiTest, APatchOfAKindNamesItsKindAndTheFieldValidationParameter) {
  // What kubectl looks for before it leaves field checks to the server.
  Json doc = OpenApiV3(types_, "batch", "v1");
  const Json& patch = doc["paths"]["/apis/batch/v1/namespaces/{namespace}/jobs/{name}"]["patch"];
  EXPECT_EQ(patch["x-kubernetes-action"], "patch");
  EXPECT_EQ(patch["x-kubernetes-group-version-kind"],
            (Json{{"group", "batch"}, {"version", "v1"}, {"kind", "Job"}}));
  bool field_validation = false;
  for (const Json& p : patch["parameters"]) {
    field_validation |= p["name"] == "fieldValidation" && p["in"] == "query";
  }
  EXPECT_TRUE(field_validation);
  EXPECT_EQ(patch["operationId"], "patchBatchV1NamespacedJob");
  EXPECT_TRUE(patch["requestBody"]["content"].contains("application/merge-patch+json"));
  EXPECT_TRUE(doc["paths"].contains("/apis/batch/v1/jobs"));  // every namespace
  EXPECT_TRUE(doc["paths"].contains("/apis/batch/v1/namespaces/{namespace}/jobs/{name}/status"));
}

TEST_F(OpenApiTest, EachKindsSchemaIsItsOwnWithItsGroupVersionKind) {
  Json doc = OpenApiV3(types_, "batch", "v1");
  const Json& job = doc["components"]["schemas"]["io.k8s.api.batch.v1.Job"];
  EXPECT_EQ(job["properties"]["spec"]["properties"]["parallelism"]["type"], "integer");
  EXPECT_EQ(job["x-kubernetes-group-version-kind"][0]["kind"], "Job");
  const Json& list = doc["components"]["schemas"]["io.k8s.api.batch.v1.JobList"];
  EXPECT_EQ(list["properties"]["items"]["items"]["$ref"],
            "#/components/schemas/io.k8s.api.batch.v1.Job");
  // A kind without a schema keeps whatever it is given.
  Json runs = OpenApiV3(types_, "pipelines.kubeflow.org", "v2beta1");
  EXPECT_EQ(runs["components"]["schemas"]["org.kubeflow.pipelines.v2beta1.PipelineRun"]
                ["x-kubernetes-preserve-unknown-fields"],
            true);
  // A cluster-scoped kind has no namespace in its paths.
  Json profiles = OpenApiV3(types_, "kubeflow.org", "v1");
  EXPECT_TRUE(profiles["paths"].contains("/apis/kubeflow.org/v1/profiles/{name}"));
  EXPECT_EQ(profiles["paths"]["/apis/kubeflow.org/v1/profiles"]["get"]["operationId"],
            "listKubeflowOrgV1Profile");
  EXPECT_TRUE(OpenApiV3(types_, "batch", "v2").is_null());
}

TEST_F(OpenApiTest, VersionTwoIsJsonAndAProtobufOnlyClientGets406) {
  Recorder v2 = Get("/openapi/v2", {{"accept", "application/json"}});
  ASSERT_EQ(v2.status(), 200);
  Json doc = Json::parse(v2.body_);
  EXPECT_EQ(doc["swagger"], "2.0");
  EXPECT_TRUE(doc["definitions"].contains("io.k8s.api.batch.v1.Job"));
  const Json& post = doc["paths"]["/apis/batch/v1/namespaces/{namespace}/jobs"]["post"];
  EXPECT_EQ(post["parameters"].back()["schema"]["$ref"], "#/definitions/io.k8s.api.batch.v1.Job");
  Recorder proto = Get("/openapi/v2",
                       {{"accept", "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"}});
  EXPECT_EQ(proto.status(), 406);
}

}  // namespace
}  // namespace skiff
