// The batch/v1 Job and core/v1 Pod kinds (schemas, printer columns, describe) and the Job
// controller's registration: everything `skiff` knows about Jobs comes from here.
#include <charconv>
#include <chrono>
#include <sstream>
#include <string_view>
#include <thread>

#include "controller/controller.h"
#include "core/schema.h"
#include "core/text.h"
#include "http/status_json.h"
#include "jobs/job_controller.h"
#include "jobs/pod_controller.h"

namespace skiff::jobs {
namespace {

std::string JobStatusWord(const Json& job) {
  const Json& conditions = At(job, {"status", "conditions"});
  if (conditions.is_array()) {
    for (const Json& c : conditions) {
      if (TextAt(c, {"status"}) != "True") continue;
      std::string type = TextAt(c, {"type"});
      if (type == "Complete" || type == "Failed") return type;
    }
  }
  if (At(job, {"spec", "suspend"}) == true) return "Suspended";
  return "Running";
}

std::string PodExitCode(const Json& pod) {
  const Json& statuses = At(pod, {"status", "containerStatuses"});
  if (!statuses.is_array()) return "";
  for (const Json& c : statuses) {
    const Json& code = At(c, {"state", "terminated", "exitCode"});
    if (!code.is_null()) return TextAt(c, {"state", "terminated", "exitCode"});
  }
  return "";
}

std::string Duration(const Json& obj, const char* start_field, const char* end_field,
                     TimePoint now) {
  TimePoint start, end = now;
  if (!ParseRfc3339(TextAt(obj, {"status", start_field}), &start)) return "";
  ParseRfc3339(TextAt(obj, {"status", end_field}), &end);
  return HumanDuration(end - start);
}

std::string DescribeJob(const Json& job, const std::vector<Json>& pods, TimePoint) {
  std::ostringstream out;
  out << "Parallelism:  " << TextAt(job, {"spec", "parallelism"}, "1") << "\n";
  out << "Completions:  " << TextAt(job, {"spec", "completions"}, "<unset>") << "\n";
  out << "Completion Mode: " << TextAt(job, {"spec", "completionMode"}, "NonIndexed") << "\n";
  out << "Backoff Limit: " << TextAt(job, {"spec", "backoffLimit"}, "6") << "\n";
  if (!At(job, {"spec", "activeDeadlineSeconds"}).is_null()) {
    out << "Active Deadline Seconds: " << TextAt(job, {"spec", "activeDeadlineSeconds"}) << "s\n";
  }
  out << "Start Time:   " << TextAt(job, {"status", "startTime"}, "<none>") << "\n";
  if (!At(job, {"status", "completionTime"}).is_null()) {
    out << "Completed At: " << TextAt(job, {"status", "completionTime"}) << "\n";
  }
  out << "Pods Statuses: " << TextAt(job, {"status", "active"}, "0") << " Active / "
      << TextAt(job, {"status", "succeeded"}, "0") << " Succeeded / "
      << TextAt(job, {"status", "failed"}, "0") << " Failed\n";
  out << "Conditions:\n";
  std::vector<std::vector<std::string>> rows = {{"  TYPE", "STATUS", "REASON", "MESSAGE"}};
  const Json& conditions = At(job, {"status", "conditions"});
  if (conditions.is_array()) {
    for (const Json& c : conditions) {
      rows.push_back({"  " + TextAt(c, {"type"}), TextAt(c, {"status"}), TextAt(c, {"reason"}),
                      TextAt(c, {"message"})});
    }
  }
  out << (rows.size() > 1 ? RenderTable(rows) : "  <none>\n");
  out << "Pods (attempts, oldest first):\n";
  std::vector<std::vector<std::string>> prow = {
      {"  NAME", "PHASE", "EXIT CODE", "STARTED", "FINISHED", "REASON"}};
  for (const Json& p : pods) {
    prow.push_back({"  " + MetaName(p), TextAt(p, {"status", "phase"}, "Pending"), PodExitCode(p),
                    TextAt(p, {"status", "startTime"}), TextAt(p, {"status", "finishTime"}),
                    TextAt(p, {"status", "reason"})});
  }
  out << (prow.size() > 1 ? RenderTable(prow) : "  <none>\n");
  return out.str();
}

ResourceType JobKind() {
  using namespace openapi;
  ResourceType job{"batch", "v1", "Job", "jobs", true, {"job"}};
  job.strategic_merge_patch = true;
  // Closed, as Kubernetes' Job is: the fields the local backend has no use for are kept as written.
  Json spec = Object({{"parallelism", Int32(0)},
                      {"completions", Int32(0)},
                      {"backoffLimit", Int32(0)},
                      {"activeDeadlineSeconds", Integer(1)},
                      {"ttlSecondsAfterFinished", Int32(0)},
                      {"suspend", Boolean()},
                      {"completionMode", Enum({"NonIndexed", "Indexed"})},
                      {"selector", Any()},
                      {"manualSelector", Boolean()},
                      {"template", PodTemplateOpenApi()}});
  for (const char* kept : {"podFailurePolicy", "successPolicy", "backoffLimitPerIndex",
                           "maxFailedIndexes", "podReplacementPolicy", "managedBy"}) {
    spec["properties"][kept] = Any();
  }
  job.schema = KindSchema({{"spec", spec},
                           {"status", OpenObject({{"conditions", Conditions()},
                                                  {"startTime", String()},
                                                  {"completionTime", String()},
                                                  {"active", Int32(0)},
                                                  {"succeeded", Int32(0)},
                                                  {"failed", Int32(0)},
                                                  {"ready", Int32(0)},
                                                  {"completedIndexes", String()}})}},
                          {"spec"});
  job.validate = &JobController::ValidateJob;
  job.columns = {
      {"STATUS", [](const Json& o, TimePoint) { return JobStatusWord(o); }},
      {"COMPLETIONS",
       [](const Json& o, TimePoint) {
         return TextAt(o, {"status", "succeeded"}, "0") + "/" +
                TextAt(o, {"spec", "completions"}, "1");
       }},
      {"DURATION", [](const Json& o,
                      TimePoint now) { return Duration(o, "startTime", "completionTime", now); }},
  };
  job.describe = &DescribeJob;
  job.related_type = kPodType;
  job.related_selector = "controller-uid={uid}";
  return job;
}

ResourceType PodKind() {
  using namespace openapi;
  ResourceType pod{"", "v1", "Pod", "pods", true, {"po", "pod"}};
  pod.strategic_merge_patch = true;
  pod.validate = [](Json& obj, bool) { return ValidatePodTemplate(obj, ""); };
  pod.schema = KindSchema(
      {{"spec", PodSpecOpenApi()},
       {"status",
        OpenObject(
            {{"phase", String()},
             {"reason", String()},
             {"message", String()},
             {"startTime", String()},
             {"finishTime", String()},
             {"conditions", Conditions()},
             {"containerStatuses",
              Array(OpenObject({{"name", String()}, {"ready", Boolean()}, {"state", Any()}}))}})}});
  pod.columns = {
      {"READY",
       [](const Json& o, TimePoint) {
         int total = 0, ready = 0;
         const Json& statuses = At(o, {"status", "containerStatuses"});
         if (statuses.is_array()) {
           for (const Json& c : statuses) {
             total++;
             if (At(c, {"ready"}) == true) ready++;
           }
         }
         const Json& containers = At(o, {"spec", "containers"});
         if (total == 0 && containers.is_array()) total = static_cast<int>(containers.size());
         return std::to_string(ready) + "/" + std::to_string(total);
       }},
      {"STATUS",
       [](const Json& o, TimePoint) {
         std::string phase = TextAt(o, {"status", "phase"}, "Pending");
         std::string reason = TextAt(o, {"status", "reason"});
         return reason.empty() || phase != "Failed" ? phase : phase + " (" + reason + ")";
       }},
      {"EXIT CODE", [](const Json& o, TimePoint) { return PodExitCode(o); }},
  };
  // The pod fields the API server selects on (those Skiff's pods have).
  pod.field_selectors = {"spec.nodeName",           "spec.restartPolicy", "spec.schedulerName",
                         "spec.serviceAccountName", "status.phase",       "status.podIP",
                         "status.nominatedNodeName"};
  return pod;
}

// The Job controller as a plug-in: it reconciles jobs.batch and wakes on its pods' changes.
// Where a controller's pods find their volumes, Secrets and ConfigMaps.
PodEnvironment PodEnvironmentOf(const ControllerContext& ctx) {
  PodEnvironment env;
  env.volumes_dir = ctx.home + "/volumes";
  env.read_config = ctx.read_config;
  return env;
}

class JobPlugin : public Controller {
 public:
  explicit JobPlugin(const ControllerContext& ctx)
      : controller_(ctx.store, ctx.backend, ctx.clock, Options(ctx)) {}

  std::string StoreType() const override { return kJobType; }
  std::vector<Watch> Watches() const override {
    return {{kPodType, [](const WatchEvent& ev) -> std::vector<Key> {
               auto labels = MetaLabels(ev.object);
               auto it = labels.find("job-name");
               if (it == labels.end()) return {};
               return {Key{ev.namespace_, it->second}};
             }}};
  }
  Result<std::optional<std::chrono::milliseconds>> Reconcile(const std::string& ns,
                                                             const std::string& name) override {
    return controller_.Reconcile(ns, name);
  }

 private:
  static JobControllerOptions Options(const ControllerContext& ctx) {
    JobControllerOptions options;
    options.backoff_base = std::chrono::milliseconds(ctx.IntSetting("job-backoff-ms", 10000));
    options.pod_env = PodEnvironmentOf(ctx);
    return options;
  }
  JobController controller_;
};

// The pod controller as a plug-in: it runs the pods no controller runs, and stops the workload
// of a pod deleted; a pod's workload wakes it.
class PodPlugin : public Controller {
 public:
  explicit PodPlugin(const ControllerContext& ctx)
      : controller_(ctx.store, ctx.backend, {.pod_env = PodEnvironmentOf(ctx)}) {}

  std::string StoreType() const override { return kPodType; }
  std::optional<Key> KeyForWorkload(
      const std::map<std::string, std::string>& labels) const override {
    return PodController::KeyForWorkload(labels);
  }
  Result<std::optional<std::chrono::milliseconds>> Reconcile(const std::string& ns,
                                                             const std::string& name) override {
    return controller_.Reconcile(ns, name);
  }

 private:
  PodController controller_;
};

// The last `lines` lines of `text` (a last line without its newline counts).
std::string TailLines(const std::string& text, int64_t lines) {
  if (lines <= 0) return "";
  size_t pos = text.size();
  if (pos > 0 && text[pos - 1] == '\n') --pos;  // the final newline ends the last line
  for (int64_t seen = 0; pos > 0; --pos) {
    if (text[pos - 1] == '\n' && ++seen == lines) break;
  }
  return text.substr(pos);
}

// GET /api/v1/namespaces/{namespace}/pods/{name}/log: the pod's log, read from the backend;
// empty while the pod has no workload yet (as Kubernetes answers before a container started
// writing). As the API server: `container`, `tailLines`, `limitBytes`, and `follow=true`, which
// streams what the container writes until the pod ends (or the client goes). Per-line times
// are not kept: `timestamps`, `sinceSeconds`, `sinceTime` and `previous` are refused (400).
void ServePodLog(const RouteContext& ctx, const HttpRequest& req, HttpResponder& res) {
  const std::string ns = req.Param("namespace");
  Status allowed = ctx.authorizer.Check(req.principal,
                                        AccessRequest{kPodType, ns, Verb::kGet, req.Param("name")});
  if (!allowed.ok()) return SendStatusError(res, allowed);
  for (const char* unkept : {"timestamps", "previous", "sinceSeconds", "sinceTime"}) {
    const bool flag =
        std::string_view(unkept) == "timestamps" || std::string_view(unkept) == "previous";
    const std::string value = req.Query(unkept);
    if (flag ? QueryFlagIsTrue(value) : !value.empty()) {
      return SendStatusError(
          res, InvalidArgument(std::string(unkept) + ": log lines carry no times and a restarted "
                                                     "container's runs share one log here"));
    }
  }
  auto number = [&req](const char* name) -> Result<std::optional<int64_t>> {
    const std::string v = req.Query(name);
    if (v.empty()) return std::optional<int64_t>();
    int64_t n = 0;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (ec != std::errc() || end != v.data() + v.size() || n < 0) {
      return InvalidArgument(std::string(name) + ": not a non-negative integer: " + v);
    }
    return std::optional<int64_t>(n);
  };
  auto tail = number("tailLines");
  if (!tail.ok()) return SendStatusError(res, tail.status());
  auto limit = number("limitBytes");
  if (!limit.ok()) return SendStatusError(res, limit.status());
  const bool follow = QueryFlagIsTrue(req.Query("follow"));
  auto pod = ctx.store.Get(kPodType, ns, req.Param("name"));
  if (!pod.ok()) return SendStatusError(res, pod.status());
  const std::string id = JobController::WorkloadId(*pod);
  const std::string container = req.Query("container");
  auto read = [&](int64_t offset) -> Result<std::string> {
    auto logs = ctx.backend.ReadLogs(id, container, offset);
    if (!logs.ok() && logs.status().code() == StatusCode::kNotFound) return std::string();
    return logs;
  };
  const HttpHeaders text_plain = {{"content-type", "text/plain; charset=utf-8"}};
  auto logs = read(0);
  if (!logs.ok()) return SendStatusError(res, logs.status());
  int64_t offset = static_cast<int64_t>(logs->size());
  std::string first = *tail ? TailLines(*logs, **tail) : *logs;
  if (*limit && first.size() > static_cast<size_t>(**limit)) first.resize(**limit);
  if (!follow) return res.Send(200, first, text_plain);

  if (!res.StartStream(200, text_plain)) return;
  if (!first.empty() && !res.Write(first)) return;
  auto ended = [&]() {
    auto now = ctx.store.Get(kPodType, ns, req.Param("name"));
    if (!now.ok()) return true;  // deleted
    const std::string phase = TextAt(*now, {"status", "phase"});
    return phase == "Succeeded" || phase == "Failed";
  };
  while (!res.Cancelled()) {
    const bool was_over = ended();  // read after: what it wrote before it ended is sent
    auto more = read(offset);
    if (!more.ok()) break;
    if (!more->empty()) {
      if (!res.Write(*more)) return;
      offset += static_cast<int64_t>(more->size());
      continue;  // the log may hold more than one read returns
    }
    if (was_over) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  res.End();
}

}  // namespace

void Register(ModuleRegistry& modules) {
  modules.types().Add(JobKind());
  modules.types().Add(PodKind());
  modules.AddSetting({"job-backoff-ms",
                      "base delay before a failed Job pod is retried (Kubernetes: 10000)", "10000",
                      /*integer=*/true});
  modules.AddController("jobs",
                        [](const ControllerContext& ctx) -> Result<std::unique_ptr<Controller>> {
                          return std::unique_ptr<Controller>(std::make_unique<JobPlugin>(ctx));
                        });
  modules.AddController("pods",
                        [](const ControllerContext& ctx) -> Result<std::unique_ptr<Controller>> {
                          return std::unique_ptr<Controller>(std::make_unique<PodPlugin>(ctx));
                        });
  modules.AddRoutes("jobs", [](const RouteContext& ctx) -> Result<std::shared_ptr<void>> {
    ctx.add_route(
        "GET", "/api/v1/namespaces/{namespace}/pods/{name}/log",
        [ctx](const HttpRequest& req, HttpResponder& res) { ServePodLog(ctx, req, res); });
    return std::shared_ptr<void>();
  });
}

}  // namespace skiff::jobs
