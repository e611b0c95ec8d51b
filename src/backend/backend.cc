#include "backend/backend.h"

namespace skiff {

const char* WorkloadPhaseName(WorkloadPhase phase) {
  switch (phase) {
    case WorkloadPhase::kPending:
      return "Pending";
    case WorkloadPhase::kRunning:
      return "Running";
    case WorkloadPhase::kSucceeded:
      return "Succeeded";
    case WorkloadPhase::kFailed:
      return "Failed";
    case WorkloadPhase::kUnknown:
      return "Unknown";
  }
  return "Unknown";
}

const char* RestartPolicyName(RestartPolicy policy) {
  switch (policy) {
    case RestartPolicy::kNever:
      return "Never";
    case RestartPolicy::kOnFailure:
      return "OnFailure";
    case RestartPolicy::kAlways:
      return "Always";
  }
  return "Never";
}

}  // namespace skiff
