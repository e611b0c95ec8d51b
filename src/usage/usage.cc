#include "usage/usage.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>

#include "core/ids.h"
#include "core/schema.h"
#include "core/text.h"

namespace skiff::usage {
namespace {

using std::chrono::milliseconds;

constexpr char kGroup[] = "skiff.dev";
constexpr char kVersion[] = "v1alpha1";
// While any workload of an owner runs, its record is sampled this often.
constexpr milliseconds kRunningPeriod{5000};

// One or more workloads' figures, as a record stores them.
struct Figures {
  double cpu_seconds = 0;
  int64_t peak_memory_bytes = 0;
  double memory_byte_seconds = 0;
  double wall_seconds = 0;
  int64_t workloads = 0;

  void Add(const Figures& o) {
    cpu_seconds += o.cpu_seconds;
    peak_memory_bytes = std::max(peak_memory_bytes, o.peak_memory_bytes);
    memory_byte_seconds += o.memory_byte_seconds;
    wall_seconds += o.wall_seconds;
    workloads += o.workloads;
  }
};

Json ToJson(const Figures& f) {
  return {{"cpuSeconds", f.cpu_seconds},
          {"peakMemoryBytes", f.peak_memory_bytes},
          {"averageMemoryBytes",
           f.wall_seconds > 0 ? static_cast<int64_t>(f.memory_byte_seconds / f.wall_seconds) : 0},
          {"memoryByteSeconds", f.memory_byte_seconds},
          {"wallSeconds", f.wall_seconds},
          {"workloads", f.workloads}};
}

// Tolerant: what is not a number reads as 0 (an object stored around the schema).
Figures FromJson(const Json& j) {
  Figures f;
  if (!j.is_object()) return f;
  auto number = [&j](const char* key) {
    auto it = j.find(key);
    return it != j.end() && it->is_number() ? it->get<double>() : 0.0;
  };
  f.cpu_seconds = number("cpuSeconds");
  f.peak_memory_bytes = static_cast<int64_t>(number("peakMemoryBytes"));
  f.memory_byte_seconds = number("memoryByteSeconds");
  f.wall_seconds = number("wallSeconds");
  f.workloads = static_cast<int64_t>(number("workloads"));
  return f;
}

Json FiguresSchema() {
  using namespace openapi;  // NOLINT(google-build-using-namespace): the builders read as a schema
  return Object({{"cpuSeconds", Number()},
                 {"peakMemoryBytes", Integer(0)},
                 {"averageMemoryBytes", Integer(0)},
                 {"memoryByteSeconds", Number()},
                 {"wallSeconds", Number()},
                 {"workloads", Integer(0)}});
}

std::string Fixed(double v, const char* format) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

ResourceType UsageRecordKind() {
  using namespace openapi;  // NOLINT(google-build-using-namespace): the builders read as a schema
  ResourceType t{kGroup, kVersion, "UsageRecord", "usagerecords", true, {"usage"}};
  Json status = FiguresSchema();
  status["properties"]["running"] = Integer(0);
  status["properties"]["updatedAt"] = String();
  status["properties"]["live"] = Map(FiguresSchema());
  status["properties"]["ended"] = FiguresSchema();
  t.schema =
      KindSchema({{"spec", Object({{"owner", Object({{"kind", String()}, {"name", String()}})}})},
                  {"status", std::move(status)}},
                 {"spec"});
  t.platform_written = true;
  t.columns = {{"KIND",
                [](const Json& o, TimePoint) {
                  return TextAt(o, {"spec", "owner", "kind"});
                }},
               {"OWNER",
                [](const Json& o, TimePoint) {
                  return TextAt(o, {"spec", "owner", "name"});
                }},
               {"CPU-SECONDS",
                [](const Json& o, TimePoint) {
                  return Fixed(FromJson(At(o, {"status"})).cpu_seconds, "%.1f");
                }},
               {"PEAK-MEMORY",
                [](const Json& o, TimePoint) {
                  return Fixed(static_cast<double>(FromJson(At(o, {"status"})).peak_memory_bytes) /
                                   (1024.0 * 1024.0),
                               "%.0fMi");
                }},
               {"WALL", [](const Json& o, TimePoint) {
                  return Fixed(FromJson(At(o, {"status"})).wall_seconds, "%.0fs");
                }}};
  return t;
}

// The owner a workload's labels name, in its namespace.
struct Owner {
  std::string ns;
  std::string kind;
  std::string name;
};

std::optional<Owner> OwnerOf(const std::map<std::string, std::string>& labels) {
  auto ns = labels.find(kWorkloadNamespaceLabel);
  auto kind = labels.find(kWorkloadOwnerKindLabel);
  auto name = labels.find(kWorkloadOwnerNameLabel);
  if (ns == labels.end() || kind == labels.end() || name == labels.end()) return std::nullopt;
  if (ns->second.empty() || kind->second.empty() || name->second.empty()) return std::nullopt;
  return Owner{ns->second, kind->second, name->second};
}

// Keeps each owner's record current from the backend's figures of its workloads.
class UsageController : public Controller {
 public:
  explicit UsageController(const ControllerContext& ctx)
      : store_(ctx.store), backend_(ctx.backend), clock_(ctx.clock), metrics_(*ctx.metrics) {}

  std::string StoreType() const override { return kUsageRecordType; }

  std::optional<Key> KeyForWorkload(
      const std::map<std::string, std::string>& labels) const override {
    std::optional<Owner> owner = OwnerOf(labels);
    if (!owner) return std::nullopt;
    return Key{owner->ns, RecordName(owner->kind, owner->name)};
  }

  Result<std::optional<milliseconds>> Reconcile(const std::string& ns,
                                                const std::string& name) override {
    // The owner's workloads the backend knows now.
    std::optional<Owner> owner;
    Json live = Json::object();
    Figures total;
    int64_t running = 0;
    for (const WorkloadStatus& w : backend_.List()) {
      std::optional<Owner> o = OwnerOf(w.labels);
      if (!o || o->ns != ns || RecordName(o->kind, o->name) != name) continue;
      Result<ResourceUsage> u = backend_.Usage(w.id);
      if (!u.ok()) continue;  // removed since the list
      owner = o;
      Figures f{u->cpu_seconds, u->peak_memory_bytes, u->memory_byte_seconds, u->wall_seconds, 1};
      live[w.id] = ToJson(f);
      total.Add(f);
      if (w.phase == WorkloadPhase::kRunning || w.phase == WorkloadPhase::kPending) ++running;
    }
    Result<Json> got = store_.Get(kUsageRecordType, ns, name);
    if (!got.ok() && got.status().code() != StatusCode::kNotFound) return got.status();
    if (!got.ok() && !owner) return std::optional<milliseconds>();  // nothing ran: no record
    Json record = got.ok() ? std::move(got).value() : NewRecord(ns, name, *owner);
    const Json before = record.value("status", Json::object());

    // Workloads the backend forgot keep their last figures, in `ended`.
    Figures ended = FromJson(before.value("ended", Json()));
    const Json old_live = before.value("live", Json::object());
    if (old_live.is_object()) {
      for (auto it = old_live.begin(); it != old_live.end(); ++it) {
        if (!live.contains(it.key())) ended.Add(FromJson(it.value()));
      }
    }
    total.Add(ended);

    Json status = ToJson(total);
    status["running"] = running;
    status["live"] = std::move(live);
    status["ended"] = ToJson(ended);
    Export(ns, record, total);
    Json unchanged = before;
    unchanged.erase("updatedAt");
    if (status != unchanged) {
      status["updatedAt"] = FormatRfc3339(clock_.Now());
      record["status"] = std::move(status);
      Result<Json> written = got.ok() ? store_.Update(kUsageRecordType, record)
                                      : store_.Create(kUsageRecordType, record);
      // A conflict: another write came first; the next wake-up reads it.
      if (!written.ok() && written.status().code() != StatusCode::kConflict &&
          written.status().code() != StatusCode::kAlreadyExists) {
        return written.status();
      }
    }
    if (running > 0) return std::optional<milliseconds>(kRunningPeriod);
    return std::optional<milliseconds>();
  }

 private:
  static Json NewRecord(const std::string& ns, const std::string& name, const Owner& owner) {
    return {
        {"apiVersion", std::string(kGroup) + "/" + kVersion},
        {"kind", "UsageRecord"},
        {"metadata",
         {{"name", name}, {"namespace", ns}, {"labels", {{kWorkloadOwnerKindLabel, owner.kind}}}}},
        {"spec", {{"owner", {{"kind", owner.kind}, {"name", owner.name}}}}}};
  }

  // The counters of /metrics follow the record's totals (from 0 in this process: a restart
  // starts them again at the record's total, as a counter may).
  void Export(const std::string& ns, const Json& record, const Figures& total) {
    const ControllerMetrics::Labels labels = {{"profile", ns},
                                              {"kind", TextAt(record, {"spec", "owner", "kind"})},
                                              {"name", TextAt(record, {"spec", "owner", "name"})}};
    Figures& exported = exported_[ns + "/" + MetaName(record)];
    if (total.cpu_seconds > exported.cpu_seconds) {
      metrics_.Add("skiff_usage_cpu_seconds_total", "CPU-seconds used, per owning resource", labels,
                   total.cpu_seconds - exported.cpu_seconds);
    }
    if (total.memory_byte_seconds > exported.memory_byte_seconds) {
      metrics_.Add("skiff_usage_memory_byte_seconds_total",
                   "Resident memory over time (byte-seconds), per owning resource", labels,
                   total.memory_byte_seconds - exported.memory_byte_seconds);
    }
    metrics_.Set("skiff_usage_peak_memory_bytes",
                 "The largest resident memory of one workload, per owning resource", labels,
                 static_cast<double>(total.peak_memory_bytes));
    exported = total;
  }

  Store& store_;
  Backend& backend_;
  Clock& clock_;
  ControllerMetrics& metrics_;
  std::map<std::string, Figures> exported_;  // by ns/record name; the loop's thread only
};

}  // namespace

std::string RecordName(const std::string& owner_kind, const std::string& owner_name) {
  std::string kind;
  for (char c : owner_kind) kind += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string name = kind + "." + owner_name;
  if (name.size() <= 253) return name;
  std::string prefix = name.substr(0, 236);
  while (!prefix.empty() && (prefix.back() == '.' || prefix.back() == '-')) prefix.pop_back();
  return prefix + "-" + Sha256Hex(name).substr(0, 16);
}

void Register(ModuleRegistry& modules) {
  modules.types().Add(UsageRecordKind());
  modules.AddController(
      "usage", [](const ControllerContext& ctx) -> Result<std::unique_ptr<Controller>> {
        return std::unique_ptr<Controller>(std::make_unique<UsageController>(ctx));
      });
}

}  // namespace skiff::usage
