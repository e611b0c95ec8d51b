#include "serving/router.h"

#include <map>
#include <memory>

#include "http/http_client.h"
#include "http/status_json.h"
#include "serving/serving_kinds.h"

namespace skiff::serving {
namespace {

// The headers a replica needs from the request, and the client needs from its answer.
const char* const kForwarded[] = {"content-type", "inference-header-content-length", "accept"};

// One keep-alive client per replica endpoint and worker thread.
HttpClient& ClientFor(const std::string& endpoint) {
  thread_local std::map<std::string, std::unique_ptr<HttpClient>> clients;
  if (clients.size() > 64) clients.clear();  // replicas come and go: keep the cache small
  auto& client = clients[endpoint];
  if (!client) {
    client = std::make_unique<HttpClient>("http://" + endpoint,
                                          HttpClient::Options{.timeout = std::chrono::seconds(60)});
  }
  return *client;
}

void Route(const RouteContext& ctx, ServingEndpoints& endpoints, const HttpRequest& req,
           HttpResponder& res) {
  const std::string ns = req.Param("namespace");
  const std::string name = req.Param("name");
  Status allowed = ctx.authorizer.Check(req.principal,
                                        AccessRequest{kInferenceServiceType, ns, Verb::kGet, name});
  if (!allowed.ok()) return SendStatusError(res, allowed);

  std::vector<std::string> rotation = endpoints.Rotation(ns, name);
  if (rotation.empty()) {
    auto isvc = ctx.store.Get(kInferenceServiceType, ns, name);
    if (!isvc.ok()) return SendStatusError(res, isvc.status());
    return res.SendJson(
        503, {{"error", "InferenceService " + ns + "/" + name + " has no ready replica"}});
  }
  // The path after /serving/NS/NAME as the client sent it (not decoded: an encoded CR or LF stays
  // encoded), with its query.
  size_t rest = 0;
  for (int slashes = 0; rest != std::string::npos && slashes < 4; ++slashes) {
    rest = req.path.find('/', rest + (slashes > 0 ? 1 : 0));
  }
  std::string target = rest == std::string::npos ? "/" : req.path.substr(rest);
  if (size_t q = req.target.find('?'); q != std::string::npos) target += req.target.substr(q);
  HttpHeaders headers;
  for (const char* h : kForwarded) {
    if (std::string v = req.Header(h); !v.empty()) headers[h] = v;
  }
  Status last;
  for (size_t i = 0; i < rotation.size() && i < 3; ++i) {
    Result<HttpResult> answer =
        ClientFor(rotation[i]).Request(req.method, target, headers, req.body);
    if (!answer.ok()) {
      last = answer.status();  // the replica went away: the next one
      continue;
    }
    HttpHeaders out;
    for (const char* h : kForwarded) {
      if (std::string v = answer->Header(h); !v.empty()) out[h] = v;
    }
    return res.Send(answer->status, std::move(answer->body), out);
  }
  res.SendJson(503, {{"error", "InferenceService " + ns + "/" + name +
                                   ": no replica could be reached (" + last.message() + ")"}});
}

}  // namespace

void AddRouterRoutes(const RouteContext& context, ServingEndpoints& endpoints) {
  for (const char* method : {"GET", "POST"}) {
    for (const char* pattern :
         {"/serving/{namespace}/{name}", "/serving/{namespace}/{name}/{path...}"}) {
      context.add_route(method, pattern,
                        [context, &endpoints](const HttpRequest& req, HttpResponder& res) {
                          Route(context, endpoints, req, res);
                        });
    }
  }
}

}  // namespace skiff::serving
