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

}  // namespace skiff
