#include "backend/local/proc.h"

#include <dirent.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace skiff::local {

std::optional<ProcStat> ReadProcStat(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  if (!in) return std::nullopt;
  std::string line;
  std::getline(in, line);
  // The command name (field 2) is in parentheses and may hold spaces or ')': parse after the last.
  size_t close = line.rfind(')');
  if (close == std::string::npos || close + 2 > line.size()) return std::nullopt;
  std::istringstream rest(line.substr(close + 2));
  std::vector<std::string> f;  // f[0] is field 3 (state)
  std::string tok;
  while (rest >> tok) f.push_back(tok);
  if (f.size() < 22) return std::nullopt;
  ProcStat st;
  st.state = f[0].empty() ? '?' : f[0][0];
  st.pgrp = static_cast<pid_t>(std::strtol(f[2].c_str(), nullptr, 10));
  st.utime_ticks = std::strtoull(f[11].c_str(), nullptr, 10);
  st.stime_ticks = std::strtoull(f[12].c_str(), nullptr, 10);
  st.cutime_ticks = std::strtoull(f[13].c_str(), nullptr, 10);
  st.cstime_ticks = std::strtoull(f[14].c_str(), nullptr, 10);
  st.start_ticks = std::strtoull(f[19].c_str(), nullptr, 10);
  st.rss_pages = std::strtoll(f[21].c_str(), nullptr, 10);
  return st;
}

bool ProcessAliveSince(pid_t pid, uint64_t start_ticks) {
  std::optional<ProcStat> st = ReadProcStat(pid);
  return st.has_value() && st->state != 'Z' && st->state != 'X' && st->start_ticks == start_ticks;
}

ResourceUsage ProcessGroupUsage(pid_t pgid) { return ProcessGroupsUsage({pgid})[pgid]; }

std::map<pid_t, ResourceUsage> ProcessGroupsUsage(const std::set<pid_t>& groups) {
  std::map<pid_t, ResourceUsage> out;
  if (groups.empty()) return out;
  DIR* dir = opendir("/proc");
  if (dir == nullptr) return out;
  static const long kTicks = sysconf(_SC_CLK_TCK);
  static const long kPage = sysconf(_SC_PAGESIZE);
  while (dirent* e = readdir(dir)) {
    char* end = nullptr;
    long pid = std::strtol(e->d_name, &end, 10);
    if (end == e->d_name || *end != '\0' || pid <= 0) continue;
    std::optional<ProcStat> st = ReadProcStat(static_cast<pid_t>(pid));
    if (!st || groups.count(st->pgrp) == 0) continue;
    ResourceUsage& usage = out[st->pgrp];
    usage.cpu_seconds += static_cast<double>(st->utime_ticks + st->stime_ticks + st->cutime_ticks +
                                             st->cstime_ticks) /
                         static_cast<double>(kTicks);
    usage.memory_bytes += st->rss_pages * kPage;
  }
  closedir(dir);
  return out;
}

}  // namespace skiff::local
