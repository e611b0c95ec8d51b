// HttpClient: a small synchronous HTTP/1.1 client (Boost.Beast), used by the CLI and the tests.
//
//   HttpClient client("http://127.0.0.1:8080");
//   ASSIGN_OR_RETURN(HttpResult r, client.Request("GET", "/healthz"));
//   // r.status == 200, r.body == "{\"status\":\"ok\"}\n"
//   client.StreamLines("/apis/batch/v1/namespaces/a/jobs?watch=true", {},
//                      [](std::string_view line) { ...; return true; });  // false stops
//
// Request keeps one connection open between calls (keep-alive) and reconnects once when a reused
// connection turns out to be closed. Connection failures (refused, reset, closed, timed out) are
// StatusCode::kUnavailable with the method and address in the message; HTTP error statuses are
// not errors here: they come back in HttpResult.
//
// Thread-compatible: one HttpClient per thread (or guard it).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/status.h"
#include "http/http_server.h"

namespace skiff {

struct HttpResult {
  int status = 0;
  HttpHeaders headers;  // lower-cased names
  std::string body;

  std::string Header(const std::string& lower_name) const;
};

class HttpClient {
 public:
  struct Options {
    std::chrono::milliseconds timeout{30'000};  // per request (not for streams)
  };
  // `base_url`: "http://host:port" (a path after it is ignored).
  explicit HttpClient(const std::string& base_url) : HttpClient(base_url, Options{}) {}
  HttpClient(const std::string& base_url, Options options);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // `target` is a path with query: "/apis/batch/v1/namespaces/a/jobs?limit=2".
  Result<HttpResult> Request(const std::string& method, const std::string& target,
                             const HttpHeaders& headers = {}, const std::string& body = "");

  // GET on a fresh connection, calling `on_line` with each line of the body as it arrives
  // (without the newline; a last unterminated line is delivered at the end). Returning false
  // stops reading and closes the connection. For a non-2xx status the body is not streamed but
  // returned whole in the result; for 2xx the result's body is empty.
  Result<HttpResult> StreamLines(const std::string& target, const HttpHeaders& headers,
                                 const std::function<bool(std::string_view line)>& on_line);

  // How many TCP connections Request has opened (keep-alive makes this 1 for many requests).
  int connections_opened() const { return connections_opened_; }
  const std::string& host() const { return host_; }
  const std::string& port() const { return port_; }

 private:
  class Conn;
  Status Connect(Conn& conn, const std::string& what);

  std::string host_;
  std::string port_;
  Options options_;
  std::unique_ptr<Conn> conn_;
  int connections_opened_ = 0;
};

// One request on a fresh connection: `url` is "http://host:port/path?query".
Result<HttpResult> HttpFetch(const std::string& method, const std::string& url,
                             const HttpHeaders& headers = {}, const std::string& body = "");

}  // namespace skiff
