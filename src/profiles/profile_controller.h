// ProfileController: holds each Profile's quota below the API, as Kubeflow's profile controller
// turns a Profile's resourceQuotaSpec into a ResourceQuota of its namespace. The object counts
// are the store's to hold (auth/quota_store.h); this controller hands the compute part (cpu,
// memory, pods) to the backend (Backend::SetQuota), lifts it when the Profile goes, and reports
// what is held in the Profile's status, as a `QuotaEnforced` condition:
//
//   True  Enforced        every limit of the quota is held
//   False PartlyEnforced  some are not: the message names them (requests.nvidia.com/gpu, ...)
//
// (no condition when the Profile has no quota). Level-triggered: every Profile is looked at
// when it changes and at start, so the backend holds the quotas again after a restart.
//
//   modules.AddController("profiles", ...)  // by profiles::Register
//
// Loop-thread-only, as every controller.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "controller/controller.h"

namespace skiff::profiles {

// Registers the Profile controller ("profiles").
void Register(ModuleRegistry& modules);

class ProfileController : public Controller {
 public:
  ProfileController(Store& store, Backend& backend, Clock& clock)
      : store_(store), backend_(backend), clock_(clock) {}

  std::string StoreType() const override;
  Result<std::optional<std::chrono::milliseconds>> Reconcile(const std::string& ns,
                                                             const std::string& name) override;

 private:
  Store& store_;
  Backend& backend_;
  Clock& clock_;
};

}  // namespace skiff::profiles
