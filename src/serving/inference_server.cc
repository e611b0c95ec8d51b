#include "serving/inference_server.h"

#include <charconv>
#include <chrono>

#include "core/log.h"
#include "core/resource.h"
#include "core/text.h"

namespace skiff::serving {
namespace {

using Json = nlohmann::json;

const prometheus::Histogram::BucketBoundaries& LatencyBuckets() {
  static const prometheus::Histogram::BucketBoundaries kBuckets = {
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5};
  return kBuckets;
}

Json SpecJson(const TensorSpec& t) {
  return {{"name", t.name}, {"datatype", DataTypeName(t.datatype)}, {"shape", t.shape}};
}

Json MetadataJson(const ModelMetadata& m) {
  Json inputs = Json::array(), outputs = Json::array();
  for (const TensorSpec& t : m.inputs) inputs.push_back(SpecJson(t));
  for (const TensorSpec& t : m.outputs) outputs.push_back(SpecJson(t));
  return {{"name", m.name},
          {"versions", m.versions},
          {"platform", m.platform},
          {"inputs", inputs},
          {"outputs", outputs}};
}

// Nests a flat row-major array by `shape` ([N] stays flat, [N, K] becomes N arrays of K).
Json Nest(const Json& flat, const std::vector<int64_t>& shape, size_t dim, size_t& pos) {
  if (dim + 1 >= shape.size()) {
    Json out = Json::array();
    int64_t n = shape.empty() ? 1 : shape[dim];
    for (int64_t i = 0; i < n && pos < flat.size(); ++i) out.push_back(flat[pos++]);
    return out;
  }
  Json out = Json::array();
  for (int64_t i = 0; i < shape[dim]; ++i) out.push_back(Nest(flat, shape, dim + 1, pos));
  return out;
}

// KServe V1's instances (rows of numbers) as one FP32 tensor [rows, features].
Result<Tensor> InstancesTensor(const Json& instances) {
  if (!instances.is_array()) return InvalidArgument("instances: expected an array");
  if (instances.empty()) return InvalidArgument("instances: empty");
  std::vector<float> values;
  int64_t cols = -1;
  for (size_t i = 0; i < instances.size(); ++i) {
    const Json& row = instances[i];
    std::string field = "instances[" + std::to_string(i) + "]";
    if (!row.is_array()) {
      return InvalidArgument(field + ": expected an array of numbers (one row of features)");
    }
    if (cols >= 0 && static_cast<int64_t>(row.size()) != cols) {
      return InvalidArgument(field + ": " + std::to_string(row.size()) +
                             " features, instances[0] has " + std::to_string(cols));
    }
    cols = static_cast<int64_t>(row.size());
    for (size_t j = 0; j < row.size(); ++j) {
      if (!row[j].is_number()) {
        return InvalidArgument(field + "[" + std::to_string(j) + "]: expected a number, got " +
                               std::string(row[j].type_name()));
      }
      values.push_back(row[j].get<float>());
    }
  }
  return Tensor::Fp32("input-0", {static_cast<int64_t>(instances.size()), cols}, values);
}

}  // namespace

void SendError(HttpResponder& r, const Status& status) {
  r.SendJson(HttpStatusFor(status.code()), {{"error", status.message()}});
}

InferenceServer::InferenceServer(ModelRepository& repository, Metrics& metrics, Options options)
    : repository_(repository),
      metrics_(metrics),
      options_(std::move(options)),
      requests_(prometheus::BuildCounter()
                    .Name("skiff_inference_requests_total")
                    .Help("Inference requests, by model, protocol (v1, v2) and status code")
                    .Register(metrics.registry())),
      duration_(prometheus::BuildHistogram()
                    .Name("skiff_inference_request_duration_seconds")
                    .Help("Time from a request's arrival to its answer, by model and protocol")
                    .Register(metrics.registry())) {}

std::shared_ptr<Model> InferenceServer::ReadyModel(const std::string& name, HttpResponder& r) {
  std::shared_ptr<Model> model = repository_.Find(name);
  if (model) return model;
  if (repository_.Known(name)) {
    SendError(r, Unavailable("model " + Quote(name) + " is not ready"));
  } else {
    SendError(r, NotFound("model " + Quote(name) + " does not exist"));
  }
  return nullptr;
}

void InferenceServer::Serve(const HttpRequest& req, HttpResponder& r, const std::string& protocol,
                            const std::function<void(const HttpRequest&, HttpResponder&)>& fn) {
  auto start = std::chrono::steady_clock::now();
  fn(req, r);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::string model = req.Param("name");
  if (size_t colon = model.find(':'); colon != std::string::npos) model.resize(colon);
  // Only known names become label values, so a client cannot grow the metrics without bound.
  std::string label = repository_.Known(model) ? model : "";
  std::string code = std::to_string(r.status());
  requests_.Add({{"model", label}, {"protocol", protocol}, {"code", code}}).Increment();
  duration_.Add({{"model", label}, {"protocol", protocol}}, LatencyBuckets()).Observe(seconds);
  if (options_.access_log) {
    LogInfo("inference", {{"model", model},
                          {"protocol", protocol},
                          {"path", req.path},
                          {"code", code},
                          {"ms", std::to_string(seconds * 1000)},
                          {"bytes_in", std::to_string(req.body.size())},
                          {"remote", req.remote}});
  }
}

void InferenceServer::Infer(const HttpRequest& req, HttpResponder& r) {
  std::shared_ptr<Model> model = ReadyModel(req.Param("name"), r);
  if (!model) return;
  std::optional<size_t> header_length;
  if (std::string h = req.Header("inference-header-content-length"); !h.empty()) {
    size_t n = 0;
    auto [end, ec] = std::from_chars(h.data(), h.data() + h.size(), n);
    if (ec != std::errc() || end != h.data() + h.size()) {
      SendError(r, InvalidArgument("Inference-Header-Content-Length: not a byte count: " + h));
      return;
    }
    header_length = n;
  }
  Result<InferRequest> request = DecodeInferRequest(req.body, header_length);
  if (!request.ok()) return SendError(r, request.status());
  Result<InferResponse> response = model->Infer(*request);
  if (!response.ok()) return SendError(r, response.status());
  response->model_name = model->Metadata().name;
  if (std::string v = req.Param("version"); !v.empty()) response->model_version = v;
  Result<EncodedResponse> encoded = EncodeInferResponse(*response, *request);
  if (!encoded.ok()) return SendError(r, encoded.status());
  if (encoded->header_length) {
    r.Send(200, std::move(encoded->body),
           {{"content-type", "application/octet-stream"},
            {"inference-header-content-length", std::to_string(*encoded->header_length)}});
    return;
  }
  r.Send(200, std::move(encoded->body), {{"content-type", "application/json"}});
}

void InferenceServer::PredictV1(const HttpRequest& req, HttpResponder& r) {
  std::string target = req.Param("name");  // "NAME:predict"
  size_t colon = target.rfind(':');
  std::string verb = colon == std::string::npos ? "" : target.substr(colon + 1);
  std::string name = target.substr(0, colon);
  if (verb != "predict" && verb != "explain") {
    return SendError(r, NotFound("no such V1 verb: POST /v1/models/NAME:predict or :explain"));
  }
  std::shared_ptr<Model> model = ReadyModel(name, r);
  if (!model) return;
  if (verb == "explain") {
    return SendError(r, Unimplemented("model " + Quote(name) + " has no explainer"));
  }
  Result<Json> body = ParseJson(req.body, "V1 request");
  if (!body.ok()) return SendError(r, InvalidArgument(body.status().message()));
  if (!body->is_object() || !body->contains("instances")) {
    return SendError(r, InvalidArgument("instances: missing (a V1 request is {\"instances\": "
                                        "[[...], ...]})"));
  }
  Result<Tensor> input = InstancesTensor((*body)["instances"]);
  if (!input.ok()) return SendError(r, input.status());
  InferRequest request;
  request.inputs.push_back(std::move(input).value());
  Result<InferResponse> response = model->Infer(request);
  if (!response.ok()) return SendError(r, response.status());
  if (response->outputs.empty()) return SendError(r, Internal("the model returned no output"));
  const Tensor& out = response->outputs[0];
  size_t pos = 0;
  r.SendJson(200, {{"predictions", Nest(out.DataJson(), out.shape, 0, pos)}});
}

void InferenceServer::AddRoutes(Router& router) {
  auto add = [&](const std::string& method, const std::string& pattern, Handler h) {
    router.Add(method, pattern, std::move(h), /*requires_auth=*/false);
  };
  add("GET", "/", [](const HttpRequest&, HttpResponder& r) {
    r.SendJson(200, {{"status", "alive"}});
  });
  add("GET", "/metrics", [this](const HttpRequest&, HttpResponder& r) {
    r.Send(200, metrics_.Render(), {{"content-type", "text/plain; version=0.0.4"}});
  });
  add("GET", "/v2/health/live", [](const HttpRequest&, HttpResponder& r) {
    r.SendJson(200, {{"live", true}});
  });
  add("GET", "/v2/health/ready", [this](const HttpRequest&, HttpResponder& r) {
    bool ready = repository_.AllReady();
    r.SendJson(ready ? 200 : 503, {{"ready", ready}});
  });
  add("GET", "/v2", [](const HttpRequest&, HttpResponder& r) {
    r.SendJson(200, {{"name", "skiff"},
                     {"version", "0.1.0"},
                     {"extensions", {"binary_tensor_data", "model_repository"}}});
  });

  Handler metadata = [this](const HttpRequest& req, HttpResponder& r) {
    std::shared_ptr<Model> model = ReadyModel(req.Param("name"), r);
    if (model) r.SendJson(200, MetadataJson(model->Metadata()));
  };
  Handler ready = [this](const HttpRequest& req, HttpResponder& r) {
    std::string name = req.Param("name");
    if (!repository_.Known(name)) {
      return SendError(r, NotFound("model " + Quote(name) + " does not exist"));
    }
    bool ok = repository_.Find(name) != nullptr;
    r.SendJson(ok ? 200 : 503, {{"name", name}, {"ready", ok}});
  };
  Handler infer = [this](const HttpRequest& req, HttpResponder& r) {
    Serve(req, r, "v2", [this](const HttpRequest& q, HttpResponder& s) { Infer(q, s); });
  };
  for (const std::string prefix : {"/v2/models/{name}", "/v2/models/{name}/versions/{version}"}) {
    add("GET", prefix, metadata);
    add("GET", prefix + "/ready", ready);
    add("POST", prefix + "/infer", infer);
  }

  add("POST", "/v2/repository/index", [this](const HttpRequest& req, HttpResponder& r) {
    bool only_ready = false;
    if (!req.body.empty()) {
      Result<Json> body = ParseJson(req.body, "repository index request");
      if (!body.ok()) return SendError(r, InvalidArgument(body.status().message()));
      if (body->is_object() && body->contains("ready")) {
        if (!(*body)["ready"].is_boolean()) {
          return SendError(r, InvalidArgument("ready: expected a boolean"));
        }
        only_ready = (*body)["ready"].get<bool>();
      }
    }
    Json out = Json::array();
    for (const ModelRepository::Entry& e : repository_.Index()) {
      if (only_ready && e.state != ModelRepository::State::kReady) continue;
      Json entry = {{"name", e.name}, {"state", StateName(e.state)}};
      if (!e.reason.empty()) entry["reason"] = e.reason;
      out.push_back(std::move(entry));
    }
    r.SendJson(200, out);
  });
  add("POST", "/v2/repository/models/{name}/load",
      [this](const HttpRequest& req, HttpResponder& r) {
        std::string name = req.Param("name");
        Status st;
        if (repository_.Known(name)) {
          st = repository_.Reload(name);
        } else if (options_.repository_root.empty()) {
          st = NotFound("model " + Quote(name) +
                        " is not in the repository (this server has no repository folder)");
        } else if (name.empty() || name == "." || name == ".." ||
                   name.find('/') != std::string::npos || name.find('\0') != std::string::npos) {
          st = InvalidArgument("model name " + Quote(name) + " is not a folder name");
        } else {
          st = repository_.Load({.name = name,
                                 .format = options_.repository_format,
                                 .uri = options_.repository_root + "/" + name});
        }
        if (!st.ok()) return SendError(r, st);
        r.SendJson(200, {{"name", name}, {"load", true}});
      });
  add("POST", "/v2/repository/models/{name}/unload",
      [this](const HttpRequest& req, HttpResponder& r) {
        std::string name = req.Param("name");
        Status st = repository_.Unload(name);
        if (!st.ok()) return SendError(r, st);
        r.SendJson(200, {{"name", name}, {"unload", true}});
      });

  add("GET", "/v1/models", [this](const HttpRequest&, HttpResponder& r) {
    Json names = Json::array();
    for (const ModelRepository::Entry& e : repository_.Index()) names.push_back(e.name);
    r.SendJson(200, {{"models", names}});
  });
  add("GET", "/v1/models/{name}", [this](const HttpRequest& req, HttpResponder& r) {
    std::string name = req.Param("name");
    if (!repository_.Known(name)) {
      return SendError(r, NotFound("model " + Quote(name) + " does not exist"));
    }
    r.SendJson(200, {{"name", name}, {"ready", repository_.Find(name) != nullptr}});
  });
  add("POST", "/v1/models/{name}", [this](const HttpRequest& req, HttpResponder& r) {
    Serve(req, r, "v1", [this](const HttpRequest& q, HttpResponder& s) { PredictV1(q, s); });
  });
}

}  // namespace skiff::serving
