// skiff-shim: the small program the local backend starts for every container (see spawn.h).
//
//   skiff-shim EXIT_FILE CGROUP_PROCS AS_LIMIT SANDBOX WORKING_DIR EXECUTABLE ARGV0 [ARGS...]
//   skiff-shim --sandbox-init     (the init of a prepared sandbox: sandbox.h)
//
// It is started by posix_spawn as the leader of a new session, with stdin on /dev/null,
// stdout+stderr on the container's log, its signal mask empty and the environment of the command.
// It closes every other descriptor, joins CGROUP_PROCS's cgroup (unless it is ""), ignores
// SIGTERM/SIGINT/SIGHUP/SIGQUIT, forks the command (signals back to default, the SANDBOX entered
// unless it is "" (sandbox.h: an encoded plan), WORKING_DIR entered, RLIMIT_AS set to AS_LIMIT
// bytes unless 0), waits for it and records how it ended in EXIT_FILE
// ("exit N" or "signal N", written to EXIT_FILE.tmp, renamed; not fsynced, as the workload
// records: workload_record.h), so a supervisor that
// restarts after a crash still learns it. Exit codes of its own: 125 bad arguments.
//
// Kept free of the rest of Skiff but sandbox.h (and of allocation after fork when not sandboxed)
// so it starts in well under a millisecond.
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "backend/local/sandbox.h"

namespace {

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

const int kIgnored[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT};

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && std::strcmp(argv[1], "--sandbox-init") == 0) {
    return skiff::local::RunSandboxInit();
  }
  if (argc < 8) {
    WriteStr(2,
             "skiff-shim: usage: skiff-shim EXIT_FILE CGROUP_PROCS AS_LIMIT SANDBOX WORKING_DIR "
             "EXECUTABLE ARGV0 [ARGS...]\n");
    return 125;
  }
  const char* exit_file = argv[1];
  const char* cgroup_procs = argv[2];
  const long long as_limit = std::atoll(argv[3]);
  const char* sandbox = argv[4];
  const char* working_dir = argv[5];
  const char* executable = argv[6];
  char** command = argv + 7;

  CloseFrom(3);
  if (cgroup_procs[0] != '\0') {
    int fd = open(cgroup_procs, O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
      WriteAll(fd, "0", 1);
      close(fd);
    }
  }
  for (int sig : kIgnored) signal(sig, SIG_IGN);

  pid_t child = fork();
  if (child == 0) {
    for (int sig : kIgnored) signal(sig, SIG_DFL);
    if (sandbox[0] != '\0') {
      std::optional<skiff::local::SandboxPlan> plan = skiff::local::DecodeSandboxPlan(sandbox);
      std::string error = "sandbox: the plan cannot be read";
      if (!plan || !skiff::local::EnterSandbox(*plan, &error)) {
        WriteStr(2, "skiff: ");
        WriteStr(2, error.c_str());
        WriteStr(2, "\n");
        _exit(127);
      }
    }
    if (chdir(working_dir) != 0) {
      WriteStr(2, "skiff: cannot enter working directory ");
      WriteStr(2, working_dir);
      WriteStr(2, "\n");
      _exit(127);
    }
    if (as_limit > 0) {
      rlimit lim{static_cast<rlim_t>(as_limit), static_cast<rlim_t>(as_limit)};
      setrlimit(RLIMIT_AS, &lim);
    }
    execv(executable, command);
    char num[12];
    WriteStr(2, "skiff: cannot execute ");
    WriteStr(2, executable);
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
  size_t len = strlen(exit_file);
  char* tmp = static_cast<char*>(std::malloc(len + 5));
  if (tmp == nullptr) return 0;
  std::memcpy(tmp, exit_file, len);
  std::memcpy(tmp + len, ".tmp", 5);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd >= 0) {
    char num[12];
    WriteStr(fd, kind);
    WriteStr(fd, FormatInt(value, num));
    WriteStr(fd, "\n");
    close(fd);
    rename(tmp, exit_file);
  }
  std::free(tmp);
  return 0;
}
