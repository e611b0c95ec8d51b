#include "serving/inference_service_controller.h"

#include <algorithm>

#include "core/admission.h"
#include "core/ids.h"
#include "core/log.h"
#include "core/text.h"
#include "jobs/job_controller.h"
#include "jobs/pod_template.h"
#include "serving/runtime_select.h"
#include "serving/serving_kinds.h"

namespace skiff::serving {
namespace {

using std::chrono::milliseconds;

constexpr char kSpecHashLabel[] = "serving.skiff.dev/spec-hash";
constexpr int kCreateBatch = 16;  // replicas created in one pass

// Sets condition `type` in `conditions`, keeping its lastTransitionTime when its status stays.
void SetCondition(Json& conditions, const std::string& type, bool ok, const std::string& reason,
                  const std::string& message, const std::string& now) {
  if (!conditions.is_array()) conditions = Json::array();
  Json c = {{"type", type}, {"status", ok ? "True" : "False"}, {"lastTransitionTime", now}};
  if (!reason.empty()) c["reason"] = reason;
  if (!message.empty()) c["message"] = message;
  for (Json& old : conditions) {
    if (TextAt(old, {"type"}) != type) continue;
    if (TextAt(old, {"status"}) == TextAt(c, {"status"}) && old.contains("lastTransitionTime")) {
      c["lastTransitionTime"] = old["lastTransitionTime"];
    }
    old = c;
    return;
  }
  conditions.push_back(c);
}

std::vector<Json> ListAll(Store& store, const std::string& type, const std::string& ns,
                          const std::string& selector) {
  std::vector<Json> out;
  ListOptions options{.label_selector = selector};
  do {
    auto page = store.List(type, ns, options);
    if (!page.ok()) break;
    for (Json& item : page->items) out.push_back(std::move(item));
    options.continue_token = page->continue_token;
  } while (!options.continue_token.empty());
  return out;
}

}  // namespace

InferenceServiceController::InferenceServiceController(Store& store, Backend& backend, Clock& clock,
                                                       ServingEndpoints& endpoints,
                                                       InferenceServiceControllerOptions options)
    : store_(store),
      backend_(backend),
      clock_(clock),
      endpoints_(endpoints),
      options_(std::move(options)),
      pods_(store, backend, {.pod_env = options_.pod_env}) {}

Result<Json> InferenceServiceController::DesiredPodSpec(const Json& isvc, std::string* reason) {
  *reason = "InvalidPredictorSpec";
  ASSIGN_OR_RETURN(PredictorPlan plan, PlanPredictor(isvc));
  Json runtime;
  if (plan.implementation != "containers") {
    std::vector<Json> namespaced = ListAll(store_, kServingRuntimeType, MetaNamespace(isvc), "");
    std::vector<Json> cluster = ListAll(store_, kClusterServingRuntimeType, "", "");
    Result<Json> chosen = SelectRuntime(plan, namespaced, cluster);
    if (!chosen.ok()) {
      const Status& st = chosen.status();
      if (st.code() == StatusCode::kNotFound) {
        *reason = plan.runtime.empty() ? "NoSupportingRuntime" : "RuntimeNotRecognized";
      } else if (st.message().find("disabled") != std::string::npos) {
        *reason = "RuntimeDisabled";
      } else {
        *reason = "RuntimeNotRecognized";
      }
      return st;
    }
    runtime = *chosen;
  }
  Result<Json> spec = PredictorPodSpec(isvc, plan, runtime, options_.skiff_binary);
  if (!spec.ok() && spec.status().code() == StatusCode::kFailedPrecondition) {
    *reason = spec.status().message().rfind("storageUri", 0) == 0 ? "StorageNotSupported"
                                                                  : "RuntimeNotRunnable";
  }
  return spec;
}

Status InferenceServiceController::WriteStatus(Json isvc, Json status) {
  if (isvc.contains("status") && isvc["status"] == status) return Status::Ok();
  isvc["status"] = std::move(status);
  auto written = store_.Update(kInferenceServiceType, isvc);
  return written.ok() ? Status::Ok() : written.status();
}

Result<std::optional<milliseconds>> InferenceServiceController::Reconcile(const std::string& ns,
                                                                          const std::string& name) {
  auto got = store_.Get(kInferenceServiceType, ns, name);
  if (!got.ok()) {
    if (got.status().code() != StatusCode::kNotFound) return got.status();
    // Gone: its pods go with it (the garbage collector); the router stops at once.
    endpoints_.Remove(ns, name);
    return std::optional<milliseconds>();
  }
  Json isvc = *got;
  if (!TextAt(isvc, {"metadata", "deletionTimestamp"}).empty()) {
    endpoints_.Remove(ns, name);
    return std::optional<milliseconds>();
  }
  const std::string now = FormatRfc3339(clock_.Now());
  Json status =
      isvc.contains("status") && isvc["status"].is_object() ? isvc["status"] : Json::object();
  status["observedGeneration"] = IntAt(isvc, {"metadata", "generation"}, 1);

  std::string reason;
  Result<Json> pod_spec = DesiredPodSpec(isvc, &reason);
  if (!pod_spec.ok()) {
    // Not run: the reason on the status, as KServe reports a predictor it cannot place. The
    // replicas of an earlier spec, if any, keep serving.
    const std::string message = pod_spec.status().message();
    SetCondition(status["conditions"], "PredictorReady", false, reason, message, now);
    SetCondition(status["conditions"], "IngressReady", false, reason, message, now);
    SetCondition(status["conditions"], "Ready", false, reason, message, now);
    status["modelStatus"] = {
        {"transitionStatus", "InvalidSpec"},
        {"states", {{"activeModelState", ""}, {"targetModelState", "FailedToLoad"}}},
        {"lastFailureInfo", {{"reason", reason}, {"message", message}}}};
    RETURN_IF_ERROR(WriteStatus(isvc, status));
    // Runtimes may come later: look again now and then.
    return std::optional<milliseconds>(std::chrono::seconds(30));
  }

  const Json& predictor = At(isvc, {"spec", "predictor"});
  const int64_t replicas = std::max<int64_t>(1, IntAt(predictor, {"minReplicas"}, 1));
  const std::string hash = Sha256Hex(pod_spec->dump()).substr(0, 10);

  // The replicas: those of another spec go, then as many as wanted of this one.
  std::vector<Json> current;
  for (Json& pod :
       ListAll(store_, jobs::kPodType, ns, std::string(kInferenceServiceLabel) + "=" + name)) {
    if (!TextAt(pod, {"metadata", "deletionTimestamp"}).empty()) continue;
    if (TextAt(pod, {"metadata", "labels", kSpecHashLabel}) == hash &&
        static_cast<int64_t>(current.size()) < replicas) {
      current.push_back(std::move(pod));
      continue;
    }
    auto deleted = store_.Delete(jobs::kPodType, ns, MetaName(pod));
    if (!deleted.ok() && deleted.status().code() != StatusCode::kNotFound) {
      return deleted.status();
    }
    LogInfo("predictor replica removed", {{"isvc", ns + "/" + name}, {"pod", MetaName(pod)}});
  }
  // At most a batch a pass (the rest on the next, soon after): a service that asks for a huge
  // number of replicas keeps neither this loop nor the store busy, and the profile's pod quota
  // still holds what runs.
  int created = 0;
  while (static_cast<int64_t>(current.size()) < replicas && created++ < kCreateBatch) {
    Json labels = {{kInferenceServiceLabel, name},
                   {kInferenceServiceUidLabel, MetaUid(isvc)},
                   {"component", "predictor"},
                   {kSpecHashLabel, hash}};
    const Json& extra = At(predictor, {"labels"});
    if (extra.is_object()) {
      for (const auto& [k, v] : extra.items()) labels[k] = v;
    }
    Json pod = {{"apiVersion", "v1"},
                {"kind", "Pod"},
                {"metadata",
                 {{"namespace", ns},
                  {"generateName", name + "-predictor-"},
                  {"labels", labels},
                  {"ownerReferences", Json::array({{{"apiVersion", "serving.kserve.io/v1beta1"},
                                                    {"kind", "InferenceService"},
                                                    {"name", name},
                                                    {"uid", MetaUid(isvc)},
                                                    {"controller", true},
                                                    {"blockOwnerDeletion", true}}})}}},
                {"spec", *pod_spec}};
    if (At(predictor, {"annotations"}).is_object()) {
      pod["metadata"]["annotations"] = predictor["annotations"];
    }
    Status admitted =
        Admit(*options_.types, jobs::kPodType, {.op = WriteOp::kCreate}, pod, nullptr);
    if (!admitted.ok()) {
      std::string message = admitted.message();
      for (const StatusCause& c : admitted.causes()) message += "; " + c.field + ": " + c.message;
      SetCondition(status["conditions"], "PredictorReady", false, "InvalidPredictorSpec", message,
                   now);
      SetCondition(status["conditions"], "Ready", false, "InvalidPredictorSpec", message, now);
      RETURN_IF_ERROR(WriteStatus(isvc, status));
      return std::optional<milliseconds>();
    }
    pod["status"] = {{"phase", "Pending"}};
    auto created = store_.Create(jobs::kPodType, pod);
    if (!created.ok()) return created.status().WithContext("creating a replica of " + name);
    LogInfo("predictor replica created", {{"isvc", ns + "/" + name}, {"pod", MetaName(*created)}});
    current.push_back(*created);
  }

  // Run them, and hand the ready ones to the router.
  std::vector<std::string> ready;
  std::string failure;
  for (Json& pod : current) {
    ASSIGN_OR_RETURN(Json synced, pods_.Sync(pod));
    auto observed = backend_.Observe(jobs::PodWorkloadId(ns, MetaName(synced)));
    if (observed.ok() && observed->ready && !observed->endpoints.empty()) {
      auto http = observed->endpoints.find("http");
      ready.push_back(http != observed->endpoints.end() ? http->second
                                                        : observed->endpoints.begin()->second);
    }
    const Json& statuses = At(synced, {"status", "containerStatuses"});
    if (statuses.is_array()) {
      for (const Json& cs : statuses) {
        std::string waiting = TextAt(cs, {"state", "waiting", "reason"});
        if (waiting == "CrashLoopBackOff" || jobs::PodPhase(synced) == "Failed") {
          failure = "replica " + MetaName(synced) + " " +
                    (waiting.empty() ? "failed" : "is in " + waiting) + ": " +
                    TextAt(synced, {"status", "message"}, "see skiff logs pod/" + MetaName(synced));
        }
      }
    }
  }
  endpoints_.Set(ns, name, ready);

  const bool predictor_ready = !ready.empty();
  const std::string base = options_.server_url ? options_.server_url() : "";
  const std::string url = base.empty() ? "" : base + "/serving/" + ns + "/" + name;
  const std::string count =
      std::to_string(ready.size()) + " of " + std::to_string(replicas) + " replicas ready";
  SetCondition(status["conditions"], "PredictorReady", predictor_ready,
               predictor_ready ? "" : (failure.empty() ? "ReplicasNotReady" : "ModelLoadFailed"),
               failure.empty() ? count : failure, now);
  SetCondition(status["conditions"], "IngressReady", !url.empty(), url.empty() ? "NoURL" : "", "",
               now);
  SetCondition(status["conditions"], "Ready", predictor_ready && !url.empty(),
               predictor_ready ? "" : "PredictorNotReady", predictor_ready ? "" : count, now);
  if (!url.empty()) {
    status["url"] = url;
    status["address"] = {{"url", url}};
    status["components"] = {{"predictor", {{"url", url}}}};
  }
  Json model_status = {
      {"transitionStatus",
       predictor_ready ? "UpToDate" : (failure.empty() ? "InProgress" : "BlockedByFailedLoad")},
      {"states",
       {{"activeModelState",
         predictor_ready ? "Loaded" : (failure.empty() ? "Pending" : "FailedToLoad")},
        {"targetModelState", "Loaded"}}},
      {"copies", {{"totalCopies", replicas}, {"failedCopies", failure.empty() ? 0 : 1}}}};
  if (!failure.empty()) {
    model_status["lastFailureInfo"] = {{"reason", "ModelLoadFailed"}, {"message", failure}};
  }
  status["modelStatus"] = model_status;
  RETURN_IF_ERROR(WriteStatus(isvc, status));
  if (static_cast<int64_t>(ready.size()) < replicas) {
    return std::optional<milliseconds>(options_.poll_interval);
  }
  return std::optional<milliseconds>(std::chrono::seconds(5));
}

}  // namespace skiff::serving
