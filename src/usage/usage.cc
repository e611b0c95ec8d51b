#include "usage/usage.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>

#include "core/ids.h"
#include "core/schema.h"
#include "core/text.h"
#include "core/thread_annotations.h"

namespace skiff::usage {
namespace {

using std::chrono::milliseconds;

constexpr char kGroup[] = "skiff.dev";
constexpr char kVersion[] = "v1alpha1";
// While any workload of an owner runs, its record is sampled this often, and never more often
// than kMinPeriod.
constexpr milliseconds kRunningPeriod{5000};
constexpr milliseconds kMinPeriod{2000};

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
  status["properties"]["endedThroughNs"] = Integer(0);
  status["properties"]["cost"] = Number();
  status["properties"]["currency"] = String();
  t.schema =
      KindSchema({{"spec", Object({{"owner", Object({{"kind", String()}, {"name", String()}})}})},
                  {"status", std::move(status)}},
                 {"spec"});
  t.platform_written = true;
  t.columns = {FieldColumn("KIND", ".spec.owner.kind"),
               FieldColumn("OWNER", ".spec.owner.name"),
               {"CPU-SECONDS",
                [](const Json& o, TimePoint) {
                  return Fixed(FiguresFromJson(At(o, {"status"})).cpu_seconds, "%.1f");
                }},
               {"PEAK-MEMORY",
                [](const Json& o, TimePoint) {
                  return Fixed(
                      static_cast<double>(FiguresFromJson(At(o, {"status"})).peak_memory_bytes) /
                          (1024.0 * 1024.0),
                      "%.0fMi");
                }},
               {"WALL", [](const Json& o, TimePoint) {
                  return Fixed(FiguresFromJson(At(o, {"status"})).wall_seconds, "%.0fs");
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
  UsageController(const ControllerContext& ctx, std::optional<Prices> prices)
      : store_(ctx.store),
        backend_(ctx.backend),
        clock_(ctx.clock),
        metrics_(*ctx.metrics),
        prices_(std::move(prices)) {}

  std::string StoreType() const override { return kUsageRecordType; }

  std::optional<Key> KeyForWorkload(
      const std::map<std::string, std::string>& labels) const override {
    std::optional<Owner> owner = OwnerOf(labels);
    if (!owner) return std::nullopt;
    Key key{owner->ns, RecordName(owner->kind, owner->name)};
    // A look already due covers this change (it lists every workload): no wake-up for it.
    MutexLock lock(&mu_);
    auto due = due_.find(key);
    if (due != due_.end() && clock_.Now() < due->second) return std::nullopt;
    return key;
  }

  Result<std::optional<milliseconds>> Reconcile(const std::string& ns,
                                                const std::string& name) override {
    Result<std::optional<milliseconds>> next = Look(ns, name);
    MutexLock lock(&mu_);
    if (next.ok() && next->has_value()) {
      due_[{ns, name}] = clock_.Now() + **next;
    } else {
      due_.erase({ns, name});
    }
    return next;
  }

 private:
  Result<std::optional<milliseconds>> Look(const std::string& ns, const std::string& name) {
    // At most one look per owner every kMinPeriod: a run's every task wakes its record, and
    // one look costs a list of every workload.
    const TimePoint now = clock_.Now();
    auto last = last_look_.find(ns + "/" + name);
    if (last != last_look_.end() && now - last->second < kMinPeriod) {
      return std::optional<milliseconds>(
          std::chrono::duration_cast<milliseconds>(kMinPeriod - (now - last->second)) +
          milliseconds(1));
    }
    last_look_[ns + "/" + name] = now;

    Result<Json> got = store_.Get(kUsageRecordType, ns, name);
    if (!got.ok() && got.status().code() != StatusCode::kNotFound) return got.status();
    const Json before = got.ok() ? got->value("status", Json::object()) : Json::object();
    // Workloads that ended are folded into `ended` once: those that ended after the watermark.
    Figures ended = FiguresFromJson(before.value("ended", Json()));
    const Json& mark = At(before, {"endedThroughNs"});
    const int64_t ended_through = mark.is_number_integer() ? mark.get<int64_t>() : 0;
    int64_t new_mark = ended_through;

    std::optional<Owner> owner;
    std::set<std::string> folded;  // ended since the last look
    Json live = Json::object();
    int64_t running = 0;
    for (const WorkloadStatus& w : backend_.List()) {
      std::optional<Owner> o = OwnerOf(w.labels);
      if (!o || o->ns != ns || RecordName(o->kind, o->name) != name) continue;
      owner = o;
      // (One that ended without an end time stays live: it is never folded twice.)
      const bool finished =
          (w.phase == WorkloadPhase::kSucceeded || w.phase == WorkloadPhase::kFailed) &&
          w.finished_at.has_value();
      const int64_t finished_ns = finished ? std::chrono::duration_cast<std::chrono::nanoseconds>(
                                                 w.finished_at->time_since_epoch())
                                                 .count()
                                           : 0;
      if (finished && finished_ns <= ended_through) continue;  // folded already
      Result<ResourceUsage> u = backend_.Usage(w.id);
      if (!u.ok()) continue;  // removed since the list
      Figures f{u->cpu_seconds, u->peak_memory_bytes, u->memory_byte_seconds, u->wall_seconds, 1};
      if (finished) {
        ended.Add(f);
        folded.insert(w.id);
        new_mark = std::max(new_mark, finished_ns);
      } else {
        live[w.id] = FiguresToJson(f);
        if (w.phase == WorkloadPhase::kRunning || w.phase == WorkloadPhase::kPending) ++running;
      }
    }
    if (!got.ok() && !owner) return std::optional<milliseconds>();  // nothing ran: no record
    const bool existed = got.ok();
    Json record = existed ? std::move(got).value() : NewRecord(ns, name, *owner);

    // A workload that was running and is gone (removed before it ended) keeps its last figures.
    const Json old_live = before.value("live", Json::object());
    if (old_live.is_object()) {
      for (auto it = old_live.begin(); it != old_live.end(); ++it) {
        if (!live.contains(it.key()) && folded.count(it.key()) == 0) {
          ended.Add(FiguresFromJson(it.value()));
        }
      }
    }
    Figures total = ended;
    for (auto it = live.begin(); it != live.end(); ++it) total.Add(FiguresFromJson(it.value()));

    Json status = FiguresToJson(total);
    status["running"] = running;
    status["live"] = std::move(live);
    status["ended"] = FiguresToJson(ended);
    status["endedThroughNs"] = new_mark;
    if (prices_) {
      status["cost"] = prices_->Cost(total);
      status["currency"] = prices_->currency;
    }
    Export(ns, record, total);
    Json unchanged = before;
    unchanged.erase("updatedAt");
    if (status != unchanged) {
      status["updatedAt"] = FormatRfc3339(clock_.Now());
      record["status"] = std::move(status);
      Result<Json> written = existed ? store_.Update(kUsageRecordType, record)
                                     : store_.Create(kUsageRecordType, record);
      if (!written.ok()) {
        last_look_.erase(ns + "/" + name);  // look again at once: nothing was recorded
        // A conflict: another write came first; the next wake-up reads it.
        if (written.status().code() != StatusCode::kConflict &&
            written.status().code() != StatusCode::kAlreadyExists) {
          return written.status();
        }
      }
    }
    if (running > 0) return std::optional<milliseconds>(kRunningPeriod);
    return std::optional<milliseconds>();
  }

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
  const std::optional<Prices> prices_;
  std::map<std::string, Figures> exported_;     // by ns/record name; the loop's thread only
  std::map<std::string, TimePoint> last_look_;  // by ns/name
  // When the next look of each record is due (set by Reconcile, read by KeyForWorkload, which
  // the backend's thread calls).
  mutable Mutex mu_;
  std::map<Key, TimePoint> due_ GUARDED_BY(mu_);
};

}  // namespace

void Figures::Add(const Figures& o) {
  cpu_seconds += o.cpu_seconds;
  peak_memory_bytes = std::max(peak_memory_bytes, o.peak_memory_bytes);
  memory_byte_seconds += o.memory_byte_seconds;
  wall_seconds += o.wall_seconds;
  workloads += o.workloads;
}

int64_t Figures::AverageMemoryBytes() const {
  return wall_seconds > 0 ? static_cast<int64_t>(memory_byte_seconds / wall_seconds) : 0;
}

Json FiguresToJson(const Figures& f) {
  return {{"cpuSeconds", f.cpu_seconds},
          {"peakMemoryBytes", f.peak_memory_bytes},
          {"averageMemoryBytes", f.AverageMemoryBytes()},
          {"memoryByteSeconds", f.memory_byte_seconds},
          {"wallSeconds", f.wall_seconds},
          {"workloads", f.workloads}};
}

Figures FiguresFromJson(const Json& j) {
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

double Prices::Cost(const Figures& f) const {
  constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
  return f.cpu_seconds / 3600.0 * cpu_hour +
         f.memory_byte_seconds / kGiB / 3600.0 * memory_gib_hour;
}

Result<std::optional<Prices>> LoadPrices(const std::string& home) {
  const std::string path = home + "/" + kPricesFile;
  std::ifstream in(path);
  if (!in) return std::optional<Prices>();
  constexpr size_t kMaxBytes = 64 * 1024;
  std::string text(kMaxBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  if (text.size() > kMaxBytes) return InvalidArgument(path + ": larger than 64 KiB");
  ASSIGN_OR_RETURN(std::vector<Json> docs, ParseYamlDocuments(text, path));
  if (docs.size() != 1) return InvalidArgument(path + ": one YAML document expected");
  using namespace openapi;  // NOLINT(google-build-using-namespace): the builders read as a schema
  Json price = Number();
  price["minimum"] = 0;
  Json currency = String();
  currency["minLength"] = 1;
  currency["maxLength"] = 16;
  ASSIGN_OR_RETURN(
      Schema schema,
      Schema::FromOpenApi(Object(
          {{"currency", currency}, {"cpuHour", price}, {"memoryGiBHour", price}}, {"currency"})));
  SchemaReport report = schema.Check(docs[0]);
  for (const std::string& field : report.unknown) {
    report.errors.push_back({field,
                             "not a field of a price table (currency, cpuHour, "
                             "memoryGiBHour)",
                             "FieldValueUnknown"});
  }
  if (!report.errors.empty()) return report.ToStatus("price table " + path);
  Prices p;
  p.currency = docs[0]["currency"].get<std::string>();
  // (A null passes the check as an absent field: 0.)
  const Json& cpu = docs[0].value("cpuHour", Json());
  const Json& memory = docs[0].value("memoryGiBHour", Json());
  p.cpu_hour = cpu.is_number() ? cpu.get<double>() : 0.0;
  p.memory_gib_hour = memory.is_number() ? memory.get<double>() : 0.0;
  return std::optional<Prices>(std::move(p));
}

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
        ASSIGN_OR_RETURN(std::optional<Prices> prices, LoadPrices(ctx.home));
        return std::unique_ptr<Controller>(std::make_unique<UsageController>(ctx, prices));
      });
}

}  // namespace skiff::usage
