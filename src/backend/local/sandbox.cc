#include "backend/local/sandbox.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/openat2.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <sstream>

namespace skiff::local {
namespace {

bool Encodable(const std::string& path) {
  return !path.empty() && path[0] == '/' &&
         path.find_first_of(std::string("\t\n\0", 3)) == std::string::npos;
}

const int kForwarded[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT};

bool WriteWhole(const std::string& path, const std::string& text) {
  int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  close(fd);
  return ok;
}

// mkdir -p of `path` (a folder) or of its parent and an empty file (not a folder).
bool MakeMountPoint(const std::string& path, bool folder) {
  for (size_t slash = path.find('/', 1); slash != std::string::npos;
       slash = path.find('/', slash + 1)) {
    if (mkdir(path.substr(0, slash).c_str(), 0755) != 0 && errno != EEXIST) return false;
  }
  if (folder) return mkdir(path.c_str(), 0755) == 0 || errno == EEXIST;
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return errno == EISDIR;
  close(fd);
  return true;
}

// The flags a read-only remount of `path` must keep (a user namespace may not clear them).
unsigned long KeptMountFlags(const std::string& path) {
  struct statvfs sv {};
  if (statvfs(path.c_str(), &sv) != 0) return 0;
  unsigned long flags = 0;
  if (sv.f_flag & ST_NOSUID) flags |= MS_NOSUID;
  if (sv.f_flag & ST_NODEV) flags |= MS_NODEV;
  if (sv.f_flag & ST_NOEXEC) flags |= MS_NOEXEC;
  if (sv.f_flag & ST_NOATIME) flags |= MS_NOATIME;
  if (sv.f_flag & ST_NODIRATIME) flags |= MS_NODIRATIME;
  if (sv.f_flag & ST_RELATIME) flags |= MS_RELATIME;
  return flags;
}

// Ends this process as `status` (from waitpid) says the container ended.
[[noreturn]] void EndLike(int status) {
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    signal(sig, SIG_DFL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    sigprocmask(SIG_UNBLOCK, &set, nullptr);
    raise(sig);
    _exit(128 + sig);
  }
  _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 127);
}

[[noreturn]] void Die(const char* what) {
  std::string line = std::string("skiff: sandbox: ") + what + ": " + strerror(errno) + "\n";
  ssize_t n = write(2, line.data(), line.size());
  (void)n;
  _exit(127);
}

}  // namespace

std::optional<std::string> EncodeSandboxPlan(const SandboxPlan& plan) {
  std::string out;
  if (plan.uid) out += "uid\t" + std::to_string(*plan.uid) + "\n";
  if (plan.gid) out += "gid\t" + std::to_string(*plan.gid) + "\n";
  for (const std::string& h : plan.hide) {
    if (!Encodable(h)) return std::nullopt;
    out += "hide\t" + h + "\n";
  }
  for (const SandboxBind& b : plan.binds) {
    if (!Encodable(b.source) || !Encodable(b.target)) return std::nullopt;
    out += std::string(b.read_only ? "ro" : "rw") + "\t" + b.source + "\t" + b.target + "\n";
  }
  if (!plan.tmp.empty()) {
    if (!Encodable(plan.tmp)) return std::nullopt;
    out += "tmp\t" + plan.tmp + "\n";
  }
  return out;
}

std::optional<SandboxPlan> DecodeSandboxPlan(const std::string& text) {
  SandboxPlan plan;
  std::istringstream lines(text);
  std::string line;
  auto number = [](const std::string& s) -> std::optional<uint32_t> {
    if (s.empty() || s.size() > 10 || s.find_first_not_of("0123456789") != std::string::npos) {
      return std::nullopt;
    }
    const unsigned long long v = std::stoull(s);
    if (v >= 0xffffffffULL) return std::nullopt;  // (uid_t)-1 means "unchanged" to the kernel
    return static_cast<uint32_t>(v);
  };
  while (std::getline(lines, line)) {
    std::vector<std::string> f;
    std::istringstream fields(line);
    for (std::string field; std::getline(fields, field, '\t');) f.push_back(field);
    if (f.size() == 2 && (f[0] == "uid" || f[0] == "gid")) {
      std::optional<uint32_t> id = number(f[1]);
      if (!id) return std::nullopt;
      if (f[0] == "uid") plan.uid = *id;
      if (f[0] == "gid") plan.gid = *id;
    } else if (f.size() == 2 && f[0] == "hide" && Encodable(f[1])) {
      plan.hide.push_back(f[1]);
    } else if (f.size() == 3 && (f[0] == "ro" || f[0] == "rw") && Encodable(f[1]) &&
               Encodable(f[2])) {
      plan.binds.push_back({f[1], f[2], f[0] == "ro"});
    } else if (f.size() == 2 && f[0] == "tmp" && Encodable(f[1])) {
      plan.tmp = f[1];
    } else {
      return std::nullopt;
    }
  }
  if (plan.uid.has_value() != plan.gid.has_value()) return std::nullopt;
  return plan;
}

// Unshares the namespaces (the first child this process makes then is pid 1 of the new one).
bool Unshare(const SandboxPlan& plan, std::string* error) {
  auto fail = [&](const std::string& step) {
    *error = "sandbox: " + step + ": " + strerror(errno);
    return false;
  };
  const uid_t outer_uid = getuid();
  const gid_t outer_gid = getgid();
  int flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS;
  if (!plan.uid) flags |= CLONE_NEWUSER;
  if (unshare(flags) != 0) {
    return fail(plan.uid ? "unshare (mount, pid, ipc, uts)"
                         : "unshare (user, mount, pid, ipc, uts; are user namespaces allowed?)");
  }
  if (!plan.uid) {
    const std::string u = std::to_string(outer_uid), g = std::to_string(outer_gid);
    if (!WriteWhole("/proc/self/setgroups", "deny") ||
        !WriteWhole("/proc/self/uid_map", u + " " + u + " 1") ||
        !WriteWhole("/proc/self/gid_map", g + " " + g + " 1")) {
      return fail("mapping the user namespace");
    }
  }
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    return fail("making the mounts private");
  }
  return true;
}

// Sets the container's view up in this process's new mount namespace.
bool MountView(const SandboxPlan& plan, std::string* error) {
  auto fail = [&](const std::string& step) {
    *error = "sandbox: " + step + ": " + strerror(errno);
    return false;
  };
  // The sources, opened in the new mount namespace while its view is still the machine's (a
  // hidden folder may hold them); bound from these descriptors once hidden.
  std::vector<int> fds;
  struct Closer {
    std::vector<int>* fds;
    ~Closer() {
      for (int fd : *fds) close(fd);
    }
  } closer{&fds};
  for (const SandboxBind& b : plan.binds) {
    // A source is where its links led when planned: one that is a link now was swapped in.
    open_how how{};
    how.flags = O_PATH | O_CLOEXEC;
    how.resolve = RESOLVE_NO_SYMLINKS;
    int fd = static_cast<int>(syscall(SYS_openat2, AT_FDCWD, b.source.c_str(), &how, sizeof how));
    if (fd < 0 && errno == ENOSYS) fd = open(b.source.c_str(), O_PATH | O_CLOEXEC);
    if (fd < 0) return fail("cannot open " + b.source);
    fds.push_back(fd);
  }
  int tmp_fd = -1;
  if (!plan.tmp.empty()) {
    tmp_fd = open(plan.tmp.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (tmp_fd < 0) return fail("cannot open " + plan.tmp);
    fds.push_back(tmp_fd);
  }
  // /tmp first: a hidden folder or a bind under /tmp then lies in the container's own /tmp.
  if (tmp_fd >= 0) {
    const std::string from = "/proc/self/fd/" + std::to_string(tmp_fd);
    if (mount(from.c_str(), "/tmp", nullptr, MS_BIND | MS_REC, nullptr) != 0) {
      return fail("binding " + plan.tmp + " at /tmp");
    }
  } else if (mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") != 0) {
    return fail("a tmpfs at /tmp");
  }
  for (const std::string& h : plan.hide) {
    struct stat st {};
    if (stat(h.c_str(), &st) != 0) continue;  // under /tmp: hidden already
    if (mount("tmpfs", h.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=16m") != 0) {
      return fail("hiding " + h);
    }
  }
  for (size_t i = 0; i < plan.binds.size(); ++i) {
    const SandboxBind& b = plan.binds[i];
    struct stat st {};
    if (fstat(fds[i], &st) != 0) return fail("stat " + b.source);
    if (!MakeMountPoint(b.target, S_ISDIR(st.st_mode))) return fail("making " + b.target);
    const std::string from = "/proc/self/fd/" + std::to_string(fds[i]);
    if (mount(from.c_str(), b.target.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0) {
      return fail("binding " + b.source + " at " + b.target);
    }
    if (b.read_only &&
        mount(nullptr, b.target.c_str(), nullptr,
              MS_REMOUNT | MS_BIND | MS_RDONLY | KeptMountFlags(b.target), nullptr) != 0) {
      return fail("making " + b.target + " read-only");
    }
  }
  struct stat shm {};
  if (stat("/dev/shm", &shm) == 0 && S_ISDIR(shm.st_mode) &&
      mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") != 0) {
    return fail("a tmpfs at /dev/shm");
  }
  return true;
}

// Unshare, then MountView: the steps before any fork.
bool SetUp(const SandboxPlan& plan, std::string* error) {
  return Unshare(plan, error) && MountView(plan, error);
}

// In the container's own process: its identity (the plan's, when the server is root), no
// capability left, exec or not (in a user namespace of its own it would otherwise hold them all
// there, enough to unmount what hides SKIFF_HOME), no way to gain privileges.
bool DropPrivileges(const SandboxPlan& plan, std::string* error) {
  auto fail = [&](const std::string& step) {
    *error = "sandbox: " + step + ": " + strerror(errno);
    return false;
  };
  // The bounding set first, while that is still allowed.
  for (int cap = 0; cap <= 63; ++cap) {
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL)
      return fail("dropping capabilities");
  }
  prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  if (plan.uid) {
    if (setgroups(0, nullptr) != 0) return fail("dropping supplementary groups");
    if (setresgid(*plan.gid, *plan.gid, *plan.gid) != 0) return fail("setting the group");
    if (setresuid(*plan.uid, *plan.uid, *plan.uid) != 0) return fail("setting the user");
  }
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return fail("no_new_privs");
  struct {
    uint32_t version;
    int pid;
  } header{0x20080522 /* _LINUX_CAPABILITY_VERSION_3 */, 0};
  struct {
    uint32_t effective, permitted, inheritable;
  } none[2] = {};
  if (syscall(SYS_capset, &header, none) != 0) return fail("clearing capabilities");
  return true;
}

bool EnterSandbox(const SandboxPlan& plan, std::string* error) {
  auto fail = [&](const std::string& step) {
    *error = "sandbox: " + step + ": " + strerror(errno);
    return false;
  };
  if (!SetUp(plan, error)) return false;

  // What the four signals did on entry: the container gets it back; the processes in between
  // ignore them (a SIGTERM to the group is the container's to handle).
  struct sigaction entry[4];
  for (int i = 0; i < 4; ++i) sigaction(kForwarded[i], nullptr, &entry[i]);
  int status_pipe[2];
  if (pipe2(status_pipe, O_CLOEXEC) != 0) return fail("pipe");
  pid_t init = fork();
  if (init < 0) {
    close(status_pipe[0]);
    close(status_pipe[1]);
    return fail("fork");
  }
  if (init > 0) {
    // The outer process: waits for the namespace's init and ends as the container ended.
    for (int sig : kForwarded) signal(sig, SIG_IGN);
    close(status_pipe[1]);
    int init_status = 0;
    while (waitpid(init, &init_status, 0) < 0 && errno == EINTR) {
    }
    int container_status = 0;
    if (read(status_pipe[0], &container_status, sizeof container_status) ==
        static_cast<ssize_t>(sizeof container_status)) {
      EndLike(container_status);
    }
    EndLike(init_status);
  }
  // Pid 1 of the new PID namespace: its /proc, then the container as pid 2 (pid 1 would ignore
  // SIGTERM), reaping whatever else ends; when the container ends, so does everything in it.
  close(status_pipe[0]);
  prctl(PR_SET_PDEATHSIG, SIGKILL);  // (its parent is outside: getppid() reads 0 here)
  for (int sig : kForwarded) signal(sig, SIG_IGN);
  if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0) {
    Die("mounting /proc");
  }
  pid_t container = fork();
  if (container < 0) Die("fork");
  if (container > 0) {
    while (true) {
      int status = 0;
      pid_t ended = waitpid(-1, &status, 0);
      if (ended < 0 && errno == EINTR) continue;
      if (ended < 0) _exit(127);
      if (ended == container) {
        ssize_t n = write(status_pipe[1], &status, sizeof status);
        (void)n;
        _exit(0);
      }
    }
  }
  close(status_pipe[1]);
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  std::string dropped;
  if (!DropPrivileges(plan, &dropped)) {
    std::string line = "skiff: " + dropped + "\n";
    ssize_t n = write(2, line.data(), line.size());
    (void)n;
    _exit(127);
  }
  for (int i = 0; i < 4; ++i) sigaction(kForwarded[i], &entry[i], nullptr);
  return true;
}

bool PrepareSandbox(const SandboxPlan& plan, const std::string& init_program, pid_t* init,
                    std::string* error) {
  auto fail = [&](const std::string& step) {
    *error = "sandbox: " + step + ": " + strerror(errno);
    return false;
  };
  if (!plan.uid) {
    errno = EINVAL;
    return fail("a prepared sandbox needs the profile's identity (a server running as root)");
  }
  if (!Unshare(plan, error)) return false;
  // The init starts before the mounts (its program may lie in a folder they hide, a checkout
  // in /tmp) and mounts /proc after them (this process binds from /proc/self/fd, which the new
  // /proc would not show it): it waits for a byte on fd 3, then answers "1" once /proc is there.
  int ready[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ready) != 0) return fail("socketpair");
  // posix_spawn shares this (large) process's memory until the exec: no copy of its page
  // tables, which a fork would make. Its child is the first of the new PID namespace: pid 1.
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, ready[1], 3);
  const char* argv[] = {init_program.c_str(), "--sandbox-init", nullptr};
  char* const envp[] = {nullptr};
  pid_t pid = -1;
  int err = posix_spawn(&pid, init_program.c_str(), &actions, nullptr,
                        const_cast<char* const*>(argv), envp);
  posix_spawn_file_actions_destroy(&actions);
  close(ready[1]);
  if (err != 0) {
    close(ready[0]);
    errno = err;
    return fail("starting " + init_program);
  }
  if (!MountView(plan, error)) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    close(ready[0]);
    return false;
  }
  if (write(ready[0], "g", 1) != 1) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    close(ready[0]);
    return fail("starting the namespace's init");
  }
  char answer = 0;
  ssize_t n = 0;
  while ((n = read(ready[0], &answer, 1)) < 0 && errno == EINTR) {
  }
  close(ready[0]);
  if (n != 1 || answer != '1') {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    errno = ECHILD;
    return fail("the namespace's init did not mount /proc");
  }
  *init = pid;
  return true;
}

bool EnterPreparedSandbox(const SandboxPlan& plan, std::string* error) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  return DropPrivileges(plan, error);
}

int RunSandboxInit() {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  for (int sig : kForwarded) signal(sig, SIG_IGN);
  char go = 0;
  while (read(3, &go, 1) < 0 && errno == EINTR) {
  }
  const bool mounted =
      mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) == 0;
  ssize_t n = write(3, mounted ? "1" : "0", 1);
  (void)n;
  close(3);
  if (!mounted) return 127;
  while (true) {  // reaps whatever the container leaves; killed when it ends
    if (waitpid(-1, nullptr, 0) < 0 && errno == ECHILD) pause();
  }
}

}  // namespace skiff::local

namespace {

// A C entry's refusal: `message` into the caller's buffer (NUL-terminated, cut to fit), -1.
int Refused(const std::string& message, char* error, size_t error_size) {
  if (error != nullptr && error_size > 0) {
    const size_t n = std::min(message.size(), error_size - 1);
    std::memcpy(error, message.data(), n);
    error[n] = '\0';
  }
  return -1;
}

}  // namespace

extern "C" int skiff_prepare_sandbox(const char* plan, const char* init_program, int* init_pid,
                                     char* error, size_t error_size) {
  std::string message = "sandbox: the plan cannot be read";
  std::optional<skiff::local::SandboxPlan> decoded =
      plan != nullptr ? skiff::local::DecodeSandboxPlan(plan) : std::nullopt;
  pid_t pid = -1;
  if (decoded && init_program != nullptr &&
      skiff::local::PrepareSandbox(*decoded, init_program, &pid, &message)) {
    if (init_pid != nullptr) *init_pid = pid;
    return 0;
  }
  return Refused(message, error, error_size);
}

extern "C" int skiff_enter_prepared_sandbox(const char* plan, char* error, size_t error_size) {
  std::string message = "sandbox: the plan cannot be read";
  std::optional<skiff::local::SandboxPlan> decoded =
      plan != nullptr ? skiff::local::DecodeSandboxPlan(plan) : std::nullopt;
  if (decoded && skiff::local::EnterPreparedSandbox(*decoded, &message)) return 0;
  return Refused(message, error, error_size);
}

extern "C" int skiff_enter_sandbox(const char* plan, char* error, size_t error_size) {
  std::string message = "sandbox: the plan cannot be read";
  std::optional<skiff::local::SandboxPlan> decoded =
      plan != nullptr ? skiff::local::DecodeSandboxPlan(plan) : std::nullopt;
  if (decoded && skiff::local::EnterSandbox(*decoded, &message)) return 0;
  return Refused(message, error, error_size);
}
