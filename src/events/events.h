// Events: what happened to an object, as Kubernetes records it (core v1 Event). Controllers record
// them through an EventRecorder; `kubectl describe` shows an object's (it lists events by
// involvedObject with a field selector), `kubectl get events` lists them, and each is deleted
// once it has not happened again for the event TTL (the API server's --event-ttl, an hour).
//
//   events::EventRecorder recorder(store, clock, "job-controller");
//   recorder.Normal(job, "SuccessfulCreate", "Created pod: " + MetaName(pod));
//   recorder.Warning(job, "BackoffLimitExceeded", "Job has reached the specified backoff limit");
//
// An event that repeats one recorded before (same object, type, reason, message and component)
// counts up the one stored (count, lastTimestamp) instead of making another, as client-go's
// recorder does, so a controller that says the same thing every reconcile costs one object.
//
// Thread-safe (the store is).
#pragma once

#include <chrono>
#include <string>

#include "controller/controller.h"
#include "core/clock.h"
#include "core/resource.h"
#include "store/store.h"

namespace skiff::events {

inline constexpr char kEventType[] = "events";  // the store type of core v1 Event
// How long an event is kept after it last happened, unless `skiff up --event-ttl-seconds`.
inline constexpr std::chrono::seconds kDefaultEventTtl{3600};

class EventRecorder {
 public:
  // `component`: who reports (source.component, reportingComponent), "job-controller".
  EventRecorder(Store& store, Clock& clock, std::string component);

  // Records an event about `object` (a stored object: its kind, name, namespace and uid are
  // named). A failure is logged, not returned: an event is a report, and what made it goes on.
  void Normal(const Json& object, const std::string& reason, const std::string& message);
  void Warning(const Json& object, const std::string& reason, const std::string& message);
  // The same, returning the event as stored (tests) or what failed.
  Result<Json> Record(const Json& object, const std::string& type, const std::string& reason,
                      const std::string& message);

 private:
  void RecordOrLog(const Json& object, const std::string& type, const std::string& reason,
                   const std::string& message);

  Store& store_;
  Clock& clock_;
  const std::string component_;
};

// Registers the Event kind (schema, field selectors, columns) and the controller that deletes
// events older than the TTL.
void Register(ModuleRegistry& modules);

}  // namespace skiff::events
