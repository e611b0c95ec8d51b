// Retrying a failed PipelineRun in place. A retry is asked for through the spec: whoever asks
// (the KFP API's runs/{id}:retry, or a PUT or PATCH through the generic API) raises
// spec.retries above status.retries, and the RunController, which alone writes the run's
// status, resets the run when it sees that on a FAILED or CANCELED run: the stored engine status
// keeps every task that SUCCEEDED (or was CACHED), drops the failed, skipped and cancelled ones
// (with everything under them) and sets the DAGs above them running again, so the controller
// resumes the run and re-runs only what did not succeed.
//
//   RETURN_IF_ERROR(RequestRetry(run));    // the KFP API's :retry, then it writes the spec
//   if (RetryRequested(run)) RETURN_IF_ERROR(ResetRunForRetry(run));   // in the RunController
//
// Free functions; thread-compatible.
#pragma once

#include <cstdint>

#include "core/resource.h"
#include "core/status.h"

namespace skiff::pipelines {

// The most retries one run may be asked for (spec.retries and status.retries are bounded by it in
// the PipelineRun schema; a count never passes it).
inline constexpr int64_t kMaxRunRetries = 10'000;

// Whether spec.retries asks for more retries than status.retries has seen done.
bool RetryRequested(const Json& run);

// Asks for one more retry of a FAILED or CANCELED run, through its spec (spec.retries, and
// spec.cancelRequested cleared): what a writer other than the RunController does. Asking again
// before the controller began the last one asks nothing more. FailedPrecondition for a run in
// another state.
Status RequestRetry(Json& run);

// Resets a FAILED or CANCELED run for its retry, recording status.retries = spec.retries
// (FailedPrecondition for a run in another state).
Status ResetRunForRetry(Json& run);

}  // namespace skiff::pipelines
