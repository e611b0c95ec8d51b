#include "api/api_server.h"

#include <chrono>
#include <exception>
#include <limits>

#include "core/log.h"

namespace skiff {

ApiServer::ApiServer(Options options, Store& store, Authenticator& authn, Authorizer& authz,
                     Clock& clock)
    : options_(std::move(options)),
      authn_(authn),
      metered_store_(store, metrics_),
      resources_(std::make_unique<ResourceApi>(metered_store_, authn, authz, clock)),
      requests_(options_.max_requests_per_user, std::numeric_limits<int>::max()) {
  router_.Add(
      "GET", "/healthz",
      [](const HttpRequest&, HttpResponder& r) {
        r.SendJson(200, {{"status", "ok"}});
      },
      /*requires_auth=*/false);
  router_.Add("GET", "/metrics", [this](const HttpRequest&, HttpResponder& r) {
    r.Send(200, metrics_.Render(), {{"content-type", "text/plain; version=0.0.4"}});
  });
  resources_->AddRoutes(router_);
}

ApiServer::~ApiServer() { Shutdown(); }

namespace {

// Health checks answer without a token: /healthz, and KFP's /apis/v2beta1/healthz, which says
// only that the server is up and multi-user. kfp.Client asks the latter first and retries it five
// times on any error, so with a bad token it would fail with "Failed getting healthz endpoint
// after 5 attempts" instead of the 401 that its first real call now gets.
bool IsHealthCheck(const std::string& method, const std::string& pattern) {
  return method == "GET" && (pattern == "/healthz" || pattern == "/apis/v2beta1/healthz");
}

}  // namespace

void ApiServer::AddRoute(const std::string& method, const std::string& pattern, Handler handler,
                         bool requires_auth) {
  router_.Add(method, pattern, std::move(handler),
              requires_auth && !IsHealthCheck(method, pattern));
}

Status ApiServer::Start() {
  HttpServer::Options http;
  http.address = options_.address;
  http.port = options_.port;
  http.threads = options_.threads;
  http.body_limit = options_.body_limit;
  http.tls_cert_file = options_.tls_cert_file;
  http.tls_key_file = options_.tls_key_file;
  server_ = std::make_unique<HttpServer>(
      http, [this](HttpRequest& req, HttpResponder& r) { Handle(req, r); });
  return server_->Start();
}

int ApiServer::port() const { return server_ ? server_->port() : 0; }

std::string ApiServer::url() const {
  return "http://" + options_.address + ":" + std::to_string(port());
}

std::string ApiServer::tls_url() const {
  if (options_.tls_cert_file.empty()) return "";
  return "https://" + options_.address + ":" + std::to_string(port());
}

void ApiServer::Shutdown() {
  if (server_) server_->Shutdown();
}

namespace {

// Counts a request when its answer is sent, before the client can see it, so a client that reads
// /metrics right after a response finds that response counted. Streams are counted when they end.
class MeteredResponder : public HttpResponder {
 public:
  MeteredResponder(HttpResponder& inner, Metrics& metrics, const std::string& method)
      : inner_(inner),
        metrics_(metrics),
        method_(method),
        start_(std::chrono::steady_clock::now()) {}

  void set_route(std::string route) { route_ = std::move(route); }

  void Send(int status, std::string body, HttpHeaders headers) override {
    status_ = status;
    Record();
    inner_.Send(status, std::move(body), std::move(headers));
  }
  bool StartStream(int status, HttpHeaders headers) override {
    status_ = status;
    return inner_.StartStream(status, std::move(headers));
  }
  bool Write(std::string_view chunk) override { return inner_.Write(chunk); }
  void End() override {
    Record();
    inner_.End();
  }
  bool Cancelled() const override { return inner_.Cancelled(); }

  void Record() {
    if (recorded_) return;
    recorded_ = true;
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    metrics_.RecordHttpRequest(method_, route_, status_ == 0 ? 500 : status_, seconds);
  }

 private:
  HttpResponder& inner_;
  Metrics& metrics_;
  const std::string method_;
  std::string route_ = "unmatched";
  const std::chrono::steady_clock::time_point start_;
  bool recorded_ = false;
};

}  // namespace

void ApiServer::Handle(HttpRequest& req, HttpResponder& responder) {
  MeteredResponder r(responder, metrics_, req.method);
  Router::Match match = router_.Find(req.method, req.path);
  if (match.route == nullptr) {
    router_.Dispatch(req, r);  // answers 404 or 405
    return;
  }
  r.set_route(match.route->pattern);
  req.route = match.route->pattern;
  req.params = std::move(match.params);
  if (match.route->requires_auth) {
    auto who = authn_.Authenticate(req.Header("authorization"));
    if (!who.ok()) return SendStatusError(r, who.status());
    req.principal = *who;
  }
  PerUserSlots::Slot slot;
  if (!req.principal.user.empty()) {
    slot = requests_.Acquire(req.principal.user);
    if (!slot) {
      SendRefusal(r, 429, "TooManyRequests",
                  "too many requests in flight for user " + Json(req.principal.user).dump() + " (" +
                      std::to_string(options_.max_requests_per_user) +
                      "); wait for one to end, or retry later",
                  {{"retry-after", "1"}});
      r.Record();
      return;
    }
  }
  try {
    match.route->handler(req, r);
  } catch (const std::exception& e) {
    // A library threw where it should not have: answer instead of dying.
    LogError("http handler threw", {{"route", req.route}, {"error", e.what()}});
    if (r.status() == 0) SendStatusError(r, Internal(std::string("internal error: ") + e.what()));
  }
  // A handler that answered nothing gets a 500 from the server; count it as such.
  r.Record();
}

}  // namespace skiff
