// ApiClient: the CLI's view of a Skiff server: authenticated JSON calls with errors turned back
// into Status values (the server's message kept, the HTTP status mapped onto a StatusCode).
//
//   ApiClient api(config);
//   ASSIGN_OR_RETURN(Json job, api.Call("GET", ResourcePath(*type, "default", "pi")));
//
// Thread-compatible.
#pragma once

#include <functional>
#include <string>

#include "cli/config.h"
#include "core/resource.h"
#include "core/status.h"

namespace skiff::cli {

// "/apis/batch/v1/namespaces/default/jobs[/pi]" (or /api/v1/... for the core group, or no
// namespace segment for cluster-scoped kinds).
std::string ResourcePath(const ResourceType& type, const std::string& ns,
                         const std::string& name = "");

StatusCode StatusCodeForHttp(int http_status);

class ApiClient {
 public:
  explicit ApiClient(ClientConfig config) : config_(std::move(config)) {}

  // Sends a request; the response body parsed as JSON. A >= 400 answer becomes a Status carrying
  // the server's message.
  Result<Json> Call(const std::string& method, const std::string& path,
                    const std::string& body = "",
                    const std::string& content_type = "application/json");
  // The raw response body (logs, YAML).
  Result<std::string> CallRaw(const std::string& method, const std::string& path,
                              const std::string& body = "",
                              const std::string& content_type = "application/json");
  // Streams a response line by line until `on_line` returns false or the server ends it.
  Status Stream(const std::string& path, const std::function<bool(const std::string&)>& on_line);

  const ClientConfig& config() const { return config_; }

 private:
  ClientConfig config_;
};

}  // namespace skiff::cli
