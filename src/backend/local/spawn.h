// Starting one container process on this machine, through a shim whose exit record outlives the
// server. Spawn() starts the shim program (skiff-shim, shim_main.cc) with posix_spawn, so the
// server's page tables are never copied: the shim leads a new session (its pid is the group id),
// has stdin on /dev/null and stdout+stderr on the log file (append), joins a cgroup when asked,
// closes every other descriptor, ignores SIGTERM/SIGINT/SIGHUP, and forks the real command
// (signals reset, working directory set, RLIMIT_AS applied). The shim waits for the command and
// writes "exit N" or "signal N" to `exit_file` (tmp + rename), so a supervisor that restarts
// after a crash still learns how the command ended. SIGTERM to the group therefore reaches the
// command and lets the shim record it; SIGKILL to the group ends both (no exit file).
//
//   SpawnRequest req{.executable = "/bin/sh", .argv = {"sh", "-c", "echo hi"}, ...};
//   ASSIGN_OR_RETURN(pid_t pgid, Spawn(req));
//   ... waitpid(pgid, ...) ...
//   std::optional<int> code = ReadExitFile(req.exit_file);  // 0, or 128+N for signal N
//
// Thread-safe.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"

namespace skiff::local {

struct SpawnRequest {
  std::string executable;           // absolute path
  std::vector<std::string> argv;    // argv[0] included
  std::vector<std::string> env;     // "NAME=value"
  std::string working_dir;          // must exist
  std::string log_path;             // created if missing, appended to
  std::string exit_file;            // written by the shim when the command ends
  int64_t address_space_limit = 0;  // RLIMIT_AS for the command; 0 = none
  std::string cgroup_procs;         // "<cgroup>/cgroup.procs" to join before forking; "" = none
  std::string sandbox;              // an encoded SandboxPlan (sandbox.h); "" = none
  std::string shim_path;            // "" = DefaultShimPath()
};

// skiff-shim beside the running executable.
std::string DefaultShimPath();
// libskiff-sandbox.so beside the shim (sandbox.h's entry for the warm Python interpreters).
std::string SandboxLibraryPath(const std::string& shim_path);
// FailedPrecondition naming the path when the shim is not an executable file.
Status CheckShim(const std::string& shim_path);

// Starts the shim; returns its pid, which is also the process group id. The caller reaps it.
// Errors (no shim, log file not writable) name the command, the shim and the log.
Result<pid_t> Spawn(const SpawnRequest& request);

struct ExitRecord {
  int exit_code = 0;  // the exit status, or 128+N when killed by signal N
  int signal = 0;     // N when killed by a signal, else 0
};

// Reads the record the shim wrote; nullopt when it is absent or malformed.
std::optional<ExitRecord> ReadExitFile(const std::string& path);

// Finds `name` like execvp would: as given when it holds a '/', else along `path` (a PATH value).
// Relative names with a '/' are resolved against `working_dir`. Errors say what was searched.
Result<std::string> ResolveExecutable(const std::string& name, const std::string& path,
                                      const std::string& working_dir);

}  // namespace skiff::local
