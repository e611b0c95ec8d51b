// InferenceServer: the REST endpoints of a model server, over a ModelRepository.
//
//   ModelRepository repo;  ... repo.Load(spec) ...
//   Metrics metrics;
//   InferenceServer server(repo, metrics, {.repository_root = "/models"});
//   Router router;
//   server.AddRoutes(router);  // then serve the router from an HttpServer
//
// Routes, as KServe's model servers and Triton answer them:
// - Open Inference Protocol (V2): GET /v2/health/live, /v2/health/ready, /v2 (server metadata),
//   /v2/models/NAME[/versions/V] (model metadata), .../ready; POST .../infer, with the binary
//   tensor data extension (Inference-Header-Content-Length); the model repository extension:
//   POST /v2/repository/index, /v2/repository/models/NAME/load and .../unload.
// - KServe V1: GET /v1/models, /v1/models/NAME; POST /v1/models/NAME:predict ({"instances": [...]}
//   in, {"predictions": [...]} out) and :explain (501: no runtime here explains).
// - GET / and GET /metrics (Prometheus: requests by model, protocol and code; latency).
// Errors are the protocol's {"error": "..."} with the status of the error's code: a malformed
// request 400 naming the field, an unknown model 404, a model not ready 503.
//
// Thread-safe: handlers run concurrently on the HTTP server's workers.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>

#include <string>

#include "api/metrics.h"
#include "http/http_server.h"
#include "serving/model.h"

namespace skiff::serving {

class InferenceServer {
 public:
  struct Options {
    // Where POST /v2/repository/models/NAME/load looks for a model it has not loaded before
    // (ROOT/NAME) and the format it loads it as; empty: only models loaded before can be.
    std::string repository_root;
    std::string repository_format;
    bool access_log = true;  // one structured log line per inference request
  };

  InferenceServer(ModelRepository& repository, Metrics& metrics, Options options);

  void AddRoutes(Router& router);

 private:
  // Runs `fn` as the handler of an inference route: times it, counts it and logs it.
  void Serve(const HttpRequest& req, HttpResponder& r, const std::string& protocol,
             const std::function<void(const HttpRequest&, HttpResponder&)>& fn);
  void Infer(const HttpRequest& req, HttpResponder& r);
  void PredictV1(const HttpRequest& req, HttpResponder& r);
  std::shared_ptr<Model> ReadyModel(const std::string& name, HttpResponder& r);

  ModelRepository& repository_;
  Metrics& metrics_;
  Options options_;
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& duration_;
};

// Sends {"error": message} with the HTTP status of the status' code.
void SendError(HttpResponder& r, const Status& status);

}  // namespace skiff::serving
