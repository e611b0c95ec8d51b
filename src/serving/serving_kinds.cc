#include "serving/serving_kinds.h"

#include <regex>

#include "core/schema.h"
#include "core/text.h"
#include "jobs/pod_template.h"

namespace skiff::serving {
namespace {

using namespace openapi;
using TimePoint = std::chrono::system_clock::time_point;

// A container's schema (Kubernetes' Container, as pods have it).
const Json& ContainerOpenApi() {
  return jobs::PodSpecOpenApi()["properties"]["containers"]["items"];
}

// What a predictor serves from, beside a container's fields: KServe's PredictorExtensionSpec.
Json PredictorExtensionOpenApi(bool with_format) {
  Json ext = ContainerOpenApi();
  ext["properties"]["storageUri"] = String();
  ext["properties"]["runtimeVersion"] = String();
  ext["properties"]["protocolVersion"] = Enum({"v1", "v2", "grpc-v1", "grpc-v2"});
  ext["properties"]["storage"] = Object({{"path", String()},
                                         {"schemaPath", String()},
                                         {"parameters", StringMap()},
                                         {"key", String()}});
  if (with_format) {
    ext["properties"]["modelFormat"] =
        Object({{"name", String()}, {"version", String()}}, {"name"});
    ext["properties"]["runtime"] = String();
    ext["required"] = Json::array({"modelFormat"});
  }
  return ext;
}

// KServe's ComponentExtensionSpec: what every component (predictor, transformer, explainer) has.
void AddComponentExtension(Json& component) {
  Json& p = component["properties"];
  p["minReplicas"] = Int32(0);
  p["maxReplicas"] = Int32(0);
  p["scaleTarget"] = Int32(0);
  p["scaleMetric"] = Enum({"cpu", "memory", "concurrency", "rps"});
  p["scaleMetricType"] = Enum({"Utilization", "AverageValue"});
  p["containerConcurrency"] = Integer(0);
  p["timeout"] = Integer(0);
  p["canaryTrafficPercent"] = Integer(0, 100);
  p["logger"] = Object({{"url", String()},
                        {"mode", Enum({"all", "request", "response"})},
                        {"metadataHeaders", Array(String())},
                        {"metadataAnnotations", Array(String())},
                        {"storage", Any()}});
  p["batcher"] =
      Object({{"maxBatchSize", Int32(1)}, {"maxLatency", Int32(1)}, {"timeout", Int32(1)}});
  p["labels"] = StringMap();
  p["annotations"] = StringMap();
  p["deploymentStrategy"] = Any();
  p["autoScaling"] = Any();
}

Json PredictorOpenApi() {
  Json predictor = jobs::PodSpecOpenApi();
  AddComponentExtension(predictor);
  Json& p = predictor["properties"];
  p["model"] = PredictorExtensionOpenApi(true);
  for (const std::string& f : PredictorFrameworks()) p[f] = PredictorExtensionOpenApi(false);
  p["workerSpec"] = Any();
  return predictor;
}

Json ComponentOpenApi() {
  Json component = jobs::PodSpecOpenApi();
  AddComponentExtension(component);
  for (const char* f : {"alibi", "art", "custom"}) component["properties"][f] = Any();
  return component;
}

std::string ConditionStatus(const Json& obj, const std::string& type) {
  const Json& conditions = At(obj, {"status", "conditions"});
  if (!conditions.is_array()) return "";
  for (const Json& c : conditions) {
    if (TextAt(c, {"type"}) == type) return TextAt(c, {"status"});
  }
  return "";
}

std::string DescribeInferenceService(const Json& obj, const std::vector<Json>& pods, TimePoint) {
  std::string out;
  out += "URL:\t" + TextAt(obj, {"status", "url"}, "<none>") + "\n";
  const Json& predictor = At(obj, {"spec", "predictor"});
  const Json& model = At(predictor, {"model"});
  if (model.is_object()) {
    out += "Model format:\t" + TextAt(model, {"modelFormat", "name"}) + "\n";
    out += "Runtime:\t" + TextAt(model, {"runtime"}, "<chosen by format>") + "\n";
    out += "Storage URI:\t" + TextAt(model, {"storageUri"}) + "\n";
  }
  for (const std::string& f : PredictorFrameworks()) {
    if (At(predictor, {f.c_str()}).is_object()) {
      out += "Model format:\t" + f + "\n";
      out += "Storage URI:\t" + TextAt(predictor, {f.c_str(), "storageUri"}) + "\n";
    }
  }
  out += "Replicas:\t" + TextAt(predictor, {"minReplicas"}, "1") + " to " +
         TextAt(predictor, {"maxReplicas"}, "1") + "\n";
  const Json& conditions = At(obj, {"status", "conditions"});
  if (conditions.is_array() && !conditions.empty()) {
    out += "Conditions:\n";
    for (const Json& c : conditions) {
      out += "  " + TextAt(c, {"type"}) + "\t" + TextAt(c, {"status"}) + "\t" +
             TextAt(c, {"reason"}) + "\t" + TextAt(c, {"message"}) + "\n";
    }
  }
  if (!pods.empty()) {
    out += "Pods:\n";
    for (const Json& pod : pods) {
      out += "  " + TextAt(pod, {"metadata", "name"}) + "\t" +
             TextAt(pod, {"status", "phase"}, "Pending") + "\n";
    }
  }
  return out;
}

bool IsDns1035Label(const std::string& name) {
  static const std::regex label("[a-z]([-a-z0-9]*[a-z0-9])?");
  return name.size() <= 63 && std::regex_match(name, label);
}

Status CheckStorageUri(const Json& spec, const std::string& field) {
  const Json& uri = At(spec, {"storageUri"});
  if (!uri.is_string()) return Status::Ok();
  const std::string u = uri.get<std::string>();
  for (const std::string& prefix : StorageUriPrefixes()) {
    if (u.rfind(prefix, 0) == 0 && u.size() > prefix.size()) return Status::Ok();
  }
  std::string known;
  for (const std::string& p : StorageUriPrefixes()) known += (known.empty() ? "" : ", ") + p;
  return InvalidArgument(field + ".storageUri: " + Quote(u) +
                         " has no storage scheme KServe knows (" + known + ")");
}

}  // namespace

const std::vector<std::string>& PredictorFrameworks() {
  static const std::vector<std::string> kFrameworks = {
      "sklearn", "xgboost",     "tensorflow", "pytorch",  "triton",
      "onnx",    "huggingface", "pmml",       "lightgbm", "paddle"};
  return kFrameworks;
}

const std::vector<std::string>& StorageUriPrefixes() {
  static const std::vector<std::string> kPrefixes = {
      "gs://",   "s3://",      "pvc://", "file://",      "https://",      "http://",
      "hdfs://", "webhdfs://", "oci://", "oci+fetch://", "oci+native://", "hf://"};
  return kPrefixes;
}

Status ValidateInferenceService(Json& obj, bool /*is_create*/) {
  const std::string name = TextAt(obj, {"metadata", "name"});
  if (!name.empty() && !IsDns1035Label(name)) {
    return InvalidArgument("metadata.name: " + Quote(name) +
                           " is not a DNS-1035 label (lower-case letters, digits and '-', "
                           "starting with a letter, at most 63 characters), as KServe requires");
  }
  const Json& predictor = At(obj, {"spec", "predictor"});
  if (!predictor.is_object()) return InvalidArgument("spec.predictor: required");
  std::vector<std::string> found;
  if (At(predictor, {"model"}).is_object()) found.push_back("model");
  for (const std::string& f : PredictorFrameworks()) {
    if (At(predictor, {f.c_str()}).is_object()) found.push_back(f);
  }
  const Json& containers = At(predictor, {"containers"});
  bool has_containers = containers.is_array() && !containers.empty();
  if (has_containers && found.empty()) found.push_back("containers");
  if (found.size() != 1) {
    std::string list;
    for (const std::string& f : found) list += (list.empty() ? "" : ", ") + f;
    return InvalidArgument(
        "spec.predictor: exactly one of model, a framework (sklearn, xgboost, ...) or containers "
        "says what it serves; " +
        (found.empty() ? std::string("none is set") : "found " + list));
  }
  if (found[0] != "containers") {
    RETURN_IF_ERROR(CheckStorageUri(predictor[found[0]], "spec.predictor." + found[0]));
  }
  int64_t min_replicas = IntAt(predictor, {"minReplicas"}, -1);
  int64_t max_replicas = IntAt(predictor, {"maxReplicas"}, -1);
  if (min_replicas >= 0 && max_replicas > 0 && min_replicas > max_replicas) {
    return InvalidArgument("spec.predictor.minReplicas: " + std::to_string(min_replicas) +
                           " is more than maxReplicas (" + std::to_string(max_replicas) + ")");
  }
  return Status::Ok();
}

Status ValidateServingRuntime(Json& obj, bool /*is_create*/) {
  const Json& containers = At(obj, {"spec", "containers"});
  if (!containers.is_array() || containers.empty()) {
    return InvalidArgument("spec.containers: a serving runtime runs at least one container");
  }
  return Status::Ok();
}

ResourceType InferenceServiceKind() {
  ResourceType isvc{"serving.kserve.io", "v1beta1", "InferenceService",
                    "inferenceservices", true,      {"isvc"}};
  isvc.schema = KindSchema({{"spec", Object({{"predictor", PredictorOpenApi()},
                                             {"transformer", ComponentOpenApi()},
                                             {"explainer", ComponentOpenApi()}},
                                            {"predictor"})},
                            {"status", OpenObject({{"url", String()},
                                                   {"address", OpenObject({{"url", String()}})},
                                                   {"conditions", Conditions()},
                                                   {"modelStatus", Any()},
                                                   {"components", Any()},
                                                   {"observedGeneration", Integer(0)}})}},
                           {"spec"});
  isvc.validate = &ValidateInferenceService;
  isvc.columns = {
      FieldColumn("URL", ".status.url"),
      {"READY", [](const Json& o, TimePoint) { return ConditionStatus(o, "Ready"); }},
  };
  isvc.describe = &DescribeInferenceService;
  isvc.related_type = "pods";  // its replicas (inference_service_controller.h)
  isvc.related_selector = "serving.skiff.dev/isvc-uid={uid}";
  return isvc;
}

ResourceType ServingRuntimeKind(bool cluster_scoped) {
  ResourceType rt{"serving.kserve.io",
                  "v1alpha1",
                  cluster_scoped ? "ClusterServingRuntime" : "ServingRuntime",
                  cluster_scoped ? "clusterservingruntimes" : "servingruntimes",
                  !cluster_scoped,
                  {}};
  Json spec = jobs::PodSpecOpenApi();
  Json& p = spec["properties"];
  p["supportedModelFormats"] = Array(Object({{"name", String()},
                                             {"version", String()},
                                             {"autoSelect", Boolean()},
                                             {"priority", Int32(1)}},
                                            {"name"}));
  p["multiModel"] = Boolean();
  p["disabled"] = Boolean();
  p["protocolVersions"] = Array(Enum({"v1", "v2", "grpc-v1", "grpc-v2"}));
  p["grpcEndpoint"] = String();
  p["grpcDataEndpoint"] = String();
  p["httpDataEndpoint"] = String();
  p["replicas"] = Int32(0);
  p["storageHelper"] = Object({{"disabled", Boolean()}});
  p["builtInAdapter"] = Any();
  p["annotations"] = StringMap();
  p["labels"] = StringMap();
  p["workerSpec"] = Any();
  p["imagePullSecrets"] = Any();
  rt.schema = KindSchema({{"spec", spec}, {"status", Any()}}, {"spec"});
  rt.validate = &ValidateServingRuntime;
  rt.columns = {
      FieldColumn("DISABLED", ".spec.disabled"),
      {"MODELTYPE",
       [](const Json& o, TimePoint) {
         return TextAt(At(o, {"spec", "supportedModelFormats"}).is_array() &&
                               !At(o, {"spec", "supportedModelFormats"}).empty()
                           ? At(o, {"spec", "supportedModelFormats"})[0]
                           : Json(),
                       {"name"});
       }},
  };
  return rt;
}

}  // namespace skiff::serving
