// Retrying a failed PipelineRun in place: the run's stored engine status keeps every task that
// SUCCEEDED (or was CACHED), drops the failed, skipped and cancelled ones (with everything under
// them) and sets the DAGs above them running again, so the RunController resumes the run and
// re-runs only what did not succeed.
//
//   RETURN_IF_ERROR(ResetRunForRetry(run));   // run: a PipelineRun object in state FAILED
//   store.Update(kPipelineRunType, run);
//
// Free function; thread-compatible.
#pragma once

#include "core/resource.h"
#include "core/status.h"

namespace skiff {

// FailedPrecondition unless the run is FAILED or CANCELED.
Status ResetRunForRetry(Json& run);

}  // namespace skiff
