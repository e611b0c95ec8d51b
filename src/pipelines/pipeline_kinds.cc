// The pipelines module's kinds (PipelineRun, RecurringRun, Experiment, Pipeline, PipelineVersion,
// TaskCache: schemas, rules, printer columns, describe) and its two controllers' registration.
#include <algorithm>
#include <map>
#include <set>
#include <sstream>

#include "controller/controller.h"
#include "core/schema.h"
#include "core/text.h"
#include "http/status_json.h"
#include "pipelines/cache.h"
#include "pipelines/launcher.h"
#include "pipelines/recurring_run_controller.h"
#include "pipelines/run_controller.h"
#include "pipelines/run_retry.h"

namespace skiff::pipelines {
namespace {

constexpr char kGroup[] = "pipelines.kubeflow.org";
constexpr char kVersion[] = "v2beta1";

bool Finished(const std::string& state) {
  return state == "SUCCEEDED" || state == "CACHED" || state == "FAILED" || state == "SKIPPED" ||
         state == "CANCELED";
}

std::string RunTasks(const Json& run) {
  int total = 0, done = 0;
  const Json& tasks = At(run, {"status", "engine", "tasks"});
  if (tasks.is_object()) {
    for (auto it = tasks.begin(); it != tasks.end(); ++it) {
      std::string kind = TextAt(it.value(), {"kind"});
      if (kind != "CONTAINER" && kind != "IMPORTER") continue;
      total++;
      if (Finished(TextAt(it.value(), {"state"}))) done++;
    }
  }
  return std::to_string(done) + "/" + std::to_string(total);
}

std::string RunDuration(const Json& run, TimePoint now) {
  TimePoint start, end = now;
  if (!ParseRfc3339(TextAt(run, {"status", "startedAt"}), &start)) return "";
  ParseRfc3339(TextAt(run, {"status", "finishedAt"}), &end);
  return HumanDuration(end - start);
}

std::string DescribeRun(const Json& run, const std::vector<Json>&, TimePoint) {
  std::ostringstream out;
  out << "Pipeline:     " << TextAt(run, {"spec", "pipelineSpec", "pipelineInfo", "name"}) << "\n";
  out << "State:        " << TextAt(run, {"status", "state"}, "PENDING") << "\n";
  if (!TextAt(run, {"status", "message"}).empty()) {
    out << "Message:      " << TextAt(run, {"status", "message"}) << "\n";
  }
  out << "Started:      " << TextAt(run, {"status", "startedAt"}, "<not yet>") << "\n";
  out << "Finished:     " << TextAt(run, {"status", "finishedAt"}, "<not yet>") << "\n";
  out << "Parameters:   " << TextAt(run, {"spec", "parameters"}, "{}") << "\n";
  out << "Tasks:\n";
  const Json& tasks = At(run, {"status", "engine", "tasks"});
  std::vector<std::vector<std::string>> rows = {{"  TASK", "KIND", "STATE", "ATTEMPTS", "OUTPUTS"}};
  std::vector<std::string> notes;
  std::set<std::string> said;
  if (tasks.is_object()) {
    for (auto it = tasks.begin(); it != tasks.end(); ++it) {
      const Json& t = it.value();
      if (it.key() == "root" || it.key().size() < 5) continue;
      // Indent by depth in the tree: "root.a.b" is two levels down.
      std::string path = it.key().substr(5);
      size_t depth = static_cast<size_t>(std::count(path.begin(), path.end(), '.'));
      std::string label = std::string(2 + 2 * depth, ' ') + TextAt(t, {"name"}, path);
      std::string outputs;
      const Json& params = At(t, {"outputs", "parameters"});
      if (params.is_object()) {
        for (auto p = params.begin(); p != params.end(); ++p) {
          outputs += (outputs.empty() ? "" : " ") + p.key() + "=" + p.value().dump();
        }
      }
      rows.push_back({label, TextAt(t, {"kind"}), TextAt(t, {"state"}),
                      std::to_string(IntAt(t, {"attempt"}, 0) + 1), outputs.substr(0, 80)});
      // Settings without effect on this backend, each said once with the first task it came from.
      const Json& warnings = At(t, {"warnings"});
      if (!warnings.is_array()) continue;
      for (const Json& w : warnings) {
        if (w.is_string() && said.insert(w.get<std::string>()).second) {
          notes.push_back("  " + path + ": " + w.get<std::string>());
        }
      }
    }
  }
  out << (rows.size() > 1 ? RenderTable(rows) : "  <none yet>\n");
  if (!notes.empty()) {
    out << "Notes:\n";
    for (const std::string& n : notes) out << n << "\n";
  }
  return out.str();
}

using namespace openapi;

// What every KFP object's spec may say about itself. Specs are closed: a field no writer of
// this kind sets is pruned with a warning, or refused with ?fieldValidation=Strict.
Json Described(Json properties) {
  properties["displayName"] = String();
  properties["description"] = String();
  return Object(std::move(properties));
}

Json VersionReference() {
  return Object({{"pipelineId", String()}, {"pipelineVersionId", String()}});
}

ResourceType PipelineRunKind() {
  ResourceType run{kGroup,         kVersion, "PipelineRun",
                   "pipelineruns", true,     {"run", "runs", "pipelinerun"}};
  const Json task =
      OpenObject({{"name", String()},
                  {"kind", String()},
                  {"state", String()},
                  {"message", String()},
                  {"attempt", Integer(0)},
                  {"attempt_start_time", String()},
                  {"workload_id", String()},
                  {"retry_at", String()},
                  {"start_time", String()},
                  {"finish_time", String()},
                  {"children", Array(String())},
                  {"items", Array(Any())},
                  {"iteration_count", Integer(0)},
                  {"iteration_index", Integer(0)},
                  {"inputs", OpenObject({{"parameters", Map(Any())}})},
                  {"outputs", OpenObject({{"parameters", Map(Any())}, {"artifacts", Map(Any())}})},
                  {"attempts", Array(Any())},
                  {"warnings", Array(String())}});
  run.schema =
      KindSchema({{"spec", Described({{"pipelineSpec", Any()},
                                      {"platformSpec", Any()},
                                      {"parameters", Map(Any())},
                                      {"enableCaching", Boolean()},
                                      {"cancelRequested", Boolean()},
                                      // Retries asked for (run_retry.h); status.retries: done.
                                      {"retries", Integer(0, kMaxRunRetries)},
                                      {"pipelineRoot", String()},
                                      {"experimentId", String()},
                                      {"recurringRunId", String()},
                                      {"scheduledAt", String()},
                                      {"serviceAccount", String()},
                                      {"storageState", String()},
                                      {"pipelineVersionReference", VersionReference()}})},
                  {"status", OpenObject({{"state", String()},
                                         {"message", String()},
                                         {"createdAt", String()},
                                         {"startedAt", String()},
                                         {"finishedAt", String()},
                                         {"retries", Integer(0, kMaxRunRetries)},
                                         {"conditions", Conditions()},
                                         {"engine", OpenObject({{"state", String()},
                                                                {"message", String()},
                                                                {"start_time", String()},
                                                                {"finish_time", String()},
                                                                {"cancel_requested", Boolean()},
                                                                {"failing", Boolean()},
                                                                {"generation", Integer(0)},
                                                                {"parameters", Map(Any())},
                                                                {"outputs", Any()},
                                                                {"tasks", Map(task)}})}})}},
                 {"spec"});
  run.validate = &ValidatePipelineRun;
  run.columns = {
      {"STATE",
       [](const Json& o, TimePoint) {
         return TextAt(o, {"status", "state"}, "PENDING");
       }},
      {"TASKS", [](const Json& o, TimePoint) { return RunTasks(o); }},
      {"DURATION", [](const Json& o, TimePoint now) { return RunDuration(o, now); }},
  };
  run.describe = &DescribeRun;
  return run;
}

// A trigger that parses, and a pipeline and parameters that every fired run would be admitted
// with: a schedule that can only make refused runs is refused at once.
Status ValidateRecurringRun(Json& rr, bool) {
  const Json& spec = At(rr, {"spec"});
  RETURN_IF_ERROR(Schedule::FromTrigger(At(spec, {"trigger"})).status().WithContext("spec"));
  std::map<std::string, Json> params;
  const Json& parameters = At(spec, {"parameters"});
  if (parameters.is_object()) {
    for (auto it = parameters.begin(); it != parameters.end(); ++it) params[it.key()] = *it;
  }
  Json probe = MakePipelineRun(MetaNamespace(rr), "probe", At(spec, {"pipelineSpec"}),
                               At(spec, {"platformSpec"}), params, true);
  return ValidatePipelineRun(probe, true);
}

ResourceType RecurringRunKind() {
  ResourceType rr{kGroup, kVersion, "RecurringRun", "recurringruns", true, {"recurringrun"}};
  rr.schema = KindSchema({{"spec", Described({{"pipelineSpec", Any()},
                                              {"platformSpec", Any()},
                                              {"parameters", Map(Any())},
                                              {"pipelineRoot", String()},
                                              {"experimentId", String()},
                                              {"serviceAccount", String()},
                                              {"enableCaching", Boolean()},
                                              {"pipelineVersionReference", VersionReference()},
                                              {"trigger", Object({{"cron", String()},
                                                                  {"intervalSecond", IntOrString()},
                                                                  {"startTime", String()},
                                                                  {"endTime", String()}})},
                                              {"maxConcurrency", Integer(1)},
                                              {"noCatchup", Boolean()},
                                              {"enabled", Boolean()}})},
                          {"status", OpenObject({{"lastScheduledAt", String()},
                                                 {"nextScheduledAt", String()},
                                                 {"enabledAt", String()},
                                                 {"observedEnabled", Boolean()},
                                                 {"updatedAt", String()},
                                                 {"firedRuns", Integer(0)},
                                                 {"message", String()},
                                                 {"conditions", Conditions()}})}},
                         {"spec"});
  // A trigger is required and checked (cron syntax, a positive interval) by this rule.
  rr.validate = &ValidateRecurringRun;
  rr.columns = {
      {"ENABLED",
       [](const Json& o, TimePoint) {
         return At(o, {"spec", "enabled"}) == false ? std::string("false") : std::string("true");
       }},
      {"TRIGGER",
       [](const Json& o, TimePoint) {
         if (At(o, {"spec", "trigger", "cron"}).is_string()) {
           return "cron " + TextAt(o, {"spec", "trigger", "cron"});
         }
         return "every " + TextAt(o, {"spec", "trigger", "intervalSecond"}) + "s";
       }},
      {"FIRED",
       [](const Json& o, TimePoint) {
         return TextAt(o, {"status", "firedRuns"}, "0");
       }},
      FieldColumn("NEXT", ".status.nextScheduledAt"),
  };
  return rr;
}

ResourceType SimpleKind(const char* kind, const char* plural, std::vector<std::string> short_names,
                        Json spec) {
  ResourceType t{kGroup, kVersion, kind, plural, true, std::move(short_names)};
  t.schema = KindSchema(
      {{"spec", std::move(spec)}, {"status", OpenObject({{"conditions", Conditions()}})}});
  t.columns = {FieldColumn("DISPLAY NAME", ".spec.displayName")};
  return t;
}

// The run controller as a plug-in: the launcher (with the task cache) runs the tasks; a task's
// workload changing wakes its run at once, so one dependency hop costs a wake-up, not a poll.
class RunPlugin : public Controller {
 public:
  explicit RunPlugin(const ControllerContext& ctx)
      : cache_(ctx.store),
        launcher_(LauncherOptionsFor(ctx), ctx.backend, &cache_),
        controller_(ctx.store, launcher_, ctx.clock, RunOptionsFor(ctx)) {}

  std::string StoreType() const override { return kPipelineRunType; }
  std::optional<Key> KeyForWorkload(
      const std::map<std::string, std::string>& labels) const override {
    auto run = labels.find(kRunNameLabel);
    auto ns = labels.find(kNamespaceLabel);
    if (run == labels.end() || ns == labels.end()) return std::nullopt;
    return Key{ns->second, run->second};
  }
  Result<std::optional<std::chrono::milliseconds>> Reconcile(const std::string& ns,
                                                             const std::string& name) override {
    return controller_.Reconcile(ns, name);
  }

 private:
  static LauncherOptions LauncherOptionsFor(const ControllerContext& ctx) {
    LauncherOptions options;
    options.artifacts_root = ctx.home + "/artifacts";
    options.work_dir = ctx.home + "/tasks";
    options.volumes_root = ctx.home + "/volumes";
    Store* store = &ctx.store;
    auto read_config = ctx.read_config;
    options.resolve_config =
        [store, read_config](
            const std::string& ns, const std::string& kind,
            const std::string& name) -> Result<std::map<std::string, std::string>> {
      // The launcher names kinds ("Secret"); the store keys them by resource ("secrets").
      const std::string type = kind == "Secret" ? "secrets" : "configmaps";
      ASSIGN_OR_RETURN(Json obj, store->Get(type, ns, name));
      std::map<std::string, std::string> out;
      for (const char* field : {"data", "stringData"}) {
        if (!obj.contains(field) || !obj[field].is_object()) continue;
        for (auto it = obj[field].begin(); it != obj[field].end(); ++it) {
          if (!it.value().is_string()) continue;
          ASSIGN_OR_RETURN(out[it.key()], read_config(type, ns, name, it.key()));
        }
      }
      return out;
    };
    return options;
  }
  static RunControllerOptions RunOptionsFor(const ControllerContext& ctx) {
    RunControllerOptions options;
    options.artifacts_root = ctx.home + "/artifacts";
    return options;
  }

  StoreTaskCache cache_;
  Launcher launcher_;
  RunController controller_;
};

// The recurring run controller as a plug-in: it wakes when one of its fired runs changes.
class RecurringRunPlugin : public Controller {
 public:
  explicit RecurringRunPlugin(const ControllerContext& ctx)
      : controller_(ctx.store, ctx.clock, {.types = ctx.types, .metrics = ctx.metrics}) {}

  std::string StoreType() const override { return kRecurringRunType; }
  std::vector<Watch> Watches() const override {
    return {{kPipelineRunType, &RecurringRunController::MapRunToRecurringRun}};
  }
  Result<std::optional<std::chrono::milliseconds>> Reconcile(const std::string& ns,
                                                             const std::string& name) override {
    return controller_.Reconcile(ns, name);
  }

 private:
  RecurringRunController controller_;
};

// GET .../pipelineruns/{name}/log?task=<task name or path>: one task's log, read from the backend.
void ServeTaskLog(const RouteContext& ctx, const HttpRequest& req, HttpResponder& res) {
  const std::string ns = req.Param("namespace");
  Status allowed = ctx.authorizer.Check(
      req.principal, AccessRequest{kPipelineRunType, ns, Verb::kGet, req.Param("name")});
  if (!allowed.ok()) return SendStatusError(res, allowed);
  auto run = ctx.store.Get(kPipelineRunType, ns, req.Param("name"));
  if (!run.ok()) return SendStatusError(res, run.status());
  auto workload = FindTaskWorkload(*run, req.Query("task"));
  if (!workload.ok()) return SendStatusError(res, workload.status());
  auto logs = ctx.backend.ReadLogs(*workload, "", 0);
  if (!logs.ok()) return SendStatusError(res, logs.status());
  res.Send(200, *logs, {{"content-type", "text/plain; charset=utf-8"}});
}

}  // namespace

void Register(ModuleRegistry& modules) {
  TypeRegistry& types = modules.types();
  types.Add(PipelineRunKind());
  types.Add(RecurringRunKind());
  types.Add(SimpleKind("Experiment", "experiments", {"kfpexperiment"},
                       Described({{"storageState", String()}})));
  types.Add(SimpleKind("Pipeline", "pipelines", {"pipeline"}, Described({})));
  types.Add(SimpleKind("PipelineVersion", "pipelineversions", {"pipelineversion"},
                       Described({{"pipelineId", String()},
                                  {"codeSourceUrl", String()},
                                  {"pipelineSpec", Any()},
                                  {"platformSpec", Any()}})));
  ResourceType cache{kGroup, kVersion, "TaskCache", "taskcaches", true, {"taskcache"}};
  cache.schema = KindSchema({{"spec", OpenObject({{"fingerprint", String()},
                                                  {"runId", String()},
                                                  {"runName", String()},
                                                  {"taskPath", String()}})},
                             {"status", OpenObject({{"outputs", Any()}})}});
  cache.columns = {FieldColumn("RUN", ".spec.runName"), FieldColumn("TASK", ".spec.taskPath")};
  types.Add(std::move(cache));

  modules.AddController("pipelineruns",
                        [](const ControllerContext& ctx) -> Result<std::unique_ptr<Controller>> {
                          return std::unique_ptr<Controller>(std::make_unique<RunPlugin>(ctx));
                        });
  modules.AddController(
      "recurringruns", [](const ControllerContext& ctx) -> Result<std::unique_ptr<Controller>> {
        return std::unique_ptr<Controller>(std::make_unique<RecurringRunPlugin>(ctx));
      });
  modules.AddRoutes("pipelines", [](const RouteContext& ctx) -> Result<std::shared_ptr<void>> {
    ctx.add_route(
        "GET",
        std::string("/apis/") + kGroup + "/" + kVersion +
            "/namespaces/{namespace}/pipelineruns/{name}/log",
        [ctx](const HttpRequest& req, HttpResponder& res) { ServeTaskLog(ctx, req, res); });
    return std::shared_ptr<void>();
  });
}

}  // namespace skiff::pipelines
