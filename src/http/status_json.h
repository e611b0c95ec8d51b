// The Kubernetes Status object every error answer carries, and the one way handlers send it.
//
//   if (!allowed.ok()) return SendStatusError(res, allowed);  // 403 {"kind":"Status",...}
#pragma once

#include "core/resource.h"
#include "core/status.h"
#include "http/http_server.h"

namespace skiff {

// The Kubernetes Status object for an error: {"kind":"Status","apiVersion":"v1",
// "status":"Failure","message","reason","code","details":{"field"?}}.
Json StatusJson(const Status& status);
// The Kubernetes reason for a code: "NotFound", "Forbidden", ...
const char* StatusReason(StatusCode code);
// Sends StatusJson(status) with the HTTP status that status.code() maps to.
void SendStatusError(HttpResponder& responder, const Status& status);
// Sends a Status for an HTTP code that no StatusCode maps to (415 UnsupportedMediaType, 429
// TooManyRequests), with `headers` (Retry-After).
void SendRefusal(HttpResponder& responder, int code, const char* reason, const std::string& message,
                 HttpHeaders headers = {});

}  // namespace skiff
