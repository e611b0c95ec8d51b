// LocalBackend: runs workloads as supervised process groups on this machine.
//
// Each container is started through a shim (spawn.h) as its own session/process group, with
// stdout+stderr appended to `<log_dir>/<workload id>.<container>.log`, the env of the spec on top
// of PATH/HOME/LANG from the server, its workingDir (created when missing; default a per-workload
// directory), and its volumes bound by symlink: emptyDir -> `<state_dir>/<id>/volumes/<name>`,
// hostPath -> that directory; mountPath becomes a symlink to it when it does not exist yet (an
// existing link to the same directory is reused, anything else fails the workload: StartError).
// Memory limits use a cgroup v2 child group (memory.max; an OOM kill reads back as "OOMKilled")
// when the server's cgroup is writable and delegates `memory`, and RLIMIT_AS otherwise.
//
// Admission (slots.h): a workload needs the sum of its containers' cpu (100m when unset) and
// memory; when that does not fit in what is free it stays kPending "waiting for resources: needs
// X cpu, Y memory", and queued workloads start in order of priority, then arrival (no
// overtaking). A gang (WorkloadSpec::group) starts all at once when all its members fit; a
// higher priority preempts lower-priority work (stopped, reason "Preempted"). One bigger than the
// whole machine fails at once. `python*` images (or as an image map says) run
// with a cached virtual environment (python_env.h) made on a worker thread while the workload is
// kPending "preparing python environment". A container that names python_preload modules and
// runs `python3 -m MODULE ...` is forked from a warm interpreter of its environment that imported
// them once (warm_pool.h), made while the first such workload is preparing; when there is none,
// or it fails, the container starts through the shim as any other.
//
// One supervisor thread runs a poll loop (ninja subprocess-posix.cc style) over a self-pipe for
// wake-ups and a pidfd per child, with a periodic tick for admission, kill deadlines and polling
// of re-adopted processes; after each turn it tells the WorkloadListener (SetListener) which
// workloads changed. Every workload is persisted to `<state_dir>/<id>.json` (atomically) on
// each change. A new LocalBackend on the same state_dir re-adopts what it finds: a container
// whose pid is alive with the recorded start time is watched again; one that ended while no
// backend watched reports the exit code its shim recorded; one gone without a record is kFailed
// with reason "Lost". Queued workloads are queued again.
//
// Shutdown(grace) (and the destructor, when Options::stop_on_shutdown) refuses new launches,
// SIGTERMs every running group, SIGKILLs after `grace`, and reaps: no child is left behind. With
// stop_on_shutdown = false the destructor only stops the threads, leaving the processes running
// for a later backend on the same state_dir to re-adopt (a server restart that must not disturb
// running work; tests use it to simulate a crash).
//
// Timestamps in statuses come from the Clock; grace periods and ticks use the steady clock.
//
//   LocalBackend::Options o{.state_dir = home + "/workloads", .log_dir = home + "/logs",
//                           .env_cache_dir = home + "/envs"};
//   ASSIGN_OR_RETURN(std::unique_ptr<LocalBackend> backend, LocalBackend::Create(o, clock));
//   RETURN_IF_ERROR(backend->Launch(spec));
//
// Thread-safe: every Backend method may be called from any thread (one mutex).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "backend/backend.h"
#include "backend/local/confine.h"
#include "backend/local/image_map.h"
#include "backend/local/journal.h"
#include "backend/local/probe.h"
#include "backend/local/python_env.h"
#include "backend/local/slots.h"
#include "backend/local/warm_pool.h"
#include "backend/local/workload_record.h"
#include "core/clock.h"
#include "core/resource.h"
#include "core/thread_annotations.h"

namespace skiff {

class LocalBackend : public Backend {
 public:
  struct Options {
    std::string state_dir;           // workload records, exit files, emptyDir volumes
    std::string log_dir;             // <log_dir>/<workload id>.<container>.log
    int64_t total_cpu_millis = 0;    // 0 = nproc * 1000
    int64_t total_memory_bytes = 0;  // 0 = MemTotal from /proc/meminfo
    std::string python = "/usr/bin/python3";
    std::string env_cache_dir;     // python virtual environments; "" = <state_dir>/../envs
    std::string image_map_file;    // optional YAML (image_map.h)
    bool stop_on_shutdown = true;  // the destructor stops every workload (see above)
    std::chrono::milliseconds shutdown_grace{2000};  // used by the destructor
    std::chrono::milliseconds tick{50};              // admission / polling period
    // A container the restart policy starts again waits this long, doubled at each restart up to
    // restart_backoff_max (Kubernetes' CrashLoopBackOff); back to the base after a run of
    // restart_backoff_reset.
    std::chrono::milliseconds restart_backoff{10000};
    std::chrono::milliseconds restart_backoff_max{300000};
    std::chrono::milliseconds restart_backoff_reset{600000};
    std::chrono::milliseconds usage_period{1000};  // how often running workloads are sampled
    bool use_cgroups = true;                       // false: always RLIMIT_AS
    std::string shim_path;  // the process shim (spawn.h); "" = skiff-shim beside the executable
    // Containers that name python_preload modules fork from a warm interpreter per environment
    // (python_zygote.h) instead of starting Python afresh.
    bool warm_python = true;
    // Sandboxed workloads (WorkloadSpec::sandboxed) run in namespaces (sandbox.h, confine.h)
    // when it is enabled: `hidden` folders are kept from them but for the `visible` ones
    // (read-only), and each profile runs as an identity of its own when the server is root.
    struct Sandbox {
      bool enabled = false;
      std::vector<std::string> hidden;
      std::vector<std::string> visible;
    };
    Sandbox sandbox;
  };

  // Creates the directories, loads the image map, re-adopts recorded workloads and starts the
  // supervisor. Errors name the directory or file at fault.
  static Result<std::unique_ptr<LocalBackend>> Create(Options options, Clock& clock);
  ~LocalBackend() override;

  LocalBackend(const LocalBackend&) = delete;
  LocalBackend& operator=(const LocalBackend&) = delete;

  // Backend.
  void SetListener(WorkloadListener listener) override;
  Status Launch(const WorkloadSpec& spec) override;
  Result<WorkloadStatus> Observe(const std::string& id) override;
  std::vector<WorkloadStatus> List() override;
  Status Stop(const std::string& id, std::chrono::milliseconds grace) override;
  Status Remove(const std::string& id) override;
  Result<std::string> ReadLogs(const std::string& id, const std::string& container,
                               int64_t offset) override;
  Result<ResourceUsage> Usage(const std::string& id) override;
  Status SetQuota(const std::string& ns, const WorkloadQuota& quota) override;

  // Stops every workload (SIGTERM, SIGKILL after `grace`), reaps, and stops the threads. Later
  // calls to Launch return kUnavailable. Idempotent.
  void Shutdown(std::chrono::milliseconds grace);

  int64_t total_cpu_millis() const { return options_.total_cpu_millis; }
  int64_t total_memory_bytes() const { return options_.total_memory_bytes; }

 private:
  struct Workload {
    local::WorkloadRecord rec;
    bool admitted = false;               // holds its slots (slots_)
    bool preparing = false;              // waiting for its python environment
    bool env_ready = false;              // environment made; start at the next loop turn
    std::vector<std::string> venv_dirs;  // per container: its python env, "" when none
    std::vector<bool> adopted;           // per container: not our child, watched by polling
    std::vector<int> pidfds;             // per container: -1 when none
    // Per container: when the restart policy starts it again (set while rec.restarting).
    std::vector<std::optional<std::chrono::steady_clock::time_point>> restart_at;
    std::vector<int> crash_streak;  // per container: quick ends in a row (the backoff's exponent)
    // Per container with a readiness probe: when it is next due (unset while not running), the
    // passes and failures in a row, and what an exec probe runs with (the container's own).
    struct ProbeState {
      std::optional<std::chrono::steady_clock::time_point> next;
      int passes = 0;
      int failures = 0;
      std::vector<std::string> env;
      std::string working_dir;
      local::ProbeSandbox sandbox;  // an exec probe runs in the container's sandbox
    };
    std::vector<ProbeState> probes;
    std::optional<std::chrono::steady_clock::time_point> last_sample;  // of its usage
    std::optional<std::chrono::steady_clock::time_point> kill_deadline;
  };

  LocalBackend(Options options, Clock& clock);
  Status Init();
  // Runs a trivial container in the sandbox: an error saying what failed when it cannot.
  Status CheckSandbox();
  void LoadRecordsLocked() REQUIRES(mu_);

  void SupervisorLoop();
  void EnvWorkerLoop();
  // Runs the readiness probes that are due and samples usage (every usage_period), both outside
  // mu_, and records what they found.
  void ProberLoop();
  // One usage sample of every running container (a pass over /proc outside mu_).
  void SampleUsage() EXCLUDES(mu_);
  // The port of 127.0.0.1 a probe's `port` (a port name or number) reaches for `w`.
  static int ProbePort(const Workload& w, const std::string& port);
  void Wake();
  // Tells the listener of the workloads FlushLocked wrote since, once each.
  void NotifyListener() EXCLUDES(mu_, listener_mu_);

  // All *Locked methods require mu_.
  void AdmitLocked() REQUIRES(mu_);
  void StartLocked(Workload& w) REQUIRES(mu_);
  // Gives each declared port of `w` that has none yet a free port of 127.0.0.1 that no other
  // live workload has (WorkloadRecord::ports).
  Status AllocatePortsLocked(Workload& w) REQUIRES(mu_);
  // The folder volume `name` of `w` binds: its host path, or the workload's own emptyDir folder.
  std::string VolumeHostPath(const Workload& w, const std::string& name) const;
  // A mount path of `w` that a running workload has linked to another folder ("" if none):
  // volumes bind by symlink, so such a workload waits until the path is free.
  std::string BusyMountLocked(const Workload& w) const REQUIRES(mu_);
  // The id of a workload other than `except` whose mount link `link` is ("" if none).
  std::string LinkHolderLocked(const std::string& link, const Workload& except) const REQUIRES(mu_);
  // True (with w.venv_dirs set) when every python environment and warm interpreter `w` needs
  // is known ready, so it can start without a turn of the environment worker.
  bool EnvironmentsReadyLocked(Workload& w) REQUIRES(mu_);
  Status StartContainerLocked(Workload& w, size_t index, std::vector<std::string>* links)
      REQUIRES(mu_);
  // The volume `m` names (an error naming the container, `where`, when none).
  static Result<const Volume*> FindVolume(const Workload& w, const VolumeMount& m,
                                          const std::string& where);
  // Unsandboxed: binds each volume of `c` by a symlink at its mount path (recorded in `links`).
  Status LinkVolumesLocked(const Workload& w, const ContainerSpec& c,
                           std::vector<std::string>* links) REQUIRES(mu_);
  // Links `m`'s mount path to the volume's folder `host` (recorded in `links`); an existing link
  // to it is shared, anything else there is an error.
  static Status LinkVolume(const std::string& where, const VolumeMount& m, const std::string& host,
                           std::vector<std::string>* links);
  // Sandboxed: makes the folders `c` writes (its identity's), links the mount paths that are not
  // there (LinkVolume) and returns its encoded plan.
  Result<std::string> SandboxLocked(const Workload& w, const ContainerSpec& c,
                                    std::vector<std::string>* links) REQUIRES(mu_);
  void CheckChildrenLocked() REQUIRES(mu_);
  // `final_cpu_seconds`: the container's whole CPU time when known (wait4 of our own child).
  void ContainerEndedLocked(Workload& w, size_t index, std::optional<int> wait_status,
                            std::optional<double> final_cpu_seconds = std::nullopt) REQUIRES(mu_);
  void UpdatePhaseLocked(Workload& w) REQUIRES(mu_);
  // True when container `index` of `w`, which just ended with its reason set, is to be started
  // again (its restart policy, and no stop asked for): it is then marked restarting, after a
  // backoff.
  bool ScheduleRestartLocked(Workload& w, size_t index) REQUIRES(mu_);
  // Starts the containers whose backoff is over; true when any changed.
  bool RestartDueLocked(Workload& w) REQUIRES(mu_);
  // A stopped workload's containers waiting to restart end with `reason` instead.
  void CancelRestartsLocked(Workload& w, const std::string& reason) REQUIRES(mu_);
  void SignalLocked(Workload& w, int sig) REQUIRES(mu_);
  // Stops `w` (SIGTERM, SIGKILL after `grace`; at once when nothing runs): its containers end
  // with `reason` ("Stopped", "Preempted") and the workload kFailed with `message`.
  void StopLocked(Workload& w, std::chrono::milliseconds grace, const std::string& reason,
                  const std::string& message) REQUIRES(mu_);
  void FailLocked(Workload& w, const std::string& reason, const std::string& message) REQUIRES(mu_);
  void ReleaseLocked(Workload& w) REQUIRES(mu_);
  // Notes that `w` changed. The next FlushLocked, which every path that changes workloads calls
  // before it lets go of mu_, writes its record (once however many changes) and queues it for
  // the listener, told after the supervisor's turn.
  void PersistLocked(const Workload& w) REQUIRES(mu_);
  void FlushLocked() REQUIRES(mu_);
  // The log file of a workload this backend no longer knows (removed, or restored from a
  // backup): `container`'s, or with none named the one container's that has a log.
  Result<std::string> LogOfForgottenLocked(const std::string& id, const std::string& container)
      REQUIRES(mu_);
  static Result<std::string> ReadLogFile(const std::string& path, int64_t offset);
  bool AnyRunningLocked() const REQUIRES(mu_);
  WorkloadStatus StatusOfLocked(const Workload& w) const REQUIRES(mu_);

  Options options_;
  Clock& clock_;
  const local::Journal journal_;         // where each workload is kept on disk
  local::SandboxLayout sandbox_layout_;  // set by Init from options_.sandbox
  local::ImageMap image_map_;
  std::unique_ptr<local::PythonEnvCache> env_cache_;
  std::unique_ptr<local::WarmPool> warm_;  // warm interpreters (python_zygote.h)
  std::string cgroup_root_;                // "" when cgroups are not usable
  int wake_read_ = -1;
  int wake_write_ = -1;

  mutable Mutex mu_;
  CondVar changed_;  // signalled after every supervisor turn
  std::map<std::string, std::unique_ptr<Workload>> workloads_ GUARDED_BY(mu_);
  std::deque<std::string> env_queue_ GUARDED_BY(mu_);
  std::vector<pid_t> orphans_ GUARDED_BY(mu_);   // removed workloads' children to reap
  std::vector<int> orphan_fds_ GUARDED_BY(mu_);  // their pidfds, closed by the loop
  local::Slots slots_ GUARDED_BY(mu_);
  uint64_t next_seq_ GUARDED_BY(mu_) = 1;
  bool shutting_down_ GUARDED_BY(mu_) = false;  // Launch refused
  bool stop_threads_ GUARDED_BY(mu_) = false;
  bool threads_stopped_ GUARDED_BY(mu_) = false;
  CondVar env_cv_;  // env_queue_ or stop_threads_ changed
  // Workloads written since the listener was last told: id -> labels.
  std::map<std::string, std::map<std::string, std::string>> changed_workloads_ GUARDED_BY(mu_);
  std::set<std::string> unwritten_ GUARDED_BY(mu_);  // records PersistLocked noted
  // Held while the listener runs (it may call in, taking mu_) or is replaced.
  Mutex listener_mu_ ACQUIRED_BEFORE(mu_);
  WorkloadListener listener_ GUARDED_BY(listener_mu_);

  std::thread supervisor_;
  std::thread env_worker_;
  std::thread prober_;
};

}  // namespace skiff
