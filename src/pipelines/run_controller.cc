#include "pipelines/run_controller.h"

#include <algorithm>

#include "core/log.h"
#include "core/text.h"
#include "pipelines/artifact_paths.h"
#include "pipelines/run_retry.h"

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

bool Finished(const std::string& run_state) {
  return run_state == "SUCCEEDED" || run_state == "FAILED" || run_state == "CANCELED";
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
  // Read without trusting the stored status's shape (it may predate its schema).
  const Json& tasks = At(run, {"status", "engine", "tasks"});
  if (!tasks.is_object()) return NotFound("run " + MetaName(run) + " has no tasks yet");
  auto workload = [](const Json& node) {
    const Json& id = At(node, {"workload_id"});
    return id.is_string() ? id.get<std::string>() : std::string();
  };
  std::vector<std::string> matches;
  std::string known;
  for (auto it = tasks.begin(); it != tasks.end(); ++it) {
    if (workload(it.value()).empty()) continue;
    known += (known.empty() ? "" : ", ") + it.key();
    if (it.key() == task) return workload(it.value());
    if (TextAt(it.value(), {"name"}) == task) matches.push_back(it.key());
  }
  if (matches.size() == 1) return workload(tasks[matches[0]]);
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

Result<std::shared_ptr<const PipelineSpec>> RunController::SpecFor(RunCache& cache,
                                                                   const Json& run) {
  if (cache.spec) return cache.spec;
  ASSIGN_OR_RETURN(PipelineSpec parsed, ParseRunSpec(run));
  cache.spec = std::make_shared<const PipelineSpec>(std::move(parsed));
  return cache.spec;
}

milliseconds RunController::PersistInterval(const RunCache& cache) const {
  auto cost = std::chrono::duration_cast<milliseconds>(cache.write_cost);
  return std::clamp(cost * options_.persist_cost_factor, options_.min_persist_interval,
                    options_.max_persist_interval);
}

Result<Json> RunController::ReadRun(const std::string& key, const std::string& ns,
                                    const std::string& name) {
  auto it = runs_.find(key);
  if (it != runs_.end() && it->second.version > 0) {
    Result<int64_t> version = store_.GetResourceVersion(kPipelineRunType, ns, name);
    if (!version.ok()) return version.status();
    if (*version == it->second.version) return std::move(it->second.run);  // put back after
    // Changed by someone else (terminate, retry, archive): what we had not written is dropped
    // and re-derived by the engine from the stored status.
    it->second.run = Json();
    it->second.version = 0;
    it->second.dirty = false;
  }
  return store_.Get(kPipelineRunType, ns, name);
}

Result<std::optional<milliseconds>> RunController::Reconcile(const std::string& ns,
                                                             const std::string& name) {
  const std::string key = ns + "/" + name;
  auto got = ReadRun(key, ns, name);
  if (!got.ok()) {
    if (got.status().code() == StatusCode::kNotFound) {
      runs_.erase(key);
      return std::optional<milliseconds>();
    }
    return got.status();
  }
  Json run = std::move(got).value();
  Json& status = run["status"];
  if (!status.is_object()) status = Json::object();
  // Whether this reconcile changed the status, without a deep copy of it (it grows with the
  // run's tasks): a hash walk now and after. A collision only delays a progress write; a change
  // of state is always written.
  const size_t before_hash = std::hash<Json>{}(status);
  std::string state = status.value("state", "");
  if (Finished(state)) {
    runs_.erase(key);
    // A retry asked for through the spec (run_retry.h) restarts a failed or cancelled run.
    if ((state != "FAILED" && state != "CANCELED") || !RetryRequested(run)) {
      return std::optional<milliseconds>();
    }
    RETURN_IF_ERROR(ResetRunForRetry(run));
    LogInfo("pipeline run retried",
            {{"run", key}, {"retries", std::to_string(status.value("retries", 0))}});
  }
  RunCache& cache = runs_[key];
  if (cache.uid != MetaUid(run)) cache = RunCache{.uid = MetaUid(run)};  // a new run, same name
  const TimePoint now = clock_.Now();
  if (!status.contains("createdAt")) {
    status["createdAt"] = run["metadata"].value("creationTimestamp", FormatRfc3339(now));
  }

  auto spec = SpecFor(cache, run);
  Json engine_status = status.contains("engine") ? std::move(status["engine"]) : Json::object();
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
    ctx.pipeline_root =
        root.empty() ? "file://" + NamespaceArtifactRoot(options_.artifacts_root, ns) : root;
    ctx.parameters = RunParameters(run);
    ctx.enable_cache = run["spec"].value("enableCaching", true);
    ParseRfc3339(status["createdAt"].get<std::string>(), &ctx.create_time);
    TimePoint scheduled;
    if (ParseRfc3339(run["spec"].value("scheduledAt", ""), &scheduled))
      ctx.schedule_time = scheduled;
    ctx.max_reconcile_time = PersistInterval(cache);
    if (run["spec"].value("cancelRequested", false)) Engine::RequestCancel(engine_status);
    done = engine_.Reconcile(**spec, ctx, engine_status, runner_, clock_);
  }
  status["engine"] = std::move(engine_status);
  if (!done.ok()) {
    // The run cannot start (bad IR, bad parameters, corrupt status): it fails with the reason.
    status["state"] = "FAILED";
    status["message"] = done.status().message();
    status["finishedAt"] = FormatRfc3339(now);
  } else {
    const Json& engine = status["engine"];
    std::string engine_state = engine.value("state", kPending);
    if (engine_state == kRunning && run["spec"].value("cancelRequested", false)) {
      engine_state = "CANCELING";
    }
    status["state"] = engine_state;
    status["message"] = engine.value("message", "");
    if (engine.contains("start_time")) status["startedAt"] = engine["start_time"];
    if (*done) {
      status["finishedAt"] = engine.value("finish_time", FormatRfc3339(now));
    }
  }
  const std::string final_state = status.value("state", "");
  const bool finished = Finished(final_state);
  const bool changed = std::hash<Json>{}(status) != before_hash;
  const auto steady_now = std::chrono::steady_clock::now();
  const bool write_now =
      (changed || cache.dirty) &&
      (finished || state != final_state || steady_now - cache.last_write >= PersistInterval(cache));
  if (write_now) {
    const auto write_start = std::chrono::steady_clock::now();
    auto updated = store_.Update(kPipelineRunType, run);
    if (!updated.ok()) {
      cache.run = Json();
      cache.version = 0;
      cache.dirty = false;
      if (updated.status().code() == StatusCode::kConflict) {
        return std::optional<milliseconds>(milliseconds(0));  // re-read and try again
      }
      return updated.status();
    }
    cache.last_write = std::chrono::steady_clock::now();
    cache.write_cost = cache.last_write - write_start;
    if (state != final_state) {
      LogInfo("pipeline run", {{"run", key}, {"state", final_state}});
    }
    if (finished) {
      runs_.erase(key);
      return std::optional<milliseconds>();
    }
    cache.version = std::max<int64_t>(0, MetaResourceVersion(*updated));
    cache.run = std::move(updated).value();
    cache.dirty = false;
  } else {
    if (cache.version == 0) cache.version = std::max<int64_t>(0, MetaResourceVersion(run));
    cache.run = std::move(run);
    cache.dirty = cache.dirty || changed;
  }
  if (cache.dirty) {
    auto due = cache.last_write + PersistInterval(cache) - steady_now;
    return std::optional<milliseconds>(std::clamp(std::chrono::duration_cast<milliseconds>(due),
                                                  milliseconds(0), options_.poll_interval));
  }
  return std::optional<milliseconds>(options_.poll_interval);
}

}  // namespace skiff::pipelines
