#include "profiles/profile_controller.h"

#include "auth/profile_quota.h"
#include "core/log.h"
#include "core/text.h"

namespace skiff::profiles {
namespace {

constexpr char kQuotaCondition[] = "QuotaEnforced";

std::string Join(const std::vector<std::string>& parts) {
  std::string text;
  for (const std::string& part : parts) text += (text.empty() ? "" : ", ") + part;
  return text;
}

// The QuotaEnforced condition for `quota` (null when it limits nothing).
Json QuotaCondition(const ProfileQuota& quota, const Status& held) {
  if (quota.empty()) return nullptr;
  std::vector<std::string> not_held = quota.unenforced;
  const bool compute = quota.cpu_millis || quota.memory_bytes || quota.workloads;
  if (compute && !held.ok()) {
    for (const char* name : {"cpu", "memory", "pods"}) not_held.emplace_back(name);
  }
  if (not_held.empty()) {
    return {{"type", kQuotaCondition},
            {"status", "True"},
            {"reason", "Enforced"},
            {"message", "every limit of spec.resourceQuotaSpec is held"}};
  }
  std::string message = "not held: " + Join(not_held);
  if (compute && !held.ok()) message += " (" + held.message() + ")";
  return {{"type", kQuotaCondition},
          {"status", "False"},
          {"reason", "PartlyEnforced"},
          {"message", message}};
}

// Replaces (or with null, removes) the QuotaEnforced condition of `status`; false when it was
// already so. The transition time moves only when the condition's status does.
bool PutCondition(Json& status, Json condition, const std::string& now) {
  Json conditions =
      status.is_object() && status.contains("conditions") && status["conditions"].is_array()
          ? status["conditions"]
          : Json::array();
  Json kept = Json::array();
  Json before = nullptr;
  for (const Json& c : conditions) {
    if (TextAt(c, {"type"}) == kQuotaCondition) {
      before = c;
    } else {
      kept.push_back(c);
    }
  }
  auto same = [](const Json& a, const Json& b, const char* key) {
    return TextAt(a, {key}) == TextAt(b, {key});
  };
  if (condition.is_null() && before.is_null()) return false;
  if (!condition.is_null() && !before.is_null() && same(condition, before, "status") &&
      same(condition, before, "reason") && same(condition, before, "message")) {
    return false;
  }
  if (!condition.is_null()) {
    condition["lastTransitionTime"] = !before.is_null() && same(condition, before, "status")
                                          ? TextAt(before, {"lastTransitionTime"}, now)
                                          : now;
    kept.push_back(std::move(condition));
  }
  if (!status.is_object()) status = Json::object();
  status["conditions"] = std::move(kept);
  return true;
}

}  // namespace

std::string ProfileController::StoreType() const { return kProfileType; }

Result<std::optional<std::chrono::milliseconds>> ProfileController::Reconcile(
    const std::string& /*ns*/, const std::string& name) {
  Result<Json> profile = store_.Get(kProfileType, "", name);
  if (!profile.ok() && profile.status().code() == StatusCode::kNotFound) {
    Status lifted = backend_.SetQuota(name, {});
    if (!lifted.ok() && lifted.code() != StatusCode::kUnimplemented) return lifted;
    return std::optional<std::chrono::milliseconds>();
  }
  if (!profile.ok()) return profile.status();
  ASSIGN_OR_RETURN(ProfileQuota quota, ParseProfileQuota(*profile));
  WorkloadQuota compute{.cpu_millis = quota.cpu_millis,
                        .memory_bytes = quota.memory_bytes,
                        .workloads = quota.workloads};
  Status held = backend_.SetQuota(name, compute);
  if (!held.ok() && held.code() != StatusCode::kUnimplemented) return held;
  if (!held.ok() && !compute.empty()) {
    LogWarn("the backend does not hold a profile's compute quota",
            {{"profile", name}, {"error", held.message()}});
  }
  Json& status = (*profile)["status"];
  if (PutCondition(status, QuotaCondition(quota, held), FormatRfc3339(clock_.Now()))) {
    RETURN_IF_ERROR(store_.Update(kProfileType, std::move(*profile)).status());
  }
  return std::optional<std::chrono::milliseconds>();
}

void Register(ModuleRegistry& modules) {
  modules.AddController(
      "profiles", [](const ControllerContext& ctx) -> Result<std::unique_ptr<Controller>> {
        return std::unique_ptr<Controller>(
            std::make_unique<ProfileController>(ctx.store, ctx.backend, ctx.clock));
      });
}

}  // namespace skiff::profiles
