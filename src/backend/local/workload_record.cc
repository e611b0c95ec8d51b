#include "backend/local/workload_record.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace skiff::local {

namespace {

Json TimeToJson(const std::optional<TimePoint>& t) {
  if (!t.has_value()) return nullptr;
  return static_cast<int64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(t->time_since_epoch()).count());
}

std::optional<TimePoint> TimeFromJson(const Json& j) {
  if (!j.is_number_integer()) return std::nullopt;
  return TimePoint(
      std::chrono::duration_cast<TimePoint::duration>(std::chrono::nanoseconds(j.get<int64_t>())));
}

WorkloadPhase PhaseFromName(const std::string& name) {
  for (WorkloadPhase p : {WorkloadPhase::kPending, WorkloadPhase::kRunning,
                          WorkloadPhase::kSucceeded, WorkloadPhase::kFailed}) {
    if (name == WorkloadPhaseName(p)) return p;
  }
  return WorkloadPhase::kUnknown;
}

Json EnvToJson(const std::vector<EnvVar>& env) {
  Json out = Json::array();
  for (const EnvVar& e : env) out.push_back({{"name", e.name}, {"value", e.value}});
  return out;
}

std::vector<EnvVar> EnvFromJson(const Json& j) {
  std::vector<EnvVar> out;
  for (const Json& e : j) out.push_back({e.at("name").get<std::string>(), e.value("value", "")});
  return out;
}

const char* ProbeKindName(Probe::Kind kind) {
  switch (kind) {
    case Probe::Kind::kHttpGet:
      return "httpGet";
    case Probe::Kind::kTcp:
      return "tcp";
    case Probe::Kind::kExec:
      return "exec";
  }
  return "httpGet";
}

Json ProbeToJson(const std::optional<Probe>& probe) {
  if (!probe) return Json();
  return {{"kind", ProbeKindName(probe->kind)},
          {"httpPath", probe->http_path},
          {"port", probe->port},
          {"exec", probe->exec},
          {"initialDelayMs", probe->initial_delay.count()},
          {"periodMs", probe->period.count()},
          {"timeoutMs", probe->timeout.count()},
          {"successThreshold", probe->success_threshold},
          {"failureThreshold", probe->failure_threshold}};
}

std::optional<Probe> ProbeFromJson(const Json& j) {
  if (!j.is_object()) return std::nullopt;
  Probe p;
  const std::string kind = j.value("kind", "httpGet");
  p.kind = kind == "exec"  ? Probe::Kind::kExec
           : kind == "tcp" ? Probe::Kind::kTcp
                           : Probe::Kind::kHttpGet;
  p.http_path = j.value("httpPath", "/");
  p.port = j.value("port", "");
  p.exec = j.value("exec", std::vector<std::string>{});
  p.initial_delay = std::chrono::milliseconds(j.value("initialDelayMs", int64_t{0}));
  p.period = std::chrono::milliseconds(j.value("periodMs", int64_t{10000}));
  p.timeout = std::chrono::milliseconds(j.value("timeoutMs", int64_t{1000}));
  p.success_threshold = j.value("successThreshold", 1);
  p.failure_threshold = j.value("failureThreshold", 3);
  return p;
}

}  // namespace

Json SpecToJson(const WorkloadSpec& spec) {
  Json containers = Json::array();
  for (const ContainerSpec& c : spec.containers) {
    Json env = EnvToJson(c.env);
    Json ports = Json::array();
    for (const ContainerPort& p : c.ports) {
      ports.push_back({{"name", p.name}, {"containerPort", p.container_port}});
    }
    Json mounts = Json::array();
    for (const VolumeMount& m : c.volume_mounts) {
      mounts.push_back({{"name", m.name}, {"mountPath", m.mount_path}, {"readOnly", m.read_only}});
    }
    containers.push_back({{"name", c.name},
                          {"image", c.image},
                          {"command", c.command},
                          {"args", c.args},
                          {"env", env},
                          {"workingDir", c.working_dir},
                          {"cpuMillis", c.cpu_millis},
                          {"memoryBytes", c.memory_bytes},
                          {"ports", ports},
                          {"volumeMounts", mounts},
                          {"pythonPackages", c.python_packages},
                          {"pipIndexUrls", c.pip_index_urls},
                          {"pythonPreload", c.python_preload},
                          {"pythonPreloadEnv", EnvToJson(c.python_preload_env)},
                          {"readinessProbe", ProbeToJson(c.readiness_probe)}});
  }
  Json volumes = Json::array();
  for (const Volume& v : spec.volumes) {
    volumes.push_back(
        {{"name", v.name}, {"hostPath", v.host_path}, {"fromPlatform", v.from_platform}});
  }
  Json exposed = Json::array();
  for (const HostPath& p : spec.exposed) {
    exposed.push_back({{"path", p.path}, {"readOnly", p.read_only}});
  }
  return {{"id", spec.id},
          {"labels", spec.labels},
          {"containers", containers},
          {"volumes", volumes},
          {"priority", spec.priority},
          {"group", spec.group},
          {"groupSize", spec.group_size},
          {"restartPolicy", RestartPolicyName(spec.restart_policy)},
          {"sandboxed", spec.sandboxed},
          {"exposed", exposed}};
}

Result<WorkloadSpec> SpecFromJson(const Json& j, const std::string& source) {
  try {
    WorkloadSpec spec;
    spec.id = j.at("id").get<std::string>();
    spec.labels = j.value("labels", std::map<std::string, std::string>{});
    spec.priority = j.value("priority", 0);
    spec.group = j.value("group", "");
    spec.group_size = j.value("groupSize", 0);
    const std::string policy = j.value("restartPolicy", "Never");
    spec.restart_policy = policy == "Always"      ? RestartPolicy::kAlways
                          : policy == "OnFailure" ? RestartPolicy::kOnFailure
                                                  : RestartPolicy::kNever;
    for (const Json& c : j.at("containers")) {
      ContainerSpec cs;
      cs.name = c.at("name").get<std::string>();
      cs.image = c.value("image", "");
      cs.command = c.value("command", std::vector<std::string>{});
      cs.args = c.value("args", std::vector<std::string>{});
      cs.env = EnvFromJson(c.value("env", Json::array()));
      cs.working_dir = c.value("workingDir", "");
      cs.cpu_millis = c.value("cpuMillis", int64_t{0});
      cs.memory_bytes = c.value("memoryBytes", int64_t{0});
      for (const Json& p : c.value("ports", Json::array())) {
        cs.ports.push_back({p.value("name", ""), p.value("containerPort", 0)});
      }
      for (const Json& m : c.value("volumeMounts", Json::array())) {
        cs.volume_mounts.push_back({m.at("name").get<std::string>(),
                                    m.at("mountPath").get<std::string>(),
                                    m.value("readOnly", false)});
      }
      cs.python_packages = c.value("pythonPackages", std::vector<std::string>{});
      cs.pip_index_urls = c.value("pipIndexUrls", std::vector<std::string>{});
      cs.python_preload = c.value("pythonPreload", std::vector<std::string>{});
      cs.python_preload_env = EnvFromJson(c.value("pythonPreloadEnv", Json::array()));
      cs.readiness_probe = ProbeFromJson(c.value("readinessProbe", Json()));
      spec.containers.push_back(std::move(cs));
    }
    for (const Json& v : j.value("volumes", Json::array())) {
      spec.volumes.push_back({v.at("name").get<std::string>(), v.value("hostPath", ""),
                              v.value("fromPlatform", false)});
    }
    spec.sandboxed = j.value("sandboxed", false);
    for (const Json& p : j.value("exposed", Json::array())) {
      spec.exposed.push_back({p.at("path").get<std::string>(), p.value("readOnly", true)});
    }
    return spec;
  } catch (const Json::exception& e) {
    return InvalidArgument(source + ": malformed workload spec: " + e.what());
  }
}

Json RecordToJson(const WorkloadRecord& rec) {
  Json containers = Json::array();
  for (const ContainerRecord& c : rec.containers) {
    containers.push_back({{"name", c.status.name},
                          {"running", c.status.running},
                          {"exitCode", c.status.exit_code ? Json(*c.status.exit_code) : Json()},
                          {"reason", c.status.reason},
                          {"startedAt", TimeToJson(c.status.started_at)},
                          {"finishedAt", TimeToJson(c.status.finished_at)},
                          {"pid", c.pid},
                          {"startTicks", c.start_ticks},
                          {"cgroupDir", c.cgroup_dir},
                          {"restartCount", c.status.restart_count},
                          {"restarting", c.restarting},
                          {"runCpuSeconds", c.run_cpu_seconds}});
  }
  return {{"version", 1},
          {"spec", SpecToJson(rec.spec)},
          {"phase", WorkloadPhaseName(rec.phase)},
          {"message", rec.message},
          {"startedAt", TimeToJson(rec.started_at)},
          {"finishedAt", TimeToJson(rec.finished_at)},
          {"containers", containers},
          {"seq", rec.seq},
          {"stopRequested", rec.stop_requested},
          {"stopReason", rec.stop_reason},
          {"links", rec.links},
          {"ports", rec.ports},
          {"usage",
           {{"cpuSeconds", rec.cpu_seconds},
            {"peakMemoryBytes", rec.peak_memory_bytes},
            {"memoryByteSeconds", rec.memory_byte_seconds}}}};
}

Result<WorkloadRecord> RecordFromJson(const Json& j, const std::string& source) {
  if (!j.is_object()) return InvalidArgument(source + ": workload record is not an object");
  ASSIGN_OR_RETURN(WorkloadSpec spec, SpecFromJson(j.value("spec", Json()), source));
  try {
    WorkloadRecord rec;
    rec.spec = std::move(spec);
    rec.phase = PhaseFromName(j.value("phase", ""));
    rec.message = j.value("message", "");
    rec.started_at = TimeFromJson(j.value("startedAt", Json()));
    rec.finished_at = TimeFromJson(j.value("finishedAt", Json()));
    rec.seq = j.value("seq", uint64_t{0});
    rec.stop_requested = j.value("stopRequested", false);
    rec.stop_reason = j.value("stopReason", "");
    rec.links = j.value("links", std::vector<std::string>{});
    rec.ports = j.value("ports", std::map<std::string, int>{});
    const Json usage = j.value("usage", Json::object());
    rec.cpu_seconds = usage.value("cpuSeconds", 0.0);
    rec.peak_memory_bytes = usage.value("peakMemoryBytes", int64_t{0});
    rec.memory_byte_seconds = usage.value("memoryByteSeconds", 0.0);
    for (const Json& c : j.value("containers", Json::array())) {
      ContainerRecord cr;
      cr.status.name = c.value("name", "");
      cr.status.running = c.value("running", false);
      if (c.contains("exitCode") && c["exitCode"].is_number_integer()) {
        cr.status.exit_code = c["exitCode"].get<int>();
      }
      cr.status.reason = c.value("reason", "");
      cr.status.started_at = TimeFromJson(c.value("startedAt", Json()));
      cr.status.finished_at = TimeFromJson(c.value("finishedAt", Json()));
      cr.pid = c.value("pid", 0);
      cr.start_ticks = c.value("startTicks", uint64_t{0});
      cr.cgroup_dir = c.value("cgroupDir", "");
      cr.status.restart_count = c.value("restartCount", 0);
      cr.restarting = c.value("restarting", false);
      cr.run_cpu_seconds = c.value("runCpuSeconds", 0.0);
      rec.containers.push_back(std::move(cr));
    }
    if (rec.containers.size() != rec.spec.containers.size()) {
      return InvalidArgument(source + ": workload record has " +
                             std::to_string(rec.containers.size()) + " container states for " +
                             std::to_string(rec.spec.containers.size()) + " containers");
    }
    return rec;
  } catch (const Json::exception& e) {
    return InvalidArgument(source + ": malformed workload record: " + e.what());
  }
}

}  // namespace skiff::local
