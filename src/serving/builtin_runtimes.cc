#include "serving/builtin_runtimes.h"

#include "core/admission.h"
#include "core/log.h"
#include "serving/serving_kinds.h"

namespace skiff::serving {
namespace {

struct Format {
  const char* name;
  const char* version;  // "" for none
  bool auto_select;
  int priority;  // 0 for none
};

struct Builtin {
  const char* name;
  const char* image;
  std::vector<const char*> protocols;
  std::vector<Format> formats;
  std::vector<const char*> args;
  bool multi_model = false;
};

// KServe's own runtimes (config/runtimes), as facts: name, image, protocols, formats, arguments.
const std::vector<Builtin>& Builtins() {
  static const std::vector<Builtin> kBuiltins = {
      {"kserve-xgbserver",
       "kserve/xgbserver:latest",
       {"v1", "v2"},
       {{"xgboost", "2", true, 1}},
       {"--model_name={{.Name}}", "--model_dir=/mnt/models", "--http_port=8080", "--nthread=1"}},
      {"kserve-sklearnserver",
       "kserve/sklearnserver:latest",
       {"v1", "v2"},
       {{"sklearn", "1", true, 1}},
       {"--model_name={{.Name}}", "--model_dir=/mnt/models", "--http_port=8080"}},
      {"kserve-lgbserver",
       "kserve/lgbserver:latest",
       {"v1", "v2"},
       {{"lightgbm", "4", true, 1}},
       {"--model_name={{.Name}}", "--model_dir=/mnt/models", "--http_port=8080", "--nthread=1"}},
      {"kserve-pmmlserver",
       "kserve/pmmlserver:latest",
       {"v1", "v2"},
       {{"pmml", "3", true, 1}, {"pmml", "4", true, 1}},
       {"--model_name={{.Name}}", "--model_dir=/mnt/models", "--http_port=8080"}},
      {"kserve-paddleserver",
       "kserve/paddleserver:latest",
       {"v1", "v2"},
       {{"paddle", "2", true, 1}},
       {"--model_name={{.Name}}", "--model_dir=/mnt/models", "--http_port=8080"}},
      {"kserve-autogluonserver",
       "kserve/autogluonserver:latest",
       {"v1", "v2"},
       {{"autogluon", "1", true, 1}},
       {"--model_name={{.Name}}", "--model_dir=/mnt/models", "--http_port=8080"}},
      {"kserve-predictiveserver",
       "kserve/predictiveserver:latest",
       {"v1", "v2"},
       {{"sklearn", "1", false, 3}, {"xgboost", "2", false, 3}, {"lightgbm", "4", false, 3}},
       {"--model_name={{.Name}}", "--model_dir=/mnt/models", "--http_port=8080",
        "--framework={{.Annotations.modelFormat}}", "--nthread=1"}},
      {"kserve-mlserver",
       "docker.io/seldonio/mlserver:latest",
       {"v2"},
       {{"sklearn", "0", true, 2},
        {"sklearn", "1", true, 2},
        {"xgboost", "1", true, 2},
        {"xgboost", "2", true, 2},
        {"lightgbm", "3", true, 2},
        {"lightgbm", "4", true, 2},
        {"mlflow", "1", true, 1},
        {"mlflow", "2", true, 1}},
       {}},
      {"kserve-tensorflow-serving",
       "tensorflow/serving:latest",
       {"v1", "grpc-v1"},
       {{"tensorflow", "1", true, 2}, {"tensorflow", "2", true, 2}},
       {"--model_name={{.Name}}", "--port=9000", "--rest_api_port=8080",
        "--model_base_path=/mnt/models", "--rest_api_timeout_in_ms=60000"}},
      {"kserve-torchserve",
       "pytorch/torchserve-kfs:latest",
       {"v1", "v2", "grpc-v2"},
       {{"pytorch", "1", true, 2}},
       {"torchserve", "--start", "--model-store=/mnt/models/model-store",
        "--ts-config=/mnt/models/config/config.properties"}},
      {"kserve-tritonserver",
       "nvcr.io/nvidia/tritonserver:latest",
       {"v2", "grpc-v2"},
       {{"tensorrt", "8", true, 1},
        {"tensorflow", "1", true, 1},
        {"tensorflow", "2", true, 1},
        {"onnx", "1", true, 1},
        {"pytorch", "1", false, 0},
        {"triton", "2", true, 1}},
       {"tritonserver", "--model-store=/mnt/models", "--grpc-port=9000", "--http-port=8080",
        "--allow-grpc=true", "--allow-http=true"}},
      {"kserve-openvino",
       "openvino/model_server:latest",
       {"v1", "v2", "grpc-v2"},
       {{"openvino", "10", true, 1},
        {"onnx", "1", true, 2},
        {"tensorflow", "1", true, 3},
        {"huggingface", "", true, 0}},
       {"--model_name={{.Name}}", "--model_path=/mnt/models", "--port=9000", "--rest_port=8080",
        "--file_system_poll_wait_seconds=0"}},
      {"kserve-huggingfaceserver",
       "kserve/huggingfaceserver:latest",
       {"v2", "v1"},
       {{"huggingface", "1", true, 1}},
       {"--model_name={{.Name}}"}},
      {"kserve-huggingfaceserver-multinode",
       "kserve/huggingfaceserver:latest-gpu",
       {"v2", "v1"},
       {{"huggingface", "1", true, 2}},
       {"--model_name={{.Name}}"}},
      {"kserve-vllmserver",
       "kserve/vllmserver:latest",
       {},
       {{"vLLM", "1", true, 1}},
       {"--port=8080", "--served-model-name={{.Name}}", "--model=/mnt/models"}},
  };
  return kBuiltins;
}

}  // namespace

std::vector<Json> BuiltinClusterServingRuntimes() {
  std::vector<Json> out;
  for (const Builtin& b : Builtins()) {
    Json formats = Json::array();
    for (const Format& f : b.formats) {
      Json format = {{"name", f.name}, {"autoSelect", f.auto_select}};
      if (*f.version) format["version"] = f.version;
      if (f.priority > 0) format["priority"] = f.priority;
      formats.push_back(format);
    }
    Json container = {{"name", "kserve-container"}, {"image", b.image}};
    if (!b.args.empty()) container["args"] = b.args;
    Json spec = {{"supportedModelFormats", formats}, {"containers", Json::array({container})}};
    if (!b.protocols.empty()) spec["protocolVersions"] = b.protocols;
    out.push_back(
        {{"apiVersion", "serving.kserve.io/v1alpha1"},
         {"kind", "ClusterServingRuntime"},
         {"metadata", {{"name", b.name}, {"labels", {{"serving.skiff.dev/builtin", "true"}}}}},
         {"spec", spec}});
  }
  return out;
}

Status ApplyBuiltinRuntimes(Store& store, const TypeRegistry& types) {
  for (Json runtime : BuiltinClusterServingRuntimes()) {
    const std::string name = MetaName(runtime);
    auto existing = store.Get(kClusterServingRuntimeType, "", name);
    if (existing.ok()) continue;
    if (existing.status().code() != StatusCode::kNotFound) return existing.status();
    RETURN_IF_ERROR(
        Admit(types, kClusterServingRuntimeType, {.op = WriteOp::kCreate}, runtime, nullptr));
    auto created = store.Create(kClusterServingRuntimeType, runtime);
    if (!created.ok() && created.status().code() != StatusCode::kAlreadyExists) {
      return created.status().WithContext("applying ClusterServingRuntime " + name);
    }
    if (created.ok()) LogInfo("serving runtime applied", {{"name", name}});
  }
  return Status::Ok();
}

}  // namespace skiff::serving
