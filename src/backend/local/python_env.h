// PythonEnvCache: virtual environments for `python:*` images on the local backend, one per set of
// packages. The key is sha256 of the sorted package list and index URLs; the env lives in
// `<cache_dir>/<key>/`, created with `<python> -m venv --system-site-packages` (no pip when there
// are no packages) and then `pip install` of the packages with --index-url / --extra-index-url.
// A finished env carries a `.skiff-ready` marker; a half-made one (a crash mid-install) is
// removed and made again. Each key is made once: concurrent callers of Ensure() wait for the
// first, and an flock on `<key>.lock` does the same across processes. The output of venv and pip
// goes to `<cache_dir>/<key>.log`, whose tail is quoted in errors.
//
//   PythonEnvCache envs("/home/me/.skiff/envs", "/usr/bin/python3");
//   ASSIGN_OR_RETURN(std::string dir, envs.Ensure({"pandas==2.2.0"}, {}));
//   // PATH=dir/bin:..., VIRTUAL_ENV=dir
//
// Thread-safe. Cancel() makes running and later Ensure() calls fail fast (used on shutdown).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/thread_annotations.h"

namespace skiff::local {

class PythonEnvCache {
 public:
  // `shim_path`: the process shim pip runs under (spawn.h; "" = DefaultShimPath()).
  PythonEnvCache(std::string cache_dir, std::string python, std::string shim_path = "");

  // The key Ensure() uses for these inputs (order-insensitive).
  static std::string Key(std::vector<std::string> packages,
                         const std::vector<std::string>& index_urls);

  // Returns the env directory, making it first when needed. Blocks while it is made.
  Result<std::string> Ensure(const std::vector<std::string>& packages,
                             const std::vector<std::string>& index_urls);
  // The env directory when this cache has already seen it ready (no file system access, never
  // blocks), else nullopt: Ensure() is the way then.
  std::optional<std::string> ReadyDir(const std::vector<std::string>& packages,
                                      const std::vector<std::string>& index_urls);

  void Cancel();

 private:
  Status Create(const std::string& dir, const std::string& log,
                const std::vector<std::string>& packages,
                const std::vector<std::string>& index_urls);
  // Runs argv to completion with output appended to `log`; kUnavailable when cancelled.
  Status Run(const std::vector<std::string>& argv, const std::string& log);

  const std::string cache_dir_;
  const std::string python_;
  const std::string shim_path_;
  std::atomic<bool> cancelled_{false};
  Mutex mu_;
  CondVar cv_;
  std::set<std::string> in_progress_ GUARDED_BY(mu_);  // keys some thread is making now
  std::set<std::string> ready_ GUARDED_BY(mu_);        // keys Ensure() returned ok
};

}  // namespace skiff::local
