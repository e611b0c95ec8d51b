// HttpServer: the HTTP/1.1 server every Skiff endpoint is served from (Boost.Beast over Asio).
//
//   Router router;
//   router.Add("GET", "/healthz", [](const HttpRequest&, HttpResponder& r) {
//     r.SendJson(200, {{"status", "ok"}});
//   });
//   HttpServer server({.port = 0}, [&](HttpRequest& req, HttpResponder& r) {
//     router.Dispatch(req, r);
//   });
//   RETURN_IF_ERROR(server.Start());
//   int port = server.port();
//   ...
//   server.Shutdown();  // stop accepting, let in-flight requests finish, end streams
//
// Model: `threads` io threads run the io_context and only do socket I/O. Each request, once read,
// is handed to a worker thread (a pool that grows on demand up to `max_workers`), so handlers may
// block: on the store, or for as long as they stream (watch). A handler answers through its
// HttpResponder either with one whole response (Send) or as a chunked stream (StartStream, Write,
// End); Write blocks until the chunk is on the wire and returns false once the client is gone or
// the server is shutting down, which is the handler's cue to return.
//
// Thread-safety: Start/Shutdown from one owning thread; port() from any thread. The handler is
// called concurrently from many worker threads. Router is immutable once serving (Add before
// Start) and then thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "auth/auth.h"
#include "core/status.h"

namespace skiff {

// Header names are lower-cased.
using HttpHeaders = std::map<std::string, std::string>;

struct HttpRequest {
  std::string method;                        // "GET"
  std::string target;                        // as sent: "/apis/batch/v1/namespaces/a/jobs?limit=2"
  std::string path;                          // the target before '?', not decoded
  std::map<std::string, std::string> query;  // percent-decoded
  HttpHeaders headers;
  std::string body;
  std::string remote;  // "127.0.0.1:53122"

  // Set by Router::Dispatch: the matched pattern ("/apis/{group}/...") and its decoded params.
  std::string route;
  std::map<std::string, std::string> params;
  // Set by ApiServer for routes that require authentication.
  Principal principal;

  std::string Header(const std::string& lower_name) const;
  std::string Query(const std::string& name, const std::string& fallback = "") const;
  std::string Param(const std::string& name) const;
};

// How a handler answers. Either Send once, or StartStream + Write* + End. Anything the handler
// leaves unanswered is answered with 500 when it returns.
class HttpResponder {
 public:
  virtual ~HttpResponder() = default;

  // One whole response. Content-Type defaults to application/json.
  virtual void Send(int status, std::string body, HttpHeaders headers = {}) = 0;
  void SendJson(int status, const nlohmann::json& body, HttpHeaders headers = {});

  // Starts a chunked response. False when the client is already gone.
  virtual bool StartStream(int status, HttpHeaders headers = {}) = 0;
  // Writes one chunk and waits until it is sent. False once the client closed the connection or
  // the server is shutting down; the handler should then stop and return.
  virtual bool Write(std::string_view chunk) = 0;
  // Ends the chunked response.
  virtual void End() = 0;
  // True once the client closed the connection or the server is shutting down.
  virtual bool Cancelled() const = 0;

  // The status sent (0 before anything was sent).
  int status() const { return status_; }

 protected:
  int status_ = 0;
};

using Handler = std::function<void(const HttpRequest&, HttpResponder&)>;
// Adds a route to a server: how a module hands its routes over (ModuleRegistry::AddRoutes).
using AddRouteFn =
    std::function<void(const std::string& method, const std::string& pattern, Handler handler)>;

// Path patterns: "/apis/{group}/{version}/namespaces/{namespace}/{plural}"; a last segment
// "{name...}" takes the rest of the path. When several patterns match, the one with literal
// segments earlier wins ("/a/b" over "/a/{x}"), then the one added first.
class Router {
 public:
  struct Route {
    std::string method;
    std::string pattern;
    Handler handler;
    bool requires_auth = true;
    std::vector<std::string> segments;
  };
  struct Match {
    const Route* route = nullptr;  // null: no route
    std::map<std::string, std::string> params;
    // When route is null: the methods allowed on the path (empty -> 404, else 405).
    std::vector<std::string> allowed_methods;
  };

  void Add(const std::string& method, const std::string& pattern, Handler handler,
           bool requires_auth = true);
  Match Find(const std::string& method, const std::string& path) const;
  // Finds the route, fills req.route/params and calls it; answers 404/405 as JSON otherwise.
  void Dispatch(HttpRequest& req, HttpResponder& responder) const;

 private:
  std::vector<Route> routes_;
};

// Splits "a=1&b=x%20y" into decoded pairs.
std::map<std::string, std::string> ParseQuery(std::string_view query);
std::string PercentDecode(std::string_view s);
// A query flag as the Kubernetes API server reads one (Go's strconv.ParseBool): "true", "True",
// "TRUE", "t", "T" and "1" are true (the Python client sends "True").
bool QueryFlagIsTrue(std::string_view value);
std::string PercentEncode(std::string_view s);

class HttpServer {
 public:
  struct Options {
    std::string address = "127.0.0.1";
    int port = 0;  // 0 = pick a free port
    int threads = 2;
    size_t body_limit = 64 * 1024 * 1024;  // larger bodies get 413
    // The request line and headers together; beyond it the answer is 414 (the request line alone
    // does not fit) or 431, and the connection closes.
    size_t header_limit = 8 * 1024;
    int max_workers = 512;  // concurrent handlers; beyond that 503
    std::chrono::milliseconds shutdown_grace{10'000};
    // PEM files (tls_certificates.h makes them): when set, the port serves HTTPS too. Each
    // connection's first bytes tell: a TLS handshake is answered over TLS, anything else as
    // plain HTTP, so clients that send tokens only over TLS (kubectl, client-go) and those that
    // speak HTTP on loopback (the CLI, kfp.Client) share one port.
    std::string tls_cert_file;
    std::string tls_key_file;
  };
  using RequestHandler = std::function<void(HttpRequest&, HttpResponder&)>;

  HttpServer(Options options, RequestHandler handler);
  ~HttpServer();  // Shutdown()
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and starts the io threads. Unavailable naming the address when the bind fails.
  Status Start();
  int port() const { return port_.load(); }
  // Stops accepting, waits (up to shutdown_grace) for in-flight requests, cancels streams, closes
  // idle keep-alive connections and joins every thread. Idempotent.
  void Shutdown();

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
  std::atomic<int> port_{0};
};

// Reads one HTTP/1.x request from `bytes` as the server reads one from a connection: the same
// parser and limits (`options`' header_limit and body_limit) and the same HttpRequest (remote left
// empty). InvalidArgument for a malformed request, one over a limit, or bytes that end before the
// request does. For tests and the fuzz target (api/http_request_fuzz.cc).
Result<HttpRequest> ParseHttpRequest(std::string_view bytes, const HttpServer::Options& options);

}  // namespace skiff
