// WarmPool: the warm Python interpreters (python_zygote.h) of a local backend, one per
// environment and set of preloaded modules, at most kMaxInterpreters (the least recently used
// makes room). A container that names python_preload modules and runs `python3 -m MODULE ...`
// is forked from its interpreter when one is ready; when there is none, or it fails, the caller
// starts it afresh.
//
// The pool remembers what it made warm in <env_cache_dir>/warm-python.json (at most
// kMaxRemembered, most recent first), so that the next backend on the same environment cache
// warms them at its start, overlapping their imports with the caller's start-up.
//
//   local::WarmPool pool(env_cache_dir);
//   pool.Ensure({{venv, container}}, /*remember=*/true);          // blocks for the imports
//   std::optional<pid_t> pid = pool.Fork(venv, container, request, workload_id);
//
// Thread-safe (one mutex; Ensure starts interpreters without holding it).
#pragma once

#include <sys/types.h>

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "backend/backend.h"
#include "backend/local/python_zygote.h"
#include "backend/local/spawn.h"
#include "core/resource.h"
#include "core/thread_annotations.h"

namespace skiff::local {

class WarmPool {
 public:
  static constexpr size_t kMaxInterpreters = 4;
  static constexpr size_t kMaxRemembered = 2;

  using Wanted = std::vector<std::pair<std::string, ContainerSpec>>;  // (venv, container)

  explicit WarmPool(std::string env_cache_dir) : env_cache_dir_(std::move(env_cache_dir)) {}

  // True when `argv` (command + args of `c`) may be forked from a warm interpreter.
  static bool Eligible(const ContainerSpec& c, const std::vector<std::string>& argv);

  // True when nothing is left to wait for before `c` starts in `venv`: its interpreter is
  // there, or could not be made (it then starts afresh).
  bool Settled(const std::string& venv, const ContainerSpec& c) const EXCLUDES(mu_);

  // Starts the interpreters these pairs need and do not have yet, and waits for their imports.
  // `remember`: record them in warm-python.json (not when warming from that list).
  void Ensure(const Wanted& wanted, bool remember) EXCLUDES(mu_);

  // What warm-python.json names that is still in the cache: what to Ensure at a start.
  Wanted Remembered() EXCLUDES(mu_);

  // Starts `request` from the interpreter of (venv, c) when one is ready and forks it; nullopt
  // when there is none or it failed (a failed one is dropped, and the caller starts afresh).
  std::optional<pid_t> Fork(const std::string& venv, const ContainerSpec& c,
                            const SpawnRequest& request, const std::string& workload_id)
      EXCLUDES(mu_);

  // Ends every interpreter (not what they started); later Ensure calls make none.
  void Stop() EXCLUDES(mu_);

 private:
  static std::string Key(const std::string& venv, const ContainerSpec& c);
  std::string ListPath() const { return env_cache_dir_ + "/warm-python.json"; }
  void RememberLocked(const std::string& venv, const ContainerSpec& c) REQUIRES(mu_);

  const std::string env_cache_dir_;
  mutable Mutex mu_;
  bool stopped_ GUARDED_BY(mu_) = false;
  // Interpreters by Key, and the keys whose interpreter could not be started.
  std::map<std::string, std::unique_ptr<PythonZygote>> zygotes_ GUARDED_BY(mu_);
  std::set<std::string> failures_ GUARDED_BY(mu_);
  Json list_ GUARDED_BY(mu_) = Json::array();  // warm-python.json as last read or written
};

}  // namespace skiff::local
