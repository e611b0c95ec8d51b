// PythonZygote: a warm Python interpreter that has imported a component's modules once and forks
// a process per container from then on, so a lightweight Python task starts in milliseconds
// instead of paying for interpreter start-up and `import kfp` (hundreds of milliseconds) each time.
//
// Each forked container gets what skiff-shim gives one (spawn.h): a shim process leading a new
// session (its pid is the process group the backend signals), joined to the cgroup, stdin on
// /dev/null, stdout+stderr appended to the log, SIGTERM and friends ignored by the shim, and an
// exit record written before the shim exits. The command must be `python -m MODULE ARGS...`; it
// runs with runpy in the request's working directory and environment (sys.path[0] is the working
// directory, as with `python -m`). The shims are not the backend's children: it watches them as
// it watches re-adopted processes (pidfd, /proc).
//
//   ASSIGN_OR_RETURN(auto z, PythonZygote::Start(venv + "/bin/python", {"kfp.dsl.executor_main"},
//                                                {"PATH=...", "_KFP_RUNTIME=true"}, script, log));
//   RETURN_IF_ERROR(z->WaitReady(std::chrono::seconds(60)));   // the imports
//   ASSIGN_OR_RETURN(pid_t pgid, z->Fork(spawn_request, std::chrono::seconds(5)));
//
// Thread-compatible: the LocalBackend calls it under its mutex.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "backend/local/spawn.h"
#include "core/status.h"

namespace skiff::local {

class PythonZygote {
 public:
  // Writes the interpreter's script to `script_path` and starts `python` on it with `env`, to
  // import `modules`; its own errors go to `log_path`.
  static Result<std::unique_ptr<PythonZygote>> Start(const std::string& python,
                                                     const std::vector<std::string>& modules,
                                                     const std::vector<std::string>& env,
                                                     const std::string& script_path,
                                                     const std::string& log_path);
  ~PythonZygote();
  PythonZygote(const PythonZygote&) = delete;
  PythonZygote& operator=(const PythonZygote&) = delete;

  // Waits until the imports are done. Errors (an import failed, it died) name the log.
  Status WaitReady(std::chrono::milliseconds timeout);
  bool ready() const { return ready_; }
  // When it last forked (or started).
  std::chrono::steady_clock::time_point last_used() const { return last_used_; }
  // Starts one container as Spawn(request) would, from this interpreter: request.argv must be
  // {"python3", "-m", MODULE, ARGS...} (request.executable and shim_path are not used). Returns
  // its shim's pid (= its process group).
  Result<pid_t> Fork(const SpawnRequest& request, std::chrono::milliseconds timeout);
  // Ends the interpreter (not what it started). Idempotent.
  void Stop();

 private:
  PythonZygote() = default;

  pid_t pid_ = -1;
  int to_ = -1;    // its stdin
  int from_ = -1;  // its stdout
  bool ready_ = false;
  std::chrono::steady_clock::time_point last_used_ = std::chrono::steady_clock::now();
  std::string buffer_;  // read from its stdout, not yet a whole line
  std::string log_path_;
};

}  // namespace skiff::local
