// WorkloadRecord: what the local backend persists about one workload so that a restarted server
// can re-adopt it: the spec, the phase, and for each container the shim's pid (= process group),
// its start time in /proc (to tell it from a reused pid) and how it ended. Stored as JSON in
// `<state_dir>/<encoded id>.json` (journal.h).
//
//   WorkloadRecord rec = ...;
//   RETURN_IF_ERROR(journal.Write(rec));
//   ASSIGN_OR_RETURN(WorkloadRecord back, RecordFromJson(Json::parse(text), path));
//
// Thread-compatible value types and pure functions.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "core/resource.h"

namespace skiff::local {

struct ContainerRecord {
  ContainerStatus status;      // name, running, exit code, reason, times
  pid_t pid = 0;               // the shim: also the process group id; 0 = never started
  uint64_t start_ticks = 0;    // /proc/<pid>/stat field 22 at spawn
  std::string cgroup_dir;      // "" when the memory limit is an rlimit (or none)
  bool restarting = false;     // ended, to be started again by the restart policy
  double run_cpu_seconds = 0;  // CPU of its current run, as last sampled
  int64_t memory_bytes = 0;    // resident at the last sample (not persisted)
};

struct WorkloadRecord {
  WorkloadSpec spec;
  WorkloadPhase phase = WorkloadPhase::kPending;
  std::string message;
  std::optional<TimePoint> started_at;
  std::optional<TimePoint> finished_at;
  std::vector<ContainerRecord> containers;  // parallel to spec.containers
  uint64_t seq = 0;                         // arrival order, for FIFO admission
  bool stop_requested = false;
  std::string stop_reason;  // the ended containers' reason when stopped: "Stopped", "Preempted"
  std::vector<std::string> links;    // mount symlinks this workload created
  std::map<std::string, int> ports;  // by port name: the port of 127.0.0.1 it was given
  // Usage (backend.h ResourceUsage): CPU of the runs that ended, the peak and the integral of
  // the resident memory of all containers together.
  double cpu_seconds = 0;
  int64_t peak_memory_bytes = 0;
  double memory_byte_seconds = 0;
};

Json SpecToJson(const WorkloadSpec& spec);
Result<WorkloadSpec> SpecFromJson(const Json& j, const std::string& source);
Json RecordToJson(const WorkloadRecord& rec);
Result<WorkloadRecord> RecordFromJson(const Json& j, const std::string& source);

}  // namespace skiff::local
