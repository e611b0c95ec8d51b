#include "pipelines/recurring_run_controller.h"

#include <time.h>

#include <algorithm>
#include <cctype>
#include <sstream>
#include <vector>

#include "core/admission.h"
#include "core/log.h"
#include "pipelines/run_controller.h"

namespace skiff::pipelines {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

std::string Upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == sep) {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(cur);
  return out;
}

struct FieldSpec {
  const char* name;
  int min, max;
  std::vector<std::string> names;  // names[i] means min + i
};

Result<int> ParseValue(const std::string& text, const FieldSpec& f) {
  std::string up = Upper(text);
  for (size_t i = 0; i < f.names.size(); ++i) {
    if (up == f.names[i]) return f.min + static_cast<int>(i);
  }
  if (text.empty() || !std::all_of(text.begin(), text.end(), ::isdigit) || text.size() > 4) {
    return InvalidArgument(std::string("cron ") + f.name + " field: '" + text +
                           "' is not a number");
  }
  int v = std::stoi(text);
  int max = f.max;
  if (std::string(f.name) == "day-of-week") max = 7;  // 7 is Sunday too
  if (v < f.min || v > max) {
    return InvalidArgument(std::string("cron ") + f.name + " field: " + text + " is outside " +
                           std::to_string(f.min) + "-" + std::to_string(f.max));
  }
  return v;
}

// Parses one field into a list of allowed values; `star` reports a leading * or ?.
Result<std::vector<int>> ParseField(const std::string& text, const FieldSpec& f, bool* star) {
  std::vector<int> values;
  *star = false;
  if (text.empty()) return InvalidArgument(std::string("cron ") + f.name + " field is empty");
  for (const std::string& part : Split(text, ',')) {
    std::vector<std::string> step_split = Split(part, '/');
    if (step_split.size() > 2) {
      return InvalidArgument(std::string("cron ") + f.name + " field: bad step in '" + part + "'");
    }
    int step = 1;
    if (step_split.size() == 2) {
      const std::string& s = step_split[1];
      if (s.empty() || s.size() > 4 || !std::all_of(s.begin(), s.end(), ::isdigit) ||
          std::stoi(s) == 0) {
        return InvalidArgument(std::string("cron ") + f.name + " field: bad step '" + s + "'");
      }
      step = std::stoi(s);
    }
    const std::string& range = step_split[0];
    int lo, hi;
    if (range == "*" || range == "?") {
      lo = f.min;
      hi = f.max;
      if (step == 1) *star = true;
    } else {
      std::vector<std::string> bounds = Split(range, '-');
      if (bounds.size() > 2) {
        return InvalidArgument(std::string("cron ") + f.name + " field: bad range '" + range + "'");
      }
      ASSIGN_OR_RETURN(lo, ParseValue(bounds[0], f));
      if (bounds.size() == 2) {
        ASSIGN_OR_RETURN(hi, ParseValue(bounds[1], f));
      } else {
        hi = step_split.size() == 2 ? f.max : lo;
      }
      if (hi < lo) {
        return InvalidArgument(std::string("cron ") + f.name + " field: range '" + range +
                               "' ends before it starts");
      }
    }
    for (int v = lo; v <= hi; v += step) values.push_back(v);
  }
  return values;
}

std::tm ToTm(TimePoint t) {
  time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return tm;
}

TimePoint FromTm(std::tm tm) { return std::chrono::system_clock::from_time_t(timegm(&tm)); }

TimePoint FloorSeconds(TimePoint t) { return std::chrono::floor<seconds>(t); }

bool IsTerminalRunState(const std::string& s) {
  return s == "SUCCEEDED" || s == "FAILED" || s == "CANCELED" || s == "SKIPPED";
}

}  // namespace

Result<CronSchedule> CronSchedule::Parse(const std::string& input) {
  std::string text = input;
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
    text.erase(0, 1);
  }
  if (text == "@yearly" || text == "@annually") text = "0 0 0 1 1 *";
  if (text == "@monthly") text = "0 0 0 1 * *";
  if (text == "@weekly") text = "0 0 0 * * 0";
  if (text == "@daily" || text == "@midnight") text = "0 0 0 * * *";
  if (text == "@hourly") text = "0 0 * * * *";
  if (!text.empty() && text[0] == '@') {
    return InvalidArgument("cron: unsupported descriptor '" + input + "'");
  }
  std::vector<std::string> fields;
  std::istringstream in(text);
  for (std::string f; in >> f;) fields.push_back(f);
  if (fields.size() == 5) fields.insert(fields.begin(), "0");
  if (fields.size() != 6) {
    return InvalidArgument("cron: '" + input + "' has " + std::to_string(fields.size()) +
                           " fields; expected 6 (sec min hour day-of-month month day-of-week)");
  }
  static const FieldSpec kSpecs[6] = {
      {"second", 0, 59, {}},
      {"minute", 0, 59, {}},
      {"hour", 0, 23, {}},
      {"day-of-month", 1, 31, {}},
      {"month",
       1,
       12,
       {"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"}},
      {"day-of-week", 0, 6, {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"}},
  };
  CronSchedule c;
  for (int i = 0; i < 6; ++i) {
    bool star = false;
    ASSIGN_OR_RETURN(std::vector<int> values, ParseField(fields[i], kSpecs[i], &star));
    for (int v : values) {
      switch (i) {
        case 0:
          c.seconds_.set(v);
          break;
        case 1:
          c.minutes_.set(v);
          break;
        case 2:
          c.hours_.set(v);
          break;
        case 3:
          c.days_.set(v);
          break;
        case 4:
          c.months_.set(v);
          break;
        case 5:
          c.weekdays_.set(v % 7);
          break;
      }
    }
    if (i == 3) c.days_star_ = star;
    if (i == 5) c.weekdays_star_ = star;
  }
  return c;
}

std::optional<TimePoint> CronSchedule::Next(TimePoint after) const {
  TimePoint t = FloorSeconds(after) + seconds(1);
  const int limit_year = ToTm(t).tm_year + 5;
  while (true) {
    std::tm tm = ToTm(t);
    if (tm.tm_year > limit_year) return std::nullopt;
    if (!months_.test(tm.tm_mon + 1)) {
      tm.tm_mon += 1;
      tm.tm_mday = 1;
      tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
      t = FromTm(tm);
      continue;
    }
    bool dom = days_.test(tm.tm_mday), dow = weekdays_.test(tm.tm_wday);
    bool day_ok = (days_star_ || weekdays_star_) ? (dom && dow) : (dom || dow);
    if (!day_ok) {
      tm.tm_mday += 1;
      tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
      t = FromTm(tm);
      continue;
    }
    if (!hours_.test(tm.tm_hour)) {
      tm.tm_hour += 1;
      tm.tm_min = tm.tm_sec = 0;
      t = FromTm(tm);
      continue;
    }
    if (!minutes_.test(tm.tm_min)) {
      tm.tm_min += 1;
      tm.tm_sec = 0;
      t = FromTm(tm);
      continue;
    }
    if (!seconds_.test(tm.tm_sec)) {
      t += seconds(1);
      continue;
    }
    return t;
  }
}

Result<Schedule> Schedule::FromTrigger(const Json& trigger) {
  if (!trigger.is_object()) return InvalidArgument("trigger: required object");
  Schedule s;
  auto time_field = [&](const char* key, std::optional<TimePoint>* out) -> Status {
    if (!trigger.contains(key) || trigger[key].is_null()) return Status::Ok();
    TimePoint t;
    if (!trigger[key].is_string() || !ParseRfc3339(trigger[key].get<std::string>(), &t)) {
      return InvalidArgument(std::string("trigger.") + key +
                             ": not an RFC 3339 time: " + trigger[key].dump());
    }
    *out = t;
    return Status::Ok();
  };
  RETURN_IF_ERROR(time_field("startTime", &s.start));
  RETURN_IF_ERROR(time_field("endTime", &s.end));
  const bool has_cron = trigger.contains("cron") && !trigger["cron"].is_null();
  const bool has_interval =
      trigger.contains("intervalSecond") && !trigger["intervalSecond"].is_null();
  if (has_cron == has_interval) {
    return InvalidArgument("trigger: exactly one of cron and intervalSecond is required");
  }
  if (has_cron) {
    if (!trigger["cron"].is_string()) return InvalidArgument("trigger.cron: must be a string");
    auto cron = CronSchedule::Parse(trigger["cron"].get<std::string>());
    if (!cron.ok()) return cron.status().WithContext("trigger.cron");
    s.cron = *cron;
  } else {
    const Json& v = trigger["intervalSecond"];
    int64_t secs = 0;
    if (v.is_number_integer()) {
      secs = v.get<int64_t>();
    } else if (v.is_string() && !v.get<std::string>().empty() &&
               std::all_of(v.get<std::string>().begin(), v.get<std::string>().end(), ::isdigit) &&
               v.get<std::string>().size() < 12) {
      secs = std::stoll(v.get<std::string>());
    } else {
      return InvalidArgument("trigger.intervalSecond: must be a positive integer, got " + v.dump());
    }
    if (secs <= 0) {
      return InvalidArgument("trigger.intervalSecond: must be positive, got " +
                             std::to_string(secs));
    }
    s.interval = seconds(secs);
  }
  if (s.start && s.end && *s.end < *s.start) {
    return InvalidArgument("trigger: endTime is before startTime");
  }
  return s;
}

std::optional<TimePoint> Schedule::Next(TimePoint after) const {
  if (start && after < *start - seconds(1)) after = *start - seconds(1);
  std::optional<TimePoint> next;
  if (cron) {
    next = cron->Next(after);
  } else {
    // Periodic: start, start + interval, ... (without a start: after + interval).
    TimePoint base = start ? *start : FloorSeconds(after);
    if (after < base) {
      next = base;
    } else {
      auto n = (FloorSeconds(after) - base) / interval + 1;
      next = base + n * interval;
    }
  }
  if (next && end && *next > *end) return std::nullopt;
  return next;
}

RecurringRunController::RecurringRunController(Store& store, Clock& clock,
                                               RecurringRunControllerOptions options)
    : store_(store), clock_(clock), options_(options) {}

std::string RecurringRunController::RunName(const std::string& recurring_run_name, TimePoint t) {
  return recurring_run_name + "-" +
         std::to_string(std::chrono::duration_cast<seconds>(t.time_since_epoch()).count());
}

std::vector<std::pair<std::string, std::string>> RecurringRunController::MapRunToRecurringRun(
    const WatchEvent& event) {
  auto labels = MetaLabels(event.object);
  auto it = labels.find(kRecurringRunLabel);
  if (it == labels.end()) return {};
  return {{event.namespace_, it->second}};
}

Result<int> RecurringRunController::ActiveRuns(const std::string& ns, const std::string& name) {
  ListOptions opts;
  opts.label_selector = std::string(kRecurringRunLabel) + "=" + name;
  ASSIGN_OR_RETURN(ListResult runs, store_.List(kPipelineRunType, ns, opts));
  int active = 0;
  for (const Json& run : runs.items) {
    std::string state;
    if (run.contains("status") && run["status"].is_object()) {
      state = run["status"].value("state", "");
    }
    if (!IsTerminalRunState(state)) ++active;
  }
  return active;
}

Status RecurringRunController::Fire(const Json& rr, TimePoint scheduled) {
  const Json& spec = rr["spec"];
  std::map<std::string, Json> params;
  if (spec.contains("parameters") && spec["parameters"].is_object()) {
    for (auto it = spec["parameters"].begin(); it != spec["parameters"].end(); ++it) {
      params[it.key()] = *it;
    }
  }
  const std::string ns = MetaNamespace(rr), name = MetaName(rr);
  Json run = MakePipelineRun(ns, RunName(name, scheduled), spec.value("pipelineSpec", Json()),
                             spec.value("platformSpec", Json::object()), params,
                             spec.value("enableCaching", true));
  std::string display = spec.value("displayName", name);
  run["metadata"]["labels"] = {{kRecurringRunLabel, name}};
  Json& rs = run["spec"];
  rs["displayName"] = display + " " + FormatRfc3339(scheduled);
  rs["recurringRunId"] = name;
  rs["scheduledAt"] = FormatRfc3339(scheduled);
  for (const char* key : {"experimentId", "pipelineVersionReference", "serviceAccount",
                          "pipelineRoot", "description"}) {
    if (spec.contains(key)) rs[key] = spec[key];
  }
  const TypeRegistry& types = options_.types != nullptr ? *options_.types : TypeRegistry::Global();
  RETURN_IF_ERROR(Admit(types, kPipelineRunType, {.op = WriteOp::kCreate}, run, nullptr));
  auto created = store_.Create(kPipelineRunType, run);
  if (!created.ok() && created.status().code() != StatusCode::kAlreadyExists) {
    return created.status().WithContext("firing recurring run " + ns + "/" + name);
  }
  if (created.ok()) {
    LogInfo("recurring run fired", {{"recurring_run", ns + "/" + name},
                                    {"run", MetaName(*created)},
                                    {"scheduled", FormatRfc3339(scheduled)}});
  }
  return Status::Ok();
}

Result<std::optional<milliseconds>> RecurringRunController::Reconcile(const std::string& ns,
                                                                      const std::string& name) {
  auto got = store_.Get(kRecurringRunType, ns, name);
  if (!got.ok()) {
    if (got.status().code() == StatusCode::kNotFound) return std::optional<milliseconds>();
    return got.status();
  }
  Json rr = std::move(got).value();
  Json& status = rr["status"];
  if (!status.is_object()) status = Json::object();
  const Json before = status;
  const Json& spec = rr["spec"];
  // A flip of spec.enabled, by whichever API: times that pass while disabled are not caught up.
  const bool enabled = spec.value("enabled", true);
  if (status.contains("observedEnabled") && status["observedEnabled"].is_boolean() &&
      status["observedEnabled"].get<bool>() != enabled) {
    status["updatedAt"] = FormatRfc3339(clock_.Now());
    if (enabled) status["enabledAt"] = FormatRfc3339(clock_.Now());
  }
  status["observedEnabled"] = enabled;
  auto write_status = [&]() -> Status {
    if (status == before) return Status::Ok();
    auto updated = store_.Update(kRecurringRunType, rr);
    if (!updated.ok() && updated.status().code() != StatusCode::kConflict) {
      return updated.status();
    }
    return Status::Ok();
  };

  auto schedule = Schedule::FromTrigger(spec.value("trigger", Json()));
  if (!schedule.ok()) {
    status["message"] = schedule.status().message();
    RETURN_IF_ERROR(write_status());
    return std::optional<milliseconds>();
  }
  if (!schedule->cron && !schedule->start) {
    // A period without a start time counts from creation: the first run one period later.
    TimePoint created;
    if (ParseRfc3339(rr["metadata"].value("creationTimestamp", ""), &created)) {
      schedule->start = created + schedule->interval;
    }
  }
  if (!enabled) {
    status.erase("nextScheduledAt");
    RETURN_IF_ERROR(write_status());
    return std::optional<milliseconds>();
  }
  // Resume from the last fired schedule time; the first one counts from creation (or start).
  TimePoint last;
  if (!status.contains("lastScheduledAt") ||
      !ParseRfc3339(status.value("lastScheduledAt", ""), &last)) {
    if (!ParseRfc3339(rr["metadata"].value("creationTimestamp", ""), &last)) last = clock_.Now();
    last -= seconds(1);  // a schedule time equal to creation fires
  }
  // Times that passed while the recurring run was disabled are not caught up.
  TimePoint enabled_at;
  if (ParseRfc3339(status.value("enabledAt", ""), &enabled_at) && enabled_at - seconds(1) > last) {
    last = enabled_at - seconds(1);
  }
  const TimePoint now = clock_.Now();
  std::optional<TimePoint> next = schedule->Next(last);
  if (next && *next <= now && spec.value("noCatchup", false)) {
    // Skip to the latest missed time: only the most recent one fires.
    for (int guard = 0; guard < 1'000'000; ++guard) {
      std::optional<TimePoint> after = schedule->Next(*next);
      if (!after || *after > now) break;
      next = after;
    }
  }
  if (!next) {
    status.erase("nextScheduledAt");
    status["message"] = "schedule has ended";
    RETURN_IF_ERROR(write_status());
    return std::optional<milliseconds>();
  }
  status["nextScheduledAt"] = FormatRfc3339(*next);
  if (*next > now) {
    RETURN_IF_ERROR(write_status());
    auto wait = std::chrono::duration_cast<milliseconds>(*next - now);
    return std::optional<milliseconds>(std::max(wait, milliseconds(1)));
  }
  int64_t max_concurrency = 1;
  if (spec.contains("maxConcurrency") && spec["maxConcurrency"].is_number_integer()) {
    max_concurrency = std::max<int64_t>(1, spec["maxConcurrency"].get<int64_t>());
  }
  ASSIGN_OR_RETURN(int active, ActiveRuns(ns, name));
  if (active >= max_concurrency) {
    status["message"] = "waiting: " + std::to_string(active) + " run(s) active (max_concurrency " +
                        std::to_string(max_concurrency) + ")";
    RETURN_IF_ERROR(write_status());
    return std::optional<milliseconds>(options_.busy_poll);
  }
  Status fired = Fire(rr, *next);
  if (options_.metrics != nullptr && (fired.ok() || fired.code() == StatusCode::kInvalid)) {
    options_.metrics->Add("skiff_recurring_run_fires_total",
                          "Schedule times that came due: runs fired, or refused by admission",
                          {{"result", fired.ok() ? "fired" : "refused"}}, 1);
  }
  if (fired.code() == StatusCode::kInvalid) {
    // The run this recurring run makes is refused: nothing fires until its spec changes.
    status["message"] = "the run for " + FormatRfc3339(*next) + " is refused: " + fired.message();
    RETURN_IF_ERROR(write_status());
    return std::optional<milliseconds>();
  } else if (!fired.ok()) {
    return fired;
  }
  status["lastScheduledAt"] = FormatRfc3339(*next);
  status["firedRuns"] = status.value("firedRuns", 0) + 1;
  status["message"] = "";
  std::optional<TimePoint> following = schedule->Next(*next);
  if (following) {
    status["nextScheduledAt"] = FormatRfc3339(*following);
  } else {
    status.erase("nextScheduledAt");
  }
  auto updated = store_.Update(kRecurringRunType, rr);
  if (!updated.ok()) {
    // A stale write (the user disabled or changed it meanwhile): re-read; the deterministic run
    // name keeps a second attempt from firing twice.
    if (updated.status().code() == StatusCode::kConflict) {
      return std::optional<milliseconds>(milliseconds(0));
    }
    return updated.status();
  }
  return std::optional<milliseconds>(milliseconds(0));
}

}  // namespace skiff::pipelines
