#include "backend/local/spawn.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace skiff::local {

std::string DefaultShimPath() {
  std::error_code ec;
  std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return "skiff-shim";
  return (self.parent_path() / "skiff-shim").string();
}

std::string SandboxLibraryPath(const std::string& shim_path) {
  const std::string shim = shim_path.empty() ? DefaultShimPath() : shim_path;
  return (std::filesystem::path(shim).parent_path() / "libskiff-sandbox.so").string();
}

Status CheckShim(const std::string& shim_path) {
  if (access(shim_path.c_str(), X_OK) != 0) {
    return FailedPrecondition("the process shim " + shim_path +
                              " is missing or not executable (it is built with skiff, as the "
                              "skiff-shim target, and must lie beside the skiff binary)");
  }
  return Status::Ok();
}

Result<pid_t> Spawn(const SpawnRequest& req) {
  if (req.argv.empty()) return InvalidArgument("spawn: empty argv");
  const std::string shim = req.shim_path.empty() ? DefaultShimPath() : req.shim_path;
  std::vector<std::string> shim_args = {
      shim,        req.exit_file,   req.cgroup_procs, std::to_string(req.address_space_limit),
      req.sandbox, req.working_dir, req.executable};
  shim_args.insert(shim_args.end(), req.argv.begin(), req.argv.end());
  std::vector<char*> argv;
  for (const std::string& a : shim_args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (const std::string& e : req.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  unlink(req.exit_file.c_str());

  // posix_spawn uses clone(CLONE_VM | CLONE_VFORK): no copy of this (large) process's page
  // tables per container, which fork() would make.
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_init(&attr);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, req.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                   0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid = -1;
  int err = posix_spawn(&pid, shim.c_str(), &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (err != 0) {
    return Internal("cannot start " + req.executable + " through the shim " + shim + " (log " +
                    req.log_path + "): " + strerror(err));
  }
  return pid;
}

std::optional<ExitRecord> ReadExitFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::string kind;
  int value = -1;
  if (!(in >> kind >> value) || value < 0) return std::nullopt;
  ExitRecord rec;
  if (kind == "exit") {
    rec.exit_code = value;
  } else if (kind == "signal") {
    rec.signal = value;
    rec.exit_code = 128 + value;
  } else {
    return std::nullopt;
  }
  return rec;
}

Result<std::string> ResolveExecutable(const std::string& name, const std::string& path,
                                      const std::string& working_dir) {
  if (name.empty()) return InvalidArgument("empty command");
  if (name.find('/') != std::string::npos) {
    std::string full = name[0] == '/' ? name : working_dir + "/" + name;
    if (access(full.c_str(), X_OK) != 0) {
      return InvalidArgument("command " + name + " is not an executable file (" + full + ")");
    }
    return full;
  }
  std::stringstream dirs(path);
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (dir.empty()) dir = ".";
    // Built by appending: GCC 12 at -O2 warns falsely (-Wrestrict, bug 105329) on the one-liner.
    std::string full = dir[0] == '/' ? dir : working_dir + "/" + dir;
    full += '/';
    full += name;
    struct stat st;
    if (stat(full.c_str(), &st) == 0 && S_ISREG(st.st_mode) && access(full.c_str(), X_OK) == 0) {
      return full;
    }
  }
  return InvalidArgument("command " + name + " not found in PATH=" + path);
}

}  // namespace skiff::local
