// Journal: where the local backend keeps each workload on disk. Per workload (ids "ns/name" are
// encoded "ns%name"):
//
//   <state_dir>/<id>.json               its record (workload_record.h), replaced at each change
//   <state_dir>/<id>.d/                 its containers' default working directory
//   <state_dir>/<id>.<container>.exit   the exit record the shim writes (spawn.h)
//   <state_dir>/<id>.volumes/<name>/    its emptyDir volumes
//   <state_dir>/<id>.tmp/               its /tmp, when sandboxed
//   <log_dir>/<id>.<container>.log      its containers' output (kept after it is erased)
//
// Records are written without fsync: they must outlive the server process, which the page cache
// does; a power loss ends the workloads too, and a record that lost its last change then reads as
// a workload that ended without an exit record ("Lost") or was never started, which the
// controllers retry. An fsync per change put milliseconds to hundreds of milliseconds (under I/O
// load) between a task and its successor.
//
//   local::Journal journal(home + "/workloads", home + "/logs");
//   RETURN_IF_ERROR(journal.Write(record));
//   for (WorkloadRecord& rec : journal.Load()) { ... }
//
// Thread-safe (no state but the two folders).
#pragma once

#include <string>
#include <vector>

#include "backend/local/workload_record.h"
#include "core/status.h"

namespace skiff::local {

class Journal {
 public:
  Journal(std::string state_dir, std::string log_dir)
      : state_dir_(std::move(state_dir)), log_dir_(std::move(log_dir)) {}

  // Replaces the record of `rec`'s workload, atomically; readable by the server's user only (a
  // spec holds its environment, Secrets' values included).
  Status Write(const WorkloadRecord& rec) const;
  // Every record that reads back; one that does not is skipped with a warning.
  std::vector<WorkloadRecord> Load() const;
  // Removes the record, working directory, emptyDir volumes and exit records of `rec` (its logs
  // stay, as a deleted pod's do until the object that shows them is gone).
  void Erase(const WorkloadRecord& rec) const;

  std::string RecordPath(const std::string& id) const;
  std::string WorkloadDir(const std::string& id) const;
  std::string ExitPath(const std::string& id, const std::string& container) const;
  std::string VolumesDir(const std::string& id) const;
  std::string TmpDir(const std::string& id) const;
  std::string LogPath(const std::string& id, const std::string& container) const;

 private:
  const std::string state_dir_;
  const std::string log_dir_;
};

}  // namespace skiff::local
