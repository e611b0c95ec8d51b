#include "pipelines/cache.h"

#include <algorithm>
#include <set>

#include "core/ids.h"
#include "pipelines/executor_io.h"

namespace skiff::pipelines {
namespace {

Json ArtifactJson(const Artifact& a) {
  return {{"name", a.name},
          {"uri", a.uri},
          {"schemaTitle", a.schema_title},
          {"schemaVersion", a.schema_version},
          {"metadata", a.metadata.is_object() ? a.metadata : Json::object()}};
}

Result<Artifact> ArtifactFromJson(const Json& j) {
  if (!j.is_object()) return InvalidArgument("cached artifact is not an object");
  Artifact a;
  a.name = j.value("name", "");
  a.uri = j.value("uri", "");
  a.schema_title = j.value("schemaTitle", "");
  a.schema_version = j.value("schemaVersion", "");
  a.metadata = j.value("metadata", Json::object());
  return a;
}

// Fields of the output definitions that decide the outputs' shape: types only.
Json OutputSpecs(const Json& component_spec) {
  Json out = {{"parameters", Json::object()}, {"artifacts", Json::object()}};
  const Json defs = component_spec.value("outputDefinitions", Json::object());
  if (!defs.is_object()) return out;
  const Json params = defs.value("parameters", Json::object());
  if (params.is_object()) {
    for (auto it = params.begin(); it != params.end(); ++it) {
      out["parameters"][it.key()] =
          it.value().is_object() ? it.value().value("parameterType", "") : "";
    }
  }
  const Json arts = defs.value("artifacts", Json::object());
  if (arts.is_object()) {
    for (auto it = arts.begin(); it != arts.end(); ++it) {
      out["artifacts"][it.key()] = it.value().is_object()
                                       ? it.value().value("artifactType", Json::object())
                                       : Json::object();
    }
  }
  return out;
}

std::vector<std::string> PvcNames(const Json& platform_config) {
  std::set<std::string> names;
  if (platform_config.is_object() && platform_config.contains("pvcMount") &&
      platform_config["pvcMount"].is_array()) {
    for (const Json& m : platform_config["pvcMount"]) {
      if (!m.is_object()) continue;
      for (const char* key : {"pvcName", "constant"}) {
        if (m.contains(key) && m[key].is_string()) names.insert(m[key].get<std::string>());
      }
      if (m.contains("pvcNameParameter")) names.insert(m["pvcNameParameter"].dump());
    }
  }
  return {names.begin(), names.end()};
}

// Catches what nlohmann::json throws on ill-typed input (the module edge: errors as values).
template <typename F>
auto CatchJsonErrors(const std::string& where, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const Json::exception& e) {
    return InvalidArgument(where + ": " + e.what());
  }
}

}  // namespace

bool ComponentAllowsCaching(const Json& component_spec) {
  const Json defs = component_spec.is_object()
                        ? component_spec.value("inputDefinitions", Json::object())
                        : Json::object();
  const Json params = defs.is_object() ? defs.value("parameters", Json::object()) : Json();
  if (!params.is_object()) return true;
  for (auto it = params.begin(); it != params.end(); ++it) {
    if (it.value().is_object() && it.value().value("parameterType", "") == "TASK_FINAL_STATUS") {
      return false;
    }
  }
  return true;
}

static Result<Json> CacheKeyDocumentImpl(const TaskInvocation& inv);

Result<Json> CacheKeyDocument(const TaskInvocation& inv) {
  return CatchJsonErrors("task " + inv.task_path + " cache key",
                         [&] { return CacheKeyDocumentImpl(inv); });
}

static Result<Json> CacheKeyDocumentImpl(const TaskInvocation& inv) {
  ASSIGN_OR_RETURN(auto values, ResolvedParameterValues(inv));
  Json params = Json::object();
  for (const auto& [name, value] : values) params[name] = value;
  Json artifacts = Json::object();
  for (const auto& [name, list] : inv.artifact_inputs) {
    Json arr = Json::array();
    for (const Artifact& a : list) arr.push_back(ArtifactJson(a));
    artifacts[name] = arr;
  }
  Json container = inv.executor_spec.is_object()
                       ? inv.executor_spec.value("container", Json::object())
                       : Json::object();
  if (!container.is_object()) container = Json::object();
  Json container_key = {{"image", container.value("image", "")},
                        {"command", container.value("command", Json::array())},
                        {"args", container.value("args", Json::array())},
                        {"env", container.value("env", Json::array())}};
  Json outputs = OutputSpecs(inv.component_spec);
  return Json{{"inputParameterValues", params},
              {"inputArtifacts", artifacts},
              {"outputParametersSpec", outputs["parameters"]},
              {"outputArtifactsSpec", outputs["artifacts"]},
              {"containerSpec", container_key},
              {"pvcNames", PvcNames(inv.platform_config)},
              {"pipelineRoot", inv.pipeline_root}};
}

Result<std::string> CacheFingerprint(const TaskInvocation& inv) {
  ASSIGN_OR_RETURN(Json doc, CacheKeyDocument(inv));
  return Sha256Hex(doc.dump());  // nlohmann objects keep keys sorted: canonical
}

Json OutcomeOutputsToJson(const TaskOutcome& outcome) {
  Json params = Json::object();
  for (const auto& [name, value] : outcome.output_parameters) params[name] = value;
  Json artifacts = Json::object();
  for (const auto& [name, list] : outcome.output_artifacts) {
    Json arr = Json::array();
    for (const Artifact& a : list) arr.push_back(ArtifactJson(a));
    artifacts[name] = arr;
  }
  return {{"parameters", params}, {"artifacts", artifacts}};
}

static Result<TaskOutcome> OutcomeFromOutputsJsonImpl(const Json& outputs);

Result<TaskOutcome> OutcomeFromOutputsJson(const Json& outputs) {
  return CatchJsonErrors("cached outputs", [&] { return OutcomeFromOutputsJsonImpl(outputs); });
}

static Result<TaskOutcome> OutcomeFromOutputsJsonImpl(const Json& outputs) {
  if (!outputs.is_object()) return InvalidArgument("cached outputs are not an object");
  TaskOutcome outcome;
  outcome.state = TaskOutcome::State::kCached;
  const Json params = outputs.value("parameters", Json::object());
  if (params.is_object()) {
    for (auto it = params.begin(); it != params.end(); ++it) {
      outcome.output_parameters[it.key()] = it.value();
    }
  }
  const Json arts = outputs.value("artifacts", Json::object());
  if (arts.is_object()) {
    for (auto it = arts.begin(); it != arts.end(); ++it) {
      if (!it.value().is_array()) return InvalidArgument("cached artifact list is not a list");
      for (const Json& a : it.value()) {
        ASSIGN_OR_RETURN(Artifact art, ArtifactFromJson(a));
        outcome.output_artifacts[it.key()].push_back(std::move(art));
      }
    }
  }
  return outcome;
}

Result<std::optional<TaskOutcome>> StoreTaskCache::Lookup(const std::string& ns,
                                                          const std::string& fingerprint) {
  Result<Json> obj = store_.Get(kTaskCacheStoreType, ns, "c-" + fingerprint);
  if (!obj.ok()) {
    if (obj.status().code() == StatusCode::kNotFound) return std::optional<TaskOutcome>();
    return obj.status().WithContext("reading the task cache");
  }
  if (!obj->is_object()) return Internal("task cache entry c-" + fingerprint + " is malformed");
  const Json status = obj->value("status", Json::object());
  const Json spec = obj->value("spec", Json::object());
  if (!status.is_object() || !spec.is_object()) {
    return Internal("task cache entry c-" + fingerprint + " is malformed");
  }
  ASSIGN_OR_RETURN(TaskOutcome outcome,
                   OutcomeFromOutputsJson(status.value("outputs", Json::object())));
  outcome.message = "cached from run " + spec.value("runId", std::string()) + " task " +
                    spec.value("taskPath", std::string());
  return std::optional<TaskOutcome>(std::move(outcome));
}

Status StoreTaskCache::Record(const TaskInvocation& inv, const std::string& fingerprint,
                              const TaskOutcome& outcome) {
  Json obj = {{"apiVersion", "pipelines.kubeflow.org/v2beta1"},
              {"kind", "TaskCache"},
              {"metadata", {{"name", "c-" + fingerprint}, {"namespace", inv.namespace_}}},
              {"spec",
               {{"fingerprint", fingerprint},
                {"runId", inv.run_id},
                {"runName", inv.run_name},
                {"taskPath", inv.task_path}}},
              {"status", {{"outputs", OutcomeOutputsToJson(outcome)}}}};
  Result<Json> created = store_.Create(kTaskCacheStoreType, obj);
  if (created.ok()) return Status::Ok();
  if (created.status().code() != StatusCode::kAlreadyExists) {
    return created.status().WithContext("writing the task cache");
  }
  Result<Json> updated = store_.Update(kTaskCacheStoreType, obj);  // unconditional overwrite
  if (!updated.ok()) return updated.status().WithContext("writing the task cache");
  return Status::Ok();
}

}  // namespace skiff::pipelines
