// The usage module: what each owning resource's workloads used, per profile. For every object
// whose workloads the backend ran (a Job, a PipelineRun; any kind whose pods name it as their
// controlling owner), a UsageRecord (skiff.dev/v1alpha1) in the owner's namespace, named
// "<kind>.<name>" ("job.pi"), holds CPU-seconds, peak and average memory and wall time:
//
//   status: {cpuSeconds, peakMemoryBytes, averageMemoryBytes, memoryByteSeconds, wallSeconds,
//            workloads, running, updatedAt,
//            live: {<workload id>: {...the same figures}}   those not ended yet
//            ended: {...the same, summed}                     those that ended, or were removed
//            endedThroughNs}                                  the latest end folded into `ended`
//
// The usage controller keeps them: a workload's change wakes its owner's record (the workload
// labels skiff.dev/namespace, skiff.dev/owner-kind, skiff.dev/owner-name), at most once per
// 2 s per owner, and while any of its workloads runs it samples again every 5 s. A workload that
// ended is folded into `ended` once (its end time is after the watermark), so a record stays
// small however many workloads its owner had, and outlives them and its owner. Peak memory is the
// largest of one workload's peaks; average memory is the memory-time over the wall time of the
// workloads. Users read records; only the platform writes them (ResourceType::platform_written).
// Exposed in /metrics as skiff_usage_cpu_seconds_total and skiff_usage_memory_byte_seconds_total
// {profile, kind, name}, and by `skiff usage` and `skiff describe`.
//
// An optional price table, SKIFF_HOME/prices.yaml, turns the figures into cost: each record's
// status then has `cost` and `currency`, computed from its totals at every look.
//
//   currency: EUR
//   cpuHour: 0.04          # per CPU-hour
//   memoryGiBHour: 0.005   # per GiB-hour of resident memory (memory-time)
//
// A table that is not this shape stops `skiff up` with the field that is wrong.
#pragma once

#include <optional>
#include <string>

#include "controller/controller.h"

namespace skiff::usage {

inline constexpr char kUsageRecordType[] = "usagerecords.skiff.dev";

// One or more workloads' figures, as a record's status (and `ended`, and each of `live`) holds
// them. Adding sums all but the peak, which is the larger.
struct Figures {
  double cpu_seconds = 0;
  int64_t peak_memory_bytes = 0;
  double memory_byte_seconds = 0;
  double wall_seconds = 0;
  int64_t workloads = 0;

  void Add(const Figures& o);
  int64_t AverageMemoryBytes() const;  // memory-time over wall time
};
// {cpuSeconds, peakMemoryBytes, averageMemoryBytes, memoryByteSeconds, wallSeconds, workloads}.
Json FiguresToJson(const Figures& f);
// Tolerant: what is not a number reads as 0 (an object stored around the schema).
Figures FiguresFromJson(const Json& j);

// What a CPU-hour and a GiB-hour of memory cost, from SKIFF_HOME/prices.yaml.
struct Prices {
  std::string currency;
  double cpu_hour = 0;
  double memory_gib_hour = 0;

  double Cost(const Figures& f) const;
};
inline constexpr char kPricesFile[] = "prices.yaml";
// The table in `home`: nullopt when there is none, an error naming the file and field when it is
// not a price table.
Result<std::optional<Prices>> LoadPrices(const std::string& home);

// "job.pi" for kind Job, name pi (a name too long for the store keeps a hash of the rest).
std::string RecordName(const std::string& owner_kind, const std::string& owner_name);

void Register(ModuleRegistry& modules);

}  // namespace skiff::usage
