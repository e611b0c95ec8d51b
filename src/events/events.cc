#include "events/events.h"

#include <algorithm>
#include <limits>

#include "core/ids.h"
#include "core/log.h"
#include "core/schema.h"
#include "core/text.h"

namespace skiff::events {

namespace {

constexpr size_t kMaxMessage = 1024;  // bytes, as events.k8s.io/v1 bounds a note
constexpr size_t kMaxName = 253;

// `text` cut to at most `bytes` bytes, not inside a UTF-8 character.
std::string Truncated(const std::string& text, size_t bytes) {
  if (text.size() <= bytes) return text;
  size_t end = bytes;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return text.substr(0, end);
}

Status ValidateEvent(Json& event, bool /*is_create*/) {
  const std::string ns = MetaNamespace(event);
  const std::string involved = TextAt(event, {"involvedObject", "namespace"});
  if (!involved.empty() && involved != ns) {
    return InvalidArgument("involvedObject.namespace: " + Quote(involved) +
                           " does not match the event's namespace " + Quote(ns));
  }
  const std::string type = TextAt(event, {"type"});
  if (!type.empty() && type != "Normal" && type != "Warning") {
    return InvalidArgument("type: " + Quote(type) + " is not Normal or Warning");
  }
  return Status::Ok();
}

ResourceType EventKind() {
  using namespace openapi;
  const Json reference = OpenObject({{"apiVersion", String()},
                                     {"kind", String()},
                                     {"name", String()},
                                     {"namespace", String()},
                                     {"uid", String()},
                                     {"resourceVersion", String()},
                                     {"fieldPath", String()}});
  const Json time = {{"type", "string"}, {"nullable", true}};
  ResourceType t{"", "v1", "Event", "events", true, {"ev"}};
  t.strategic_merge_patch = true;
  t.schema =
      KindSchema({{"involvedObject", reference},
                  {"reason", String()},
                  {"message", String()},
                  {"source", Object({{"component", String()}, {"host", String()}})},
                  {"firstTimestamp", time},
                  {"lastTimestamp", time},
                  {"eventTime", time},
                  {"count", Integer()},
                  {"type", String()},
                  {"action", String()},
                  {"related", reference},
                  {"reportingComponent", String()},
                  {"reportingInstance", String()},
                  {"series", OpenObject({{"count", Integer()}, {"lastObservedTime", time}})}},
                 {"involvedObject"});
  t.validate = &ValidateEvent;
  t.field_selectors = {"involvedObject.kind",       "involvedObject.namespace",
                       "involvedObject.name",       "involvedObject.uid",
                       "involvedObject.apiVersion", "involvedObject.resourceVersion",
                       "involvedObject.fieldPath",  "reason",
                       "reportingComponent",        "type"};
  t.columns = {FieldColumn("TYPE", ".type"),
               FieldColumn("REASON", ".reason"),
               {"OBJECT",
                [](const Json& obj, auto) {
                  std::string kind = TextAt(obj, {"involvedObject", "kind"});
                  std::transform(kind.begin(), kind.end(), kind.begin(), [](unsigned char c) {
                    return static_cast<char>(std::tolower(c));
                  });
                  return kind + "/" + TextAt(obj, {"involvedObject", "name"});
                }},
               FieldColumn("MESSAGE", ".message")};
  return t;
}

// Deletes each event once it has not happened again for the TTL. An event's last time is its
// lastTimestamp (set by the recorder at every repeat) when that is not in the future, else when it
// was created.
class EventTtlController : public Controller {
 public:
  EventTtlController(Store& store, Clock& clock, std::chrono::seconds ttl)
      : store_(store), clock_(clock), ttl_(ttl) {}

  std::string StoreType() const override { return kEventType; }
  ReconcileLoop::Options LoopOptions() const override {
    ReconcileLoop::Options options;
    options.resync_period = std::chrono::minutes(10);  // each event asks to be looked at anyway
    return options;
  }

  Result<std::optional<std::chrono::milliseconds>> Reconcile(const std::string& ns,
                                                             const std::string& name) override {
    Result<Json> event = store_.Get(kEventType, ns, name);
    if (!event.ok()) {
      if (event.status().code() == StatusCode::kNotFound) {
        return std::optional<std::chrono::milliseconds>();
      }
      return event.status();
    }
    const TimePoint now = clock_.Now();
    TimePoint last;
    if (!ParseRfc3339(TextAt(*event, {"lastTimestamp"}), &last) ||
        last > now + std::chrono::minutes(1)) {
      if (!ParseRfc3339(TextAt(*event, {"metadata", "creationTimestamp"}), &last)) last = now;
    }
    const TimePoint expiry = last + ttl_;
    if (now < expiry) {
      return std::optional(std::chrono::duration_cast<std::chrono::milliseconds>(expiry - now));
    }
    Result<Json> deleted = store_.Delete(kEventType, ns, name, MetaResourceVersion(*event));
    if (!deleted.ok() && deleted.status().code() == StatusCode::kConflict) {
      return std::optional(std::chrono::milliseconds(0));  // it happened again: look again
    }
    if (!deleted.ok() && deleted.status().code() != StatusCode::kNotFound) {
      return deleted.status();
    }
    return std::optional<std::chrono::milliseconds>();
  }

 private:
  Store& store_;
  Clock& clock_;
  const std::chrono::seconds ttl_;
};

}  // namespace

EventRecorder::EventRecorder(Store& store, Clock& clock, std::string component)
    : store_(store), clock_(clock), component_(std::move(component)) {}

void EventRecorder::Normal(const Json& object, const std::string& reason,
                           const std::string& message) {
  RecordOrLog(object, "Normal", reason, message);
}

void EventRecorder::Warning(const Json& object, const std::string& reason,
                            const std::string& message) {
  RecordOrLog(object, "Warning", reason, message);
}

void EventRecorder::RecordOrLog(const Json& object, const std::string& type,
                                const std::string& reason, const std::string& message) {
  Result<Json> recorded = Record(object, type, reason, message);
  if (!recorded.ok()) {
    LogWarn("recording an event failed",
            {{"reason", reason}, {"error", recorded.status().ToString()}});
  }
}

Result<Json> EventRecorder::Record(const Json& object, const std::string& type,
                                   const std::string& reason, const std::string& message) {
  const std::string name = MetaName(object);
  const std::string uid = TextAt(object, {"metadata", "uid"});
  std::string ns = MetaNamespace(object);
  if (ns.empty()) ns = "default";  // where the API server files a cluster-scoped object's events
  const std::string note = Truncated(message, kMaxMessage);
  // One event per (object, type, reason, message, component): a repeat counts it up.
  const std::string key =
      Sha256Hex(uid + '\n' + type + '\n' + reason + '\n' + note + '\n' + component_).substr(0, 16);
  // The object's name, cut to leave room for the key and not ending in '-' or '.'.
  std::string prefix = name.substr(0, kMaxName - key.size() - 1);
  while (!prefix.empty() && (prefix.back() == '-' || prefix.back() == '.')) prefix.pop_back();
  const std::string event_name = prefix + "." + key;
  const std::string now = FormatRfc3339(clock_.Now());
  for (int attempt = 0; attempt < 3; ++attempt) {
    Result<Json> existing = store_.Get(kEventType, ns, event_name);
    if (existing.ok()) {
      Json event = std::move(existing).value();
      // Anyone who may write events may write a count: it saturates rather than overflow.
      const int64_t count = IntAt(event, {"count"}, 1);
      event["count"] = count < std::numeric_limits<int64_t>::max() ? count + 1 : count;
      event["lastTimestamp"] = now;
      Result<Json> updated = store_.Update(kEventType, event);
      if (updated.ok() || updated.status().code() != StatusCode::kConflict) return updated;
      continue;
    }
    if (existing.status().code() != StatusCode::kNotFound) return existing.status();
    Json event = {{"apiVersion", "v1"},
                  {"kind", "Event"},
                  {"metadata", {{"name", event_name}, {"namespace", ns}}},
                  {"involvedObject",
                   {{"apiVersion", TextAt(object, {"apiVersion"})},
                    {"kind", TextAt(object, {"kind"})},
                    {"name", name},
                    {"namespace", MetaNamespace(object)},
                    {"uid", uid},
                    {"resourceVersion", TextAt(object, {"metadata", "resourceVersion"})}}},
                  {"reason", reason},
                  {"message", note},
                  {"source", {{"component", component_}}},
                  {"firstTimestamp", now},
                  {"lastTimestamp", now},
                  {"count", 1},
                  {"type", type},
                  {"eventTime", nullptr},
                  {"reportingComponent", component_},
                  {"reportingInstance", ""}};
    Result<Json> created = store_.Create(kEventType, std::move(event));
    if (created.ok() || created.status().code() != StatusCode::kAlreadyExists) return created;
  }
  return Conflict("recording event " + ns + "/" + event_name + ": it kept changing");
}

void Register(ModuleRegistry& modules) {
  modules.types().Add(EventKind());
  modules.AddSetting({"event-ttl-seconds",
                      "how long an event is kept after it last happened, in seconds",
                      std::to_string(kDefaultEventTtl.count()), /*integer=*/true});
  modules.AddController(
      "events", [](const ControllerContext& ctx) -> Result<std::unique_ptr<Controller>> {
        // At most ten years: the clock's arithmetic must not overflow.
        const std::chrono::seconds ttl(
            std::min<int64_t>(ctx.IntSetting("event-ttl-seconds", kDefaultEventTtl.count()),
                              int64_t{10} * 365 * 24 * 3600));
        return std::unique_ptr<Controller>(
            std::make_unique<EventTtlController>(ctx.store, ctx.clock, ttl));
      });
}

}  // namespace skiff::events
