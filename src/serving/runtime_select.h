// How an InferenceService's predictor becomes a model server, as KServe decides it: what the
// predictor asks for (PlanPredictor), which serving runtime serves it (SelectRuntime), and the pod
// spec of each replica (PredictorPodSpec).
//
//   ASSIGN_OR_RETURN(PredictorPlan plan, PlanPredictor(isvc));
//   ASSIGN_OR_RETURN(Json runtime, SelectRuntime(plan, namespace_runtimes, cluster_runtimes));
//   ASSIGN_OR_RETURN(Json pod_spec, PredictorPodSpec(isvc, plan, runtime, skiff_binary));
//
// Errors carry the reason KServe reports on the InferenceService's status: NotFound when no
// runtime serves the model (NoSupportingRuntime), FailedPrecondition when the named runtime is
// disabled or does not serve it, or when this machine cannot run what it needs (an image with no
// local counterpart, a storageUri it cannot read). Pure functions: thread-safe.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/resource.h"
#include "core/status.h"

namespace skiff::serving {

struct PredictorPlan {
  // "model", a framework field ("xgboost"), or "containers" (a custom predictor).
  std::string implementation;
  std::string format;  // the model format ("xgboost"); empty for custom containers
  std::string format_version;
  std::string runtime;  // the runtime the predictor names; empty: chosen by format
  std::string storage_uri;
  std::string protocol = "v1";
  Json spec;  // the model or framework object: storageUri and a container's fields
};

Result<PredictorPlan> PlanPredictor(const Json& isvc);

// The runtime that serves `plan`: the one it names (a ServingRuntime of the namespace, else a
// ClusterServingRuntime), or the enabled ones that auto-select its format (and version) and speak
// its protocol, the namespace's before the cluster's, higher priority first.
Result<Json> SelectRuntime(const PredictorPlan& plan, const std::vector<Json>& namespaced,
                           const std::vector<Json>& cluster);

// The format Skiff's own server (skiff serve) serves in place of a KServe runtime's image:
// KServe's XGBoost server ("kserve/xgbserver:v0.15") for any format, or a multi-framework server
// (MLServer, KServe's predictive server) for a model of a format Skiff serves ("xgboost");
// nullopt otherwise.
std::optional<std::string> SkiffServerFormat(const std::string& image,
                                             const std::string& model_format);
// Why this machine cannot run `image`, for the images of KServe's runtimes that have no local
// counterpart (TensorFlow Serving, TorchServe, Triton, ...); "" when it can try.
std::string UnrunnableImageReason(const std::string& image);

// Where a replica reads its model: the storageUri as a volume and the folder it is seen at.
struct ModelMount {
  Json volume;             // {name, hostPath | persistentVolumeClaim}
  std::string mount_path;  // where the volume is mounted in the container
  std::string model_dir;   // the model's folder in the container
};
// file://PATH (seen at PATH itself) and pvc://CLAIM[/PATH] (the claim seen at a folder of the
// service's own under /tmp); FailedPrecondition for remote storage (s3://, gs://, ...). A path
// in place of a fixed /mnt/models lets replicas of many services run side by side with or
// without the sandbox.
Result<ModelMount> MountForStorageUri(const std::string& uri, const std::string& ns,
                                      const std::string& name);

// The pod spec of one predictor replica: the runtime's container with the predictor's overrides
// (args appended, env and resources by name), KServe's templates ({{.Name}}, {{.Namespace}},
// {{.Labels.K}}, {{.Annotations.K}}) filled, a named port "http" the replica listens on ($(PORT)),
// a readiness probe, and the model's storage mounted (MountForStorageUri; the runtime's
// --model_dir=/mnt/models names where). A KServe model-server image
// Skiff stands in for runs `skiff_binary serve` with KServe's flags. For custom containers the
// predictor's own pod spec. `runtime` is null for custom containers.
Result<Json> PredictorPodSpec(const Json& isvc, const PredictorPlan& plan, const Json& runtime,
                              const std::string& skiff_binary);

}  // namespace skiff::serving
