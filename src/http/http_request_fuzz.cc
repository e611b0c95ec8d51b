// Fuzz target: reading an HTTP request (api/http_server.h, ParseHttpRequest: the server's parser,
// limits and HttpRequest) and routing it (Router::Find over the generic API's route patterns).
//
// The input is the bytes a client sends. For any input, ParseHttpRequest returns a request or an
// error and Find a route or none; neither crashes, throws or hangs. A request keeps the limits
// (its body is at most body_limit), its path is its target before '?', and a matched route has the
// request's method and one decoded value for each {param} of its pattern; no route and a method
// allowed on the path never come together with a match.
//
//   build/fuzz/http_request_fuzz -dict=src/api/fuzz_corpus/http_request.dict \
//       build/fuzz/http_request/corpus src/api/fuzz_corpus/http_request
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/testing/fuzz_check.h"
#include "http/http_server.h"

namespace {

const skiff::Router& Routes() {
  static const skiff::Router* router = [] {
    auto* r = new skiff::Router();
    auto none = [](const skiff::HttpRequest&, skiff::HttpResponder&) {};
    for (const char* method : {"GET", "POST", "PUT", "PATCH", "DELETE"}) {
      r->Add(method, "/apis/{group}/{version}/namespaces/{namespace}/{plural}", none);
      r->Add(method, "/apis/{group}/{version}/namespaces/{namespace}/{plural}/{name}", none);
      r->Add(method, "/apis/{group}/{version}/namespaces/{namespace}/{plural}/{name}/status", none);
      r->Add(method, "/api/{version}/namespaces/{namespace}/{plural}/{name}", none);
    }
    r->Add("GET", "/apis/{group}/{version}/{plural}", none);
    r->Add("GET", "/apis/v2beta1/runs/{run_id}", none);
    r->Add("GET", "/artifacts/{path...}", none);
    r->Add("GET", "/healthz", none, /*requires_auth=*/false);
    return r;
  }();
  return *router;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  skiff::HttpServer::Options options;
  options.header_limit = 4096;
  options.body_limit = 8192;
  skiff::Result<skiff::HttpRequest> req = skiff::ParseHttpRequest(bytes, options);
  if (!req.ok()) return 0;
  skiff::FuzzCheck("http_request_fuzz", req->body.size() <= options.body_limit,
                   "a body over the limit was read");
  skiff::FuzzCheck(
      "http_request_fuzz",
      req->target.compare(0, req->path.size(), req->path) == 0 &&
          (req->path.size() == req->target.size() || req->target[req->path.size()] == '?'),
      "the path is not the target before '?'", req->target);
  (void)req->Header("content-type");
  (void)req->Query("watch");

  skiff::Router::Match match = Routes().Find(req->method, req->path);
  if (match.route == nullptr) return 0;
  skiff::FuzzCheck("http_request_fuzz", match.allowed_methods.empty(),
                   "a match with allowed methods");
  skiff::FuzzCheck("http_request_fuzz", match.route->method == req->method,
                   "a route of another method", req->method);
  size_t params = 0;
  for (const std::string& segment : match.route->segments) {
    if (segment.size() > 2 && segment.front() == '{' && segment.back() == '}') params++;
  }
  skiff::FuzzCheck("http_request_fuzz", match.params.size() == params,
                   "a match without a value for each {param}",
                   match.route->pattern + " " + req->path);
  return 0;
}
