#include "serving/runtime_select.h"

#include <algorithm>

#include "core/text.h"
#include "serving/serving_kinds.h"

namespace skiff::serving {
namespace {

// The repository of an image without registry host, tag and digest: "docker.io/kserve/x:1" ->
// "kserve/x".
std::string ImageRepository(std::string image) {
  if (size_t at = image.find('@'); at != std::string::npos) image.resize(at);
  size_t slash = image.rfind('/');
  size_t colon = image.rfind(':');
  if (colon != std::string::npos && (slash == std::string::npos || colon > slash)) {
    image.resize(colon);
  }
  size_t first = image.find('/');
  if (first != std::string::npos) {
    std::string host = image.substr(0, first);
    if (host.find('.') != std::string::npos || host.find(':') != std::string::npos ||
        host == "localhost") {
      image = image.substr(first + 1);
    }
  }
  return image;
}

std::string LastComponent(const std::string& repo) {
  size_t slash = repo.rfind('/');
  return slash == std::string::npos ? repo : repo.substr(slash + 1);
}

bool Contains(const Json& list, const std::string& value) {
  if (!list.is_array()) return false;
  return std::any_of(list.begin(), list.end(), [&](const Json& v) { return v == value; });
}

bool SpeaksProtocol(const Json& runtime, const std::string& protocol) {
  const Json& protocols = At(runtime, {"spec", "protocolVersions"});
  if (!protocols.is_array() || protocols.empty()) return protocol == "v1" || protocol == "v2";
  return Contains(protocols, protocol);
}

bool ServesFormat(const Json& runtime, const PredictorPlan& plan, bool need_auto_select) {
  const Json& formats = At(runtime, {"spec", "supportedModelFormats"});
  if (!formats.is_array()) return false;
  for (const Json& f : formats) {
    if (TextAt(f, {"name"}) != plan.format) continue;
    if (!plan.format_version.empty() && TextAt(f, {"version"}) != plan.format_version) continue;
    if (need_auto_select && At(f, {"autoSelect"}) != Json(true)) continue;
    return true;
  }
  return false;
}

int64_t PriorityFor(const Json& runtime, const PredictorPlan& plan) {
  int64_t best = 0;  // a format without a priority comes after those with one
  const Json& formats = At(runtime, {"spec", "supportedModelFormats"});
  if (!formats.is_array()) return best;
  for (const Json& f : formats) {
    if (TextAt(f, {"name"}) == plan.format) best = std::max(best, IntAt(f, {"priority"}, 0));
  }
  return best;
}

bool Disabled(const Json& runtime) { return At(runtime, {"spec", "disabled"}) == Json(true); }

// Fills KServe's templates in `s` from the InferenceService's metadata, in one pass over `s`:
// what a value brings in is never read as a template again (an annotation that names itself
// neither loops nor grows).
std::string FillTemplates(const std::string& s, const Json& isvc) {
  std::string out;
  size_t pos = 0;
  while (pos < s.size()) {
    size_t open = s.find("{{.", pos);
    size_t close = open == std::string::npos ? open : s.find("}}", open);
    if (close == std::string::npos) break;
    out.append(s, pos, open - pos);
    const std::string field = s.substr(open + 3, close - open - 3);  // "Name", "Labels.app"
    if (field == "Name") {
      out += MetaName(isvc);
    } else if (field == "Namespace") {
      out += MetaNamespace(isvc);
    } else if (field.rfind("Labels.", 0) == 0) {
      out += TextAt(isvc, {"metadata", "labels", field.substr(7).c_str()});
    } else if (field.rfind("Annotations.", 0) == 0) {
      out += TextAt(isvc, {"metadata", "annotations", field.substr(12).c_str()});
    } else {
      out.append(s, open, close + 2 - open);  // not a template of KServe's: kept as written
    }
    pos = close + 2;
  }
  out.append(s, std::min(pos, s.size()), std::string::npos);
  return out;
}

void FillTemplatesIn(Json& list, const Json& isvc) {
  if (!list.is_array()) return;
  for (Json& v : list) {
    if (v.is_string()) v = FillTemplates(v.get<std::string>(), isvc);
  }
}

// `base`'s list of objects keyed by "name", with `over`'s entries replacing or added.
Json MergeByName(const Json& base, const Json& over) {
  Json out = base.is_array() ? base : Json::array();
  if (!over.is_array()) return out;
  for (const Json& item : over) {
    auto same = std::find_if(out.begin(), out.end(), [&](const Json& e) {
      return TextAt(e, {"name"}) == TextAt(item, {"name"});
    });
    if (same != out.end()) {
      *same = item;
    } else {
      out.push_back(item);
    }
  }
  return out;
}

// Component fields of a predictor that are not pod spec fields.
const char* const kComponentFields[] = {"minReplicas",
                                        "maxReplicas",
                                        "scaleTarget",
                                        "scaleMetric",
                                        "scaleMetricType",
                                        "containerConcurrency",
                                        "timeout",
                                        "canaryTrafficPercent",
                                        "logger",
                                        "batcher",
                                        "labels",
                                        "annotations",
                                        "deploymentStrategy",
                                        "autoScaling",
                                        "workerSpec",
                                        "model"};

bool NamesPath(const std::string& path) {
  if (path.empty() || path[0] != '/') return false;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    if (path.compare(start, end - start, "..") == 0) return false;
    start = end + 1;
  }
  return path.find('\0') == std::string::npos;
}

}  // namespace

Result<PredictorPlan> PlanPredictor(const Json& isvc) {
  const Json& predictor = At(isvc, {"spec", "predictor"});
  PredictorPlan plan;
  if (At(predictor, {"model"}).is_object()) {
    plan.implementation = "model";
    plan.spec = predictor["model"];
    plan.format = TextAt(plan.spec, {"modelFormat", "name"});
    plan.format_version = TextAt(plan.spec, {"modelFormat", "version"});
    plan.runtime = TextAt(plan.spec, {"runtime"});
  } else {
    for (const std::string& f : PredictorFrameworks()) {
      if (At(predictor, {f.c_str()}).is_object()) {
        plan.implementation = f;
        plan.format = f;
        plan.spec = predictor[f];
        break;
      }
    }
  }
  if (plan.implementation.empty()) {
    const Json& containers = At(predictor, {"containers"});
    if (!containers.is_array() || containers.empty()) {
      return InvalidArgument("spec.predictor: says nothing it serves");
    }
    plan.implementation = "containers";
    return plan;
  }
  plan.storage_uri = TextAt(plan.spec, {"storageUri"});
  plan.protocol = TextAt(plan.spec, {"protocolVersion"}, "v1");
  return plan;
}

Result<Json> SelectRuntime(const PredictorPlan& plan, const std::vector<Json>& namespaced,
                           const std::vector<Json>& cluster) {
  if (!plan.runtime.empty()) {
    const Json* found = nullptr;
    for (const Json& rt : namespaced) {
      if (MetaName(rt) == plan.runtime) found = &rt;
    }
    for (const Json& rt : cluster) {
      if (found == nullptr && MetaName(rt) == plan.runtime) found = &rt;
    }
    if (found == nullptr) {
      return NotFound("no ServingRuntime or ClusterServingRuntime is named " + Quote(plan.runtime));
    }
    if (Disabled(*found))
      return FailedPrecondition("runtime " + Quote(plan.runtime) + " is disabled");
    if (!ServesFormat(*found, plan, false)) {
      return FailedPrecondition(
          "runtime " + Quote(plan.runtime) + " does not support model format " +
          Quote(plan.format) +
          (plan.format_version.empty() ? "" : " version " + plan.format_version));
    }
    if (!SpeaksProtocol(*found, plan.protocol)) {
      return FailedPrecondition("runtime " + Quote(plan.runtime) + " does not speak protocol " +
                                plan.protocol);
    }
    return *found;
  }
  for (const std::vector<Json>* group : {&namespaced, &cluster}) {
    std::vector<const Json*> candidates;
    for (const Json& rt : *group) {
      if (!Disabled(rt) && ServesFormat(rt, plan, true) && SpeaksProtocol(rt, plan.protocol)) {
        candidates.push_back(&rt);
      }
    }
    std::stable_sort(candidates.begin(), candidates.end(), [&](const Json* a, const Json* b) {
      int64_t pa = PriorityFor(*a, plan), pb = PriorityFor(*b, plan);
      return pa != pb ? pa > pb : MetaName(*a) < MetaName(*b);
    });
    if (!candidates.empty()) return *candidates.front();
  }
  return NotFound("no runtime found to support predictor with model type: " + plan.format +
                  (plan.format_version.empty() ? "" : " version " + plan.format_version) +
                  " and protocol " + plan.protocol);
}

namespace {

// KServe's XGBoost server image, whose flags skiff serve takes as they are.
bool IsXgbServerImage(const std::string& image) {
  const std::string last = LastComponent(ImageRepository(image));
  return last == "xgbserver" || last == "kserve-xgbserver";
}

}  // namespace

std::optional<std::string> SkiffServerFormat(const std::string& image,
                                             const std::string& model_format) {
  if (IsXgbServerImage(image)) return "xgboost";
  const std::string last = LastComponent(ImageRepository(image));
  const bool multi =
      last == "mlserver" || last == "predictiveserver" || last == "kserve-predictiveserver";
  if (multi && model_format == "xgboost") return model_format;
  return std::nullopt;
}

std::string UnrunnableImageReason(const std::string& image) {
  const std::string repo = ImageRepository(image);
  const std::string last = LastComponent(repo);
  struct Known {
    const char* match;
    const char* what;
  } known[] = {
      {"tensorflow/serving", "TensorFlow Serving"},
      {"tensorflow-serving", "TensorFlow Serving"},
      {"torchserve", "TorchServe"},
      {"tritonserver", "Triton Inference Server"},
      {"huggingfaceserver", "KServe's Hugging Face server (GPU-sized language models)"},
      {"mlserver", "MLServer"},
      {"sklearnserver", "KServe's scikit-learn server (not yet served by Skiff)"},
      {"lgbserver", "KServe's LightGBM server (not yet served by Skiff)"},
      {"pmmlserver", "KServe's PMML server (a Java runtime)"},
      {"paddleserver", "KServe's Paddle server"},
      {"model_server", "OpenVINO Model Server"},
      {"predictiveserver", "KServe's predictive server"},
      {"autogluonserver", "KServe's AutoGluon server"},
      {"vllm", "vLLM (GPU serving)"},
  };
  for (const Known& k : known) {
    if (repo.find(k.match) != std::string::npos || last == k.match) {
      return "image " + Quote(image) + " is " + k.what +
             ", which this machine does not run; Skiff serves XGBoost models itself (runtime "
             "kserve-xgbserver) and custom predictors from images it maps to local environments";
    }
  }
  return "";
}

Result<ModelMount> MountForStorageUri(const std::string& uri, const std::string& ns,
                                      const std::string& name) {
  ModelMount m;
  if (uri.rfind("file://", 0) == 0) {
    std::string path = uri.substr(7);
    if (!NamesPath(path)) {
      return InvalidArgument("storageUri " + Quote(uri) +
                             ": a file:// URI names an absolute path without '..'");
    }
    while (path.size() > 1 && path.back() == '/') path.pop_back();
    m.volume = {{"name", "model-storage"}, {"hostPath", {{"path", path}}}};
    m.mount_path = path;
    m.model_dir = path;
    return m;
  }
  if (uri.rfind("pvc://", 0) == 0) {
    std::string rest = uri.substr(6);
    size_t slash = rest.find('/');
    std::string claim = rest.substr(0, slash);
    std::string sub = slash == std::string::npos ? "" : rest.substr(slash + 1);
    if (!ValidateName(claim, "claim").ok() || !NamesPath("/" + sub)) {
      return InvalidArgument("storageUri " + Quote(uri) +
                             ": a pvc:// URI is pvc://CLAIM/PATH, CLAIM a PersistentVolumeClaim's "
                             "name and the path without '..'");
    }
    m.volume = {{"name", "model-storage"},
                {"persistentVolumeClaim", {{"claimName", claim}, {"readOnly", true}}}};
    m.mount_path = "/tmp/skiff-models-" + ns + "-" + name;
    m.model_dir = sub.empty() ? m.mount_path : m.mount_path + "/" + sub;
    while (m.model_dir.size() > 1 && m.model_dir.back() == '/') m.model_dir.pop_back();
    return m;
  }
  size_t scheme = uri.find("://");
  return FailedPrecondition(
      "storageUri " + Quote(uri) +
      ": this machine reads models from file:// and pvc:// storage, "
      "not " +
      (scheme == std::string::npos ? uri : uri.substr(0, scheme + 3)) +
      "; copy the model into a PersistentVolumeClaim (pvc://CLAIM/PATH) or a local folder "
      "(file:///PATH)");
}

Result<Json> PredictorPodSpec(const Json& isvc, const PredictorPlan& plan, const Json& runtime,
                              const std::string& skiff_binary) {
  const Json& predictor = At(isvc, {"spec", "predictor"});
  Json pod = predictor.is_object() ? predictor : Json::object();
  for (const char* f : kComponentFields) pod.erase(f);
  for (const std::string& f : PredictorFrameworks()) pod.erase(f);
  pod["restartPolicy"] = "Always";

  if (plan.implementation == "containers") {
    // A custom predictor: its own containers; the first port of the first is the one served.
    Json& c = pod["containers"][0];
    if (c.contains("ports") && c["ports"].is_array() && !c["ports"].empty()) {
      if (TextAt(c["ports"][0], {"name"}).empty()) c["ports"][0]["name"] = "http";
    } else {
      c["ports"] = Json::array({{{"name", "http"}, {"containerPort", 8080}}});
    }
    return pod;
  }

  const Json& containers = At(runtime, {"spec", "containers"});
  if (!containers.is_array() || containers.empty()) {
    return FailedPrecondition("runtime " + Quote(MetaName(runtime)) + " has no container");
  }
  Json c = containers[0];
  for (const Json& rc : containers) {
    if (TextAt(rc, {"name"}) == "kserve-container") c = rc;
  }
  // The predictor's container fields over the runtime's, as KServe merges them.
  const Json& over = plan.spec;
  for (const char* field : {"image", "command", "workingDir", "imagePullPolicy"}) {
    if (over.contains(field) && !over[field].is_null()) c[field] = over[field];
  }
  Json args = c.contains("args") && c["args"].is_array() ? c["args"] : Json::array();
  if (over.contains("args") && over["args"].is_array()) {
    for (const Json& a : over["args"]) args.push_back(a);
  }
  c["args"] = args;
  c["env"] = MergeByName(At(c, {"env"}), At(over, {"env"}));
  c["volumeMounts"] = MergeByName(At(c, {"volumeMounts"}), At(over, {"volumeMounts"}));
  for (const char* part : {"requests", "limits"}) {
    const Json& extra = At(over, {"resources", part});
    if (!extra.is_object()) continue;
    for (const auto& [k, v] : extra.items()) c["resources"][part][k] = v;
  }
  c["name"] = "kserve-container";
  FillTemplatesIn(c["args"], isvc);
  FillTemplatesIn(c["command"], isvc);
  for (Json& e : c["env"]) {
    if (e.contains("value") && e["value"].is_string()) {
      e["value"] = FillTemplates(e["value"].get<std::string>(), isvc);
    }
  }

  const std::string image = TextAt(c, {"image"});
  const std::optional<std::string> format = SkiffServerFormat(image, plan.format);
  if (!format) {
    if (std::string why = UnrunnableImageReason(image); !why.empty()) {
      return FailedPrecondition("runtime " + Quote(MetaName(runtime)) + ": " + why);
    }
  }
  ModelMount mount{.volume = Json(), .mount_path = "/mnt/models", .model_dir = "/mnt/models"};
  if (!plan.storage_uri.empty()) {
    ASSIGN_OR_RETURN(mount,
                     MountForStorageUri(plan.storage_uri, MetaNamespace(isvc), MetaName(isvc)));
    Json volumes = At(pod, {"volumes"}).is_array() ? pod["volumes"] : Json::array();
    volumes.push_back(mount.volume);
    pod["volumes"] = volumes;
    c["volumeMounts"].push_back(
        {{"name", "model-storage"}, {"mountPath", mount.mount_path}, {"readOnly", true}});
  }
  if (format) {
    // Skiff's own server stands in: with KServe's XGBoost server's flags as they are, in place
    // of another server with its own, on the port the backend gives it.
    c["command"] = Json::array({skiff_binary, "serve", "--format", *format});
    if (!IsXgbServerImage(image)) {
      c["args"] = Json::array({"--model_name=" + MetaName(isvc), "--model_dir=/mnt/models"});
    }
    Json served = Json::array();
    bool has_port = false;
    for (const Json& a : c["args"]) {
      std::string arg = a.is_string() ? a.get<std::string>() : a.dump();
      if (arg.rfind("--http_port", 0) == 0) {
        arg = "--http_port=$(PORT)";
        has_port = true;
      } else if (arg == "--model_dir=/mnt/models") {
        arg = "--model_dir=" + mount.model_dir;
      }
      served.push_back(arg);
    }
    if (!has_port) served.push_back("--http_port=$(PORT)");
    c["args"] = served;
    c["ports"] = Json::array({{{"name", "http"}, {"containerPort", 8080}, {"protocol", "TCP"}}});
    c["readinessProbe"] = {{"httpGet", {{"path", "/v2/health/ready"}, {"port", "http"}}},
                           {"periodSeconds", 1}};
  } else if (!c.contains("ports") || !c["ports"].is_array() || c["ports"].empty()) {
    c["ports"] = Json::array({{{"name", "http"}, {"containerPort", 8080}}});
  } else if (TextAt(c["ports"][0], {"name"}).empty()) {
    c["ports"][0]["name"] = "http";
  }
  if (c["env"].empty()) c.erase("env");
  if (c["volumeMounts"].empty()) c.erase("volumeMounts");
  pod["containers"] = Json::array({c});
  const Json& rt_volumes = At(runtime, {"spec", "volumes"});
  if (rt_volumes.is_array()) pod["volumes"] = MergeByName(At(pod, {"volumes"}), rt_volumes);
  return pod;
}

}  // namespace skiff::serving
