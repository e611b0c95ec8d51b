// RecurringRunController: fires PipelineRuns on a schedule, as KFP's ScheduledWorkflow does. A
// RecurringRun resource (recurringruns.pipelines.kubeflow.org) is what the KFP v2beta1 API's
// /recurringruns endpoints create:
//
//   apiVersion: pipelines.kubeflow.org/v2beta1
//   kind: RecurringRun
//   metadata: {name: <id>, namespace: default}
//   spec:
//     displayName, description, experimentId, serviceAccount
//     pipelineSpec: {...}, platformSpec: {...}      # the IR each fired run gets
//     pipelineVersionReference: {pipelineId, pipelineVersionId}   # informational
//     parameters: {...}, pipelineRoot: ""
//     trigger: {cron: "0 */5 * * * *"} | {intervalSecond: 60}, plus optional startTime/endTime
//     maxConcurrency: 1, noCatchup: false, enabled: true
//   status:
//     lastScheduledAt: RFC 3339   # schedule time of the last fired run: restarts resume from it
//     nextScheduledAt, firedRuns, message
//     observedEnabled, enabledAt, updatedAt   # the controller's record of spec.enabled flips
//
// Whoever flips spec.enabled (the KFP API's :enable, a PUT or PATCH through the generic API),
// the controller notices the flip and records when: schedule times that passed while the
// recurring run was disabled are not caught up. Each fired run passes the same admission as a
// run a user creates (core/admission.h); a run refused there is reported in status.message and
// nothing fires until the spec changes.
//
// Each fired run is named "<recurring run name>-<unix seconds of its schedule time>", so a crash
// between creating the run and recording status cannot fire it twice: the re-create finds it.
// Runs carry label kRecurringRunLabel and spec.recurringRunId.
//
//   RecurringRunController rrc(store, clock);
//   ReconcileLoop loop("recurringruns", store, kRecurringRunType,
//                      [&](auto& ns, auto& n) { return rrc.Reconcile(ns, n); });
//   loop.AlsoWatch(kPipelineRunType, RecurringRunController::MapRunToRecurringRun);
//
// CronSchedule and Schedule are immutable values (thread-safe). The controller is
// thread-compatible: one ReconcileLoop calls Reconcile.
#pragma once

#include <bitset>
#include <chrono>
#include <optional>
#include <string>
#include <utility>

#include "controller/controller_metrics.h"
#include "core/clock.h"
#include "core/resource.h"
#include "core/status.h"
#include "store/store.h"

namespace skiff::pipelines {

inline constexpr char kRecurringRunType[] = "recurringruns.pipelines.kubeflow.org";
inline constexpr char kRecurringRunLabel[] = "pipelines.kubeflow.org/recurring-run-id";

// A cron expression as KFP accepts it (robfig/cron with seconds): six fields
// "sec min hour day-of-month month day-of-week" (five fields mean sec = 0), each `*`, `?`, a
// value, a range a-b, a step */n or a-b/n, or a comma list; month and weekday names (JAN, MON);
// descriptors @yearly @monthly @weekly @daily @hourly. All times are UTC.
class CronSchedule {
 public:
  static Result<CronSchedule> Parse(const std::string& text);
  // The first matching second strictly after `after`; nullopt when none within five years.
  std::optional<TimePoint> Next(TimePoint after) const;

 private:
  std::bitset<60> seconds_, minutes_;
  std::bitset<24> hours_;
  std::bitset<32> days_;    // 1..31
  std::bitset<13> months_;  // 1..12
  std::bitset<7> weekdays_;
  bool days_star_ = false, weekdays_star_ = false;
};

// A trigger: cron or a fixed period, between optional start and end times.
struct Schedule {
  std::optional<CronSchedule> cron;
  std::chrono::seconds interval{0};  // periodic when cron is empty
  std::optional<TimePoint> start, end;

  // Parses spec.trigger ({cron | intervalSecond, startTime?, endTime?}); errors name the field.
  static Result<Schedule> FromTrigger(const Json& trigger);
  // The first schedule time strictly after `after` (and not before start), nullopt past end.
  std::optional<TimePoint> Next(TimePoint after) const;
};

struct RecurringRunControllerOptions {
  // How often to look again while max_concurrency holds back a due run.
  std::chrono::milliseconds busy_poll{std::chrono::seconds(1)};
  // The kinds whose admission every fired run passes (null: TypeRegistry::Global()).
  const TypeRegistry* types = nullptr;
  // skiff_recurring_run_fires_total{result="fired"|"refused"} (null: not recorded).
  ControllerMetrics* metrics = nullptr;
};

class RecurringRunController {
 public:
  RecurringRunController(Store& store, Clock& clock, RecurringRunControllerOptions options = {});

  // Fires at most one due run per call; returns when to look again.
  Result<std::optional<std::chrono::milliseconds>> Reconcile(const std::string& ns,
                                                             const std::string& name);

  // For ReconcileLoop::AlsoWatch: a fired run's change wakes its recurring run (a finished run
  // frees a max_concurrency slot).
  static std::vector<std::pair<std::string, std::string>> MapRunToRecurringRun(
      const WatchEvent& event);

  // The name of the run fired for schedule time `t`.
  static std::string RunName(const std::string& recurring_run_name, TimePoint t);

 private:
  Result<int> ActiveRuns(const std::string& ns, const std::string& name);
  Status Fire(const Json& recurring_run, TimePoint scheduled);

  Store& store_;
  Clock& clock_;
  RecurringRunControllerOptions options_;
};

}  // namespace skiff::pipelines
