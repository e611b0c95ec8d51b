// ProfileQuota: what a Profile's `spec.resourceQuotaSpec` (a Kubernetes ResourceQuotaSpec, as
// Kubeflow's profile controller turns it into a ResourceQuota in the profile's namespace) limits,
// in the terms Skiff enforces it:
//
// - Objects: `count/<resource>[.<group>]` ("count/jobs.batch",
//   "count/pipelineruns.pipelines.kubeflow.org") and Kubernetes' older names for the same
//   (`configmaps`, `secrets`, `persistentvolumeclaims`, `services`, ...) limit how many objects of
//   that kind the namespace holds. The store refuses a create past the limit (auth/quota_store.h),
//   403 "exceeded quota", as the API server does.
// - Compute: `cpu` / `requests.cpu` (the sum of the running workloads' cpu requests),
//   `memory` / `requests.memory` / `limits.memory` (the sum of their memory) and `pods` (how many
//   workloads run at once) are the backend's to hold: a workload that would pass them waits in
//   the queue until the profile's others end (Backend::SetQuota).
// - Anything else Kubernetes accepts (`limits.cpu`, `requests.storage`,
//   `requests.nvidia.com/gpu`, `scopes`, ...) is kept and named in `unenforced`, which the
//   Profile's status reports: Skiff does not pretend to hold a limit it does not hold.
//
//   ASSIGN_OR_RETURN(ProfileQuota quota, ParseProfileQuota(profile));
//   if (auto it = quota.objects.find("jobs.batch"); it != quota.objects.end()) ...
//
// Pure functions: thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/resource.h"
#include "core/status.h"

namespace skiff {

struct ProfileQuota {
  // Store type ("jobs.batch", "pods") -> how many objects of it the namespace may hold, and the
  // name the limit was given under ("count/jobs.batch"), for messages.
  struct ObjectLimit {
    int64_t max = 0;
    std::string name;
  };
  std::map<std::string, ObjectLimit> objects;
  std::optional<int64_t> cpu_millis;    // the tightest of cpu, requests.cpu
  std::optional<int64_t> memory_bytes;  // the tightest of memory, requests.memory, limits.memory
  std::optional<int64_t> workloads;     // pods
  std::vector<std::string> unenforced;  // names kept but not held, sorted

  bool empty() const {
    return objects.empty() && !cpu_millis && !memory_bytes && !workloads && unenforced.empty();
  }
};

// The quota of a Profile object (none when it has no resourceQuotaSpec). InvalidArgument naming
// the field ("spec.resourceQuotaSpec.hard.cpu: ...") for a value that is not a quantity, a
// negative one, or a resource name that is not one.
Result<ProfileQuota> ParseProfileQuota(const Json& profile);

}  // namespace skiff
