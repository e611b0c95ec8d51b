// ApiServer: the platform's HTTP front door. Wires the HttpServer, the Router, authentication,
// metrics, /healthz, /metrics and the generic ResourceApi; the modules' own routes (KFP REST,
// lineage, logs: ModuleRegistry::AddRoutes) are added with AddRoute before Start.
//
//   ApiServer api({.port = 8080, .threads = 2}, store, authn, authz, clock);
//   api.resources().RegisterValidator("jobs.batch", &JobController::ValidateJob);
//   api.AddRoute("GET", "/api/v1/namespaces/{namespace}/pods/{name}/log", LogsHandler);
//   RETURN_IF_ERROR(api.Start());
//   ...
//   api.Shutdown();
//
// Every route but the health checks (/healthz, and KFP's /apis/v2beta1/healthz however it is
// added) and those added with requires_auth = false authenticates the bearer token first (401 as
// a Status JSON otherwise) and finds the Principal in req.principal; authorization is each
// handler's job (ResourceApi asks the Authorizer). A user has at most
// Options::max_requests_per_user requests in flight (429 TooManyRequests past it). Every request
// is counted in
// skiff_http_requests_total{method,route,code} and timed.
//
// Thread-safety: AddRoute before Start; Start/Shutdown from the owning thread; metrics() and
// resources() are thread-safe.
#pragma once

#include <memory>
#include <string>

#include "api/metrics.h"
#include "api/per_user_slots.h"
#include "api/resource_api.h"
#include "auth/auth.h"
#include "core/clock.h"
#include "http/http_server.h"
#include "http/status_json.h"
#include "store/store.h"

namespace skiff {

class ApiServer {
 public:
  struct Options {
    int port = 0;
    int threads = 2;
    std::string address = "127.0.0.1";
    size_t body_limit = 64 * 1024 * 1024;
    // Requests one user may have in flight at once (a watch, a followed log, any other call):
    // past it the user gets 429 with Retry-After, so one user cannot take every handler of the
    // server (HttpServer::Options::max_workers) and make it answer 503 to everyone.
    int max_requests_per_user = 64;
    // PEM files: when set, the port serves HTTPS beside HTTP (HttpServer::Options).
    std::string tls_cert_file;
    std::string tls_key_file;
  };

  ApiServer(Options options, Store& store, Authenticator& authn, Authorizer& authz, Clock& clock);
  ~ApiServer();  // Shutdown()

  void AddRoute(const std::string& method, const std::string& pattern, Handler handler,
                bool requires_auth = true);
  Status Start();
  int port() const;
  std::string url() const;      // "http://127.0.0.1:<port>"
  std::string tls_url() const;  // "https://127.0.0.1:<port>", or "" without TLS
  void Shutdown();

  Metrics& metrics() { return metrics_; }
  ResourceApi& resources() { return *resources_; }
  // The store wrapped to count operations in skiff_store_operations_total.
  Store& metered_store() { return metered_store_; }

 private:
  void Handle(HttpRequest& req, HttpResponder& responder);

  Options options_;
  Authenticator& authn_;
  Metrics metrics_;
  MeteredStore metered_store_;
  std::unique_ptr<ResourceApi> resources_;
  Router router_;
  std::unique_ptr<HttpServer> server_;
  PerUserSlots requests_;  // in flight
};

}  // namespace skiff
