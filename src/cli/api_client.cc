#include "cli/api_client.h"

#include "http/http_client.h"

namespace skiff::cli {

std::string ResourcePath(const ResourceType& type, const std::string& ns, const std::string& name) {
  std::string path =
      type.group.empty() ? "/api/" + type.version : "/apis/" + type.group + "/" + type.version;
  if (type.namespaced && !ns.empty()) path += "/namespaces/" + PercentEncode(ns);
  path += "/" + type.plural;
  if (!name.empty()) path += "/" + PercentEncode(name);
  return path;
}

StatusCode StatusCodeForHttp(int http_status) {
  switch (http_status) {
    case 400:
      return StatusCode::kInvalidArgument;
    case 401:
      return StatusCode::kUnauthenticated;
    case 403:
      return StatusCode::kPermissionDenied;
    case 404:
      return StatusCode::kNotFound;
    case 409:
      return StatusCode::kConflict;
    case 410:
      return StatusCode::kExpired;
    case 413:
      return StatusCode::kResourceExhausted;
    case 422:
      return StatusCode::kInvalidArgument;
    case 501:
      return StatusCode::kUnimplemented;
    case 503:
      return StatusCode::kUnavailable;
    case 504:
      return StatusCode::kDeadlineExceeded;
    default:
      return http_status >= 500 ? StatusCode::kInternal : StatusCode::kInvalidArgument;
  }
}

Result<std::string> ApiClient::CallRaw(const std::string& method, const std::string& path,
                                       const std::string& body, const std::string& content_type) {
  HttpHeaders headers;
  if (!config_.token.empty()) headers["authorization"] = "Bearer " + config_.token;
  if (!body.empty()) headers["content-type"] = content_type;
  auto result = HttpFetch(method, config_.url + path, headers, body);
  if (!result.ok()) {
    return result.status().WithContext("cannot reach the Skiff server at " + config_.url);
  }
  if (result->status >= 400) {
    std::string message = result->body;
    Json err = Json::parse(result->body, nullptr, false);
    if (!err.is_discarded() && err.is_object() && err.contains("message") &&
        err["message"].is_string()) {
      message = err["message"].get<std::string>();
    }
    if (result->status == 401 && config_.token.empty()) {
      message += " (no token: run `skiff up` with this SKIFF_HOME, or pass --token)";
    }
    return Status(StatusCodeForHttp(result->status),
                  message + " (HTTP " + std::to_string(result->status) + ")");
  }
  return std::move(result->body);
}

Result<Json> ApiClient::Call(const std::string& method, const std::string& path,
                             const std::string& body, const std::string& content_type) {
  ASSIGN_OR_RETURN(std::string text, CallRaw(method, path, body, content_type));
  if (text.empty()) return Json::object();
  Json parsed = Json::parse(text, nullptr, false);
  if (parsed.is_discarded()) {
    return Internal("the server answered " + method + " " + path + " with malformed JSON");
  }
  return parsed;
}

Status ApiClient::Stream(const std::string& path,
                         const std::function<bool(const std::string&)>& on_line) {
  HttpClient client(config_.url);
  HttpHeaders headers;
  if (!config_.token.empty()) headers["authorization"] = "Bearer " + config_.token;
  auto result = client.StreamLines(
      path, headers, [&](std::string_view line) { return on_line(std::string(line)); });
  if (!result.ok()) return result.status();
  if (result->status >= 400) {
    return Status(StatusCodeForHttp(result->status), "HTTP " + std::to_string(result->status));
  }
  return Status::Ok();
}

}  // namespace skiff::cli
