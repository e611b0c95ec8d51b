#include "pipelines/launcher.h"

#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <system_error>

#include "core/files.h"
#include "core/ids.h"
#include "pipelines/artifact_paths.h"
#include "pipelines/executor_io.h"
#include "pipelines/ir.h"
#include "pipelines/placeholder.h"
#include "pipelines/python_env.h"
#include "pipelines/volume_ops.h"

namespace skiff::pipelines {
namespace {

namespace fs = std::filesystem;

std::string Salt(const TaskInvocation& inv) { return Sha256Hex(inv.workload_id).substr(0, 12); }

// Where a kfp-kubernetes entry refers to the name of its object: in "<field>Parameter"
// (kfp-kubernetes 1.1 on) or, in older IR, on the entry itself ({"mountPath", "constant"} or
// {"mountPath", "taskOutputParameter": ...}). The engine writes what it resolved there as
// "resolved".
const Json& NameReference(const Json& entry, const std::string& field) {
  auto p = entry.find(field + "Parameter");
  return p != entry.end() && p->is_object() ? *p : entry;
}

// A name given literally (`field`, e.g. "secretName"), as a constant, or as a value the engine
// resolved (see NameReference).
Result<std::string> NameOf(const Json& entry, const std::string& field, const std::string& where) {
  if (entry.contains(field) && entry[field].is_string() &&
      !entry[field].get<std::string>().empty()) {
    return entry[field].get<std::string>();
  }
  const Json& ref = NameReference(entry, field);
  if (ref.contains("runtimeValue") && ref["runtimeValue"].is_object() &&
      ref["runtimeValue"].contains("constant") && ref["runtimeValue"]["constant"].is_string()) {
    return ref["runtimeValue"]["constant"].get<std::string>();
  }
  if (ref.contains("resolved") && ref["resolved"].is_string()) {
    return ref["resolved"].get<std::string>();
  }
  if (&ref == &entry) {
    if (entry.contains("constant") && entry["constant"].is_string()) {
      return entry["constant"].get<std::string>();
    }
    return InvalidArgument(where + ": no " + field);
  }
  return InvalidArgument(where + ": " + field + "Parameter " + ref.dump() +
                         " was not resolved to a name by the engine");
}

// The packages a lightweight component's pip prelude installs ({} for any other executor).
std::vector<std::string> PipPackages(const Json& executor_spec) {
  const Json container = executor_spec.value("container", Json::object());
  if (!container.is_object() || !IsPythonImage(container.value("image", ""))) return {};
  std::vector<std::string> command, args;
  for (const auto& [field, out] :
       {std::pair<const char*, std::vector<std::string>*>{"command", &command}, {"args", &args}}) {
    for (const Json& part : container.value(field, Json::array())) {
      if (!part.is_string()) return {};  // placeholders: not a pip prelude
      out->push_back(part.get<std::string>());
    }
  }
  PythonEnvPlan plan = PlanPythonEnv(command, args);
  return plan.recognised ? plan.packages : std::vector<std::string>{};
}

// True when the entry names its object by a pipeline input that has no value: the KFP driver then
// leaves the whole entry out.
bool NamedByNull(const Json& entry, const std::string& field) {
  const Json& ref = NameReference(entry, field);
  return ref.contains("resolved") && ref["resolved"].is_null();
}

Status WriteFile(const std::string& path, const std::string& data, bool secret) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return Internal("cannot write " + path);
  out << data;
  out.close();
  if (!out) return Internal("cannot write " + path);
  if (secret) ::chmod(path.c_str(), 0600);
  return Status::Ok();
}

std::string FailureMessage(const WorkloadStatus& st, std::optional<int>* exit_code) {
  std::string msg;
  for (const ContainerStatus& c : st.containers) {
    if (c.exit_code && *c.exit_code != 0) {
      *exit_code = c.exit_code;
      msg = "exit code " + std::to_string(*c.exit_code);
      if (!c.reason.empty() && c.reason != "Error") msg += " (" + c.reason + ")";
      break;
    }
    if (!c.reason.empty() && c.reason != "Completed") msg = c.reason;
  }
  if (!st.message.empty()) msg += msg.empty() ? st.message : ": " + st.message;
  return msg.empty() ? "failed" : msg;
}

// The downward-API value of `metadata.annotations['k']` / `metadata.labels['k']` for a pod with
// the platform config's podMetadata: the value, or "" when the key is absent (as on Kubernetes);
// nullopt for any other field path.
std::optional<std::string> PodMetadataField(const Json& pc, const std::string& path) {
  for (const char* section : {"annotations", "labels"}) {
    std::string prefix = std::string("metadata.") + section + "['";
    if (path.rfind(prefix, 0) != 0 || path.size() < prefix.size() + 2 ||
        path.compare(path.size() - 2, 2, "']") != 0) {
      continue;
    }
    std::string key = path.substr(prefix.size(), path.size() - prefix.size() - 2);
    const Json md = pc.value("podMetadata", Json::object());
    const Json map = md.is_object() ? md.value(section, Json::object()) : Json::object();
    if (map.is_object() && map.contains(key) && map[key].is_string()) {
      return map[key].get<std::string>();
    }
    return std::string();
  }
  return std::nullopt;
}

// KFP's metrics types: what they hold is in their metadata (Metrics.log_metric,
// ClassificationMetrics.log_roc_curve, ...), and the SDK's executor writes no file for them.
bool IsMetadataOnlyArtifact(const Artifact& a) {
  return a.schema_title == "system.Metrics" || a.schema_title == "system.ClassificationMetrics" ||
         a.schema_title == "system.SlicedClassificationMetrics";
}

}  // namespace

Launcher::Launcher(LauncherOptions options, Backend& backend, TaskCache* cache)
    : options_(std::move(options)), backend_(backend), cache_(cache) {}

std::string Launcher::PipelineRoot(const TaskInvocation& inv) const {
  if (!inv.pipeline_root.empty()) return inv.pipeline_root;
  return "file://" + NamespaceArtifactRoot(options_.artifacts_root, inv.namespace_);
}

std::string Launcher::VolumesRoot() const {
  return options_.volumes_root.empty() ? (fs::path(options_.work_dir) / "volumes").string()
                                       : options_.volumes_root;
}

TaskIoOptions Launcher::IoOptions(const TaskInvocation& inv) const {
  return {.output_file_prefix = OutputFilePrefix(inv),
          .salt = Salt(inv),
          .legacy_minio_paths = PinsKfpWithoutLocalPaths(PipPackages(inv.executor_spec))};
}

std::string Launcher::OutputFilePrefix(const TaskInvocation& inv) const {
  // Output parameter files and the executor output sit in work_dir itself (no folder per task);
  // Secret and ConfigMap files, when a task mounts them, in folders <prefix>.secret-<name>.
  return (fs::path(options_.work_dir) / SafePathComponent(inv.workload_id)).string();
}

std::string Launcher::OutputParameterPath(const TaskInvocation& inv,
                                          const std::string& name) const {
  return OutputParameterFile(OutputFilePrefix(inv), name);
}

std::string Launcher::ExecutorOutputPath(const TaskInvocation& inv) const {
  return OutputFilePrefix(inv) + "." + kExecutorOutputFile;
}

Result<std::optional<TaskOutcome>> Launcher::LookupCache(const TaskInvocation& inv,
                                                         std::vector<std::string>* warnings) {
  if (cache_ == nullptr || !inv.enable_cache || !ComponentAllowsCaching(inv.component_spec)) {
    return std::optional<TaskOutcome>();
  }
  TaskInvocation keyed = inv;
  keyed.pipeline_root = PipelineRoot(inv);
  ASSIGN_OR_RETURN(std::string fingerprint, CacheFingerprint(keyed));
  Result<std::optional<TaskOutcome>> hit = cache_->Lookup(inv.namespace_, fingerprint);
  if (!hit.ok()) {
    warnings->push_back("cache lookup failed, running the task: " + hit.status().ToString());
    return std::optional<TaskOutcome>();
  }
  if (!hit->has_value()) return hit;
  // An entry whose local artifacts were deleted since is a miss. Metrics artifacts are their
  // metadata, which the entry holds: components write no file for them.
  for (const auto& [name, list] : (*hit)->output_artifacts) {
    for (const Artifact& a : list) {
      if (a.uri.rfind("file://", 0) != 0 || IsMetadataOnlyArtifact(a)) continue;
      std::error_code ec;
      if (!fs::exists(LocalPathForUri(a.uri), ec)) return std::optional<TaskOutcome>();
    }
  }
  return hit;
}

Status Launcher::Start(const TaskInvocation& inv) {
  const std::string& id = inv.workload_id;
  if (id.empty()) return InvalidArgument("task " + inv.task_path + ": empty workload id");
  {
    MutexLock lock(&mu_);
    auto it = tasks_.find(id);
    if (it != tasks_.end() && it->second.done) return Status::Ok();
  }
  if (VolumeOp op = VolumeOpOf(inv.executor_spec); op != VolumeOp::kNone) {
    // Done here and now, as the KFP driver does; never cached (the claim may be gone since).
    TaskOutcome outcome = RunVolumeOp(op, inv, VolumesRoot());
    MutexLock lock(&mu_);
    tasks_[id].done = std::move(outcome);
    return Status::Ok();
  }
  std::vector<std::string> warnings;
  ASSIGN_OR_RETURN(std::optional<TaskOutcome> hit, LookupCache(inv, &warnings));
  if (hit) {
    hit->state = TaskOutcome::State::kCached;
    hit->warnings = warnings;
    MutexLock lock(&mu_);
    tasks_[id].done = std::move(*hit);
    return Status::Ok();
  }
  Result<WorkloadStatus> existing = backend_.Observe(id);
  if (existing.ok()) return Status::Ok();  // already launched: re-adopt
  if (existing.status().code() != StatusCode::kNotFound) {
    return existing.status().WithContext("task " + inv.task_path);
  }
  ASSIGN_OR_RETURN(WorkloadSpec spec, BuildWorkload(inv, &warnings));
  RETURN_IF_ERROR(backend_.Launch(spec).WithContext("task " + inv.task_path));
  MutexLock lock(&mu_);
  tasks_[id].warnings = std::move(warnings);
  return Status::Ok();
}

Result<WorkloadSpec> Launcher::BuildWorkload(const TaskInvocation& inv,
                                             std::vector<std::string>* warnings) {
  try {
    return BuildWorkloadUnchecked(inv, warnings);
  } catch (const Json::exception& e) {  // ill-typed IR fields: errors as values
    return InvalidArgument("task " + inv.task_path + ": " + e.what());
  }
}

Result<WorkloadSpec> Launcher::BuildWorkloadUnchecked(const TaskInvocation& inv,
                                                      std::vector<std::string>* warnings) {
  const std::string where = "task " + inv.task_path;
  if (!inv.executor_spec.is_object() || !inv.executor_spec.contains("container") ||
      !inv.executor_spec["container"].is_object()) {
    return InvalidArgument(where +
                           ": the executor has no container (importers are run by the "
                           "engine, not the launcher)");
  }
  const Json& container = inv.executor_spec["container"];
  if (!container.contains("image") || !container["image"].is_string()) {
    return InvalidArgument(where + ": the container has no image");
  }

  TaskInvocation rooted = inv;
  rooted.pipeline_root = PipelineRoot(inv);
  ASSIGN_OR_RETURN(TaskIo io, BuildTaskIo(rooted, IoOptions(inv)));
  RETURN_IF_ERROR(PrepareOutputFolders(io).WithContext(where));

  PlaceholderContext ctx;
  ctx.task = inv.task_path;
  ctx.executor_input = io.executor_input;
  for (const auto& [name, value] : inv.parameter_inputs) {
    if (!value.is_null()) ctx.present_inputs.insert(name);
  }
  for (const auto& [name, list] : inv.artifact_inputs) {
    if (!list.empty()) ctx.present_inputs.insert(name);
  }
  ctx.pipeline_root = rooted.pipeline_root;
  ctx.job_name = inv.run_name;
  ctx.job_resource_name = inv.run_name;
  ctx.job_uuid = inv.run_id;
  ctx.task_name = inv.task_name;
  ctx.task_uuid = inv.workload_id;
  ASSIGN_OR_RETURN(CommandLine cl, ResolveCommandLine(container.value("command", Json()),
                                                      container.value("args", Json()), ctx));

  ContainerSpec c;
  c.name = "main";
  c.image = container["image"].get<std::string>();
  c.command = std::move(cl.command);
  c.args = std::move(cl.args);
  if (IsPythonImage(c.image)) {
    PythonEnvPlan plan = PlanPythonEnv(c.command, c.args);
    if (plan.recognised) {
      c.command = std::move(plan.command);
      c.args = std::move(plan.args);
      c.python_packages = std::move(plan.packages);
      c.pip_index_urls = std::move(plan.index_urls);
    }
  }
  KfpExecutorCall kfp_call;
  std::string component_file;  // the component's source, when written to a file here
  if (IsPythonImage(c.image)) kfp_call = RecogniseKfpExecutor(c.command, c.args);
  if (kfp_call.recognised) {
    // What the shell program did, done here: the source to a file, then python3 -m directly.
    // One file per distinct source (by content), shared by every task that runs it.
    fs::path dir =
        fs::path(options_.work_dir) / "components" / Sha256Hex(kfp_call.source).substr(0, 24);
    std::string file = (dir / kKfpComponentFile).string();
    std::error_code ec;
    if (!fs::exists(file, ec)) {
      fs::create_directories(dir, ec);
      std::string tmp = file + "." + Salt(inv) + ".tmp";
      std::ofstream out(tmp, std::ios::trunc);
      out << kfp_call.source;
      out.close();
      if (ec || !out || std::rename(tmp.c_str(), file.c_str()) != 0) {
        return Internal(where + ": cannot write the component source " + file);
      }
    }
    component_file = file;
    c.command = {"python3", "-m", kKfpExecutorModule, "--component_module_path", file};
    c.args = std::move(kfp_call.args);
    c.python_preload = {kKfpExecutorModule};
    c.python_preload_env = {{"_KFP_RUNTIME", "true"}};
  }
  if (c.command.empty() && c.args.empty()) {
    return InvalidArgument(where + ": the container has neither command nor args");
  }

  if (container.contains("env")) {
    if (!container["env"].is_array())
      return InvalidArgument(where + ": container env is not a list");
    for (const Json& e : container["env"]) {
      if (!e.is_object() || !e.contains("name") || !e["name"].is_string()) {
        return InvalidArgument(where + ": container env entry without a name: " + e.dump());
      }
      c.env.push_back({e["name"].get<std::string>(), e.contains("value") && e["value"].is_string()
                                                         ? e["value"].get<std::string>()
                                                         : std::string()});
    }
  }
  // The shell program set it for the one command, over anything the container says.
  for (const EnvVar& e : c.python_preload_env) c.env.push_back(e);

  if (container.contains("resources") && container["resources"].is_object()) {
    const Json& r = container["resources"];
    ASSIGN_OR_RETURN(ContainerResources parsed,
                     ParseContainerResources(r, where + " resources", /*skip_placeholders=*/false));
    c.cpu_millis =
        parsed.cpu_request_millis > 0 ? parsed.cpu_request_millis : parsed.cpu_limit_millis;
    c.memory_bytes =
        parsed.memory_limit_bytes > 0 ? parsed.memory_limit_bytes : parsed.memory_request_bytes;
    if (r.contains("accelerator")) {
      warnings->push_back("resources.accelerator " + r["accelerator"].dump() +
                          " is ignored on this backend");
    }
  }

  WorkloadSpec spec;
  spec.id = inv.workload_id;
  spec.labels = {{kRunUidLabel, inv.run_id},
                 {kRunNameLabel, inv.run_name},
                 {kTaskLabel, inv.task_name},
                 {kNamespaceLabel, inv.namespace_},
                 {kWorkloadOwnerKindLabel, "PipelineRun"},
                 {kWorkloadOwnerNameLabel, inv.run_name}};
  RETURN_IF_ERROR(ApplyPlatformConfig(inv, &spec, &c, warnings));
  // Sandboxed: besides its own folder and volumes the task sees its output folders, its input
  // artifacts (read-only) and its component's source. In SKIFF_HOME, it is given only artifacts
  // of its own profile (artifact_paths.h): an importer's URI or a pipeline root of the run's
  // cannot reach the store, the tokens or another profile's artifacts.
  spec.sandboxed = true;
  const std::string artifacts = ResolvedPath(options_.artifacts_root);
  const std::string home = NormalPath(fs::path(artifacts).parent_path().string());
  auto allowed = [&](const std::string& path, const std::string& what) -> Status {
    const std::string resolved = ResolvedPath(path);
    if (!options_.artifacts_root.empty() && PathWithin(resolved, home) &&
        !PathWithin(resolved, artifacts)) {
      return PermissionDenied(where + ": " + what + " " + path +
                              " lies in the platform's folder, outside its artifacts");
    }
    return CheckArtifactAccess(path, options_.artifacts_root, inv.namespace_, inv.run_id,
                               where + ": " + what);
  };
  for (const auto& [name, artifact] : io.output_artifacts) {
    RETURN_IF_ERROR(allowed(LocalPathForUri(artifact.uri), "output artifact " + name + " at"));
  }
  for (const std::string& dir : OutputFolders(io)) spec.exposed.push_back({dir, false});
  for (const std::string& path : InputArtifactPaths(io)) {
    std::error_code ec;
    if (!fs::exists(path, ec)) continue;  // not written (an optional output), or not local
    RETURN_IF_ERROR(allowed(path, "input artifact"));
    spec.exposed.push_back({path, true});
  }
  if (!component_file.empty()) spec.exposed.push_back({component_file, true});
  if (!io.legacy_minio_root.empty() &&
      (!inv.artifact_inputs.empty() || !io.output_artifacts.empty())) {
    // Where this old kfp executor looks for minio://<bucket>/... (see kLegacyMinioBucket).
    spec.volumes.push_back({"kfp-legacy-artifacts", io.legacy_minio_root, true});
    c.volume_mounts.push_back({"kfp-legacy-artifacts",
                               LocalPathForUri(std::string("minio://") + kLegacyMinioBucket),
                               false});
  }
  spec.containers.push_back(std::move(c));
  return spec;
}

Status Launcher::ApplyPlatformConfig(const TaskInvocation& inv, WorkloadSpec* spec,
                                     ContainerSpec* c, std::vector<std::string>* warnings) {
  const Json& pc = inv.platform_config;
  if (pc.is_null()) return Status::Ok();
  const std::string where = "task " + inv.task_path + " platform config";
  if (!pc.is_object()) return InvalidArgument(where + " is not an object");

  auto resolve = [&](const std::string& kind, const std::string& name,
                     bool optional) -> Result<std::optional<std::map<std::string, std::string>>> {
    if (!options_.resolve_config) {
      if (optional) return std::optional<std::map<std::string, std::string>>();
      return FailedPrecondition(where + ": " + kind + " '" + name +
                                "' is needed but this launcher has no config resolver");
    }
    auto data = options_.resolve_config(inv.namespace_, kind, name);
    if (!data.ok()) {
      if (optional && data.status().code() == StatusCode::kNotFound) {
        return std::optional<std::map<std::string, std::string>>();
      }
      return data.status().WithContext(where + ": " + kind + " '" + name + "'");
    }
    return std::optional<std::map<std::string, std::string>>(std::move(*data));
  };

  for (const char* kind : {"Secret", "ConfigMap"}) {
    const bool secret = std::string(kind) == "Secret";
    const std::string env_key = secret ? "secretAsEnv" : "configMapAsEnv";
    const std::string name_field = secret ? "secretName" : "configMapName";
    const std::string key_field = secret ? "secretKey" : "configMapKey";
    if (pc.contains(env_key) && pc[env_key].is_array()) {
      for (const Json& entry : pc[env_key]) {
        if (!entry.is_object()) return InvalidArgument(where + ": malformed " + env_key);
        if (NamedByNull(entry, name_field)) continue;
        ASSIGN_OR_RETURN(std::string name, NameOf(entry, name_field, where + " " + env_key));
        bool optional = entry.value("optional", false);
        ASSIGN_OR_RETURN(auto data, resolve(kind, name, optional));
        if (!data) continue;
        for (const Json& k : entry.value("keyToEnv", Json::array())) {
          if (!k.is_object()) continue;
          std::string key = k.value(key_field, "");
          std::string env = k.value("envVar", "");
          auto found = data->find(key);
          if (found == data->end()) {
            if (optional) continue;
            return FailedPrecondition(where + ": " + kind + " '" + name + "' has no key '" + key +
                                      "'");
          }
          c->env.push_back({env, found->second});
        }
      }
    }
    const std::string vol_key = secret ? "secretAsVolume" : "configMapAsVolume";
    if (pc.contains(vol_key) && pc[vol_key].is_array()) {
      for (const Json& entry : pc[vol_key]) {
        if (!entry.is_object()) return InvalidArgument(where + ": malformed " + vol_key);
        if (NamedByNull(entry, name_field)) continue;
        ASSIGN_OR_RETURN(std::string name, NameOf(entry, name_field, where + " " + vol_key));
        ASSIGN_OR_RETURN(auto data, resolve(kind, name, entry.value("optional", false)));
        std::string dir = (fs::path(options_.work_dir) /
                           (SafePathComponent(inv.workload_id) +
                            (secret ? ".secret-" : ".configmap-") + SafePathComponent(name)))
                              .string();
        std::error_code ec;
        fs::create_directories(dir, ec);
        if (ec) return Internal(where + ": creating " + dir + ": " + ec.message());
        if (secret) ::chmod(dir.c_str(), 0700);
        if (data) {
          for (const auto& [key, value] : *data) {
            if (key.empty() || key.find('/') != std::string::npos || key == "." || key == "..") {
              continue;
            }
            RETURN_IF_ERROR(WriteFile(dir + "/" + key, value, secret).WithContext(where));
          }
        }
        std::string vol = (secret ? "secret-" : "configmap-") + name;
        spec->volumes.push_back({vol, dir, true});
        c->volume_mounts.push_back({vol, entry.value("mountPath", ""), true});
      }
    }
  }

  if (pc.contains("emptyDirMounts") && pc["emptyDirMounts"].is_array()) {
    for (const Json& entry : pc["emptyDirMounts"]) {
      if (!entry.is_object() || !entry.contains("volumeName") || !entry.contains("mountPath")) {
        return InvalidArgument(where + ": emptyDirMounts entry needs volumeName and mountPath");
      }
      spec->volumes.push_back({entry.value("volumeName", ""), ""});
      c->volume_mounts.push_back(
          {entry.value("volumeName", ""), entry.value("mountPath", ""), false});
    }
  }
  if (pc.contains("pvcMount") && pc["pvcMount"].is_array()) {
    for (const Json& entry : pc["pvcMount"]) {
      if (!entry.is_object() || !entry.contains("mountPath")) {
        return InvalidArgument(where + ": pvcMount entry needs mountPath");
      }
      if (NamedByNull(entry, "pvcName")) continue;
      ASSIGN_OR_RETURN(std::string claim, NameOf(entry, "pvcName", where + " pvcMount"));
      std::string dir = ClaimDir(VolumesRoot(), inv.namespace_, claim);
      std::error_code ec;
      fs::create_directories(dir, ec);
      if (ec) return Internal(where + ": creating " + dir + ": " + ec.message());
      std::string vol = "pvc-" + claim;
      spec->volumes.push_back({vol, dir, true});
      c->volume_mounts.push_back({vol, entry.value("mountPath", ""), false});
    }
  }
  if (pc.contains("fieldPathAsEnv") && pc["fieldPathAsEnv"].is_array()) {
    for (const Json& entry : pc["fieldPathAsEnv"]) {
      if (!entry.is_object()) continue;
      std::string path = entry.value("fieldPath", "");
      std::string value;
      if (path == "metadata.name") {
        value = inv.workload_id;
      } else if (path == "metadata.namespace") {
        value = inv.namespace_;
      } else if (path == "metadata.annotations['pipelines.kubeflow.org/run_name']") {
        value = inv.run_name;
      } else if (std::optional<std::string> v = PodMetadataField(pc, path)) {
        value = *v;
      } else {
        warnings->push_back("fieldPathAsEnv " + path + " is not available on this backend");
        continue;
      }
      c->env.push_back({entry.value("name", ""), value});
    }
  }
  static const char* kIgnored[] = {"nodeSelector",          "tolerations",
                                   "nodeAffinity",          "podMetadata",
                                   "imagePullSecret",       "imagePullPolicy",
                                   "securityContext",       "initContainers",
                                   "activeDeadlineSeconds", "genericEphemeralVolume",
                                   "enabledSharedMemory"};
  for (const char* key : kIgnored) {
    if (pc.contains(key)) warnings->push_back(std::string(key) + " is ignored on this backend");
  }
  return Status::Ok();
}

std::optional<TaskOutcome> Launcher::Finish(const std::string& id, TaskOutcome outcome) {
  MutexLock lock(&mu_);
  TaskState& st = tasks_[id];
  outcome.warnings.insert(outcome.warnings.begin(), st.warnings.begin(), st.warnings.end());
  st.done = std::move(outcome);
  return st.done;
}

Result<TaskOutcome> Launcher::CollectSucceeded(const TaskInvocation& inv) {
  TaskInvocation rooted = inv;
  rooted.pipeline_root = PipelineRoot(inv);
  ASSIGN_OR_RETURN(TaskIo io, BuildTaskIo(rooted, IoOptions(inv)));
  ASSIGN_OR_RETURN(CollectedOutputs out, CollectOutputs(io, inv.component_spec));
  TaskOutcome outcome;
  outcome.state = TaskOutcome::State::kSucceeded;
  outcome.output_parameters = std::move(out.parameters);
  outcome.output_artifacts = std::move(out.artifacts);
  return outcome;
}

Result<std::optional<TaskOutcome>> Launcher::Poll(const TaskInvocation& inv) {
  const std::string& id = inv.workload_id;
  bool cancelled = false;
  {
    MutexLock lock(&mu_);
    auto it = tasks_.find(id);
    if (it != tasks_.end()) {
      if (it->second.done) return it->second.done;
      cancelled = it->second.cancelled;
    }
  }
  if (VolumeOp op = VolumeOpOf(inv.executor_spec); op != VolumeOp::kNone) {
    return Finish(id, RunVolumeOp(op, inv, VolumesRoot()));  // started before a restart
  }
  Result<WorkloadStatus> st = backend_.Observe(id);
  if (!st.ok()) {
    if (st.status().code() == StatusCode::kNotFound && cancelled) {
      return Finish(id, {.state = TaskOutcome::State::kFailed, .message = "cancelled"});
    }
    return st.status().WithContext("task " + inv.task_path + " (workload " + id + ")");
  }
  switch (st->phase) {
    case WorkloadPhase::kPending:
    case WorkloadPhase::kRunning:
    case WorkloadPhase::kUnknown:
      return std::optional<TaskOutcome>();
    case WorkloadPhase::kFailed: {
      TaskOutcome outcome;
      outcome.state = TaskOutcome::State::kFailed;
      std::optional<int> exit_code;
      outcome.message = cancelled ? "cancelled" : FailureMessage(*st, &exit_code);
      outcome.exit_code = exit_code.value_or(1);
      return Finish(id, std::move(outcome));
    }
    case WorkloadPhase::kSucceeded:
      break;
  }
  if (cancelled) {  // finished before the stop took effect; the engine asked to cancel anyway
    return Finish(id, {.state = TaskOutcome::State::kFailed, .message = "cancelled"});
  }
  Result<TaskOutcome> collected = CollectSucceeded(inv);
  if (!collected.ok()) {
    return Finish(id,
                  {.state = TaskOutcome::State::kFailed, .message = collected.status().message()});
  }
  if (cache_ != nullptr && inv.enable_cache && ComponentAllowsCaching(inv.component_spec)) {
    TaskInvocation keyed = inv;
    keyed.pipeline_root = PipelineRoot(inv);
    Result<std::string> fingerprint = CacheFingerprint(keyed);
    Status recorded =
        fingerprint.ok() ? cache_->Record(inv, *fingerprint, *collected) : fingerprint.status();
    if (!recorded.ok()) {
      collected->warnings.push_back("not recorded in the cache: " + recorded.ToString());
    }
  }
  return Finish(id, std::move(*collected));
}

Status Launcher::Cancel(const TaskInvocation& inv) {
  const std::string& id = inv.workload_id;
  {
    MutexLock lock(&mu_);
    TaskState& st = tasks_[id];
    if (st.done) return Status::Ok();
    st.cancelled = true;
  }
  Status s = backend_.Stop(id, options_.stop_grace);
  if (!s.ok() && s.code() != StatusCode::kNotFound) {
    return s.WithContext("cancelling task " + inv.task_path);
  }
  return Status::Ok();
}

Result<std::string> Launcher::Logs(const TaskInvocation& inv) {
  {
    MutexLock lock(&mu_);
    auto it = tasks_.find(inv.workload_id);
    if (it != tasks_.end() && it->second.done &&
        it->second.done->state == TaskOutcome::State::kCached) {
      return "[skiff] outputs taken from the cache (" + it->second.done->message + ")\n";
    }
  }
  return backend_.ReadLogs(inv.workload_id, "main", 0);
}

}  // namespace skiff::pipelines
