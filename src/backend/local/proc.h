// Small readers over /proc for the local backend: one process's state and start time (to tell a
// live process from a reused pid), and the CPU and memory used by a whole process group.
//
//   std::optional<ProcStat> st = ReadProcStat(pid);
//   if (st && st->start_ticks == recorded && st->state != 'Z') { /* still ours, alive */ }
//   ResourceUsage u = ProcessGroupUsage(pgid);
//
// Thread-safe (pure functions over the file system).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <set>

#include "backend/backend.h"

namespace skiff::local {

struct ProcStat {
  char state = '?';  // R, S, D, Z, T, ...
  pid_t pgrp = 0;
  uint64_t utime_ticks = 0;
  uint64_t stime_ticks = 0;
  uint64_t cutime_ticks = 0;  // of its children it has waited for
  uint64_t cstime_ticks = 0;
  uint64_t start_ticks = 0;  // since boot; with the pid, identifies a process uniquely
  int64_t rss_pages = 0;
};

// nullopt when the process does not exist (or /proc cannot be read).
std::optional<ProcStat> ReadProcStat(pid_t pid);

// True when `pid` exists, is not a zombie, and started at `start_ticks`.
bool ProcessAliveSince(pid_t pid, uint64_t start_ticks);

// Sum of user+system CPU (with that of the children they waited for) and resident memory over
// every process in group `pgid`.
ResourceUsage ProcessGroupUsage(pid_t pgid);
// The same for several groups with one pass over /proc.
std::map<pid_t, ResourceUsage> ProcessGroupsUsage(const std::set<pid_t>& groups);

}  // namespace skiff::local
