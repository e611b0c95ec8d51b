// KServe's kinds: InferenceService (serving.kserve.io/v1beta1), and ServingRuntime and
// ClusterServingRuntime (serving.kserve.io/v1alpha1), with their schemas, rules and columns.
//
//   serving::Register(modules);  // cli/modules.cc
//
// The schemas follow KServe's Go types: an InferenceService's predictor is a pod spec with
// KServe's component fields (replicas, scaling, timeout, canary, logger, batcher) and exactly one
// way to say what it serves: `model` (modelFormat, runtime, storageUri, protocolVersion and a
// container's fields), a framework field (sklearn, xgboost, ...), or `containers`. The rules
// refuse what KServe's webhook refuses: a name that is no DNS-1035 label, no or two predictor
// implementations, a storageUri of no known scheme, minReplicas above maxReplicas.
#pragma once

#include <string>
#include <vector>

#include "controller/controller.h"
#include "core/resource.h"

namespace skiff::serving {

inline constexpr char kInferenceServiceType[] = "inferenceservices.serving.kserve.io";
inline constexpr char kServingRuntimeType[] = "servingruntimes.serving.kserve.io";
inline constexpr char kClusterServingRuntimeType[] = "clusterservingruntimes.serving.kserve.io";

// The framework fields of a predictor, each the shorthand for `model` with that modelFormat.
const std::vector<std::string>& PredictorFrameworks();
// The storageUri prefixes KServe's storage initializer knows.
const std::vector<std::string>& StorageUriPrefixes();

ResourceType InferenceServiceKind();
ResourceType ServingRuntimeKind(bool cluster_scoped);

Status ValidateInferenceService(Json& obj, bool is_create);
Status ValidateServingRuntime(Json& obj, bool is_create);

// Registers the kinds, the InferenceService controller and the router (serving_module.cc).
void Register(ModuleRegistry& modules);

}  // namespace skiff::serving
