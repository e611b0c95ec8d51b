#include "backend/local/spawn.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace skiff::local {

namespace {

// Async-signal-safe helpers for the child side of fork().
void WriteAll(int fd, const char* data, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, data, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    data += n;
    len -= static_cast<size_t>(n);
  }
}

void WriteStr(int fd, const char* s) { WriteAll(fd, s, strlen(s)); }

// Formats a non-negative int into buf (at least 12 bytes); returns buf.
char* FormatInt(int value, char* buf) {
  char tmp[12];
  int n = 0;
  unsigned v = value < 0 ? 0u : static_cast<unsigned>(value);
  do {
    tmp[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v > 0 && n < 11);
  for (int i = 0; i < n; ++i) buf[i] = tmp[n - 1 - i];
  buf[n] = '\0';
  return buf;
}

void CloseFrom(int first) {
#ifdef SYS_close_range
  if (syscall(SYS_close_range, first, ~0U, 0) == 0) return;
#endif
  long max = sysconf(_SC_OPEN_MAX);
  if (max < 0 || max > 65536) max = 65536;
  for (int fd = first; fd < max; ++fd) close(fd);
}

const int kShimIgnored[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT};

[[noreturn]] void RunShim(const SpawnRequest& req, char* const* argv, char* const* envp,
                          const char* exit_tmp) {
  setsid();
  if (!req.cgroup_procs.empty()) {
    int fd = open(req.cgroup_procs.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
      WriteAll(fd, "0", 1);
      close(fd);
    }
  }
  int in = open("/dev/null", O_RDONLY);
  int out = open(req.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (in < 0 || out < 0) _exit(126);
  dup2(in, 0);
  dup2(out, 1);
  dup2(out, 2);
  CloseFrom(3);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  for (int sig : kShimIgnored) signal(sig, SIG_IGN);
  signal(SIGCHLD, SIG_DFL);

  pid_t child = fork();
  if (child == 0) {
    for (int sig : kShimIgnored) signal(sig, SIG_DFL);
    signal(SIGPIPE, SIG_DFL);
    if (chdir(req.working_dir.c_str()) != 0) {
      WriteStr(2, "skiff: cannot enter working directory ");
      WriteStr(2, req.working_dir.c_str());
      WriteStr(2, "\n");
      _exit(127);
    }
    if (req.address_space_limit > 0) {
      rlimit lim{static_cast<rlim_t>(req.address_space_limit),
                 static_cast<rlim_t>(req.address_space_limit)};
      setrlimit(RLIMIT_AS, &lim);
    }
    execve(req.executable.c_str(), argv, envp);
    char num[12];
    WriteStr(2, "skiff: cannot execute ");
    WriteStr(2, req.executable.c_str());
    WriteStr(2, ": errno ");
    WriteStr(2, FormatInt(errno, num));
    WriteStr(2, "\n");
    _exit(127);
  }
  int status = 0;
  const char* kind = "exit ";
  int value = 126;
  if (child > 0) {
    while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFSIGNALED(status)) {
      kind = "signal ";
      value = WTERMSIG(status);
    } else {
      value = WEXITSTATUS(status);
    }
  }
  int fd = open(exit_tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd >= 0) {
    char num[12];
    WriteStr(fd, kind);
    WriteStr(fd, FormatInt(value, num));
    WriteStr(fd, "\n");
    fsync(fd);
    close(fd);
    rename(exit_tmp, req.exit_file.c_str());
  }
  _exit(0);
}

}  // namespace

Result<pid_t> Spawn(const SpawnRequest& req) {
  if (req.argv.empty()) return InvalidArgument("spawn: empty argv");
  // Everything the child touches is built before fork: no allocation after it.
  std::vector<char*> argv;
  for (const std::string& a : req.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (const std::string& e : req.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  std::string exit_tmp = req.exit_file + ".tmp";
  unlink(req.exit_file.c_str());

  pid_t pid = fork();
  if (pid < 0) return Internal(std::string("fork failed: ") + strerror(errno));
  if (pid == 0) RunShim(req, argv.data(), envp.data(), exit_tmp.c_str());
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
