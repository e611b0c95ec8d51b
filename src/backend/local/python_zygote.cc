#include "backend/local/python_zygote.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>

#include "core/resource.h"

namespace skiff::local {

namespace {

// The warm interpreter. It imports the preload modules, says "ready", then serves one JSON request
// per line on stdin with one JSON reply per line on stdout. For each request it forks a shim
// (new session, cgroup, log as stdout+stderr, other descriptors closed, SIGTERM and friends
// ignored) that forks the command, `python -m MODULE ARGS` run with runpy in the request's
// working directory, environment and address-space limit, waits for it and writes the exit record
// ("exit N" / "signal N", tmp + rename) before it exits, exactly like skiff-shim. The
// reply is {"pid": shim pid} (also its process group) or {"error": "..."}. A request with a
// "sandbox" plan enters it (sandbox.h, through libskiff-sandbox.so) before the command runs.
// SIGCHLD is ignored so the shims are reaped by the kernel. It exits at the end of stdin.
constexpr char kZygoteScript[] = R"PY(
import json, os, signal, sys, traceback, importlib

TERMS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT)

LIBS = {}  # the sandbox library, loaded once by the interpreter (its forks inherit it)

def sandbox_lib(path):
    if path not in LIBS:
        import ctypes
        LIBS[path] = ctypes.CDLL(path)
    return LIBS[path]

def sandbox_call(req, name, *args):
    # 0, or the error after writing it to the log.
    import ctypes
    error = ctypes.create_string_buffer(512)
    rc = getattr(sandbox_lib(req["sandbox_lib"]), name)(
        req["sandbox"].encode(), *args, error, ctypes.c_size_t(len(error)))
    if rc != 0:
        sys.stderr.write("skiff: %s\n" % error.value.decode(errors="replace"))
        sys.stderr.flush()
    return rc

def write_exit(dir_fd, name, kind, value):
    # Through the folder opened before the sandbox hid it.
    tmp = name + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644, dir_fd=dir_fd)
    os.write(fd, ("%s %d\n" % (kind, value)).encode())
    os.close(fd)
    os.rename(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)

def run_command(req):
    for sig in TERMS:
        signal.signal(sig, signal.SIG_DFL)
    if req.get("sandbox"):
        # The container's sandbox (sandbox.h): prepared by the shim (then only the identity is
        # left to take), or entered here as skiff-shim enters it (forking twice).
        entry = "skiff_enter_prepared_sandbox" if req.get("prepared") else "skiff_enter_sandbox"
        if sandbox_call(req, entry) != 0:
            os._exit(127)
    os.chdir(req["cwd"])
    limit = int(req.get("as_limit", 0))
    if limit > 0:
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    os.environ.clear()
    os.environ.update(req["env"])
    argv = req["argv"]
    module = argv[2]
    sys.argv = [argv[0]] + argv[3:]
    sys.path[0] = os.getcwd()
    # Run as __main__ afresh (its imports stay warm); runpy warns when the module itself is loaded.
    sys.modules.pop(module, None)
    code = 0
    try:
        import runpy
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except SystemExit as e:
        if e.code is None:
            code = 0
        elif isinstance(e.code, int):
            code = e.code
        else:
            print(e.code, file=sys.stderr)
            code = 1
    except BaseException:
        traceback.print_exc()
        code = 1
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(code & 0xFF)

def shim(req):
    os.setsid()
    if req.get("cgroup_procs"):
        try:
            with open(req["cgroup_procs"], "w") as f:
                f.write("0")
        except OSError:
            pass
    null = os.open("/dev/null", os.O_RDONLY)
    log = os.open(req["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(null, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.closerange(3, 65536)
    exit_dir = os.open(os.path.dirname(req["exit_file"]) or ".", os.O_RDONLY | os.O_DIRECTORY)
    exit_name = os.path.basename(req["exit_file"])
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    for sig in TERMS:
        signal.signal(sig, signal.SIG_IGN)
    init = 0
    if req.get("sandbox") and os.geteuid() == 0:
        # Prepared here, so the command is forked once (a fork of this process costs ms).
        import ctypes
        pid = ctypes.c_int(0)
        if sandbox_call(req, "skiff_prepare_sandbox", req["sandbox_init"].encode(),
                        ctypes.byref(pid)) != 0:
            write_exit(exit_dir, exit_name, "exit", 127)
            os._exit(0)
        init = pid.value
        req["prepared"] = True
    try:
        child = os.fork()
    except OSError:
        write_exit(exit_dir, exit_name, "exit", 126)
        os._exit(0)
    if child == 0:
        run_command(req)
    while True:
        try:
            _, status = os.waitpid(child, 0)
            break
        except InterruptedError:
            continue
    if init:
        os.kill(init, signal.SIGKILL)  # the sandbox's pid 1: everything left in it ends
        os.waitpid(init, 0)
    if os.WIFSIGNALED(status):
        write_exit(exit_dir, exit_name, "signal", os.WTERMSIG(status))
    else:
        write_exit(exit_dir, exit_name, "exit", os.WEXITSTATUS(status))
    os._exit(0)

def main():
    import ctypes  # for the sandbox: imported once here, not in every task
    import resource  # (run_command's, likewise)
    for module in sys.argv[1:]:
        importlib.import_module(module)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    out = sys.stdout
    out.write("ready\n")
    out.flush()
    for line in sys.stdin:
        try:
            req = json.loads(line)
            if req.get("sandbox"):
                sandbox_lib(req["sandbox_lib"])
            try:
                os.unlink(req["exit_file"])
            except FileNotFoundError:
                pass
            pid = os.fork()
        except Exception as e:
            out.write(json.dumps({"error": str(e)}) + "\n")
            out.flush()
            continue
        if pid == 0:
            try:
                shim(req)
            finally:
                os._exit(126)
        out.write(json.dumps({"pid": pid}) + "\n")
        out.flush()

main()
)PY";

// Reads one line from `fd` into `line` (without the newline), waiting at most `timeout`.
Status ReadLine(int fd, std::string& buffer, std::string* line, std::chrono::milliseconds timeout,
                const std::string& what) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    size_t nl = buffer.find('\n');
    if (nl != std::string::npos) {
      *line = buffer.substr(0, nl);
      buffer.erase(0, nl + 1);
      return Status::Ok();
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return DeadlineExceeded(what + ": no answer in time");
    pollfd p{fd, POLLIN, 0};
    int n = poll(&p, 1, static_cast<int>(left.count()));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) continue;
    char chunk[4096];
    ssize_t got = read(fd, chunk, sizeof chunk);
    if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (got <= 0) return Unavailable(what + ": the warm python process ended");
    buffer.append(chunk, static_cast<size_t>(got));
  }
}

}  // namespace

PythonZygote::~PythonZygote() { Stop(); }

Result<std::unique_ptr<PythonZygote>> PythonZygote::Start(const std::string& python,
                                                          const std::vector<std::string>& modules,
                                                          const std::vector<std::string>& env,
                                                          const std::string& script_path,
                                                          const std::string& log_path) {
  {
    std::ofstream out(script_path + ".tmp");
    out << kZygoteScript;
    if (!out) return Internal("cannot write " + script_path + ".tmp");
  }
  if (rename((script_path + ".tmp").c_str(), script_path.c_str()) != 0) {
    return Internal("cannot write " + script_path + ": " + strerror(errno));
  }
  int in[2], out[2];
  if (pipe2(in, O_CLOEXEC) != 0) return Internal(std::string("pipe: ") + strerror(errno));
  if (pipe2(out, O_CLOEXEC) != 0) {
    close(in[0]);
    close(in[1]);
    return Internal(std::string("pipe: ") + strerror(errno));
  }
  std::vector<std::string> args = {python, script_path};
  args.insert(args.end(), modules.begin(), modules.end());
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_copy = env;
  std::vector<char*> envp;
  for (std::string& e : env_copy) envp.push_back(e.data());
  envp.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_init(&attr);
  posix_spawn_file_actions_adddup2(&actions, in[0], 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_addopen(&actions, 2, log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                   0644);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid = -1;
  int err = posix_spawn(&pid, python.c_str(), &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  close(in[0]);
  close(out[1]);
  if (err != 0) {
    close(in[1]);
    close(out[0]);
    return Internal("cannot start the warm python process " + python + ": " + strerror(err));
  }
  std::unique_ptr<PythonZygote> z(new PythonZygote());
  z->pid_ = pid;
  z->to_ = in[1];
  z->from_ = out[0];
  z->log_path_ = log_path;
  return z;
}

Status PythonZygote::WaitReady(std::chrono::milliseconds timeout) {
  if (ready_) return Status::Ok();
  std::string line;
  Status st = ReadLine(from_, buffer_, &line, timeout, "warm python process");
  if (!st.ok()) return st.WithContext("importing the preload modules (see " + log_path_ + ")");
  if (line != "ready") return Internal("warm python process said \"" + line + "\", not ready");
  ready_ = true;
  return Status::Ok();
}

Result<pid_t> PythonZygote::Fork(const SpawnRequest& req, std::chrono::milliseconds timeout) {
  RETURN_IF_ERROR(WaitReady(timeout));
  last_used_ = std::chrono::steady_clock::now();
  Json env = Json::object();
  for (const std::string& e : req.env) {
    size_t eq = e.find('=');
    if (eq != std::string::npos) env[e.substr(0, eq)] = e.substr(eq + 1);
  }
  Json msg = {{"argv", req.argv},
              {"env", env},
              {"cwd", req.working_dir},
              {"log", req.log_path},
              {"exit_file", req.exit_file},
              {"cgroup_procs", req.cgroup_procs},
              {"as_limit", req.address_space_limit},
              {"sandbox", req.sandbox},
              {"sandbox_lib", SandboxLibraryPath(req.shim_path)},
              {"sandbox_init", req.shim_path.empty() ? DefaultShimPath() : req.shim_path}};
  std::string line = msg.dump() + "\n";
  const char* p = line.data();
  size_t left = line.size();
  while (left > 0) {
    ssize_t n = write(to_, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Unavailable("warm python process: " + std::string(strerror(errno)));
    p += n;
    left -= static_cast<size_t>(n);
  }
  std::string reply;
  RETURN_IF_ERROR(ReadLine(from_, buffer_, &reply, timeout, "warm python process"));
  Json r = Json::parse(reply, nullptr, /*allow_exceptions=*/false);
  if (r.is_object() && r.contains("pid") && r["pid"].is_number_integer()) {
    return static_cast<pid_t>(r["pid"].get<int64_t>());
  }
  return Internal("warm python process could not start the command: " +
                  (r.is_object() ? r.value("error", reply) : reply));
}

void PythonZygote::Stop() {
  if (to_ >= 0) close(to_);
  if (from_ >= 0) close(from_);
  to_ = from_ = -1;
  if (pid_ > 0) {
    // It holds nothing worth an orderly exit (an interpreter that imported kfp takes 10-20 ms to
    // finalise), and whatever it started lives on in sessions of its own: killed, not asked.
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
}

}  // namespace skiff::local
