// The sandbox a confined workload's containers run in on the local backend: Linux mount, PID,
// IPC and UTS namespaces (and a user namespace when the server is not root), entered by the
// process shim (shim_main.cc) between its fork and the container's exec.
//
// Inside, the container sees the machine's file system as its user may, except the hidden
// folders (SKIFF_HOME and the server's own home), which are empty: in them only what the plan
// binds back is there (its working directory, volumes and declared inputs and outputs, the
// Python environments read-only, the toolchains the server's PATH names). /tmp is a folder of
// its own, /dev/shm a fresh tmpfs, /proc shows its own processes only, so it cannot signal or
// trace any other process. When the server runs as root the container runs as the identity of
// its profile (ProfileUid), with no supplementary groups and no way to gain privileges
// (PR_SET_NO_NEW_PRIVS); otherwise as the server's user, in a user namespace that maps only it.
//
// Why this mechanism: namespaces are the kernel's own, need no daemon and no setuid helper,
// work for root and for an ordinary user where user namespaces are allowed (bubblewrap is built
// on the same calls, but as root it keeps the caller's identity outside, which reads every
// root-owned file), and cost two forks per container. Cgroups are read-only on the machines this
// runs on, so limits stay rlimits and accounting stays /proc (usage/).
//
//   SandboxPlan plan{.hide = {home}, .binds = {{workdir, workdir, false}}, .tmp = tmpdir};
//   std::string text = EncodeSandboxPlan(plan);   // one argument of the shim
//   ...in the shim's child: std::string error; if (!EnterSandbox(*DecodeSandboxPlan(text),
//   &error)) { report; _exit(127); }  ...then chdir, exec.
//
// Kept free of the rest of Skiff (the shim links it alone).
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

namespace skiff::local {

struct SandboxBind {
  std::string source;  // a path of the machine
  std::string target;  // where the container sees it (usually the same path)
  bool read_only = true;
};

struct SandboxPlan {
  // The identity the container runs as (the server is root); nullopt: the server's own, in a
  // user namespace of its own.
  std::optional<uid_t> uid;
  std::optional<gid_t> gid;
  std::vector<std::string> hide;   // folders seen empty (a tmpfs over each)
  std::vector<SandboxBind> binds;  // then bound back, outermost first
  std::string tmp;                 // a folder of the machine seen as /tmp ("" = a tmpfs)
};

// One line per entry, tab-separated fields. Paths holding a tab, a newline or a NUL cannot be
// encoded: nullopt (the caller refuses the workload).
std::optional<std::string> EncodeSandboxPlan(const SandboxPlan& plan);
// nullopt for text EncodeSandboxPlan did not write.
std::optional<SandboxPlan> DecodeSandboxPlan(const std::string& text);

// Enters `plan` from a single-threaded process that is about to exec: on success it returns
// true in a process inside every namespace, with the plan's identity (the caller then enters
// its working directory and execs). The processes in between wait for it and end as it ends
// (the same exit code or signal), so a caller that waits for this process's parent learns how
// the container ended. On failure returns false with `error` saying which step failed, and
// nothing was entered. Signals: SIGTERM, SIGINT, SIGHUP and SIGQUIT keep the disposition they
// had in the returning process and are ignored by the ones in between.
bool EnterSandbox(const SandboxPlan& plan, std::string* error);

// For a caller that forks the container itself from a large process, whose forks are costly
// (the warm Python interpreters: a fork of one with kfp imported takes 3.6 ms here, and
// EnterSandbox forks twice). PrepareSandbox sets the namespaces and mounts up in the calling
// process, which stays outside the new PID namespace, and starts its init (`init_program
// --sandbox-init`, that is skiff-shim: pid 1, which mounts /proc and reaps). The caller then
// forks the container (pid 2), which calls EnterPreparedSandbox first, and kills `*init`
// (SIGKILL) once the container ended. Only with the profile's identity (a server running as
// root: an init exec'd in a user namespace of its own would hold no capability to mount /proc).
bool PrepareSandbox(const SandboxPlan& plan, const std::string& init_program, pid_t* init,
                    std::string* error);
bool EnterPreparedSandbox(const SandboxPlan& plan, std::string* error);
// skiff-shim --sandbox-init: the init of a prepared sandbox (once told on fd 3 that the mounts
// are there, mounts /proc and says "1"). Never returns but on failure.
int RunSandboxInit();

}  // namespace skiff::local

// The same for callers in another language (the warm Python interpreters load
// libskiff-sandbox.so, built from this file alone, with ctypes): `plan` is EncodeSandboxPlan's
// text. Returns 0 inside, or -1 with a message in `error` (NUL-terminated, cut to error_size).
extern "C" int skiff_enter_sandbox(const char* plan, char* error, size_t error_size);
extern "C" int skiff_prepare_sandbox(const char* plan, const char* init_program, int* init_pid,
                                     char* error, size_t error_size);
extern "C" int skiff_enter_prepared_sandbox(const char* plan, char* error, size_t error_size);
