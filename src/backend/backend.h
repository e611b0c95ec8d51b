// Backend: runs pod-shaped workloads. The local implementation (backend/local) supervises process
// groups on this machine; a Kubernetes implementation will create Pods through a kube-apiserver.
// Controllers only ever talk to this interface, so they run unchanged on either.
//
//   WorkloadSpec w;
//   w.id = "default/pi-x7k2p";  // unique and stable: re-launching the same id is a no-op
//   w.containers.push_back({.name = "main", .image = "python:3.11", .command = {"python3", "-c",
//   "print(1)"}});
//   RETURN_IF_ERROR(backend.Launch(w));
//   ASSIGN_OR_RETURN(WorkloadStatus st, backend.Observe(w.id));
//
// Thread-safe: every method may be called from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/status.h"

namespace skiff {

// Labels the platform puts on every workload it launches, over whatever the object asked for: the
// namespace (profile) it runs for and the object that owns it (a Job, a PipelineRun; a bare Pod
// owns itself), to route its events and to account its usage (src/usage).
inline constexpr char kWorkloadNamespaceLabel[] = "skiff.dev/namespace";
inline constexpr char kWorkloadOwnerKindLabel[] = "skiff.dev/owner-kind";
inline constexpr char kWorkloadOwnerNameLabel[] = "skiff.dev/owner-name";

struct EnvVar {
  std::string name;
  std::string value;
};

struct VolumeMount {
  std::string name;        // refers to WorkloadSpec::volumes[].name
  std::string mount_path;  // the path the container sees; on the local backend the host path is
                           // bound there by symlink or substituted (see backend/local)
  bool read_only = false;
};

struct Volume {
  std::string name;
  std::string host_path;  // hostPath / PVC mapped to a directory; empty = emptyDir (per workload)
  // A folder the platform made for it (a claim's, a task's Secret files), which may lie where
  // workloads are otherwise kept out (SKIFF_HOME); a user's hostPath never is.
  bool from_platform = false;
};

// A path of the machine a sandboxed workload sees besides its own folders and volumes (a
// pipeline task's inputs and outputs).
struct HostPath {
  std::string path;
  bool read_only = true;
};

// A port the container serves. The backend reports where it can be reached
// (WorkloadStatus::endpoints, by name; an unnamed port by its number). The local backend gives
// each port a free port of 127.0.0.1 instead of container_port (workloads share the machine's
// network): the container finds it in $SKIFF_PORT_<NAME> (and its first port in $PORT), which
// its command and args may name as $(SKIFF_PORT_<NAME>), as Kubernetes expands $(VAR).
struct ContainerPort {
  std::string name;
  int container_port = 0;
};

// A readiness check (a Kubernetes readinessProbe): an HTTP GET of `http_path` answered 200-399,
// a TCP connection accepted, or `exec` exiting 0, run every `period` from `initial_delay` after
// the container started, each within `timeout`. `success_threshold` passes in a row make the
// container ready, `failure_threshold` failures in a row not ready. `port` is a port name or
// number: a declared port's (ContainerPort) served endpoint, or else that port of 127.0.0.1.
struct Probe {
  enum class Kind { kHttpGet, kTcp, kExec };
  Kind kind = Kind::kHttpGet;
  std::string http_path = "/";
  std::string port;
  std::vector<std::string> exec;
  std::chrono::milliseconds initial_delay{0};
  std::chrono::milliseconds period{10000};
  std::chrono::milliseconds timeout{1000};
  int success_threshold = 1;
  int failure_threshold = 3;
};

struct ContainerSpec {
  std::string name;
  std::string image;  // "python:3.11" -> local Python venv; others -> host command (see local/)
  std::vector<std::string> command;
  std::vector<std::string> args;
  std::vector<EnvVar> env;
  std::string working_dir;
  int64_t cpu_millis = 0;    // request (0 = default, 100m)
  int64_t memory_bytes = 0;  // limit (0 = none)
  std::vector<ContainerPort> ports;
  std::vector<VolumeMount> volume_mounts;
  std::vector<std::string> python_packages;  // extra pip packages for python:* images
  std::vector<std::string> pip_index_urls;
  // For a python image whose command is `python3 -m MODULE ...`: modules a warm interpreter may
  // import once (with python_preload_env set, which must also be in env) and then fork this
  // container from, instead of starting Python afresh (the local backend's python_zygote.h).
  std::vector<std::string> python_preload;
  std::vector<EnvVar> python_preload_env;
  // Without one, a container is ready while it runs.
  std::optional<Probe> readiness_probe;
};

// What the backend does when a container ends (a Pod's restartPolicy): kNever leaves it ended;
// kOnFailure starts it again when it failed, kAlways whenever it ended; each time after a backoff
// that doubles from the backend's base (Kubernetes: 10 s, at most 5 min; back to the base after
// a run of 10 minutes). The workload stays kRunning meanwhile; a container waiting to start again
// reads reason "CrashLoopBackOff" with its last exit code.
enum class RestartPolicy { kNever, kOnFailure, kAlways };
const char* RestartPolicyName(RestartPolicy policy);  // "Never", "OnFailure", "Always"

struct WorkloadSpec {
  std::string id;  // unique, stable; [a-z0-9./_-]
  std::map<std::string, std::string> labels;
  std::vector<ContainerSpec> containers;  // run side by side; all must succeed
  std::vector<Volume> volumes;
  // Higher is admitted first when queued, and may preempt admitted work of lower priority, which
  // is stopped and ends kFailed with reason "Preempted".
  int priority = 0;
  // A gang: workloads naming the same group, of group_size members, are admitted together or not
  // at all (the replicas of a distributed training job). "" = admitted alone.
  std::string group;
  int group_size = 0;
  RestartPolicy restart_policy = RestartPolicy::kNever;
  // Runs in the backend's sandbox where it has one (the local backend: sandbox.h): it sees its
  // own folders, its volumes and `exposed`, never the platform's files or other workloads.
  bool sandboxed = false;
  std::vector<HostPath> exposed;
};

// What the workloads of one namespace (a profile) may hold at once: the compute part of its
// Profile's quota (auth/profile_quota.h). Unset = no limit.
struct WorkloadQuota {
  std::optional<int64_t> cpu_millis;    // the sum of their cpu requests
  std::optional<int64_t> memory_bytes;  // the sum of their memory
  std::optional<int64_t> workloads;     // how many run at once
  bool empty() const { return !cpu_millis && !memory_bytes && !workloads; }
  bool operator==(const WorkloadQuota&) const = default;
};

enum class WorkloadPhase { kPending, kRunning, kSucceeded, kFailed, kUnknown };
const char* WorkloadPhaseName(WorkloadPhase phase);  // "Pending", "Running", ...

struct ContainerStatus {
  std::string name;
  bool running = false;
  std::optional<int> exit_code;  // set once terminated; 128+N when killed by signal N
  std::string reason;            // "Completed", "Error", "OOMKilled", "StartError", ...
  std::optional<TimePoint> started_at;
  std::optional<TimePoint> finished_at;
  int restart_count = 0;  // times the restart policy started it again
  bool ready = false;     // running, and its readiness probe (if any) passes
};

struct WorkloadStatus {
  std::string id;
  std::map<std::string, std::string> labels;  // its spec's
  WorkloadPhase phase = WorkloadPhase::kPending;
  std::string message;  // why pending (queued for slots), failed (start error), ...
  std::vector<ContainerStatus> containers;
  std::optional<TimePoint> started_at;
  std::optional<TimePoint> finished_at;
  // Where each declared port is served, by port name: "127.0.0.1:40123" on the local backend.
  std::map<std::string, std::string> endpoints;
  bool ready = false;  // kRunning with every container ready: its endpoints may take traffic
};

// What a workload used over its life: sampled by the backend while it runs (the local backend
// every second, from /proc, and each container's final CPU time when it ends), kept after it
// ended, until it is removed.
struct ResourceUsage {
  double cpu_seconds = 0;          // user+system, over every run of every container
  int64_t memory_bytes = 0;        // resident now (0 once ended)
  int64_t peak_memory_bytes = 0;   // the most it had resident at a sample
  double memory_byte_seconds = 0;  // resident bytes integrated over time (average: / wall)
  double wall_seconds = 0;         // from its start to its end (or now)
};

// Told that workload `id` (with its spec's labels) changed: it started, a container ended, it
// finished. Called from a backend thread with no backend lock held; it must not block and must
// not call back into the backend synchronously (queueing work, as ReconcileLoop::Enqueue does,
// is the intended use).
using WorkloadListener =
    std::function<void(const std::string& id, const std::map<std::string, std::string>& labels)>;

class Backend {
 public:
  virtual ~Backend() = default;

  // Sets the one listener for workload changes (replacing any earlier one). Controllers still
  // poll with Observe: the listener only makes them react sooner. A backend that cannot notify
  // keeps this default, which ignores the listener.
  // By value: the backends that notify keep it (NOLINT: this default does not).
  virtual void SetListener(WorkloadListener /*listener*/) {}  // NOLINT(performance-*)

  // Admits and starts the workload, or queues it when slots are full. Idempotent on `id`: a
  // second Launch of a known id returns ok and changes nothing.
  virtual Status Launch(const WorkloadSpec& spec) = 0;
  // kNotFound for an unknown id.
  virtual Result<WorkloadStatus> Observe(const std::string& id) = 0;
  // Every workload the backend knows, including finished ones not yet removed.
  virtual std::vector<WorkloadStatus> List() = 0;
  // Sends SIGTERM, then SIGKILL after `grace`. Stopping a finished workload is ok. A stopped
  // workload ends kFailed with reason "Stopped" unless it had already finished.
  virtual Status Stop(const std::string& id, std::chrono::milliseconds grace) = 0;
  // Forgets a finished (or stops and forgets a running) workload; its logs stay readable.
  virtual Status Remove(const std::string& id) = 0;
  // The combined stdout+stderr of one container from byte `offset`; "" container = the first.
  virtual Result<std::string> ReadLogs(const std::string& id, const std::string& container,
                                       int64_t offset) = 0;
  // kNotFound for an unknown id (or one removed).
  virtual Result<ResourceUsage> Usage(const std::string& id) = 0;

  // Holds the workloads labelled with namespace `ns` (kWorkloadNamespaceLabel) to `quota` (an
  // empty one lifts it): one that would pass it waits queued (kPending, its message naming the
  // quota) until the namespace's others end, without holding up other namespaces; one that could
  // never fit it fails ("Unschedulable"). Running workloads are not stopped by a lower quota.
  // Unimplemented where the backend cannot hold one (this default).
  virtual Status SetQuota(const std::string& ns, const WorkloadQuota& quota) {
    (void)quota;
    return Unimplemented("this backend does not hold quotas (namespace " + ns + ")");
  }
};

}  // namespace skiff
