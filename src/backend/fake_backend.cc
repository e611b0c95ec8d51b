#include "backend/fake_backend.h"

#include <utility>

namespace skiff {

namespace {

bool IsFinished(WorkloadPhase phase) {
  return phase == WorkloadPhase::kSucceeded || phase == WorkloadPhase::kFailed;
}

}  // namespace

FakeBackend::FakeBackend(Clock& clock) : clock_(clock) {}

FakeBackend::Entry* FakeBackend::FindLocked(const std::string& id) {
  auto it = workloads_.find(id);
  return it == workloads_.end() ? nullptr : &it->second;
}

Status FakeBackend::Launch(const WorkloadSpec& spec) {
  MutexLock lock(&mu_);
  if (!launch_error_.ok()) return launch_error_;
  if (spec.id.empty()) return InvalidArgument("workload id is empty");
  if (workloads_.count(spec.id) > 0) return Status::Ok();
  Entry entry;
  entry.spec = spec;
  entry.status.id = spec.id;
  entry.status.labels = spec.labels;
  entry.status.phase = launch_phase_;
  bool running = launch_phase_ == WorkloadPhase::kRunning;
  if (running) entry.status.started_at = clock_.Now();
  for (const ContainerSpec& c : spec.containers) {
    ContainerStatus cs;
    cs.name = c.name;
    cs.running = running;
    if (running) cs.started_at = clock_.Now();
    entry.status.containers.push_back(cs);
    for (const ContainerPort& p : c.ports) {
      const std::string name = p.name.empty() ? std::to_string(p.container_port) : p.name;
      entry.status.endpoints[name] = "127.0.0.1:" + std::to_string(next_port_++);
    }
  }
  workloads_.emplace(spec.id, std::move(entry));
  launched_.push_back(spec);
  return Status::Ok();
}

Result<WorkloadStatus> FakeBackend::Observe(const std::string& id) {
  MutexLock lock(&mu_);
  Entry* e = FindLocked(id);
  if (e == nullptr) return NotFound("workload " + id + " not found");
  return Current(*e);
}

WorkloadStatus FakeBackend::Current(const Entry& e) {
  WorkloadStatus st = e.status;
  st.ready = st.phase == WorkloadPhase::kRunning;
  for (size_t i = 0; i < st.containers.size(); ++i) {
    ContainerStatus& cs = st.containers[i];
    const bool probed = i < e.spec.containers.size() && e.spec.containers[i].readiness_probe;
    cs.ready = cs.running && (!probed || e.probes_pass);
    st.ready = st.ready && cs.ready;
  }
  return st;
}

std::vector<WorkloadStatus> FakeBackend::List() {
  MutexLock lock(&mu_);
  std::vector<WorkloadStatus> out;
  for (const auto& [id, e] : workloads_) out.push_back(Current(e));
  return out;
}

Status FakeBackend::SetReady(const std::string& id, bool ready) {
  MutexLock lock(&mu_);
  Entry* e = FindLocked(id);
  if (e == nullptr) return NotFound("workload " + id + " not found");
  e->probes_pass = ready;
  return Status::Ok();
}

Status FakeBackend::Stop(const std::string& id, std::chrono::milliseconds grace) {
  MutexLock lock(&mu_);
  stop_calls_.push_back({id, grace});
  Entry* e = FindLocked(id);
  if (e == nullptr) return NotFound("workload " + id + " not found");
  if (IsFinished(e->status.phase)) return Status::Ok();
  e->status.phase = WorkloadPhase::kFailed;
  e->status.message = "stopped";
  e->status.finished_at = clock_.Now();
  for (ContainerStatus& cs : e->status.containers) {
    if (cs.exit_code.has_value()) continue;
    cs.running = false;
    cs.exit_code = 143;
    cs.reason = "Stopped";
    cs.finished_at = clock_.Now();
  }
  return Status::Ok();
}

Status FakeBackend::Remove(const std::string& id) {
  MutexLock lock(&mu_);
  if (workloads_.erase(id) == 0) return NotFound("workload " + id + " not found");
  removed_.push_back(id);
  return Status::Ok();
}

Result<std::string> FakeBackend::ReadLogs(const std::string& id, const std::string& container,
                                          int64_t offset) {
  MutexLock lock(&mu_);
  Entry* e = FindLocked(id);
  if (e == nullptr) return NotFound("workload " + id + " not found");
  std::string name = container;
  if (name.empty() && !e->spec.containers.empty()) name = e->spec.containers[0].name;
  auto it = e->logs.find(name);
  if (it == e->logs.end()) return std::string();
  if (offset < 0) return InvalidArgument("log offset must not be negative");
  if (static_cast<size_t>(offset) >= it->second.size()) return std::string();
  return it->second.substr(static_cast<size_t>(offset));
}

Result<ResourceUsage> FakeBackend::Usage(const std::string& id) {
  MutexLock lock(&mu_);
  Entry* e = FindLocked(id);
  if (e == nullptr) return NotFound("workload " + id + " not found");
  return e->usage;
}

void FakeBackend::set_launch_phase(WorkloadPhase phase) {
  MutexLock lock(&mu_);
  launch_phase_ = phase;
}

void FakeBackend::set_launch_error(Status status) {
  MutexLock lock(&mu_);
  launch_error_ = std::move(status);
}

Status FakeBackend::Finish(const std::string& id, int exit_code, const std::string& reason) {
  MutexLock lock(&mu_);
  Entry* e = FindLocked(id);
  if (e == nullptr) return NotFound("workload " + id + " not found");
  TimePoint now = clock_.Now();
  const RestartPolicy policy = e->spec.restart_policy;
  if (policy == RestartPolicy::kAlways || (policy == RestartPolicy::kOnFailure && exit_code != 0)) {
    for (ContainerStatus& cs : e->status.containers) {
      cs.running = false;
      cs.ready = false;
      cs.exit_code = exit_code;
      cs.reason = "CrashLoopBackOff";
      cs.finished_at = now;
    }
    return Status::Ok();
  }
  e->status.phase = exit_code == 0 ? WorkloadPhase::kSucceeded : WorkloadPhase::kFailed;
  if (!e->status.started_at) e->status.started_at = now;
  e->status.finished_at = now;
  e->status.message = exit_code == 0 ? "" : "exit code " + std::to_string(exit_code);
  for (ContainerStatus& cs : e->status.containers) {
    cs.running = false;
    cs.exit_code = exit_code;
    cs.reason = !reason.empty() ? reason : (exit_code == 0 ? "Completed" : "Error");
    if (!cs.started_at) cs.started_at = now;
    cs.finished_at = now;
  }
  return Status::Ok();
}

Status FakeBackend::Restart(const std::string& id) {
  MutexLock lock(&mu_);
  Entry* e = FindLocked(id);
  if (e == nullptr) return NotFound("workload " + id + " not found");
  for (ContainerStatus& cs : e->status.containers) {
    if (cs.reason != "CrashLoopBackOff") continue;
    cs.running = true;
    cs.restart_count += 1;
    cs.exit_code.reset();
    cs.reason.clear();
    cs.started_at = clock_.Now();
    cs.finished_at.reset();
  }
  return Status::Ok();
}

Status FakeBackend::SetPhase(const std::string& id, WorkloadPhase phase,
                             const std::string& message) {
  MutexLock lock(&mu_);
  Entry* e = FindLocked(id);
  if (e == nullptr) return NotFound("workload " + id + " not found");
  e->status.phase = phase;
  e->status.message = message;
  bool running = phase == WorkloadPhase::kRunning;
  if (running && !e->status.started_at) e->status.started_at = clock_.Now();
  for (ContainerStatus& cs : e->status.containers) {
    cs.running = running;
    if (running && !cs.started_at) cs.started_at = clock_.Now();
  }
  return Status::Ok();
}

Status FakeBackend::SetLogs(const std::string& id, const std::string& container, std::string logs) {
  MutexLock lock(&mu_);
  Entry* e = FindLocked(id);
  if (e == nullptr) return NotFound("workload " + id + " not found");
  std::string name = container;
  if (name.empty() && !e->spec.containers.empty()) name = e->spec.containers[0].name;
  e->logs[name] = std::move(logs);
  return Status::Ok();
}

Status FakeBackend::SetUsage(const std::string& id, ResourceUsage usage) {
  MutexLock lock(&mu_);
  Entry* e = FindLocked(id);
  if (e == nullptr) return NotFound("workload " + id + " not found");
  e->usage = usage;
  return Status::Ok();
}

std::vector<WorkloadSpec> FakeBackend::launched() const {
  MutexLock lock(&mu_);
  return launched_;
}

std::vector<FakeBackend::StopCall> FakeBackend::stop_calls() const {
  MutexLock lock(&mu_);
  return stop_calls_;
}

std::vector<std::string> FakeBackend::removed() const {
  MutexLock lock(&mu_);
  return removed_;
}

bool FakeBackend::Has(const std::string& id) const {
  MutexLock lock(&mu_);
  return workloads_.count(id) > 0;
}

Status FakeBackend::SetQuota(const std::string& ns, const WorkloadQuota& quota) {
  MutexLock lock(&mu_);
  if (quota.empty()) {
    quotas_.erase(ns);
  } else {
    quotas_[ns] = quota;
  }
  return Status::Ok();
}

std::map<std::string, WorkloadQuota> FakeBackend::quotas() const {
  MutexLock lock(&mu_);
  return quotas_;
}

}  // namespace skiff
