#include "auth/profile_quota.h"

#include <algorithm>
#include <array>
#include <string_view>

#include "core/quantity.h"

namespace skiff {
namespace {

// Kubernetes' older names for object counts: the same as count/<name>.
constexpr std::array<std::string_view, 6> kCountedByPlainName = {
    "configmaps", "secrets",        "persistentvolumeclaims",
    "services",   "resourcequotas", "replicationcontrollers"};

// A resource name as Kubernetes accepts one in a quota: a qualified name, lower case, with the
// dots and slashes of "requests.nvidia.com/gpu" and "count/jobs.batch".
bool IsResourceName(std::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!alnum(name.front()) || !alnum(name.back())) return false;
  return std::all_of(name.begin(), name.end(),
                     [&](char c) { return alnum(c) || c == '-' || c == '.' || c == '/'; });
}

void Tighten(std::optional<int64_t>& limit, int64_t value) {
  limit = limit ? std::min(*limit, value) : value;
}

}  // namespace

Result<ProfileQuota> ParseProfileQuota(const Json& profile) {
  ProfileQuota quota;
  if (!profile.is_object() || !profile.contains("spec") || !profile["spec"].is_object()) {
    return quota;
  }
  const Json& spec = profile["spec"];
  if (!spec.contains("resourceQuotaSpec") || spec["resourceQuotaSpec"].is_null()) return quota;
  const Json& rq = spec["resourceQuotaSpec"];
  const std::string base = "spec.resourceQuotaSpec";
  if (!rq.is_object()) return InvalidArgument(base + ": must be an object");
  for (const char* unheld : {"scopes", "scopeSelector"}) {
    if (rq.contains(unheld) && !rq[unheld].is_null()) quota.unenforced.push_back(unheld);
  }
  if (rq.contains("hard") && !rq["hard"].is_null()) {
    const Json& hard = rq["hard"];
    if (!hard.is_object()) return InvalidArgument(base + ".hard: must be an object");
    for (const auto& [name, value] : hard.items()) {
      const std::string field = base + ".hard[" + name.substr(0, 64) + "]";
      if (!IsResourceName(name)) {
        return InvalidArgument(field +
                               ": not a resource name (lower-case letters, digits, '-', '.', '/')");
      }
      if (name == "cpu" || name == "requests.cpu") {
        ASSIGN_OR_RETURN(int64_t millis, ParseCpuMillis(value, field));
        Tighten(quota.cpu_millis, millis);
        continue;
      }
      // Counts and bytes alike are quantities ("10", "1k", "2Gi").
      ASSIGN_OR_RETURN(int64_t amount, ParseMemoryBytes(value, field));
      if (name == "memory" || name == "requests.memory" || name == "limits.memory") {
        Tighten(quota.memory_bytes, amount);
      } else if (name == "pods") {
        Tighten(quota.workloads, amount);
      } else if (name.rfind("count/", 0) == 0 ||
                 std::find(kCountedByPlainName.begin(), kCountedByPlainName.end(), name) !=
                     kCountedByPlainName.end()) {
        std::string type = name.rfind("count/", 0) == 0 ? name.substr(6) : name;
        auto [it, fresh] = quota.objects.try_emplace(type, ProfileQuota::ObjectLimit{amount, name});
        if (!fresh && amount < it->second.max) it->second = {amount, name};
      } else {
        quota.unenforced.push_back(name);
      }
    }
  }
  std::sort(quota.unenforced.begin(), quota.unenforced.end());
  return quota;
}

}  // namespace skiff
