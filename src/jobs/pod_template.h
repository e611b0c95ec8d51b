// Pod templates: validation of a Kubernetes PodTemplateSpec and its translation into the
// Backend's WorkloadSpec. Shared by every controller that runs pods (Job now; training jobs,
// notebooks and servers later).
//
//   RETURN_IF_ERROR(ValidatePodTemplate(job["spec"]["template"], "spec.template"));
//   ASSIGN_OR_RETURN(WorkloadSpec w, PodToWorkload(pod, "default_pi-x7k2p", env));
//
// Thread-safe (pure functions; the ConfigResolver is called on the caller's thread).
#pragma once

#include <functional>
#include <string>

#include "backend/backend.h"
#include "core/resource.h"
#include "core/status.h"

namespace skiff::jobs {

// The OpenAPI schemas of a PodSpec and a PodTemplateSpec ({metadata, spec}): the fields the
// local backend reads are typed (containers, env and its valueFrom references, resources, ports,
// volumeMounts, volumes, restartPolicy); other Kubernetes fields are kept as they are, so a
// manifest written for a cluster is accepted unchanged.
const Json& PodSpecOpenApi();
const Json& PodTemplateOpenApi();

// Checks types and required fields of a PodTemplateSpec ({metadata, spec}), or of a Pod (which
// has its shape) with `field` ""; errors name the field under `field` (e.g.
// "spec.template.spec.containers[0].command: must be a list of strings").
Status ValidatePodTemplate(const Json& pod_template, const std::string& field);

struct PodEnvironment {
  // Reads key `key` of Secret or ConfigMap `name` in `ns` ("secrets" / "configmaps").
  std::function<Result<std::string>(const std::string& kind, const std::string& ns,
                                    const std::string& name, const std::string& key)>
      read_config;
  // Directory under which persistentVolumeClaim volumes live: <dir>/<ns>/<claim>.
  std::string volumes_dir;
};

// The label a pod's workload carries with the pod's name (with kWorkloadNamespaceLabel, its
// namespace), so that the workload of a pod deleted from the store is known as its.
inline constexpr char kWorkloadPodLabel[] = "skiff.dev/pod";

// The backend workload id of pod `name` in `ns`: "<namespace>_<name>".
std::string PodWorkloadId(const std::string& ns, const std::string& name);

// Builds the workload for a stored Pod object (spec as in a pod template). Secret/ConfigMap env
// references are resolved now; a missing one is an error naming the reference.
Result<WorkloadSpec> PodToWorkload(const Json& pod, const std::string& workload_id,
                                   const PodEnvironment& env);

}  // namespace skiff::jobs
