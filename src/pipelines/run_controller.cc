#include "pipelines/run_controller.h"

#include "core/log.h"

namespace skiff::pipelines {
namespace {

using std::chrono::milliseconds;

Result<PipelineSpec> ParseRunSpec(const Json& run) {
  const Json& spec = run["spec"];
  std::vector<Json> docs = {spec["pipelineSpec"]};
  if (spec.contains("platformSpec") && spec["platformSpec"].is_object() &&
      !spec["platformSpec"].empty()) {
    docs.push_back(spec["platformSpec"]);
  }
  return PipelineSpecFromDocuments(docs, "PipelineRun " + MetaNamespace(run) + "/" + MetaName(run));
}

std::map<std::string, Json> RunParameters(const Json& run) {
  std::map<std::string, Json> out;
  const Json& p = run["spec"].value("parameters", Json::object());
  if (p.is_object()) {
    for (auto it = p.begin(); it != p.end(); ++it) out[it.key()] = it.value();
  }
  return out;
}

}  // namespace

Json MakePipelineRun(const std::string& ns, const std::string& name, const Json& spec_doc,
                     const Json& platform_spec, const std::map<std::string, Json>& parameters,
                     bool enable_caching) {
  Json params = Json::object();
  for (const auto& [k, v] : parameters) params[k] = v;
  Json run = {
      {"apiVersion", "pipelines.kubeflow.org/v2beta1"},
      {"kind", "PipelineRun"},
      {"metadata", {{"name", name}, {"namespace", ns}}},
      {"spec",
       {{"pipelineSpec", spec_doc}, {"parameters", params}, {"enableCaching", enable_caching}}}};
  if (platform_spec.is_object() && !platform_spec.empty()) {
    run["spec"]["platformSpec"] = platform_spec;
  }
  return run;
}

Result<std::string> FindTaskWorkload(const Json& run, const std::string& task) {
  const Json tasks = run.value("status", Json::object())
                         .value("engine", Json::object())
                         .value("tasks", Json::object());
  std::vector<std::string> matches;
  std::string known;
  for (auto it = tasks.begin(); it != tasks.end(); ++it) {
    if (!it.value().contains("workload_id")) continue;
    known += (known.empty() ? "" : ", ") + it.key();
    if (it.key() == task) return it.value()["workload_id"].get<std::string>();
    if (it.value().value("name", "") == task) matches.push_back(it.key());
  }
  if (matches.size() == 1) return tasks[matches[0]]["workload_id"].get<std::string>();
  if (matches.size() > 1) {
    std::string list;
    for (const auto& m : matches) list += (list.empty() ? "" : ", ") + m;
    return InvalidArgument("task \"" + task + "\" ran more than once (" + list +
                           "): name one by its path");
  }
  return NotFound("run " + MetaName(run) + " has no task \"" + task + "\" with a workload" +
                  (known.empty() ? "" : " (tasks: " + known + ")"));
}

Status ValidatePipelineRun(Json& run, bool /*is_create*/) {
  if (!run.contains("spec") || !run["spec"].is_object()) return InvalidArgument("spec: required");
  Json& spec = run["spec"];
  if (!spec.contains("pipelineSpec") || !spec["pipelineSpec"].is_object()) {
    return InvalidArgument("spec.pipelineSpec: required object (the compiled pipeline IR)");
  }
  if (spec.contains("parameters") && !spec["parameters"].is_object()) {
    return InvalidArgument("spec.parameters: must be a map of name to value");
  }
  if (spec.contains("enableCaching") && !spec["enableCaching"].is_boolean()) {
    return InvalidArgument("spec.enableCaching: must be a boolean");
  }
  if (spec.contains("cancelRequested") && !spec["cancelRequested"].is_boolean()) {
    return InvalidArgument("spec.cancelRequested: must be a boolean");
  }
  ASSIGN_OR_RETURN(PipelineSpec parsed, ParseRunSpec(run));
  RETURN_IF_ERROR(ResolvePipelineParameters(parsed, RunParameters(run)).status());
  if (!spec.contains("enableCaching")) spec["enableCaching"] = true;
  return Status::Ok();
}

RunController::RunController(Store& store, TaskRunner& runner, Clock& clock,
                             RunControllerOptions options)
    : store_(store), runner_(runner), clock_(clock), options_(std::move(options)) {}

Result<std::shared_ptr<const PipelineSpec>> RunController::SpecFor(const Json& run) {
  const std::string uid = MetaUid(run);
  if (auto it = specs_.find(uid); it != specs_.end()) return it->second;
  ASSIGN_OR_RETURN(PipelineSpec parsed, ParseRunSpec(run));
  auto shared = std::make_shared<const PipelineSpec>(std::move(parsed));
  specs_[uid] = shared;
  return shared;
}

Result<std::optional<milliseconds>> RunController::Reconcile(const std::string& ns,
                                                             const std::string& name) {
  auto got = store_.Get(kPipelineRunType, ns, name);
  if (!got.ok()) {
    if (got.status().code() == StatusCode::kNotFound) return std::optional<milliseconds>();
    return got.status();
  }
  Json run = std::move(got).value();
  Json& status = run["status"];
  if (!status.is_object()) status = Json::object();
  const Json before = status;
  const std::string state = status.value("state", "");
  if (state == "SUCCEEDED" || state == "FAILED" || state == "CANCELED") {
    specs_.erase(MetaUid(run));
    return std::optional<milliseconds>();
  }
  const TimePoint now = clock_.Now();
  if (!status.contains("createdAt")) {
    status["createdAt"] = run["metadata"].value("creationTimestamp", FormatRfc3339(now));
  }

  auto spec = SpecFor(run);
  Json engine_status = status.value("engine", Json::object());
  Result<bool> done = false;
  if (!spec.ok()) {
    done = spec.status();
  } else {
    RunContext ctx;
    ctx.run_id = MetaUid(run);
    ctx.run_name = MetaName(run);
    ctx.display_name = run["spec"].value("displayName", MetaName(run));
    ctx.namespace_ = ns;
    std::string root = run["spec"].value("pipelineRoot", "");
    ctx.pipeline_root = root.empty() ? "file://" + options_.artifacts_root : root;
    ctx.parameters = RunParameters(run);
    ctx.enable_cache = run["spec"].value("enableCaching", true);
    ParseRfc3339(status["createdAt"].get<std::string>(), &ctx.create_time);
    TimePoint scheduled;
    if (ParseRfc3339(run["spec"].value("scheduledAt", ""), &scheduled))
      ctx.schedule_time = scheduled;
    if (run["spec"].value("cancelRequested", false)) Engine::RequestCancel(engine_status);
    done = engine_.Reconcile(**spec, ctx, engine_status, runner_, clock_);
  }
  if (!done.ok()) {
    // The run cannot start (bad IR, bad parameters, corrupt status): it fails with the reason.
    status["state"] = "FAILED";
    status["message"] = done.status().message();
    status["finishedAt"] = FormatRfc3339(now);
  } else {
    status["engine"] = engine_status;
    std::string engine_state = engine_status.value("state", kPending);
    if (engine_state == kRunning && run["spec"].value("cancelRequested", false)) {
      engine_state = "CANCELING";
    }
    status["state"] = engine_state;
    status["message"] = engine_status.value("message", "");
    if (engine_status.contains("start_time")) status["startedAt"] = engine_status["start_time"];
    if (*done) {
      status["finishedAt"] = engine_status.value("finish_time", FormatRfc3339(now));
    }
  }
  if (status != before) {
    auto updated = store_.Update(kPipelineRunType, run);
    if (!updated.ok()) {
      if (updated.status().code() == StatusCode::kConflict) {
        return std::optional<milliseconds>(milliseconds(0));  // re-read and try again
      }
      return updated.status();
    }
    if (before.value("state", "") != status.value("state", "")) {
      LogInfo("pipeline run", {{"run", ns + "/" + name}, {"state", status.value("state", "")}});
    }
  }
  const std::string final_state = status.value("state", "");
  if (final_state == "SUCCEEDED" || final_state == "FAILED" || final_state == "CANCELED") {
    specs_.erase(MetaUid(run));
    return std::optional<milliseconds>();
  }
  return std::optional<milliseconds>(options_.poll_interval);
}

}  // namespace skiff::pipelines
