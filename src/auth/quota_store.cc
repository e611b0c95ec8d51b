#include "auth/quota_store.h"

#include "auth/auth.h"
#include "auth/profile_quota.h"
#include "core/log.h"

namespace skiff {

Result<Json> QuotaStore::Create(const std::string& type, Json object) {
  const std::string ns = MetaNamespace(object);
  if (ns.empty()) return ForwardingStore::Create(type, std::move(object));
  Result<Json> profile = inner().Get(kProfileType, "", ns);
  if (!profile.ok()) {
    if (profile.status().code() == StatusCode::kNotFound) {
      return ForwardingStore::Create(type, std::move(object));
    }
    return profile.status();
  }
  Result<ProfileQuota> quota = ParseProfileQuota(*profile);
  if (!quota.ok()) {  // stored before quotas were checked: it holds nothing
    LogWarn("a profile's quota is not valid; it is not held",
            {{"profile", ns}, {"error", quota.status().message()}});
    return ForwardingStore::Create(type, std::move(object));
  }
  auto limit = quota->objects.find(type);
  if (limit == quota->objects.end()) return ForwardingStore::Create(type, std::move(object));
  MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(int64_t used, inner().Count(type, ns));
  if (used + 1 > limit->second.max) {
    const std::string& name = limit->second.name;
    return PermissionDenied(
        type + " \"" + MetaName(object) + "\" is forbidden: exceeded quota: profile " + ns +
        ", requested: " + name + "=1, used: " + name + "=" + std::to_string(used) +
        ", limited: " + name + "=" + std::to_string(limit->second.max));
  }
  return ForwardingStore::Create(type, std::move(object));
}

}  // namespace skiff
