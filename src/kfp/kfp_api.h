// KfpApi: the Kubeflow Pipelines v2beta1 REST API (kfp_api_single_file.swagger.json), so the real
// `kfp.Client(host=..., existing_token=...)` works against Skiff unchanged. Everything it serves
// is a resource in the Store (group pipelines.kubeflow.org, version v2beta1), named by its KFP id:
//   experiments      spec {displayName, description, storageState}
//   pipelines        spec {displayName, description}
//   pipelineversions spec {pipelineId, displayName, description, pipelineSpec, platformSpec,
//                          codeSourceUrl}, label pipelines.kubeflow.org/pipeline-id
//   pipelineruns     (run_controller.h) plus spec {experimentId, description, storageState,
//                          pipelineVersionReference, recurringRunId, serviceAccount}
//   recurringruns    (recurring_run_controller.h)
// The run id is the PipelineRun's metadata.name. Every endpoint asks the Authorizer about the
// namespace involved (the request's `namespace`, the experiment's, or the stored object's) and
// answers errors in KFP's shape {"error", "code" (gRPC), "message", "details": []}.
//
//   KfpApi kfp(store, authorizer, clock, {.artifacts_root = home + "/artifacts"});
//   RegisterKfpApi(kfp, ctx.add_route);  // as the KFP module does (kfp_module.h)
//
// Thread-safe: handlers run concurrently; state lives in the Store. What KfpApi keeps in memory is
// derived from it and checked against it: where each id was last seen (its namespace), so that a
// lookup by id is one Store::Get instead of a list of every object (the Get confirms the hint; a
// miss falls back to the list), and the run summaries list_runs sorts (KfpRunIndex, kept current
// from the change feed).
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>

#include "auth/auth.h"
#include "core/clock.h"
#include "core/resource.h"
#include "core/status.h"
#include "core/thread_annotations.h"
#include "http/http_server.h"
#include "kfp/kfp_run_index.h"
#include "store/store.h"

namespace skiff {

inline constexpr char kKfpExperimentType[] = "experiments.pipelines.kubeflow.org";
inline constexpr char kKfpPipelineType[] = "pipelines.pipelines.kubeflow.org";
inline constexpr char kKfpPipelineVersionType[] = "pipelineversions.pipelines.kubeflow.org";
inline constexpr char kKfpPipelineIdLabel[] = "pipelines.kubeflow.org/pipeline-id";

struct KfpApiOptions {
  std::string default_namespace = "default";
  size_t max_upload_bytes = 32 * 1024 * 1024;  // larger pipeline packages get 413
  size_t max_artifact_read_bytes = 16 * 1024 * 1024;
  std::string artifacts_root;           // where file:// artifact URIs may point (empty: anywhere)
  const TypeRegistry* types = nullptr;  // the kinds whose rules admit writes (null: Global())
};

class KfpApi {
 public:
  KfpApi(Store& store, Authorizer& authorizer, Clock& clock, KfpApiOptions options = {});

  // Every handler answers one request; the principal is req.principal.
  using Method = Result<Json> (KfpApi::*)(const HttpRequest& req);

  Result<Json> Healthz(const HttpRequest& req);

  Result<Json> CreateExperiment(const HttpRequest& req);
  Result<Json> ListExperiments(const HttpRequest& req);
  Result<Json> GetExperiment(const HttpRequest& req);
  Result<Json> DeleteExperiment(const HttpRequest& req);
  Result<Json> ExperimentAction(const HttpRequest& req);  // {id}:archive | {id}:unarchive

  Result<Json> UploadPipeline(const HttpRequest& req);
  Result<Json> UploadPipelineVersion(const HttpRequest& req);
  Result<Json> CreatePipeline(const HttpRequest& req);
  Result<Json> CreatePipelineAndVersion(const HttpRequest& req);
  Result<Json> ListPipelines(const HttpRequest& req);
  Result<Json> GetPipeline(const HttpRequest& req);
  Result<Json> GetPipelineByName(const HttpRequest& req);
  Result<Json> DeletePipeline(const HttpRequest& req);
  Result<Json> CreatePipelineVersion(const HttpRequest& req);
  Result<Json> ListPipelineVersions(const HttpRequest& req);
  Result<Json> GetPipelineVersion(const HttpRequest& req);
  Result<Json> DeletePipelineVersion(const HttpRequest& req);

  Result<Json> CreateRun(const HttpRequest& req);
  Result<Json> ListRuns(const HttpRequest& req);
  Result<Json> GetRun(const HttpRequest& req);
  Result<Json> DeleteRun(const HttpRequest& req);
  Result<Json> RunAction(const HttpRequest& req);  // {id}:terminate|retry|archive|unarchive
  Result<Json> ReadArtifact(const HttpRequest& req);

  Result<Json> CreateRecurringRun(const HttpRequest& req);
  Result<Json> ListRecurringRuns(const HttpRequest& req);
  Result<Json> GetRecurringRun(const HttpRequest& req);
  Result<Json> DeleteRecurringRun(const HttpRequest& req);
  Result<Json> RecurringRunAction(const HttpRequest& req);  // {id}:enable | {id}:disable

  // Converters from stored objects to the API's JSON shapes.
  // `last_run_created_at`: the newest of its runs' creation times ("" when it has none).
  static Json ExperimentToApi(const Json& obj, const std::string& last_run_created_at = "");
  static Json PipelineToApi(const Json& obj);
  static Json PipelineVersionToApi(const Json& obj, bool with_spec);
  static Json RunToApi(const Json& run);
  static Json RecurringRunToApi(const Json& obj);

 private:
  std::string NamespaceOf(const HttpRequest& req, const Json* body) const;
  Status Check(const HttpRequest& req, const std::string& ns, Verb verb);
  // Finds an object by id (its name) in any namespace and checks `verb` on its namespace. Reads
  // the one object when its namespace is known from an earlier lookup, else lists them all.
  Result<Json> FindById(const HttpRequest& req, const std::string& type, const std::string& id,
                        const std::string& what, Verb verb);
  Result<Json> ListIn(const std::string& type, const std::string& ns);
  Result<Json> StorePipelineVersion(const std::string& ns, const std::string& pipeline_id,
                                    const std::string& name, const std::string& description,
                                    const std::vector<Json>& docs,
                                    const std::string& code_source_url);
  // The IR (and platform spec) for a run: inline pipeline_spec or a version reference.
  Status ResolveSpec(const HttpRequest& req, const Json& body, const std::string& ns,
                     Json* pipeline_spec, Json* platform_spec);
  Result<Json> UpdateRun(const HttpRequest& req, const std::string& id,
                         const std::function<Status(Json&)>& mutate);
  // Every write goes through Admit (core/admission.h), as the generic API's writes do: a run,
  // pipeline or schedule this API makes is held to the same schema and rules as one a user
  // writes. `stored` is the object as read; `obj` keeps its resourceVersion as a precondition.
  Result<Json> CreateObject(const std::string& store_type, Json obj);
  Result<Json> UpdateObject(const std::string& store_type, const Json& stored, Json obj);

  // Experiment id -> the creation time of its newest run, for the runs in `ns`.
  Result<std::map<std::string, std::string>> LastRunCreatedAt(const std::string& ns);

  // The namespace `id` of `type` was last seen in, if any.
  std::optional<std::string> KnownNamespace(const std::string& type, const std::string& id);

  Store& store_;
  Authorizer& authorizer_;
  Clock& clock_;
  const KfpApiOptions options_;
  const TypeRegistry& types_;
  KfpRunIndex run_index_;  // list_runs summaries of every PipelineRun

  // "<type>/<id>" -> namespace. Ids are UUIDs and objects never change namespace, so a hint stays
  // right until the object is deleted (then Get says NotFound and the hint is dropped). Bounded:
  // cleared when it would pass kMaxKnownNamespaces entries.
  static constexpr size_t kMaxKnownNamespaces = 100'000;
  Mutex namespaces_mu_;
  std::unordered_map<std::string, std::string> namespaces_ GUARDED_BY(namespaces_mu_);
};

// Wraps a KfpApi method as a Handler: 200 with the result, or the KFP error shape.
Handler KfpHandler(KfpApi& api, KfpApi::Method method);
// The KFP error body for a Status: {"error", "code" (gRPC code), "message", "details": []}.
Json KfpErrorBody(const Status& status);
int GrpcCodeFor(StatusCode code);

// Finds the part named `field` in a multipart/form-data body. InvalidArgument naming what is
// wrong (not multipart, no boundary, no such field).
Result<std::string> MultipartField(const std::string& content_type, const std::string& body,
                                   const std::string& field, std::string* filename);

// The OpenAPI (Swagger 2.0) document of every route RegisterKfpApi adds, as GET
// /apis/v2beta1/openapi.json serves it: src/kfp/kfp_openapi.json, embedded at build time. An
// operation served through another router pattern (the "{id}:action" paths) names that pattern
// in "x-skiff-route". Discarded (is_discarded()) only if the embedded text is not JSON, which
// kfp_api_test checks.
const Json& KfpOpenApiDocument();

// Registers every KFP route through `add_route` (which should authenticate the bearer token and
// set req.principal before calling the handler).
void RegisterKfpApi(KfpApi& api, const AddRouteFn& add_route);

}  // namespace skiff
