#include "jobs/pod_template.h"

#include "core/quantity.h"
#include "core/schema.h"
#include "core/text.h"

namespace skiff::jobs {

// Kubernetes' Pod spec, closed: every field Kubernetes has is declared, so that an unknown one is
// pruned with a warning (or refused with ?fieldValidation=Strict) at any depth, as the API server
// does for its built-in kinds. Fields the local backend acts on are typed; the others are kept
// as written (Any), for `kubectl get -o yaml` and for the Kubernetes backend.
const Json& PodSpecOpenApi() {
  using namespace openapi;
  static const Json* spec = [] {
    // Fields kept as written, each of any JSON value.
    auto kept = [](Json properties, std::initializer_list<const char*> names) {
      for (const char* name : names) properties[name] = Any();
      return Object(std::move(properties));
    };
    const Json key_ref = Object({{"name", String()}, {"key", String()}, {"optional", Boolean()}});
    const Json env =
        Object({{"name", String()},
                {"value", String()},
                {"valueFrom",
                 kept({{"secretKeyRef", key_ref},
                       {"configMapKeyRef", key_ref},
                       {"fieldRef", Object({{"apiVersion", String()}, {"fieldPath", String()}})}},
                      {"resourceFieldRef"})}});
    const Json quantities = Map(IntOrString());
    // A probe as Kubernetes writes one; the backend runs readinessProbe (httpGet, tcpSocket,
    // exec).
    const Json probe = kept({{"httpGet", kept({{"path", String()},
                                               {"port", IntOrString()},
                                               {"host", String()},
                                               {"scheme", Enum({"HTTP", "HTTPS"})}},
                                              {"httpHeaders"})},
                             {"tcpSocket", Object({{"port", IntOrString()}, {"host", String()}})},
                             {"exec", Object({{"command", Array(String())}})},
                             {"initialDelaySeconds", Int32(0)},
                             {"periodSeconds", Int32(1)},
                             {"timeoutSeconds", Int32(1)},
                             {"successThreshold", Int32(1)},
                             {"failureThreshold", Int32(1)},
                             {"terminationGracePeriodSeconds", Integer(0)}},
                            {"grpc"});
    const Json container = kept(
        {{"name", String()},
         {"image", String()},
         {"imagePullPolicy", String()},
         {"command", Array(String())},
         {"args", Array(String())},
         {"workingDir", String()},
         {"env", MergeList(env, "name")},
         {"envFrom", Array(Any())},
         {"resources", kept({{"requests", quantities}, {"limits", quantities}}, {"claims"})},
         {"ports", MergeList(Object({{"name", String()},
                                     {"containerPort", Int32(0)},
                                     {"protocol", String()},
                                     {"hostPort", Int32(0)},
                                     {"hostIP", String()}}),
                             "containerPort")},
         {"volumeMounts", MergeList(kept({{"name", String()},
                                          {"mountPath", String()},
                                          {"subPath", String()},
                                          {"readOnly", Boolean()}},
                                         {"recursiveReadOnly", "mountPropagation", "subPathExpr"}),
                                    "mountPath")},
         {"readinessProbe", probe},
         {"livenessProbe", probe},
         {"startupProbe", probe}},
        {"resizePolicy", "restartPolicy", "volumeDevices", "lifecycle", "terminationMessagePath",
         "terminationMessagePolicy", "securityContext", "stdin", "stdinOnce", "tty"});
    const Json volume =
        kept({{"name", String()},
              {"hostPath", Object({{"path", String()}, {"type", String()}})},
              {"persistentVolumeClaim", Object({{"claimName", String()}, {"readOnly", Boolean()}})},
              {"emptyDir", Object({{"medium", String()}, {"sizeLimit", IntOrString()}})},
              {"secret",
               kept({{"secretName", String()}, {"optional", Boolean()}}, {"items", "defaultMode"})},
              {"configMap",
               kept({{"name", String()}, {"optional", Boolean()}}, {"items", "defaultMode"})}},
             {"gcePersistentDisk",
              "awsElasticBlockStore",
              "gitRepo",
              "nfs",
              "iscsi",
              "glusterfs",
              "rbd",
              "flexVolume",
              "cinder",
              "cephfs",
              "flocker",
              "downwardAPI",
              "fc",
              "azureFile",
              "vsphereVolume",
              "quobyte",
              "azureDisk",
              "photonPersistentDisk",
              "projected",
              "portworxVolume",
              "scaleIO",
              "storageos",
              "csi",
              "ephemeral",
              "image"});
    // The lists a strategic merge patch merges by key, as Kubernetes' PodSpec marks them.
    return new Json(kept({{"containers", MergeList(container, "name")},
                          {"initContainers", MergeList(container, "name")},
                          {"volumes", MergeList(volume, "name")},
                          {"restartPolicy", Enum({"Always", "OnFailure", "Never"})},
                          {"nodeSelector", StringMap()},
                          {"serviceAccountName", String()},
                          {"serviceAccount", String()},
                          {"terminationGracePeriodSeconds", Integer(0)},
                          {"activeDeadlineSeconds", Integer(1)}},
                         {"ephemeralContainers",
                          "dnsPolicy",
                          "automountServiceAccountToken",
                          "nodeName",
                          "hostNetwork",
                          "hostPID",
                          "hostIPC",
                          "shareProcessNamespace",
                          "securityContext",
                          "imagePullSecrets",
                          "hostname",
                          "subdomain",
                          "affinity",
                          "schedulerName",
                          "tolerations",
                          "hostAliases",
                          "priorityClassName",
                          "priority",
                          "dnsConfig",
                          "readinessGates",
                          "runtimeClassName",
                          "enableServiceLinks",
                          "preemptionPolicy",
                          "overhead",
                          "topologySpreadConstraints",
                          "setHostnameAsFQDN",
                          "os",
                          "hostUsers",
                          "schedulingGates",
                          "resourceClaims",
                          "resources"}));
  }();
  return *spec;
}

const Json& PodTemplateOpenApi() {
  using namespace openapi;
  static const Json* tmpl = [] {
    return new Json(Object({{"metadata", ObjectMetaOpenApi()}, {"spec", PodSpecOpenApi()}}));
  }();
  return *tmpl;
}

namespace {

Status ExpectStringList(const Json& obj, const char* key, const std::string& field) {
  if (!obj.contains(key) || obj[key].is_null()) return Status::Ok();
  const Json& v = obj[key];
  if (!v.is_array()) return InvalidArgument(field + "." + key + ": must be a list of strings");
  for (size_t i = 0; i < v.size(); ++i) {
    if (!v[i].is_string()) {
      return InvalidArgument(field + "." + key + "[" + std::to_string(i) + "]: must be a string");
    }
  }
  return Status::Ok();
}

Status ExpectType(const Json& obj, const char* key, Json::value_t type, const char* type_name,
                  const std::string& field) {
  if (!obj.contains(key) || obj[key].is_null()) return Status::Ok();
  const Json& v = obj[key];
  bool ok = v.type() == type || (type == Json::value_t::number_integer && v.is_number_unsigned());
  if (!ok) return InvalidArgument(field + "." + key + ": must be " + type_name);
  return Status::Ok();
}

Status ValidateContainer(const Json& c, const std::string& field) {
  if (!c.is_object()) return InvalidArgument(field + ": must be an object");
  if (!c.contains("name") || !c["name"].is_string()) {
    return InvalidArgument(field + ".name: required string");
  }
  RETURN_IF_ERROR(ValidateName(c["name"].get<std::string>(), field + ".name"));
  RETURN_IF_ERROR(ExpectType(c, "image", Json::value_t::string, "a string", field));
  RETURN_IF_ERROR(ExpectStringList(c, "command", field));
  RETURN_IF_ERROR(ExpectStringList(c, "args", field));
  RETURN_IF_ERROR(ExpectType(c, "workingDir", Json::value_t::string, "a string", field));
  if (c.contains("env") && !c["env"].is_null()) {
    if (!c["env"].is_array()) return InvalidArgument(field + ".env: must be a list");
    for (size_t i = 0; i < c["env"].size(); ++i) {
      const Json& e = c["env"][i];
      std::string ef = field + ".env[" + std::to_string(i) + "]";
      if (!e.is_object() || !e.contains("name") || !e["name"].is_string()) {
        return InvalidArgument(ef + ".name: required string");
      }
      if (e.contains("value") && !e["value"].is_string()) {
        return InvalidArgument(ef + ".value: must be a string (quote numbers in YAML)");
      }
    }
  }
  if (c.contains("resources") && c["resources"].is_object()) {
    for (const char* section : {"limits", "requests"}) {
      if (!c["resources"].contains(section)) continue;
      const Json& r = c["resources"][section];
      std::string rf = field + ".resources." + section;
      if (!r.is_object()) return InvalidArgument(rf + ": must be an object");
      if (r.contains("cpu")) RETURN_IF_ERROR(ParseCpuMillis(r["cpu"], rf + ".cpu").status());
      if (r.contains("memory")) {
        RETURN_IF_ERROR(ParseMemoryBytes(r["memory"], rf + ".memory").status());
      }
    }
  }
  if (c.contains("ports") && !c["ports"].is_null()) {
    if (!c["ports"].is_array()) return InvalidArgument(field + ".ports: must be a list");
    for (size_t i = 0; i < c["ports"].size(); ++i) {
      RETURN_IF_ERROR(ExpectType(c["ports"][i], "containerPort", Json::value_t::number_integer,
                                 "an integer", field + ".ports[" + std::to_string(i) + "]"));
    }
  }
  if (c.contains("volumeMounts") && !c["volumeMounts"].is_null()) {
    if (!c["volumeMounts"].is_array())
      return InvalidArgument(field + ".volumeMounts: must be a list");
    for (size_t i = 0; i < c["volumeMounts"].size(); ++i) {
      const Json& m = c["volumeMounts"][i];
      std::string mf = field + ".volumeMounts[" + std::to_string(i) + "]";
      if (!m.is_object() || !m.value("name", Json()).is_string() ||
          !m.value("mountPath", Json()).is_string()) {
        return InvalidArgument(mf + ": name and mountPath are required strings");
      }
    }
  }
  return Status::Ok();
}

std::string PodName(const Json& pod) { return MetaName(pod); }

// A persistentVolumeClaim's claimName becomes a folder of the profile's volumes: it must be a
// name (no '/', no "..": "../../" once mounted SKIFF_HOME itself, "../team-a/x" another
// profile's volume).
Status CheckClaimName(const Json& volume, const std::string& field) {
  if (!volume.contains("persistentVolumeClaim")) return Status::Ok();
  const Json& claim = volume["persistentVolumeClaim"];
  if (!claim.is_object() || !claim.value("claimName", Json()).is_string()) {
    return InvalidArgument(field + ".persistentVolumeClaim.claimName: required string");
  }
  return ValidateName(claim["claimName"].get<std::string>(),
                      field + ".persistentVolumeClaim.claimName");
}

}  // namespace

Status ValidatePodTemplate(const Json& tmpl, const std::string& field) {
  const std::string sf = field.empty() ? "spec" : field + ".spec";
  if (!tmpl.is_object())
    return InvalidArgument((field.empty() ? "pod" : field) + ": required object");
  if (!tmpl.contains("spec") || !tmpl["spec"].is_object()) {
    return InvalidArgument(sf + ": required object");
  }
  const Json& spec = tmpl["spec"];
  if (!spec.contains("containers") || !spec["containers"].is_array() ||
      spec["containers"].empty()) {
    return InvalidArgument(sf + ".containers: at least one container is required");
  }
  for (size_t i = 0; i < spec["containers"].size(); ++i) {
    RETURN_IF_ERROR(
        ValidateContainer(spec["containers"][i], sf + ".containers[" + std::to_string(i) + "]"));
  }
  if (spec.contains("restartPolicy")) {
    const Json& rp = spec["restartPolicy"];
    if (!rp.is_string() || (rp != "Never" && rp != "OnFailure" && rp != "Always")) {
      return InvalidArgument(sf + ".restartPolicy: must be one of Never, OnFailure, Always");
    }
  }
  if (spec.contains("volumes") && !spec["volumes"].is_null()) {
    if (!spec["volumes"].is_array()) return InvalidArgument(sf + ".volumes: must be a list");
    for (size_t i = 0; i < spec["volumes"].size(); ++i) {
      const Json& v = spec["volumes"][i];
      std::string vf = sf + ".volumes[" + std::to_string(i) + "]";
      if (!v.is_object() || !v.value("name", Json()).is_string()) {
        return InvalidArgument(vf + ".name: required string");
      }
      RETURN_IF_ERROR(CheckClaimName(v, vf));
    }
  }
  return Status::Ok();
}

// A Kubernetes probe as the backend runs it: httpGet, tcpSocket or exec (grpc is not run:
// refused by name), its times in seconds, Kubernetes' defaults where absent.
Result<Probe> ProbeFromPod(const Json& p, const std::string& field) {
  Probe probe;
  auto port_of = [](const Json& port) {
    return port.is_string() ? port.get<std::string>() : std::to_string(port.get<int64_t>());
  };
  if (p.contains("httpGet") && p["httpGet"].is_object()) {
    probe.kind = Probe::Kind::kHttpGet;
    probe.http_path = p["httpGet"].value("path", "/");
    if (!p["httpGet"].contains("port")) return InvalidArgument(field + ".httpGet.port: required");
    probe.port = port_of(p["httpGet"]["port"]);
  } else if (p.contains("tcpSocket") && p["tcpSocket"].is_object()) {
    probe.kind = Probe::Kind::kTcp;
    if (!p["tcpSocket"].contains("port")) {
      return InvalidArgument(field + ".tcpSocket.port: required");
    }
    probe.port = port_of(p["tcpSocket"]["port"]);
  } else if (p.contains("exec") && p["exec"].is_object()) {
    probe.kind = Probe::Kind::kExec;
    probe.exec = p["exec"].value("command", std::vector<std::string>{});
    if (probe.exec.empty()) return InvalidArgument(field + ".exec.command: required");
  } else {
    return InvalidArgument(field + ": needs one of httpGet, tcpSocket or exec");
  }
  auto seconds = [&p](const char* key, int dflt) {
    return std::chrono::milliseconds(int64_t{1000} * p.value(key, dflt));
  };
  probe.initial_delay = seconds("initialDelaySeconds", 0);
  probe.period = seconds("periodSeconds", 10);
  probe.timeout = seconds("timeoutSeconds", 1);
  probe.success_threshold = p.value("successThreshold", 1);
  probe.failure_threshold = p.value("failureThreshold", 3);
  return probe;
}

std::string PodWorkloadId(const std::string& ns, const std::string& name) {
  return ns + "_" + name;
}

Result<WorkloadSpec> PodToWorkload(const Json& pod, const std::string& workload_id,
                                   const PodEnvironment& env) {
  const Json& spec = pod["spec"];
  std::string ns = MetaNamespace(pod);
  WorkloadSpec w;
  w.id = workload_id;
  w.sandboxed = true;  // a pod sees its own folder and volumes only
  w.labels = MetaLabels(pod);
  // Whose it is: the controlling owner (a Job), or the pod itself; never what the pod's labels
  // claim.
  w.labels[kWorkloadNamespaceLabel] = ns;
  w.labels[kWorkloadOwnerKindLabel] = "Pod";
  w.labels[kWorkloadOwnerNameLabel] = PodName(pod);
  w.labels[kWorkloadPodLabel] = PodName(pod);
  for (const Json& ref : At(pod, {"metadata", "ownerReferences"}).is_array()
                             ? At(pod, {"metadata", "ownerReferences"})
                             : Json::array()) {
    if (ref.is_object() && ref.value("controller", Json()) == Json(true) &&
        ref.value("kind", Json()).is_string() && ref.value("name", Json()).is_string()) {
      w.labels[kWorkloadOwnerKindLabel] = ref["kind"].get<std::string>();
      w.labels[kWorkloadOwnerNameLabel] = ref["name"].get<std::string>();
    }
  }
  // Kubernetes' default for a pod is Always (a Job's template must say Never or OnFailure).
  const std::string restart = TextAt(spec, {"restartPolicy"}, "Always");
  w.restart_policy = restart == "Never"       ? RestartPolicy::kNever
                     : restart == "OnFailure" ? RestartPolicy::kOnFailure
                                              : RestartPolicy::kAlways;
  if (spec.contains("volumes") && spec["volumes"].is_array()) {
    for (const Json& v : spec["volumes"]) {
      Volume vol;
      vol.name = v["name"].get<std::string>();
      if (v.contains("hostPath")) {
        vol.host_path = v["hostPath"].value("path", "");
      } else if (v.contains("persistentVolumeClaim")) {
        // Checked again here: an object stored before the check must not escape either.
        RETURN_IF_ERROR(CheckClaimName(v, PodName(pod) + ": volume " + vol.name));
        RETURN_IF_ERROR(ValidateName(ns, PodName(pod) + ": namespace"));
        vol.from_platform = true;
        vol.host_path = env.volumes_dir + "/" + ns + "/" +
                        v["persistentVolumeClaim"]["claimName"].get<std::string>();
      }
      w.volumes.push_back(std::move(vol));
    }
  }
  for (size_t i = 0; i < spec["containers"].size(); ++i) {
    const Json& c = spec["containers"][i];
    std::string cf = "spec.containers[" + std::to_string(i) + "]";
    ContainerSpec cs;
    cs.name = c.value("name", "main");
    cs.image = c.value("image", "");
    if (c.contains("command") && c["command"].is_array()) {
      cs.command = c["command"].get<std::vector<std::string>>();
    }
    if (c.contains("args") && c["args"].is_array()) {
      cs.args = c["args"].get<std::vector<std::string>>();
    }
    if (cs.command.empty() && cs.args.empty()) {
      return InvalidArgument(PodName(pod) + ": " + cf +
                             ": command or args is required (images have no entrypoint locally)");
    }
    cs.working_dir = c.value("workingDir", "");
    if (c.contains("env") && c["env"].is_array()) {
      for (const Json& e : c["env"]) {
        EnvVar ev{e["name"].get<std::string>(), e.value("value", "")};
        if (e.contains("valueFrom")) {
          const Json& from = e["valueFrom"];
          for (const auto& [key, kind] :
               {std::pair<const char*, const char*>{"secretKeyRef", "secrets"},
                {"configMapKeyRef", "configmaps"}}) {
            if (!from.contains(key)) continue;
            if (!env.read_config) return Unimplemented(std::string(key) + " is not available");
            auto value =
                env.read_config(kind, ns, from[key].value("name", ""), from[key].value("key", ""));
            if (!value.ok()) {
              if (from[key].value("optional", false)) continue;
              return value.status().WithContext(cf + ".env[" + ev.name + "].valueFrom." + key);
            }
            ev.value = *value;
          }
        }
        cs.env.push_back(std::move(ev));
      }
    }
    if (c.contains("resources") && c["resources"].is_object()) {
      const Json& r = c["resources"];
      for (const char* section : {"requests", "limits"}) {
        if (!r.contains(section) || !r[section].is_object()) continue;
        if (r[section].contains("cpu") &&
            (cs.cpu_millis == 0 || std::string(section) == "requests")) {
          ASSIGN_OR_RETURN(cs.cpu_millis, ParseCpuMillis(r[section]["cpu"], cf + ".resources.cpu"));
        }
      }
      if (r.contains("limits") && r["limits"].is_object() && r["limits"].contains("memory")) {
        ASSIGN_OR_RETURN(cs.memory_bytes,
                         ParseMemoryBytes(r["limits"]["memory"], cf + ".resources.limits.memory"));
      }
    }
    if (c.contains("ports") && c["ports"].is_array()) {
      for (const Json& p : c["ports"]) {
        cs.ports.push_back({p.value("name", ""), p.value("containerPort", 0)});
      }
    }
    if (c.contains("readinessProbe") && c["readinessProbe"].is_object()) {
      ASSIGN_OR_RETURN(cs.readiness_probe,
                       ProbeFromPod(c["readinessProbe"], cf + ".readinessProbe"));
    }
    if (c.contains("volumeMounts") && c["volumeMounts"].is_array()) {
      for (const Json& m : c["volumeMounts"]) {
        cs.volume_mounts.push_back({m["name"].get<std::string>(), m["mountPath"].get<std::string>(),
                                    m.value("readOnly", false)});
      }
    }
    w.containers.push_back(std::move(cs));
  }
  return w;
}

}  // namespace skiff::jobs
