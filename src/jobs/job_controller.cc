#include "jobs/job_controller.h"

#include <algorithm>
#include <charconv>
#include <set>

#include "core/ids.h"
#include "core/log.h"
#include "core/text.h"

namespace skiff::jobs {
namespace {

using std::chrono::milliseconds;

// The Job's condition of `type` with status "True", or null.
const Json* TrueCondition(const Json& job, const std::string& type) {
  if (!job.contains("status") || !job["status"].contains("conditions")) return nullptr;
  for (const Json& c : job["status"]["conditions"]) {
    if (c.value("type", "") == type && c.value("status", "") == "True") return &c;
  }
  return nullptr;
}

// The completion index annotation of an Indexed Job's pod; nullopt when absent or not a
// non-negative number (pods may be edited by users, so it is never trusted to parse).
std::optional<int> CompletionIndex(const Json& pod) {
  const Json& v = At(pod, {"metadata", "annotations", "batch.kubernetes.io/job-completion-index"});
  if (!v.is_string()) return std::nullopt;
  const std::string& text = v.get_ref<const std::string&>();
  int index = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), index);
  if (ec != std::errc() || end != text.data() + text.size() || index < 0) return std::nullopt;
  return index;
}

// Whole seconds from `start` to `now` (0 when now is earlier): compared with deadlines given in
// seconds, so that no deadline, however large, overflows a time point.
int64_t SecondsSince(TimePoint start, TimePoint now) {
  if (now <= start) return 0;
  return std::chrono::duration_cast<std::chrono::seconds>(now - start).count();
}

Status ExpectNonNegativeInt(const Json& spec, const char* key) {
  if (!spec.contains(key) || spec[key].is_null()) return Status::Ok();
  const Json& v = spec[key];
  if (!v.is_number_integer())
    return InvalidArgument(std::string("spec.") + key + ": must be an integer");
  if (v.get<int64_t>() < 0) return InvalidArgument(std::string("spec.") + key + ": must be >= 0");
  return Status::Ok();
}

Json Condition(const std::string& type, const std::string& reason, const std::string& message,
               TimePoint now) {
  return {{"type", type},
          {"status", "True"},
          {"reason", reason},
          {"message", message},
          {"lastProbeTime", FormatRfc3339(now)},
          {"lastTransitionTime", FormatRfc3339(now)}};
}

}  // namespace

JobController::JobController(Store& store, Backend& backend, Clock& clock,
                             JobControllerOptions options)
    : store_(store),
      backend_(backend),
      clock_(clock),
      options_(std::move(options)),
      pods_(store, backend, {.stop_grace = options_.stop_grace, .pod_env = options_.pod_env}),
      events_(store, clock, "job-controller") {}

std::string JobController::WorkloadId(const Json& pod) {
  return PodWorkloadId(MetaNamespace(pod), MetaName(pod));
}

Status JobController::ValidateJob(Json& job, bool /*is_create*/) {
  if (!job.contains("spec") || !job["spec"].is_object()) {
    return InvalidArgument("spec: required object");
  }
  Json& spec = job["spec"];
  for (const char* key : {"parallelism", "completions", "backoffLimit", "activeDeadlineSeconds",
                          "ttlSecondsAfterFinished"}) {
    RETURN_IF_ERROR(ExpectNonNegativeInt(spec, key));
  }
  if (spec.contains("activeDeadlineSeconds") && spec["activeDeadlineSeconds"].is_number() &&
      spec["activeDeadlineSeconds"].get<int64_t>() == 0) {
    return InvalidArgument("spec.activeDeadlineSeconds: must be > 0");
  }
  if (spec.contains("suspend") && !spec["suspend"].is_boolean()) {
    return InvalidArgument("spec.suspend: must be a boolean");
  }
  std::string mode = "NonIndexed";
  if (spec.contains("completionMode")) {
    if (!spec["completionMode"].is_string() ||
        (spec["completionMode"] != "NonIndexed" && spec["completionMode"] != "Indexed")) {
      return InvalidArgument("spec.completionMode: must be NonIndexed or Indexed");
    }
    mode = spec["completionMode"].get<std::string>();
  }
  RETURN_IF_ERROR(ValidatePodTemplate(spec.value("template", Json()), "spec.template"));
  std::string restart = spec["template"]["spec"].value("restartPolicy", "");
  if (restart.empty()) {
    return InvalidArgument(
        "spec.template.spec.restartPolicy: required: a Job's pods need Never or OnFailure");
  }
  if (restart == "Always") {
    return InvalidArgument("spec.template.spec.restartPolicy: Always is not allowed in a Job");
  }
  if (mode == "Indexed" && (!spec.contains("completions") || spec["completions"].is_null())) {
    return InvalidArgument("spec.completions: required when completionMode is Indexed");
  }
  // As Kubernetes: with neither set, one pod must succeed; parallelism without completions is a
  // work queue (done when any pod succeeded and none is left running).
  const bool has_parallelism = spec.contains("parallelism") && !spec["parallelism"].is_null();
  const bool has_completions = spec.contains("completions") && !spec["completions"].is_null();
  if (!has_parallelism && !has_completions) spec["completions"] = 1;
  if (!has_parallelism) spec["parallelism"] = 1;
  if (!spec.contains("backoffLimit")) spec["backoffLimit"] = 6;
  if (!spec.contains("completionMode")) spec["completionMode"] = mode;
  if (!spec.contains("suspend")) spec["suspend"] = false;
  return Status::Ok();
}

Status JobController::DeleteJob(const Json& job) {
  const Json& finalizers = At(job, {"metadata", "finalizers"});
  if (finalizers.is_array() && !finalizers.empty()) {
    // Held by its finalizers, as a delete through the API would be: marked, and deleted (pods
    // too) once whoever put them there removes them.
    if (!TextAt(job, {"metadata", "deletionTimestamp"}).empty()) return Status::Ok();
    Json marked = job;
    marked["metadata"]["deletionTimestamp"] = FormatRfc3339(clock_.Now());
    marked["metadata"]["deletionGracePeriodSeconds"] = 0;
    auto updated = store_.Update(kJobType, marked);
    if (!updated.ok() && updated.status().code() != StatusCode::kNotFound) {
      return updated.status();
    }
    return Status::Ok();
  }
  auto deleted =
      store_.Delete(kJobType, MetaNamespace(job), MetaName(job), MetaResourceVersion(job));
  if (!deleted.ok() && deleted.status().code() != StatusCode::kNotFound) return deleted.status();
  return Status::Ok();
}

Result<Json> JobController::CreatePod(const Json& job, std::optional<int> completion_index) {
  const Json& tmpl = job["spec"]["template"];
  std::string job_name = MetaName(job);
  std::string prefix = job_name.size() > 56 ? job_name.substr(0, 56) : job_name;
  Json pod = {{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", Json::object()}};
  Json& meta = pod["metadata"];
  meta["namespace"] = MetaNamespace(job);
  Json labels =
      tmpl.contains("metadata") ? tmpl["metadata"].value("labels", Json::object()) : Json::object();
  labels["job-name"] = job_name;
  labels["batch.kubernetes.io/job-name"] = job_name;
  labels["controller-uid"] = MetaUid(job);
  labels["batch.kubernetes.io/controller-uid"] = MetaUid(job);
  meta["labels"] = labels;
  if (tmpl.contains("metadata") && tmpl["metadata"].contains("annotations")) {
    meta["annotations"] = tmpl["metadata"]["annotations"];
  }
  meta["ownerReferences"] = Json::array({{{"apiVersion", "batch/v1"},
                                          {"kind", "Job"},
                                          {"name", job_name},
                                          {"uid", MetaUid(job)},
                                          {"controller", true},
                                          {"blockOwnerDeletion", true}}});
  pod["spec"] = tmpl["spec"];
  if (completion_index) {
    std::string idx = std::to_string(*completion_index);
    meta["annotations"]["batch.kubernetes.io/job-completion-index"] = idx;
    meta["labels"]["batch.kubernetes.io/job-completion-index"] = idx;
    for (Json& c : pod["spec"]["containers"]) {
      if (!c.contains("env") || !c["env"].is_array()) c["env"] = Json::array();
      c["env"].push_back({{"name", "JOB_COMPLETION_INDEX"}, {"value", idx}});
    }
  }
  pod["status"] = {{"phase", "Pending"}};
  // A name clash is astronomically unlikely but harmless: try another name.
  Result<Json> created = InvalidArgument("unreachable");
  for (int tries = 0; tries < 5; ++tries) {
    meta["name"] = GenerateName(prefix + "-");
    created = store_.Create(kPodType, pod);
    if (created.ok() || created.status().code() != StatusCode::kAlreadyExists) break;
  }
  if (!created.ok()) return created.status().WithContext("creating pod for job " + job_name);
  LogInfo("pod created",
          {{"job", MetaNamespace(job) + "/" + job_name}, {"pod", MetaName(*created)}});
  return pods_.Sync(*created);
}

Result<std::optional<milliseconds>> JobController::Reconcile(const std::string& ns,
                                                             const std::string& name) {
  auto got = store_.Get(kJobType, ns, name);
  if (!got.ok()) {
    // A Job deleted: the garbage collector deletes its pods (they name it their owner).
    if (got.status().code() != StatusCode::kNotFound) return got.status();
    return std::optional<milliseconds>();
  }
  Json job = std::move(got).value();
  const Json spec = job["spec"];  // a copy: `job` is replaced after the status update
  const TimePoint now = clock_.Now();
  const Json status_before = job.value("status", Json::object());
  Json& status = job["status"];
  if (!status.is_object()) status = Json::object();

  // Pods of this Job, oldest first by creation order (resourceVersion).
  ListOptions opts;
  opts.label_selector = "controller-uid=" + MetaUid(job);
  ASSIGN_OR_RETURN(ListResult listed, store_.List(kPodType, ns, opts));
  std::vector<Json> pods;
  for (Json& p : listed.items) {
    ASSIGN_OR_RETURN(Json synced, pods_.Sync(std::move(p)));
    pods.push_back(std::move(synced));
  }
  std::sort(pods.begin(), pods.end(), [](const Json& a, const Json& b) {
    return a["metadata"].value("creationTimestamp", "") <
               b["metadata"].value("creationTimestamp", "") ||
           (a["metadata"].value("creationTimestamp", "") ==
                b["metadata"].value("creationTimestamp", "") &&
            MetaName(a) < MetaName(b));
  });

  const bool finished = TrueCondition(job, "Complete") || TrueCondition(job, "Failed");
  int active = 0, succeeded = 0, failed = 0, ready = 0;
  // Failures of OnFailure pods' containers, restarted in place: they count against the
  // backoffLimit as failed pods do (a container waiting to restart counts already).
  int failed_in_place = 0;
  std::set<int> done_indexes, active_indexes;
  TimePoint last_failure{};
  for (const Json& p : pods) {
    std::string phase = PodPhase(p);
    std::optional<int> index;
    index = CompletionIndex(p);
    if (phase == "Succeeded") {
      succeeded++;
      if (index) done_indexes.insert(*index);
    } else if (phase == "Failed") {
      failed++;
      TimePoint t;
      if (ParseRfc3339(p["status"].value("finishTime", ""), &t) && t > last_failure)
        last_failure = t;
      if (last_failure == TimePoint{}) last_failure = now;
    } else {
      active++;
      if (phase == "Running") ready++;
      for (const Json& cs : At(p, {"status", "containerStatuses"}).is_array()
                                ? At(p, {"status", "containerStatuses"})
                                : Json::array()) {
        failed_in_place += static_cast<int>(IntAt(cs, {"restartCount"}, 0));
        if (TextAt(cs, {"state", "waiting", "reason"}) == "CrashLoopBackOff") failed_in_place++;
      }
      if (index) active_indexes.insert(*index);
    }
  }

  const bool suspended = spec.value("suspend", false);
  if (!finished && !suspended && !status.contains("startTime")) {
    status["startTime"] = FormatRfc3339(now);
  }
  const bool indexed = spec.value("completionMode", "NonIndexed") == "Indexed";
  const bool has_completions = spec.contains("completions") && spec["completions"].is_number();
  const int completions = has_completions ? spec["completions"].get<int>() : 0;
  const int parallelism = spec.value("parallelism", 1);
  const int backoff_limit = spec.value("backoffLimit", 6);
  const int completed_count = indexed ? static_cast<int>(done_indexes.size()) : succeeded;

  std::optional<milliseconds> requeue;
  auto want_requeue = [&](milliseconds d) {
    if (!requeue || d < *requeue) requeue = d;
  };
  auto stop_active = [&](const std::string& reason) -> Status {
    for (Json& p : pods) RETURN_IF_ERROR(pods_.Stop(p, reason));
    active = 0;
    ready = 0;
    return Status::Ok();
  };

  std::optional<int64_t> deadline_seconds;
  if (spec.contains("activeDeadlineSeconds") && spec["activeDeadlineSeconds"].is_number_integer()) {
    deadline_seconds = spec["activeDeadlineSeconds"].get<int64_t>();
  }
  if (!finished) {
    TimePoint start;
    bool started = ParseRfc3339(status.value("startTime", ""), &start);
    bool complete =
        has_completions ? completed_count >= completions : (succeeded > 0 && active == 0);
    if (complete) {
      status["conditions"] =
          Json::array({Condition("SuccessCriteriaMet", "CompletionsReached",
                                 "Reached expected number of succeeded pods", now),
                       Condition("Complete", "CompletionsReached",
                                 "Reached expected number of succeeded pods", now)});
      status["completionTime"] = FormatRfc3339(now);
      RETURN_IF_ERROR(stop_active("Completed"));
    } else if (failed + failed_in_place > backoff_limit) {
      RETURN_IF_ERROR(stop_active("BackoffLimitExceeded"));
      status["conditions"] =
          Json::array({Condition("FailureTarget", "BackoffLimitExceeded",
                                 "Job has reached the specified backoff limit", now),
                       Condition("Failed", "BackoffLimitExceeded",
                                 "Job has reached the specified backoff limit", now)});
    } else if (started && deadline_seconds && SecondsSince(start, now) >= *deadline_seconds) {
      RETURN_IF_ERROR(stop_active("DeadlineExceeded"));
      status["conditions"] =
          Json::array({Condition("FailureTarget", "DeadlineExceeded",
                                 "Job was active longer than specified deadline", now),
                       Condition("Failed", "DeadlineExceeded",
                                 "Job was active longer than specified deadline", now)});
    } else if (suspended) {
      RETURN_IF_ERROR(stop_active("Suspended"));
    } else if (!TextAt(job, {"metadata", "deletionTimestamp"}).empty()) {
      // Being deleted (its finalizers, or the garbage collector deleting its pods first): no
      // pod is started any more.
    } else {
      // How many more pods to run now.
      int wanted = 0;
      if (has_completions) {
        wanted = std::min(parallelism, completions - completed_count) - active;
      } else if (succeeded == 0) {
        wanted = parallelism - active;
      }
      if (wanted > 0 && failed > 0) {
        milliseconds delay = options_.backoff_base * (1LL << std::min(failed - 1, 20));
        delay = std::min(delay, options_.backoff_max);
        TimePoint allowed = last_failure + delay;
        if (now < allowed) {
          want_requeue(std::chrono::duration_cast<milliseconds>(allowed - now));
          wanted = 0;
        }
      }
      int next_index = 0;
      for (int i = 0; i < wanted; ++i) {
        std::optional<int> index;
        if (indexed) {
          while (done_indexes.count(next_index) || active_indexes.count(next_index)) next_index++;
          if (next_index >= completions) break;
          index = next_index;
          active_indexes.insert(next_index);
        }
        ASSIGN_OR_RETURN(Json pod, CreatePod(job, index));
        events_.Normal(job, "SuccessfulCreate", "Created pod: " + MetaName(pod));
        if (IsTerminalPhase(PodPhase(pod))) {
          failed++;
          want_requeue(milliseconds(0));
        } else {
          active++;
        }
        pods.push_back(std::move(pod));
      }
      if (active > 0) want_requeue(options_.poll_interval);
      if (started && deadline_seconds) {
        // Look again when the deadline passes (at most a day from now: a later look re-arms).
        const int64_t left = *deadline_seconds - SecondsSince(start, now);
        want_requeue(std::chrono::seconds(std::clamp<int64_t>(left, 0, 86400)));
      }
    }
  }

  status["active"] = active;
  status["succeeded"] = succeeded;
  status["failed"] = failed;
  status["ready"] = ready;
  if (indexed) {
    std::string list;
    for (int i : done_indexes) list += (list.empty() ? "" : ",") + std::to_string(i);
    status["completedIndexes"] = list;
  }
  if (status != status_before) {
    auto updated = store_.Update(kJobType, job);
    if (!updated.ok()) {
      if (updated.status().code() == StatusCode::kConflict)
        return std::optional<milliseconds>(milliseconds(0));
      return updated.status();
    }
    job = std::move(updated).value();
    if (status_before.value("conditions", Json::array()) != job["status"]["conditions"]) {
      for (const Json& c : job["status"].value("conditions", Json::array())) {
        if (c.value("type", "") == "Complete" || c.value("type", "") == "Failed") {
          LogInfo("job finished", {{"job", ns + "/" + name},
                                   {"condition", c.value("type", "")},
                                   {"reason", c.value("reason", "")}});
        }
        if (c.value("type", "") == "Complete") events_.Normal(job, "Completed", "Job completed");
        if (c.value("type", "") == "Failed") {
          events_.Warning(job, c.value("reason", ""), c.value("message", ""));
        }
      }
    }
  }

  // ttlSecondsAfterFinished: delete the Job once it has been finished that long (the garbage
  // collector deletes its pods).
  const Json* done = TrueCondition(job, "Complete");
  if (!done) done = TrueCondition(job, "Failed");
  if (done && spec.contains("ttlSecondsAfterFinished") &&
      spec["ttlSecondsAfterFinished"].is_number()) {
    TimePoint at;
    if (ParseRfc3339(done->value("lastTransitionTime", ""), &at)) {
      TimePoint expiry = at + std::chrono::seconds(spec["ttlSecondsAfterFinished"].get<int64_t>());
      if (now >= expiry) {
        LogInfo("job expired (ttlSecondsAfterFinished)", {{"job", ns + "/" + name}});
        RETURN_IF_ERROR(DeleteJob(job));
        return std::optional<milliseconds>();
      }
      want_requeue(std::chrono::duration_cast<milliseconds>(expiry - now));
    }
  }
  return requeue;
}

}  // namespace skiff::jobs
