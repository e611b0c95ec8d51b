#include "http/status_json.h"

#include <regex>

namespace skiff {

const char* StatusReason(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return "";
    case StatusCode::kInvalidArgument:
      return "BadRequest";
    case StatusCode::kInvalid:
      return "Invalid";
    case StatusCode::kUnauthenticated:
      return "Unauthorized";
    case StatusCode::kPermissionDenied:
      return "Forbidden";
    case StatusCode::kNotFound:
      return "NotFound";
    case StatusCode::kAlreadyExists:
      return "AlreadyExists";
    case StatusCode::kConflict:
      return "Conflict";
    case StatusCode::kFailedPrecondition:
      return "BadRequest";
    case StatusCode::kResourceExhausted:
      return "RequestEntityTooLarge";
    case StatusCode::kUnavailable:
      return "ServiceUnavailable";
    case StatusCode::kDeadlineExceeded:
      return "Timeout";
    case StatusCode::kExpired:
      return "Expired";
    case StatusCode::kUnimplemented:
      return "NotImplemented";
    case StatusCode::kInternal:
      return "InternalError";
  }
  return "Unknown";
}

Json StatusJson(const Status& status) {
  Json out = {{"kind", "Status"},
              {"apiVersion", "v1"},
              {"metadata", Json::object()},
              {"status", status.ok() ? "Success" : "Failure"},
              {"message", status.message()},
              {"reason", StatusReason(status.code())},
              {"code", HttpStatusFor(status.code())}};
  // "spec.parallelism: must be an integer" names its field; such errors are validation failures.
  static const std::regex kField(
      R"(^([A-Za-z][A-Za-z0-9_]*(\[[0-9]+\])?(\.[A-Za-z0-9_/-]+(\[[0-9]+\])?)*): )");
  if (!status.causes().empty()) {
    Json causes = Json::array();
    for (const StatusCause& c : status.causes()) {
      causes.push_back({{"field", c.field}, {"message", c.message}, {"reason", c.reason}});
    }
    out["details"] = {{"causes", std::move(causes)}};
    return out;
  }
  std::smatch m;
  if (status.code() == StatusCode::kInvalidArgument &&
      std::regex_search(status.message(), m, kField)) {
    out["reason"] = "Invalid";
    out["details"] = {{"field", m[1].str()},
                      {"causes", Json::array({{{"field", m[1].str()},
                                               {"message", m.suffix().str()},
                                               {"reason", "FieldValueInvalid"}}})}};
  }
  return out;
}

void SendStatusError(HttpResponder& responder, const Status& status) {
  responder.SendJson(HttpStatusFor(status.code()), StatusJson(status));
}

void SendRefusal(HttpResponder& responder, int code, const char* reason, const std::string& message,
                 HttpHeaders headers) {
  Json status = StatusJson(InvalidArgument(message));
  status["code"] = code;
  status["reason"] = reason;
  responder.SendJson(code, status, std::move(headers));
}

}  // namespace skiff
