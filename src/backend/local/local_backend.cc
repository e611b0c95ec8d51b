#include "backend/local/local_backend.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <tuple>

#include "backend/local/container_env.h"
#include "backend/local/proc.h"
#include "backend/local/spawn.h"
#include "core/files.h"
#include "core/ids.h"
#include "core/log.h"

namespace skiff {

namespace fs = std::filesystem;
using local::ContainerRecord;
using local::WorkloadRecord;
using SteadyClock = std::chrono::steady_clock;

namespace {

constexpr int64_t kDefaultCpuMillis = 100;
constexpr int64_t kMaxLogRead = 8 << 20;

// A port's name: its name, or its number when unnamed.
std::string PortName(const ContainerPort& p) {
  return p.name.empty() ? std::to_string(p.container_port) : p.name;
}

bool IsTerminal(WorkloadPhase p) {
  return p == WorkloadPhase::kSucceeded || p == WorkloadPhase::kFailed;
}

// What a workload asks of the machine's slots: the sum of its containers' cpu (100m when unset)
// and memory, its priority, arrival and gang.
local::Slots::Request SlotRequest(const WorkloadRecord& rec) {
  local::Slots::Request r;
  r.id = rec.spec.id;
  r.priority = rec.spec.priority;
  r.seq = rec.seq;
  r.group = rec.spec.group;
  r.group_size = rec.spec.group.empty() ? 1 : rec.spec.group_size;
  if (auto ns = rec.spec.labels.find(kWorkloadNamespaceLabel); ns != rec.spec.labels.end()) {
    r.tenant = ns->second;
  }
  for (const ContainerSpec& c : rec.spec.containers) {
    r.cpu_millis += c.cpu_millis > 0 ? c.cpu_millis : kDefaultCpuMillis;
    r.memory_bytes += c.memory_bytes;
  }
  return r;
}

int64_t MemTotalBytes() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  int64_t kb = 0;
  std::string unit;
  while (in >> key >> kb >> unit) {
    if (key == "MemTotal:") return kb * 1024;
  }
  return 0;
}

bool ValidIdChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '/' || c == '_' || c == '-';
}

// A workload id is a clean relative path: it names files under the state and log folders.
Status ValidateId(const std::string& id) {
  if (id.empty() || id.size() > 253) return InvalidArgument("workload id must be 1-253 characters");
  for (char c : id) {
    if (!ValidIdChar(c)) {
      return InvalidArgument("workload id \"" + id + "\" may only hold [a-z0-9./_-]");
    }
  }
  if (id.front() == '/' || id.back() == '/' || id.find("//") != std::string::npos ||
      ("/" + id + "/").find("/../") != std::string::npos ||
      ("/" + id + "/").find("/./") != std::string::npos) {
    return InvalidArgument("workload id \"" + id + "\" is not a clean relative path");
  }
  return Status::Ok();
}

Status ValidateSpec(const WorkloadSpec& spec) {
  RETURN_IF_ERROR(ValidateId(spec.id));
  const std::string& id = spec.id;
  if (spec.containers.empty()) return InvalidArgument("workload " + id + " has no containers");
  std::set<std::string> ports;
  for (const ContainerSpec& c : spec.containers) {
    for (const ContainerPort& p : c.ports) {
      if (p.container_port < 1 || p.container_port > 65535) {
        return InvalidArgument("workload " + id + ": container " + c.name + ": port " +
                               std::to_string(p.container_port) + " is not in 1-65535");
      }
      if (!ports.insert(PortName(p)).second) {
        return InvalidArgument("workload " + id + ": two ports named " + PortName(p));
      }
    }
  }
  if (!spec.group.empty() && spec.group_size < 1) {
    return InvalidArgument("workload " + id + ": group " + spec.group +
                           " needs a group size of at least 1");
  }
  std::map<std::string, bool> volumes;
  for (const Volume& v : spec.volumes) {
    if (v.name.empty()) return InvalidArgument("workload " + id + ": a volume has no name");
    if (!volumes.emplace(v.name, true).second) {
      return InvalidArgument("workload " + id + ": duplicate volume " + v.name);
    }
    if (!v.host_path.empty() && v.host_path[0] != '/') {
      return InvalidArgument("workload " + id + ": volume " + v.name +
                             " hostPath must be absolute, got " + v.host_path);
    }
  }
  std::map<std::string, bool> names;
  for (size_t i = 0; i < spec.containers.size(); ++i) {
    const ContainerSpec& c = spec.containers[i];
    std::string where = "workload " + id + ": containers[" + std::to_string(i) + "]";
    if (c.name.empty() || c.name == "." || c.name == "..") {
      return InvalidArgument(where + " needs a name");
    }
    for (char ch : c.name) {
      if (ch == '/' || !ValidIdChar(ch)) {
        return InvalidArgument(where + ": name \"" + c.name + "\" may only hold [a-z0-9._-]");
      }
    }
    if (!names.emplace(c.name, true).second) {
      return InvalidArgument(where + ": duplicate container name " + c.name);
    }
    if (c.cpu_millis < 0 || c.memory_bytes < 0) {
      return InvalidArgument(where + ": cpu and memory must not be negative");
    }
    for (const VolumeMount& m : c.volume_mounts) {
      if (volumes.count(m.name) == 0) {
        return InvalidArgument(where + ": volumeMount " + m.name + " names no volume");
      }
      if (m.mount_path.empty() || m.mount_path[0] != '/') {
        return InvalidArgument(where + ": mountPath of " + m.name + " must be absolute, got \"" +
                               m.mount_path + "\"");
      }
    }
  }
  return Status::Ok();
}

// The cgroup v2 directory under which per-container groups can be made, or "".
std::string DetectCgroupRoot() {
  if (!fs::exists("/sys/fs/cgroup/cgroup.controllers")) return "";
  std::ifstream in("/proc/self/cgroup");
  std::string line, rel;
  while (std::getline(in, line)) {
    if (line.rfind("0::", 0) == 0) rel = line.substr(3);
  }
  if (rel.empty()) return "";
  std::string root = "/sys/fs/cgroup" + (rel == "/" ? std::string() : rel);
  if (access(root.c_str(), W_OK) != 0) return "";
  if (ReadFile(root + "/cgroup.subtree_control").value_or("").find("memory") != std::string::npos)
    return root;
  std::ofstream(root + "/cgroup.subtree_control") << "+memory";
  if (ReadFile(root + "/cgroup.subtree_control").value_or("").find("memory") != std::string::npos)
    return root;
  return "";
}

bool CgroupSawOomKill(const std::string& dir) {
  if (dir.empty()) return false;
  std::ifstream in(dir + "/memory.events");
  std::string key;
  int64_t value = 0;
  while (in >> key >> value) {
    if (key == "oom_kill" && value > 0) return true;
  }
  return false;
}

// True when the recorded process still runs. When it is a zombie of ours (a backend in this same
// process abandoned it) it is reaped here; its shim has already written the exit file.
bool AliveElseReap(pid_t pid, uint64_t start_ticks) {
  std::optional<local::ProcStat> st = local::ReadProcStat(pid);
  if (!st.has_value() || st->start_ticks != start_ticks) return false;
  if (st->state == 'Z' || st->state == 'X') {
    waitpid(pid, nullptr, WNOHANG);
    return false;
  }
  return true;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Construction and shutdown

// The options with the machine's size filled in where they leave it to the machine.
LocalBackend::Options WithMachineSize(LocalBackend::Options options) {
  if (options.total_cpu_millis <= 0) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    options.total_cpu_millis = (n > 0 ? n : 1) * 1000;
  }
  if (options.total_memory_bytes <= 0) options.total_memory_bytes = MemTotalBytes();
  return options;
}

LocalBackend::LocalBackend(Options options, Clock& clock)
    : options_(WithMachineSize(std::move(options))),
      clock_(clock),
      journal_(options_.state_dir, options_.log_dir),
      slots_(options_.total_cpu_millis, options_.total_memory_bytes) {}

Result<std::unique_ptr<LocalBackend>> LocalBackend::Create(Options options, Clock& clock) {
  std::unique_ptr<LocalBackend> backend(new LocalBackend(std::move(options), clock));
  RETURN_IF_ERROR(backend->Init());
  return backend;
}

Status LocalBackend::Init() {
  if (options_.state_dir.empty() || options_.log_dir.empty()) {
    return InvalidArgument("local backend: state_dir and log_dir are required");
  }
  if (options_.env_cache_dir.empty()) {
    options_.env_cache_dir = fs::path(options_.state_dir).parent_path().string() + "/envs";
  }
  for (const std::string& dir : {options_.state_dir, options_.log_dir, options_.env_cache_dir}) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return Internal("local backend: cannot create " + dir + ": " + ec.message());
  }
  if (!options_.image_map_file.empty()) {
    ASSIGN_OR_RETURN(image_map_, local::ImageMap::Load(options_.image_map_file));
  }
  if (options_.shim_path.empty()) options_.shim_path = local::DefaultShimPath();
  RETURN_IF_ERROR(local::CheckShim(options_.shim_path).WithContext("local backend"));
  env_cache_ = std::make_unique<local::PythonEnvCache>(options_.env_cache_dir, options_.python,
                                                       options_.shim_path);
  warm_ = std::make_unique<local::WarmPool>(options_.env_cache_dir);
  sandbox_layout_ = {options_.sandbox.hidden, options_.sandbox.visible, geteuid() == 0};
  if (options_.sandbox.enabled) RETURN_IF_ERROR(CheckSandbox());
  if (options_.use_cgroups) cgroup_root_ = DetectCgroupRoot();
  int fds[2];
  if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
    return Internal(std::string("local backend: pipe: ") + strerror(errno));
  }
  wake_read_ = fds[0];
  wake_write_ = fds[1];
  {
    MutexLock lock(&mu_);
    LoadRecordsLocked();
  }
  supervisor_ = std::thread([this] { SupervisorLoop(); });
  env_worker_ = std::thread([this] { EnvWorkerLoop(); });
  prober_ = std::thread([this] { ProberLoop(); });
  return Status::Ok();
}

Status LocalBackend::CheckSandbox() {
  const std::string base = options_.state_dir + "/.sandbox-check";
  local::ContainerFolders folders{.own_dir = base + ".d", .tmp_dir = base + ".tmp"};
  std::error_code ec;
  for (const std::string& dir : {folders.own_dir, folders.tmp_dir}) {
    fs::create_directories(dir, ec);
    if (sandbox_layout_.profile_identity) {
      const uint32_t uid = local::ProfileUid("");
      if (chown(dir.c_str(), uid, uid) != 0) ec = std::error_code(errno, std::generic_category());
    }
    if (ec) return Internal("local backend: sandbox check: " + dir + ": " + ec.message());
  }
  Result<local::SandboxPlan> plan = local::PlanSandbox(sandbox_layout_, folders);
  if (!plan.ok()) return plan.status().WithContext("local backend: the sandbox");
  local::SpawnRequest req{.executable = "/bin/sh",
                          .argv = {"sh", "-c", "exit 0"},
                          .env = {"PATH=/usr/bin:/bin"},
                          .working_dir = folders.own_dir,
                          .log_path = base + ".log",
                          .exit_file = base + ".exit",
                          .sandbox = *local::EncodeSandboxPlan(*plan),
                          .shim_path = options_.shim_path};
  fs::remove(req.log_path, ec);
  Result<pid_t> pid = local::Spawn(req);
  std::optional<local::ExitRecord> ended;
  if (pid.ok()) {
    while (waitpid(*pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    ended = local::ReadExitFile(req.exit_file);
  }
  std::string log = ReadFile(req.log_path).value_or("");
  while (!log.empty() && (log.back() == '\n' || log.back() == ' ')) log.pop_back();
  for (const std::string& path : {folders.own_dir, folders.tmp_dir}) fs::remove_all(path, ec);
  for (const std::string& path : {req.log_path, req.exit_file}) fs::remove(path, ec);
  if (!ended || ended->exit_code != 0) {
    return FailedPrecondition(
        "the workload sandbox does not work on this machine (" +
        (pid.ok() ? log.empty() ? std::string("it ended without saying why") : log
                  : pid.status().message()) +
        "); user and mount namespaces are needed, or start with --sandbox=off (SKIFF_SANDBOX=off) "
        "to run workloads unconfined, as the server's user");
  }
  return Status::Ok();
}

LocalBackend::~LocalBackend() {
  if (options_.stop_on_shutdown) {
    Shutdown(options_.shutdown_grace);
  } else {
    {
      MutexLock lock(&mu_);
      shutting_down_ = true;
      stop_threads_ = true;
    }
    if (env_cache_) env_cache_->Cancel();
    if (warm_) warm_->Stop();
    env_cv_.SignalAll();
    Wake();
    if (supervisor_.joinable()) supervisor_.join();
    if (env_worker_.joinable()) env_worker_.join();
    if (prober_.joinable()) prober_.join();
  }
  MutexLock lock(&mu_);
  if (warm_) warm_->Stop();  // the interpreters end; what they started runs on
  for (int fd : orphan_fds_) close(fd);
  orphan_fds_.clear();
  for (auto& [id, w] : workloads_) {
    for (int& fd : w->pidfds) {
      if (fd >= 0) close(fd);
      fd = -1;
    }
  }
  if (wake_read_ >= 0) close(wake_read_);
  if (wake_write_ >= 0) close(wake_write_);
}

void LocalBackend::Shutdown(std::chrono::milliseconds grace) {
  {
    MutexLock lock(&mu_);
    if (threads_stopped_) return;
    shutting_down_ = true;
    for (auto& [id, w] : workloads_) {
      if (IsTerminal(w->rec.phase)) continue;
      w->rec.stop_requested = true;
      CancelRestartsLocked(*w, "Stopped");
      bool running = std::any_of(w->rec.containers.begin(), w->rec.containers.end(),
                                 [](const ContainerRecord& c) { return c.status.running; });
      if (running) {
        SignalLocked(*w, SIGTERM);
        w->kill_deadline = SteadyClock::now() + grace;
      } else {
        FailLocked(*w, "Stopped", "stopped: the backend shut down");
      }
      PersistLocked(*w);
    }
    FlushLocked();
  }
  if (env_cache_) env_cache_->Cancel();
  if (warm_) warm_->Stop();
  Wake();
  {
    MutexLock lock(&mu_);
    changed_.WaitFor(mu_, grace + std::chrono::seconds(2), [&] {
      mu_.AssertHeld();
      return !AnyRunningLocked();
    });
    stop_threads_ = true;
  }
  env_cv_.SignalAll();
  Wake();
  if (supervisor_.joinable()) supervisor_.join();
  if (env_worker_.joinable()) env_worker_.join();
  if (prober_.joinable()) prober_.join();

  // Threads are gone: whatever still runs is killed and reaped here, synchronously.
  MutexLock lock(&mu_);
  threads_stopped_ = true;
  for (auto& [id, w] : workloads_) {
    for (size_t i = 0; i < w->rec.containers.size(); ++i) {
      ContainerRecord& c = w->rec.containers[i];
      if (!c.status.running) continue;
      int status = 0;
      kill(-c.pid, SIGKILL);
      if (!w->adopted[i] && waitpid(c.pid, &status, 0) == c.pid) {
        ContainerEndedLocked(*w, i, status);
      } else {
        ContainerEndedLocked(*w, i, std::nullopt);
      }
    }
    UpdatePhaseLocked(*w);
  }
  FlushLocked();
  for (pid_t pid : orphans_) {
    kill(-pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }
  orphans_.clear();
}

void LocalBackend::Wake() {
  char b = 1;
  if (wake_write_ >= 0) {
    ssize_t n = write(wake_write_, &b, 1);
    (void)n;  // a full pipe already means "wake up"
  }
}

// ---------------------------------------------------------------------------------------------
// Re-adoption

void LocalBackend::LoadRecordsLocked() {
  std::vector<Workload*> queue_again;
  for (WorkloadRecord& rec : journal_.Load()) {
    auto w = std::make_unique<Workload>();
    w->rec = std::move(rec);
    size_t n = w->rec.containers.size();
    w->adopted.assign(n, true);
    w->pidfds.assign(n, -1);
    w->restart_at.assign(n, std::nullopt);
    w->crash_streak.assign(n, 0);
    w->probes.assign(n, {});
    next_seq_ = std::max(next_seq_, w->rec.seq + 1);
    bool started = std::any_of(w->rec.containers.begin(), w->rec.containers.end(),
                               [](const ContainerRecord& c) { return c.pid > 0; });
    if (!IsTerminal(w->rec.phase) && !started) {
      w->rec.phase = WorkloadPhase::kPending;  // queued or preparing: queue again
      w->rec.message.clear();
      queue_again.push_back(w.get());
    } else if (!IsTerminal(w->rec.phase)) {
      w->admitted = true;
      slots_.Hold(SlotRequest(w->rec));
      for (size_t i = 0; i < n; ++i) {
        ContainerRecord& c = w->rec.containers[i];
        if (c.restarting) w->restart_at[i] = SteadyClock::now() + options_.restart_backoff;
        if (c.status.exit_code.has_value() || !c.status.reason.empty()) continue;
        if (c.pid > 0 && AliveElseReap(c.pid, c.start_ticks)) {
          c.status.running = true;
          LogInfo("re-adopted container", {{"workload", w->rec.spec.id},
                                           {"container", c.status.name},
                                           {"pid", std::to_string(c.pid)}});
          continue;
        }
        if (c.pid > 0) {
          c.status.running = true;
          ContainerEndedLocked(*w, i, std::nullopt);
        } else {
          c.status.running = false;
          c.status.reason = "Lost";
          c.status.finished_at = clock_.Now();
        }
      }
      UpdatePhaseLocked(*w);
      PersistLocked(*w);
    }
    std::string id = w->rec.spec.id;
    workloads_[id] = std::move(w);
  }
  // Queued again once every workload that holds its slots is counted.
  for (Workload* w : queue_again) {
    if (Status queued = slots_.Add(SlotRequest(w->rec)); !queued.ok()) {
      FailLocked(*w, "Unschedulable", queued.message());
    }
  }
  FlushLocked();
}

// ---------------------------------------------------------------------------------------------
// Threads

void LocalBackend::SupervisorLoop() {
  while (true) {
    std::vector<pollfd> fds;
    fds.push_back({wake_read_, POLLIN, 0});
    auto timeout = std::chrono::duration_cast<std::chrono::milliseconds>(options_.tick);
    {
      MutexLock lock(&mu_);
      if (stop_threads_) return;
      auto now = SteadyClock::now();
      for (auto& [id, w] : workloads_) {
        for (int fd : w->pidfds) {
          if (fd >= 0) fds.push_back({fd, POLLIN, 0});
        }
        if (w->kill_deadline) {
          auto left =
              std::chrono::duration_cast<std::chrono::milliseconds>(*w->kill_deadline - now);
          timeout = std::max(std::chrono::milliseconds(0), std::min(timeout, left));
        }
      }
    }
    int n = poll(fds.data(), fds.size(), static_cast<int>(timeout.count()));
    if (n > 0 && (fds[0].revents & POLLIN)) {
      char buf[64];
      while (read(wake_read_, buf, sizeof buf) > 0) {
      }
    }
    {
      MutexLock lock(&mu_);
      if (stop_threads_) return;
      for (int fd : orphan_fds_) close(fd);
      orphan_fds_.clear();
      CheckChildrenLocked();
      AdmitLocked();
      FlushLocked();
    }
    changed_.SignalAll();
    NotifyListener();
  }
}

void LocalBackend::SetListener(WorkloadListener listener) {
  MutexLock lock(&listener_mu_);
  listener_ = std::move(listener);
}

void LocalBackend::NotifyListener() {
  std::map<std::string, std::map<std::string, std::string>> changed;
  {
    MutexLock lock(&mu_);
    changed.swap(changed_workloads_);
  }
  if (changed.empty()) return;
  MutexLock lock(&listener_mu_);
  if (!listener_) return;
  for (const auto& [id, labels] : changed) listener_(id, labels);
}

void LocalBackend::EnvWorkerLoop() {
  // What was warm when this backend last ran is likely wanted again: warming it now overlaps its
  // imports with the caller's start-up instead of putting them before its first Python task.
  if (options_.warm_python) warm_->Ensure(warm_->Remembered(), /*remember=*/false);
  while (true) {
    std::string id;
    // Per container: whether it runs with python, its packages and index URLs.
    std::vector<std::tuple<bool, std::vector<std::string>, std::vector<std::string>>> wanted;
    {
      MutexLock lock(&mu_);
      env_cv_.Wait(mu_, [&] {
        mu_.AssertHeld();
        return stop_threads_ || !env_queue_.empty();
      });
      if (stop_threads_) return;
      id = env_queue_.front();
      env_queue_.pop_front();
      auto it = workloads_.find(id);
      if (it == workloads_.end() || !it->second->preparing) continue;
      for (const ContainerSpec& c : it->second->rec.spec.containers) {
        wanted.emplace_back(image_map_.Resolve(c.image).python, c.python_packages,
                            c.pip_index_urls);
      }
    }
    std::vector<std::string> dirs;
    local::WarmPool::Wanted warm;  // (venv, container) to keep warm
    Status failure;
    for (size_t i = 0; i < wanted.size() && failure.ok(); ++i) {
      const auto& [python, packages, index_urls] = wanted[i];
      if (!python) {
        dirs.emplace_back();
        continue;
      }
      Result<std::string> dir = env_cache_->Ensure(packages, index_urls);
      if (dir.ok()) {
        dirs.push_back(*dir);
      } else {
        failure = dir.status();
      }
    }
    {
      MutexLock lock(&mu_);
      if (stop_threads_) return;
      auto it = workloads_.find(id);
      if (it == workloads_.end() || !it->second->preparing) continue;
      Workload& w = *it->second;
      w.preparing = false;
      if (!failure.ok()) {
        if (!shutting_down_) {
          FailLocked(w, "StartError", "preparing python environment: " + failure.message());
          FlushLocked();
        }
      } else {
        if (options_.warm_python) {
          for (size_t i = 0; i < w.rec.spec.containers.size() && i < dirs.size(); ++i) {
            const ContainerSpec& c = w.rec.spec.containers[i];
            if (!dirs[i].empty() && !c.python_preload.empty()) warm.emplace_back(dirs[i], c);
          }
        }
        w.venv_dirs = std::move(dirs);
      }
    }
    // The first task of an environment waits for its warm interpreter's imports (what it would
    // have paid itself); later ones find it ready.
    warm_->Ensure(warm, /*remember=*/true);
    {
      MutexLock lock(&mu_);
      if (stop_threads_) return;
      auto it = workloads_.find(id);
      if (it != workloads_.end() && !IsTerminal(it->second->rec.phase) &&
          !it->second->venv_dirs.empty()) {
        it->second->env_ready = true;
      }
    }
    Wake();
  }
}

// ---------------------------------------------------------------------------------------------
// Admission and start

void LocalBackend::AdmitLocked() {
  if (shutting_down_) return;
  for (auto& [id, w] : workloads_) {
    if (w->env_ready && !IsTerminal(w->rec.phase)) {
      w->env_ready = false;
      StartLocked(*w);
    }
  }
  local::Slots::Turn turn = slots_.Schedule();
  for (const auto& [id, why] : turn.waiting) {
    Workload& w = *workloads_.at(id);
    if (w.rec.message != why) {
      w.rec.message = why;
      PersistLocked(w);
    }
  }
  for (const std::string& id : turn.preempt) {
    StopLocked(*workloads_.at(id), options_.shutdown_grace, "Preempted",
               "preempted: " + turn.preempted_for + " of higher priority needs its resources");
  }
  for (const std::string& id : turn.admitted) {
    Workload* w = workloads_.at(id).get();
    w->admitted = true;
    bool python =
        std::any_of(w->rec.spec.containers.begin(), w->rec.spec.containers.end(),
                    [&](const ContainerSpec& c) { return image_map_.Resolve(c.image).python; });
    if (python && EnvironmentsReadyLocked(*w)) {
      StartLocked(*w);  // every environment (and warm interpreter) it needs is there already
    } else if (python) {
      w->preparing = true;
      w->rec.message = "preparing python environment";
      env_queue_.push_back(w->rec.spec.id);
      env_cv_.SignalAll();
      PersistLocked(*w);
    } else {
      StartLocked(*w);
    }
  }
}

bool LocalBackend::EnvironmentsReadyLocked(Workload& w) {
  std::vector<std::string> dirs;
  for (const ContainerSpec& c : w.rec.spec.containers) {
    if (!image_map_.Resolve(c.image).python) {
      dirs.emplace_back();
      continue;
    }
    std::optional<std::string> dir = env_cache_->ReadyDir(c.python_packages, c.pip_index_urls);
    if (!dir) return false;
    if (options_.warm_python && !c.python_preload.empty() && !warm_->Settled(*dir, c)) {
      return false;
    }
    dirs.push_back(*dir);
  }
  w.venv_dirs = std::move(dirs);
  return true;
}

std::string LocalBackend::VolumeHostPath(const Workload& w, const std::string& name) const {
  for (const Volume& v : w.rec.spec.volumes) {
    if (v.name == name) {
      return v.host_path.empty() ? journal_.VolumesDir(w.rec.spec.id) + "/" + v.name : v.host_path;
    }
  }
  return "";
}

std::string LocalBackend::LinkHolderLocked(const std::string& link, const Workload& except) const {
  for (const auto& [id, other] : workloads_) {
    if (other.get() == &except) continue;
    const std::vector<std::string>& links = other->rec.links;  // cleared when a workload ends
    if (std::find(links.begin(), links.end(), link) != links.end()) return id;
  }
  return "";
}

std::string LocalBackend::BusyMountLocked(const Workload& w) const {
  for (const ContainerSpec& c : w.rec.spec.containers) {
    for (const VolumeMount& m : c.volume_mounts) {
      std::string holder = LinkHolderLocked(m.mount_path, w);
      if (holder.empty()) continue;
      std::error_code ec;
      if (fs::read_symlink(m.mount_path, ec) != fs::path(VolumeHostPath(w, m.name))) {
        return m.mount_path + " (used by " + holder + ")";
      }
    }
  }
  return "";
}

void LocalBackend::StartLocked(Workload& w) {
  if (std::string busy = BusyMountLocked(w); !busy.empty()) {
    // Back to the queue; admission tries again when a workload ends.
    slots_.Requeue(w.rec.spec.id);
    w.admitted = false;
    w.rec.message = "waiting for mount path " + busy;
    PersistLocked(w);
    return;
  }
  if (Status ports = AllocatePortsLocked(w); !ports.ok()) {
    FailLocked(w, "StartError", ports.message());
    return;
  }
  std::vector<std::string> links;
  w.rec.message.clear();
  for (size_t i = 0; i < w.rec.containers.size(); ++i) {
    Status st = StartContainerLocked(w, i, &links);
    if (!st.ok()) {
      w.rec.links = links;
      FailLocked(w, "StartError", st.message());
      return;
    }
  }
  w.rec.links = links;
  w.rec.phase = WorkloadPhase::kRunning;
  w.rec.started_at = clock_.Now();
  PersistLocked(w);
  LogInfo("workload started", {{"workload", w.rec.spec.id}});
}

Result<const Volume*> LocalBackend::FindVolume(const Workload& w, const VolumeMount& m,
                                               const std::string& where) {
  for (const Volume& v : w.rec.spec.volumes) {
    if (v.name == m.name) return &v;
  }
  return InvalidArgument(where + ": volumeMount " + m.name + " names no volume");
}

Status LocalBackend::LinkVolumesLocked(const Workload& w, const ContainerSpec& c,
                                       std::vector<std::string>* links) {
  const std::string where = "container " + c.name;
  for (const VolumeMount& m : c.volume_mounts) {
    ASSIGN_OR_RETURN(const Volume* vol, FindVolume(w, m, where));
    const std::string host = VolumeHostPath(w, vol->name);
    std::error_code ec;
    fs::create_directories(host, ec);
    if (ec) {
      return Internal(where + ": cannot create volume directory " + host + ": " + ec.message());
    }
    RETURN_IF_ERROR(LinkVolume(where, m, host, links));
  }
  return Status::Ok();
}

Status LocalBackend::LinkVolume(const std::string& where, const VolumeMount& m,
                                const std::string& host, std::vector<std::string>* links) {
  std::error_code ec;
  fs::path mount(m.mount_path);
  fs::file_status ls = fs::symlink_status(mount, ec);
  if (fs::exists(ls)) {
    if (fs::is_symlink(ls) && fs::read_symlink(mount, ec) == fs::path(host)) {
      links->push_back(m.mount_path);  // shared with a workload that mounts the same volume
      return Status::Ok();
    }
    if (fs::equivalent(mount, host, ec)) return Status::Ok();
    return FailedPrecondition(where + ": cannot mount volume " + m.name + " at " + m.mount_path +
                              ": the path already exists and is not a link to " + host);
  }
  fs::path parent = mount.parent_path();
  fs::create_directories(parent, ec);
  if (ec || access(parent.c_str(), W_OK) != 0) {
    return FailedPrecondition(where + ": cannot mount volume " + m.name + " at " + m.mount_path +
                              ": its parent directory " + parent.string() +
                              " is not writable (the local backend binds volumes by symlink)");
  }
  fs::create_directory_symlink(host, mount, ec);
  if (ec) {
    return FailedPrecondition(where + ": cannot link " + m.mount_path + " to " + host + ": " +
                              ec.message());
  }
  links->push_back(m.mount_path);
  return Status::Ok();
}

Result<std::string> LocalBackend::SandboxLocked(const Workload& w, const ContainerSpec& c,
                                                std::vector<std::string>* links) {
  const std::string& id = w.rec.spec.id;
  const std::string where = "container " + c.name;
  const bool as_root = geteuid() == 0;
  auto labels = w.rec.spec.labels.find(kWorkloadNamespaceLabel);
  local::ContainerFolders folders;
  folders.profile = labels == w.rec.spec.labels.end() ? "" : labels->second;
  folders.own_dir = journal_.WorkloadDir(id);
  folders.working_dir = c.working_dir;
  folders.tmp_dir = journal_.TmpDir(id);
  folders.exposed = w.rec.spec.exposed;
  const uint32_t uid = local::ProfileUid(folders.profile);
  // Folders the workload writes are its identity's when it runs as one (the server is root).
  auto make = [&](const std::string& dir) -> Status {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return Internal(where + ": cannot create " + dir + ": " + ec.message());
    if (as_root && chown(dir.c_str(), uid, uid) != 0) {
      return Internal(where + ": cannot give " + dir +
                      " to the profile's identity: " + strerror(errno));
    }
    return Status::Ok();
  };
  RETURN_IF_ERROR(make(folders.own_dir));
  RETURN_IF_ERROR(make(folders.tmp_dir));
  for (const HostPath& p : folders.exposed) {
    if (!p.read_only) RETURN_IF_ERROR(make(p.path));  // an output folder the task writes
  }
  for (const VolumeMount& m : c.volume_mounts) {
    ASSIGN_OR_RETURN(const Volume* vol, FindVolume(w, m, where));
    const std::string host = VolumeHostPath(w, vol->name);
    // The platform's folders (an emptyDir, a claim's) are made; a user's hostPath must exist.
    const bool platform = vol->host_path.empty() || vol->from_platform;
    if (platform) RETURN_IF_ERROR(make(host));
    if (platform && m.read_only && as_root) {
      // A Secret's or ConfigMap's files, written for it by the platform (0600 for a Secret).
      std::error_code ec;
      for (const auto& e : fs::directory_iterator(host, ec)) {
        if (e.is_regular_file(ec) && chown(e.path().c_str(), uid, uid) != 0) {
          return Internal(where + ": cannot give " + e.path().string() +
                          " to the profile's identity: " + strerror(errno));
        }
      }
    }
    // The sandbox binds a volume over a folder that is there, or in its own places; elsewhere
    // the mount path would have to be made on the machine, so it is a link there, as for an
    // unsandboxed workload, and the sandbox shows the volume where the link points.
    std::error_code ec;
    const fs::file_status there = fs::symlink_status(m.mount_path, ec);
    const bool own_place =
        PathWithin(m.mount_path, "/tmp") ||
        std::any_of(sandbox_layout_.hidden.begin(), sandbox_layout_.hidden.end(),
                    [&](const std::string& h) { return PathWithin(m.mount_path, h); });
    if (!own_place && (!fs::exists(there) || fs::is_symlink(there))) {
      RETURN_IF_ERROR(LinkVolume(where, m, host, links));
      folders.mounts.push_back({vol->name, host, host, m.read_only, platform});
    } else {
      folders.mounts.push_back({vol->name, host, m.mount_path, m.read_only, platform});
    }
  }
  Result<local::SandboxPlan> plan = local::PlanSandbox(sandbox_layout_, folders);
  if (!plan.ok()) return plan.status().WithContext(where);
  return *local::EncodeSandboxPlan(*plan);
}

Status LocalBackend::StartContainerLocked(Workload& w, size_t index,
                                          std::vector<std::string>* links) {
  const ContainerSpec& c = w.rec.spec.containers[index];
  ContainerRecord& cr = w.rec.containers[index];
  const std::string& id = w.rec.spec.id;
  std::string where = "container " + c.name;
  std::string wdir = journal_.WorkloadDir(id);
  std::error_code ec;

  // The workload's own folder is its containers' default working directory; nothing else of the
  // backend's lives in it (one mkdir per workload: a folder costs ten times a file to create).
  std::string working_dir = c.working_dir.empty() ? wdir : c.working_dir;
  const bool sandboxed = options_.sandbox.enabled && w.rec.spec.sandboxed;
  std::string sandbox;  // the encoded plan, when sandboxed
  if (sandboxed) {
    ASSIGN_OR_RETURN(sandbox, SandboxLocked(w, c, links));
  } else {
    fs::create_directories(working_dir, ec);
    if (ec) {
      return Internal(where + ": cannot create workingDir " + working_dir + ": " + ec.message());
    }
    RETURN_IF_ERROR(LinkVolumesLocked(w, c, links));
  }

  // Environment: PATH/HOME/LANG from the server, the image's additions, then the spec's env.
  local::ImageRule rule = image_map_.Resolve(c.image);
  std::string venv = index < w.venv_dirs.size() ? w.venv_dirs[index] : std::string();
  if (rule.python && venv.empty()) return Internal(where + ": python environment was not prepared");
  std::map<std::string, std::string> env = local::BaseEnv(rule, venv, sandboxed);
  // The workload's ports (containers of a workload reach each other as a pod's do), and this
  // container's first one as PORT.
  for (const auto& [name, port] : w.rec.ports) env[local::PortEnvName(name)] = std::to_string(port);
  if (!c.ports.empty()) env["PORT"] = std::to_string(w.rec.ports.at(PortName(c.ports.front())));
  for (const EnvVar& e : c.env) env[e.name] = e.value;

  std::vector<std::string> argv = c.command;
  argv.insert(argv.end(), c.args.begin(), c.args.end());
  for (std::string& arg : argv) arg = local::ExpandVarRefs(arg, env);
  if (argv.empty()) {
    return InvalidArgument(where +
                           " has no command or args (the local backend cannot run an "
                           "image's entrypoint)");
  }
  ASSIGN_OR_RETURN(std::string exe, local::ResolveExecutable(argv[0], env["PATH"], working_dir));
  if (std::string prog = fs::path(argv[0]).filename().string();
      rule.busybox && (prog == "sh" || prog == "ash")) {
    // argv[0] stays "sh": busybox picks the applet by that name.
    Result<std::string> busybox = local::ResolveExecutable("busybox", env["PATH"], working_dir);
    if (busybox.ok()) exe = *busybox;
  }

  local::SpawnRequest req;
  req.executable = exe;
  req.argv = argv;
  for (const auto& [k, v] : env) req.env.push_back(k + "=" + v);
  req.working_dir = working_dir;
  req.log_path = journal_.LogPath(id, c.name);
  fs::create_directories(fs::path(req.log_path).parent_path(), ec);
  if (ec) return Internal(where + ": cannot create log directory: " + ec.message());
  req.exit_file = journal_.ExitPath(id, c.name);
  req.shim_path = options_.shim_path;
  req.sandbox = sandbox;
  cr.cgroup_dir.clear();
  if (c.memory_bytes > 0) {
    if (!cgroup_root_.empty()) {
      std::string dir = cgroup_root_ + "/skiff-" + Sha256Hex(id).substr(0, 16) + "-" + c.name;
      fs::create_directory(dir, ec);
      std::ofstream(dir + "/memory.max") << c.memory_bytes;
      std::ofstream(dir + "/memory.swap.max") << 0;
      std::ifstream check(dir + "/memory.max");
      int64_t got = 0;
      if (!ec && (check >> got) && got == c.memory_bytes) {
        cr.cgroup_dir = dir;
        req.cgroup_procs = dir + "/cgroup.procs";
      }
    }
    if (cr.cgroup_dir.empty()) req.address_space_limit = c.memory_bytes;
  }
  // A warm interpreter forks it when there is one for its environment (a sandboxed one enters
  // its sandbox there, as the shim would); else the shim starts it.
  std::optional<pid_t> warm_pid;
  if (rule.python && options_.warm_python && local::WarmPool::Eligible(c, argv)) {
    warm_pid = warm_->Fork(venv, c, req, id);
  }
  pid_t pid = warm_pid.value_or(-1);
  if (!warm_pid) {
    ASSIGN_OR_RETURN(pid, local::Spawn(req));
  }
  std::optional<local::ProcStat> st = local::ReadProcStat(pid);
  cr.pid = pid;
  cr.start_ticks = st ? st->start_ticks : 0;
  cr.status.name = c.name;
  cr.status.running = true;
  cr.status.ready = false;
  cr.status.started_at = clock_.Now();
  if (c.readiness_probe) {
    Workload::ProbeState& probe = w.probes[index];
    probe = {};
    probe.next = SteadyClock::now() + c.readiness_probe->initial_delay;
    for (const auto& [k, v] : env) probe.env.push_back(k + "=" + v);
    probe.working_dir = working_dir;
    probe.sandbox = {options_.shim_path, sandbox,
                     sandbox.empty() ? "" : journal_.ExitPath(id, c.name) + ".probe"};
  }
  w.adopted[index] = warm_pid.has_value();  // the interpreter's child: watched like re-adopted
  w.pidfds[index] = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// Watching

void LocalBackend::CheckChildrenLocked() {
  auto now = SteadyClock::now();
  for (auto& [id, wp] : workloads_) {
    Workload& w = *wp;
    if (w.kill_deadline && now >= *w.kill_deadline) {
      SignalLocked(w, SIGKILL);
      w.kill_deadline.reset();
    }
    bool changed = !IsTerminal(w.rec.phase) && RestartDueLocked(w);
    for (size_t i = 0; i < w.rec.containers.size(); ++i) {
      ContainerRecord& c = w.rec.containers[i];
      if (!c.status.running) continue;
      if (!w.adopted[i]) {
        siginfo_t info{};
        int r = waitid(P_PID, c.pid, &info, WEXITED | WNOHANG | WNOWAIT);
        if (r == 0 && info.si_pid == c.pid) {
          kill(-c.pid, SIGKILL);  // the main command ended: nothing of its group may outlive it
          int status = 0;
          rusage ru{};
          std::optional<double> cpu;
          if (wait4(c.pid, &status, 0, &ru) == c.pid) {
            // The shim's, with that of the command it waited for (and what that waited for).
            cpu = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                  static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
          }
          ContainerEndedLocked(w, i, status, cpu);
          changed = true;
        } else if (r < 0 && errno == ECHILD) {
          w.adopted[i] = true;  // not ours after all: watch it by polling
        }
        continue;
      }
      if (!AliveElseReap(c.pid, c.start_ticks)) {
        ContainerEndedLocked(w, i, std::nullopt);
        changed = true;
      }
    }
    if (changed) UpdatePhaseLocked(w);
  }
  std::erase_if(orphans_, [](pid_t pid) {
    pid_t r = waitpid(pid, nullptr, WNOHANG);
    return r == pid || (r < 0 && errno == ECHILD);
  });
}

void LocalBackend::ContainerEndedLocked(Workload& w, size_t i, std::optional<int> wait_status,
                                        std::optional<double> final_cpu_seconds) {
  ContainerRecord& c = w.rec.containers[i];
  // Its run's CPU joins the workload's total; what the last sample saw when the end says nothing.
  w.rec.cpu_seconds += std::max(c.run_cpu_seconds, final_cpu_seconds.value_or(0.0));
  c.run_cpu_seconds = 0;
  c.memory_bytes = 0;
  std::string exit_file = journal_.ExitPath(w.rec.spec.id, c.status.name);
  std::optional<local::ExitRecord> rec = local::ReadExitFile(exit_file);
  c.status.running = false;
  c.status.ready = false;
  if (i < w.probes.size()) w.probes[i].next.reset();
  c.status.finished_at = clock_.Now();
  bool lost = false;
  if (rec.has_value()) {
    c.status.exit_code = rec->exit_code;
  } else if (wait_status && WIFSIGNALED(*wait_status)) {
    c.status.exit_code = 128 + WTERMSIG(*wait_status);  // the shim itself was killed
  } else if (wait_status && WIFEXITED(*wait_status)) {
    c.status.exit_code = WEXITSTATUS(*wait_status);
  } else {
    lost = true;
  }
  if (CgroupSawOomKill(c.cgroup_dir)) {
    c.status.reason = "OOMKilled";
  } else if (lost) {
    c.status.reason = "Lost";
  } else if (w.rec.stop_requested && c.status.exit_code != 0) {
    c.status.reason = w.rec.stop_reason.empty() ? "Stopped" : w.rec.stop_reason;
  } else {
    c.status.reason = c.status.exit_code == 0 ? "Completed" : "Error";
  }
  if (!c.cgroup_dir.empty()) rmdir(c.cgroup_dir.c_str());
  if (w.pidfds[i] >= 0) {
    close(w.pidfds[i]);
    w.pidfds[i] = -1;
  }
  LogInfo("container ended", {{"workload", w.rec.spec.id},
                              {"container", c.status.name},
                              {"reason", c.status.reason},
                              {"exit_code", c.status.exit_code ? std::to_string(*c.status.exit_code)
                                                               : std::string("none")}});
  if (ScheduleRestartLocked(w, i)) {
    PersistLocked(w);
    return;
  }
  // One container failing fails the workload: stop the others.
  bool failed = c.status.reason != "Completed";
  if (failed && !w.rec.stop_requested) {
    if (w.rec.message.empty()) {
      w.rec.message =
          c.status.reason == "Lost"
              ? "container " + c.status.name +
                    " was lost: it ended while no backend watched it and left no "
                    "exit record"
              : "container " + c.status.name + " failed: " + c.status.reason +
                    (c.status.exit_code ? " (exit code " + std::to_string(*c.status.exit_code) + ")"
                                        : std::string());
    }
    SignalLocked(w, SIGTERM);
    if (!w.kill_deadline) w.kill_deadline = SteadyClock::now() + options_.shutdown_grace;
  }
  PersistLocked(w);
}

bool LocalBackend::ScheduleRestartLocked(Workload& w, size_t index) {
  ContainerRecord& c = w.rec.containers[index];
  const RestartPolicy policy = w.rec.spec.restart_policy;
  if (w.rec.stop_requested || shutting_down_ || policy == RestartPolicy::kNever ||
      (policy == RestartPolicy::kOnFailure && c.status.reason == "Completed")) {
    return false;
  }
  // Back to the base delay after a long run; doubled for each quick end in a row.
  const bool long_run =
      c.status.started_at && c.status.finished_at &&
      *c.status.finished_at - *c.status.started_at >= options_.restart_backoff_reset;
  int& streak = w.crash_streak[index];
  streak = long_run ? 0 : streak + 1;
  std::chrono::milliseconds delay = options_.restart_backoff;
  for (int k = 1; k < streak && delay < options_.restart_backoff_max; ++k) delay *= 2;
  delay = std::min(delay, options_.restart_backoff_max);
  LogInfo("container restarts after a backoff",
          {{"workload", w.rec.spec.id},
           {"container", c.status.name},
           {"reason", c.status.reason},
           {"restart_count", std::to_string(c.status.restart_count)},
           {"backoff_ms", std::to_string(delay.count())}});
  c.restarting = true;
  c.status.reason = "CrashLoopBackOff";
  w.restart_at[index] = SteadyClock::now() + delay;
  return true;
}

bool LocalBackend::RestartDueLocked(Workload& w) {
  bool changed = false;
  const auto now = SteadyClock::now();
  for (size_t i = 0; i < w.rec.containers.size(); ++i) {
    if (!w.restart_at[i] || now < *w.restart_at[i]) continue;
    w.restart_at[i].reset();
    ContainerRecord& c = w.rec.containers[i];
    c.restarting = false;
    c.status.restart_count += 1;
    c.status.exit_code.reset();
    c.status.reason.clear();
    c.status.finished_at.reset();
    std::vector<std::string> links;
    Status started = StartContainerLocked(w, i, &links);
    for (const std::string& link : links) {
      if (std::find(w.rec.links.begin(), w.rec.links.end(), link) == w.rec.links.end()) {
        w.rec.links.push_back(link);
      }
    }
    if (!started.ok()) FailLocked(w, "StartError", started.message());
    changed = true;
  }
  if (changed) PersistLocked(w);
  return changed;
}

void LocalBackend::CancelRestartsLocked(Workload& w, const std::string& reason) {
  for (size_t i = 0; i < w.rec.containers.size(); ++i) {
    ContainerRecord& c = w.rec.containers[i];
    if (!c.restarting) continue;
    c.restarting = false;
    c.status.reason = reason;
    if (i < w.restart_at.size()) w.restart_at[i].reset();
  }
}

void LocalBackend::UpdatePhaseLocked(Workload& w) {
  if (IsTerminal(w.rec.phase)) return;
  bool any_running = false;
  bool all_ok = true;
  bool all_done = true;
  for (const ContainerRecord& c : w.rec.containers) {
    any_running |= c.status.running;
    bool done = !c.status.running && !c.status.reason.empty() && !c.restarting;
    all_done &= done;
    all_ok &= done && c.status.reason == "Completed";
  }
  if (any_running || !all_done) return;
  w.rec.phase = all_ok ? WorkloadPhase::kSucceeded : WorkloadPhase::kFailed;
  if (!all_ok && w.rec.message.empty()) {
    w.rec.message = w.rec.stop_requested ? "stopped" : "a container failed";
  }
  if (all_ok) w.rec.message.clear();
  w.rec.finished_at = clock_.Now();
  w.kill_deadline.reset();
  ReleaseLocked(w);
  PersistLocked(w);
}

void LocalBackend::SignalLocked(Workload& w, int sig) {
  for (size_t i = 0; i < w.rec.containers.size(); ++i) {
    const ContainerRecord& c = w.rec.containers[i];
    if (!c.status.running || c.pid <= 0) continue;
    // An adopted pid is signalled only while it is still the process we started.
    if (w.adopted[i] && !local::ProcessAliveSince(c.pid, c.start_ticks)) continue;
    kill(-c.pid, sig);
  }
}

void LocalBackend::FailLocked(Workload& w, const std::string& reason, const std::string& message) {
  CancelRestartsLocked(w, reason);
  TimePoint now = clock_.Now();
  if (w.rec.message.empty() || reason == "StartError" || reason == "Unschedulable") {
    w.rec.message = message;
  }
  for (ContainerRecord& c : w.rec.containers) {
    if (c.status.running || !c.status.reason.empty()) continue;
    c.status.reason = reason;
    c.status.finished_at = now;
  }
  bool running = std::any_of(w.rec.containers.begin(), w.rec.containers.end(),
                             [](const ContainerRecord& c) { return c.status.running; });
  if (running) {
    SignalLocked(w, SIGKILL);  // reaped by the loop, which then finishes the workload
  } else {
    w.rec.phase = WorkloadPhase::kFailed;
    w.rec.finished_at = now;
    ReleaseLocked(w);
  }
  w.preparing = false;
  w.env_ready = false;
  PersistLocked(w);
  LogInfo("workload failed",
          {{"workload", w.rec.spec.id}, {"reason", reason}, {"message", w.rec.message}});
}

void LocalBackend::ReleaseLocked(Workload& w) {
  slots_.Remove(w.rec.spec.id);
  w.admitted = false;
  // Mount links go with the end of the last workload using them (ParallelFor iterations mount the
  // same claim at the same path), so a later workload may mount another volume there.
  for (const std::string& link : w.rec.links) {
    std::error_code ec;
    if (LinkHolderLocked(link, w).empty() && fs::is_symlink(fs::symlink_status(link, ec))) {
      fs::remove(link, ec);
    }
  }
  w.rec.links.clear();
}

void LocalBackend::PersistLocked(const Workload& w) { unwritten_.insert(w.rec.spec.id); }

void LocalBackend::FlushLocked() {
  for (const std::string& id : unwritten_) {
    auto it = workloads_.find(id);
    if (it == workloads_.end()) continue;  // removed since
    const local::WorkloadRecord& rec = it->second->rec;
    Status st = journal_.Write(rec);
    if (!st.ok()) LogError("cannot persist workload record", {{"error", st.ToString()}});
    changed_workloads_[id] = rec.spec.labels;
  }
  unwritten_.clear();
}

bool LocalBackend::AnyRunningLocked() const {
  for (const auto& [id, w] : workloads_) {
    for (const ContainerRecord& c : w->rec.containers) {
      if (c.status.running) return true;
    }
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Backend methods

Status LocalBackend::Launch(const WorkloadSpec& spec) {
  RETURN_IF_ERROR(ValidateSpec(spec));
  MutexLock lock(&mu_);
  if (shutting_down_) return Unavailable("local backend is shutting down");
  if (workloads_.count(spec.id) > 0) return Status::Ok();
  auto w = std::make_unique<Workload>();
  w->rec.spec = spec;
  w->rec.seq = next_seq_++;
  for (const ContainerSpec& c : spec.containers) {
    ContainerRecord cr;
    cr.status.name = c.name;
    w->rec.containers.push_back(cr);
  }
  w->adopted.assign(spec.containers.size(), false);
  w->pidfds.assign(spec.containers.size(), -1);
  w->restart_at.assign(spec.containers.size(), std::nullopt);
  w->crash_streak.assign(spec.containers.size(), 0);
  w->probes.assign(spec.containers.size(), {});
  Workload& ref = *w;
  workloads_[spec.id] = std::move(w);
  if (Status queued = slots_.Add(SlotRequest(ref.rec)); !queued.ok()) {
    FailLocked(ref, "Unschedulable", queued.message());
  }
  AdmitLocked();  // start now when it fits, so Observe right after sees it
  PersistLocked(ref);
  FlushLocked();  // launched means recorded
  Wake();
  return Status::Ok();
}

WorkloadStatus LocalBackend::StatusOfLocked(const Workload& w) const {
  WorkloadStatus st;
  st.id = w.rec.spec.id;
  st.labels = w.rec.spec.labels;
  st.phase = w.rec.phase;
  st.message = w.rec.message;
  st.started_at = w.rec.started_at;
  st.finished_at = w.rec.finished_at;
  st.ready = w.rec.phase == WorkloadPhase::kRunning;
  for (size_t i = 0; i < w.rec.containers.size(); ++i) {
    ContainerStatus cs = w.rec.containers[i].status;
    if (!w.rec.spec.containers[i].readiness_probe) cs.ready = cs.running;
    st.ready = st.ready && cs.ready;
    st.containers.push_back(std::move(cs));
  }
  for (const auto& [name, port] : w.rec.ports) {
    st.endpoints[name] = "127.0.0.1:" + std::to_string(port);
  }
  return st;
}

int LocalBackend::ProbePort(const Workload& w, const std::string& port) {
  if (auto it = w.rec.ports.find(port); it != w.rec.ports.end()) return it->second;
  int number = 0;
  for (char ch : port) {
    if (ch < '0' || ch > '9' || number > 65535) return -1;
    number = number * 10 + (ch - '0');
  }
  // A declared port by its number: where it is served.
  for (const ContainerSpec& c : w.rec.spec.containers) {
    for (const ContainerPort& p : c.ports) {
      if (p.container_port != number) continue;
      if (auto it = w.rec.ports.find(PortName(p)); it != w.rec.ports.end()) return it->second;
    }
  }
  return number;
}

void LocalBackend::SampleUsage() {
  std::set<pid_t> groups;
  {
    MutexLock lock(&mu_);
    for (const auto& [id, w] : workloads_) {
      for (const ContainerRecord& c : w->rec.containers) {
        if (c.status.running && c.pid > 0) groups.insert(c.pid);
      }
    }
  }
  std::map<pid_t, ResourceUsage> sampled = local::ProcessGroupsUsage(groups);
  MutexLock lock(&mu_);
  const auto now = SteadyClock::now();
  for (auto& [id, w] : workloads_) {
    if (w->rec.phase != WorkloadPhase::kRunning) {
      w->last_sample.reset();
      continue;
    }
    int64_t resident = 0;
    for (ContainerRecord& c : w->rec.containers) {
      if (!c.status.running) continue;
      auto it = sampled.find(c.pid);
      if (it == sampled.end()) continue;
      // A group's CPU only grows (its processes' and what they waited for), unless a process
      // ended unwaited between samples: never count less than before.
      c.run_cpu_seconds = std::max(c.run_cpu_seconds, it->second.cpu_seconds);
      c.memory_bytes = it->second.memory_bytes;
      resident += c.memory_bytes;
    }
    w->rec.peak_memory_bytes = std::max(w->rec.peak_memory_bytes, resident);
    if (w->last_sample) {
      w->rec.memory_byte_seconds += static_cast<double>(resident) *
                                    std::chrono::duration<double>(now - *w->last_sample).count();
    }
    w->last_sample = now;
  }
}

void LocalBackend::ProberLoop() {
  auto last_usage_sample = SteadyClock::now();
  struct Due {
    std::string id;
    size_t index;
    pid_t pid;
    Probe probe;
    int port;
    std::vector<std::string> env;
    std::string working_dir;
    local::ProbeSandbox sandbox;
  };
  while (true) {
    std::vector<Due> due;
    {
      MutexLock lock(&mu_);
      env_cv_.WaitFor(mu_, options_.tick, [&] {
        mu_.AssertHeld();
        return stop_threads_;
      });
      if (stop_threads_) return;
      const auto now = SteadyClock::now();
      for (auto& [id, w] : workloads_) {
        if (IsTerminal(w->rec.phase)) continue;
        for (size_t i = 0; i < w->rec.containers.size(); ++i) {
          const std::optional<Probe>& probe = w->rec.spec.containers[i].readiness_probe;
          Workload::ProbeState& state = w->probes[i];
          if (!probe || !state.next || now < *state.next || !w->rec.containers[i].status.running) {
            continue;
          }
          state.next = now + std::max(probe->period, std::chrono::milliseconds(1));
          due.push_back({id, i, w->rec.containers[i].pid, *probe, ProbePort(*w, probe->port),
                         state.env, state.working_dir, state.sandbox});
        }
      }
    }
    {
      const auto now = SteadyClock::now();
      if (now - last_usage_sample >= options_.usage_period) {
        last_usage_sample = now;
        SampleUsage();
      }
    }
    if (due.empty()) continue;
    std::vector<bool> passed;
    for (const Due& d : due) {
      switch (d.probe.kind) {
        case Probe::Kind::kHttpGet:
          passed.push_back(local::HttpGetSucceeds(d.port, d.probe.http_path, d.probe.timeout));
          break;
        case Probe::Kind::kTcp:
          passed.push_back(local::TcpConnects(d.port, d.probe.timeout));
          break;
        case Probe::Kind::kExec:
          passed.push_back(
              local::ExecSucceeds(d.probe.exec, d.env, d.working_dir, d.probe.timeout, d.sandbox));
          break;
      }
    }
    {
      MutexLock lock(&mu_);
      for (size_t k = 0; k < due.size(); ++k) {
        auto it = workloads_.find(due[k].id);
        if (it == workloads_.end()) continue;
        Workload& w = *it->second;
        ContainerRecord& c = w.rec.containers[due[k].index];
        if (!c.status.running || c.pid != due[k].pid) continue;  // ended or restarted since
        Workload::ProbeState& state = w.probes[due[k].index];
        const bool was_ready = c.status.ready;
        if (passed[k]) {
          state.passes += 1;
          state.failures = 0;
          if (state.passes >= std::max(1, due[k].probe.success_threshold)) c.status.ready = true;
        } else {
          state.failures += 1;
          state.passes = 0;
          if (state.failures >= std::max(1, due[k].probe.failure_threshold)) {
            c.status.ready = false;
          }
        }
        if (c.status.ready != was_ready) {
          LogInfo(c.status.ready ? "container ready" : "container not ready",
                  {{"workload", w.rec.spec.id}, {"container", c.status.name}});
          PersistLocked(w);
        }
      }
      FlushLocked();
    }
    NotifyListener();
  }
}

Status LocalBackend::AllocatePortsLocked(Workload& w) {
  std::set<int> taken;
  for (const auto& [id, other] : workloads_) {
    if (other.get() == &w || IsTerminal(other->rec.phase)) continue;
    for (const auto& [name, port] : other->rec.ports) taken.insert(port);
  }
  for (const ContainerSpec& c : w.rec.spec.containers) {
    for (const ContainerPort& p : c.ports) {
      const std::string name = PortName(p);
      if (w.rec.ports.count(name) > 0) continue;  // kept across restarts
      // The kernel's choice, unless another workload holds it already (it was not listening
      // yet when asked).
      Result<int> port = local::FreeLoopbackPort();
      for (int tries = 0; port.ok() && taken.count(*port) > 0 && tries < 16; ++tries) {
        port = local::FreeLoopbackPort();
      }
      if (!port.ok()) return port.status().WithContext("port " + name);
      taken.insert(*port);
      w.rec.ports[name] = *port;
    }
  }
  return Status::Ok();
}

Result<WorkloadStatus> LocalBackend::Observe(const std::string& id) {
  MutexLock lock(&mu_);
  auto it = workloads_.find(id);
  if (it == workloads_.end()) return NotFound("workload " + id + " not found");
  return StatusOfLocked(*it->second);
}

std::vector<WorkloadStatus> LocalBackend::List() {
  MutexLock lock(&mu_);
  std::vector<WorkloadStatus> out;
  for (const auto& [id, w] : workloads_) out.push_back(StatusOfLocked(*w));
  return out;
}

Status LocalBackend::SetQuota(const std::string& ns, const WorkloadQuota& quota) {
  {
    MutexLock lock(&mu_);
    slots_.SetQuota(ns, {.cpu_millis = quota.cpu_millis,
                         .memory_bytes = quota.memory_bytes,
                         .requests = quota.workloads});
    AdmitLocked();  // a raised or lifted quota may let queued work start
    FlushLocked();
  }
  Wake();
  return Status::Ok();
}

Status LocalBackend::Stop(const std::string& id, std::chrono::milliseconds grace) {
  {
    MutexLock lock(&mu_);
    auto it = workloads_.find(id);
    if (it == workloads_.end()) return NotFound("workload " + id + " not found");
    StopLocked(*it->second, grace, "Stopped", "stopped");
    FlushLocked();
  }
  Wake();
  return Status::Ok();
}

void LocalBackend::StopLocked(Workload& w, std::chrono::milliseconds grace,
                              const std::string& reason, const std::string& message) {
  if (IsTerminal(w.rec.phase)) return;
  w.rec.stop_requested = true;
  w.rec.stop_reason = reason;
  CancelRestartsLocked(w, reason);
  bool running = std::any_of(w.rec.containers.begin(), w.rec.containers.end(),
                             [](const ContainerRecord& c) { return c.status.running; });
  if (!running) {
    FailLocked(w, reason, message);
    return;
  }
  w.rec.message = message;
  if (grace.count() <= 0) {
    SignalLocked(w, SIGKILL);
  } else {
    SignalLocked(w, SIGTERM);
    w.kill_deadline = SteadyClock::now() + grace;
  }
  PersistLocked(w);
}

Status LocalBackend::Remove(const std::string& id) {
  {
    MutexLock lock(&mu_);
    auto it = workloads_.find(id);
    if (it == workloads_.end()) return NotFound("workload " + id + " not found");
    Workload& w = *it->second;
    SignalLocked(w, SIGKILL);
    for (size_t i = 0; i < w.rec.containers.size(); ++i) {
      if (w.rec.containers[i].status.running && !w.adopted[i]) {
        orphans_.push_back(w.rec.containers[i].pid);
      }
      // The loop may be polling this fd right now: it closes it after its poll returns.
      if (w.pidfds[i] >= 0) orphan_fds_.push_back(w.pidfds[i]);
      w.pidfds[i] = -1;
    }
    ReleaseLocked(w);
    journal_.Erase(w.rec);
    workloads_.erase(it);
  }
  Wake();
  return Status::Ok();
}

Result<std::string> LocalBackend::ReadLogs(const std::string& id, const std::string& container,
                                           int64_t offset) {
  std::string path;
  {
    MutexLock lock(&mu_);
    auto it = workloads_.find(id);
    if (it == workloads_.end()) {
      ASSIGN_OR_RETURN(path, LogOfForgottenLocked(id, container));
    } else {
      const WorkloadSpec& spec = it->second->rec.spec;
      std::string name = container.empty() ? spec.containers[0].name : container;
      bool known = std::any_of(spec.containers.begin(), spec.containers.end(),
                               [&](const ContainerSpec& c) { return c.name == name; });
      if (!known) return NotFound("workload " + id + " has no container " + name);
      path = journal_.LogPath(id, name);
    }
  }
  return ReadLogFile(path, offset);
}

Result<std::string> LocalBackend::LogOfForgottenLocked(const std::string& id,
                                                       const std::string& container) {
  // A workload removed, or from before a restore: its log files are still there.
  RETURN_IF_ERROR(ValidateId(id));
  const auto is_name = [](const std::string& name) {
    return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
    });
  };
  if (!container.empty()) {
    if (!is_name(container)) return InvalidArgument("no container \"" + container + "\"");
    std::string path = journal_.LogPath(id, container);
    if (std::filesystem::exists(path)) return path;
    return NotFound("workload " + id + " not found");
  }
  // No container named: the one whose log there is (`id.<container>.log`).
  const std::string any = journal_.LogPath(id, "x");
  const std::filesystem::path folder = std::filesystem::path(any).parent_path();
  const std::string prefix = std::filesystem::path(any).filename().string();
  const std::string head = prefix.substr(0, prefix.size() - std::string("x.log").size());
  std::vector<std::string> found;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(folder, ec)) {
    std::string file = entry.path().filename().string();
    if (file.size() > head.size() + 4 && file.rfind(head, 0) == 0 &&
        file.compare(file.size() - 4, 4, ".log") == 0 &&
        is_name(file.substr(head.size(), file.size() - head.size() - 4))) {
      found.push_back(file.substr(head.size(), file.size() - head.size() - 4));
    }
  }
  if (found.empty()) return NotFound("workload " + id + " not found");
  if (found.size() > 1) {
    std::sort(found.begin(), found.end());
    std::string names;
    for (const std::string& n : found) names += (names.empty() ? "" : ", ") + n;
    return InvalidArgument("workload " + id + " had several containers: name one of " + names);
  }
  return journal_.LogPath(id, found[0]);
}

Result<std::string> LocalBackend::ReadLogFile(const std::string& path, int64_t offset) {
  if (offset < 0)
    return InvalidArgument("log offset must not be negative, got " + std::to_string(offset));
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::string();
  in.seekg(0, std::ios::end);
  int64_t size = static_cast<int64_t>(in.tellg());
  if (offset >= size) return std::string();
  int64_t len = std::min(size - offset, kMaxLogRead);
  std::string out(static_cast<size_t>(len), '\0');
  in.seekg(offset);
  in.read(out.data(), len);
  out.resize(static_cast<size_t>(in.gcount()));
  return out;
}

Result<ResourceUsage> LocalBackend::Usage(const std::string& id) {
  MutexLock lock(&mu_);
  auto it = workloads_.find(id);
  if (it == workloads_.end()) return NotFound("workload " + id + " not found");
  const Workload& w = *it->second;
  ResourceUsage total;
  total.cpu_seconds = w.rec.cpu_seconds;
  for (const ContainerRecord& c : w.rec.containers) {
    total.cpu_seconds += c.run_cpu_seconds;
    if (c.status.running) total.memory_bytes += c.memory_bytes;
  }
  total.peak_memory_bytes = w.rec.peak_memory_bytes;
  total.memory_byte_seconds = w.rec.memory_byte_seconds;
  if (w.rec.started_at) {
    const TimePoint end = w.rec.finished_at.value_or(clock_.Now());
    total.wall_seconds =
        std::max(0.0, std::chrono::duration<double>(end - *w.rec.started_at).count());
  }
  return total;
}

}  // namespace skiff
