#include "serving/xgboost_model.h"

#include <dlfcn.h>
#include <xgboost/c_api.h>

#include <cstdlib>
#include <mutex>
#include <string>

#include "core/text.h"

namespace skiff::serving {
namespace {

// The C functions this runtime calls, resolved from the library at run time.
struct XgboostApi {
  decltype(&XGBGetLastError) get_last_error = nullptr;
  decltype(&XGBoosterCreate) booster_create = nullptr;
  decltype(&XGBoosterFree) booster_free = nullptr;
  decltype(&XGBoosterSetParam) booster_set_param = nullptr;
  decltype(&XGBoosterLoadModel) booster_load_model = nullptr;
  decltype(&XGBoosterGetNumFeature) booster_num_feature = nullptr;
  decltype(&XGBoosterPredictFromDense) predict_from_dense = nullptr;
  std::string library;
};

template <typename Fn>
bool Resolve(void* handle, const char* symbol, Fn& fn) {
  fn = reinterpret_cast<Fn>(dlsym(handle, symbol));
  return fn != nullptr;
}

Result<const XgboostApi*> Api() {
  static std::once_flag once;
  static XgboostApi api;
  static Status error;
  std::call_once(once, [] {
    std::vector<std::string> candidates;
    if (const char* env = std::getenv("SKIFF_XGBOOST_LIBRARY"); env && *env) {
      candidates.push_back(env);
    } else {
      candidates = {"libxgboost.so.0", "libxgboost.so"};
    }
    void* handle = nullptr;
    std::string why;
    for (const std::string& c : candidates) {
      handle = dlopen(c.c_str(), RTLD_NOW | RTLD_LOCAL);
      if (handle != nullptr) {
        api.library = c;
        break;
      }
      const char* e = dlerror();
      why = e != nullptr ? e : c;
    }
    if (handle == nullptr) {
      error = FailedPrecondition(
          "the XGBoost runtime needs XGBoost's C library, which could not be loaded (" + why +
          "): install libxgboost0, or set SKIFF_XGBOOST_LIBRARY to a libxgboost.so such as the "
          "one the xgboost wheel ships");
      return;
    }
    bool ok = Resolve(handle, "XGBGetLastError", api.get_last_error) &&
              Resolve(handle, "XGBoosterCreate", api.booster_create) &&
              Resolve(handle, "XGBoosterFree", api.booster_free) &&
              Resolve(handle, "XGBoosterSetParam", api.booster_set_param) &&
              Resolve(handle, "XGBoosterLoadModel", api.booster_load_model) &&
              Resolve(handle, "XGBoosterGetNumFeature", api.booster_num_feature) &&
              Resolve(handle, "XGBoosterPredictFromDense", api.predict_from_dense);
    if (!ok) {
      error = FailedPrecondition(api.library +
                                 " lacks a function this runtime needs (XGBoost 1.4 or newer)");
    }
  });
  if (!error.ok()) return error;
  return &api;
}

// How the library predicts: the model's default output (what booster.predict returns), all trees.
// (cache_id is required by XGBoost 1.x, ignored by later versions.)
constexpr const char* kPredictConfig =
    R"({"type": 0, "training": false, "iteration_begin": 0, "iteration_end": 0,)"
    R"( "strict_shape": false, "missing": NaN, "cache_id": 0})";

// XGBoost's last error without the stack trace it appends.
std::string LastError(const XgboostApi* api) {
  std::string e = api->get_last_error();
  if (size_t trace = e.find("\nStack trace"); trace != std::string::npos) e.resize(trace);
  while (!e.empty() && (e.back() == '\n' || e.back() == ' ')) e.pop_back();
  return e;
}

class XgboostModel : public Model {
 public:
  XgboostModel(const XgboostApi* api, BoosterHandle booster, ModelMetadata metadata,
               int64_t num_features)
      : api_(api), booster_(booster), metadata_(std::move(metadata)), features_(num_features) {}
  ~XgboostModel() override { api_->booster_free(booster_); }

  const ModelMetadata& Metadata() const override { return metadata_; }

  Result<InferResponse> Infer(const InferRequest& request) override {
    ASSIGN_OR_RETURN(DenseMatrix m, InputsAsMatrix(request.inputs));
    if (features_ > 0 && m.cols != features_) {
      return InvalidArgument("the model takes " + std::to_string(features_) +
                             " features per row, the input has " + std::to_string(m.cols));
    }
    ASSIGN_OR_RETURN(auto prediction, Predict(m));
    InferResponse out;
    out.model_name = metadata_.name;
    out.id = request.id;
    out.outputs.push_back(Tensor::Fp32("output-0", std::move(prediction.first), prediction.second));
    return out;
  }

  // The prediction's shape and values.
  Result<std::pair<std::vector<int64_t>, std::vector<float>>> Predict(const DenseMatrix& m) const {
    std::string array = R"({"data": [)" +
                        std::to_string(reinterpret_cast<uintptr_t>(m.values.data())) +
                        R"(, true], "shape": [)" + std::to_string(m.rows) + ", " +
                        std::to_string(m.cols) + R"(], "typestr": "<f4", "version": 3})";
    const bst_ulong* shape = nullptr;
    bst_ulong dims = 0;
    const float* result = nullptr;
    if (api_->predict_from_dense(booster_, array.c_str(), kPredictConfig, nullptr, &shape, &dims,
                                 &result) != 0) {
      return InvalidArgument("XGBoost could not predict: " + LastError(api_));
    }
    std::vector<int64_t> out_shape(shape, shape + dims);
    size_t count = 1;
    for (bst_ulong d : out_shape) count *= d;
    return std::make_pair(std::move(out_shape), std::vector<float>(result, result + count));
  }

 private:
  const XgboostApi* api_;
  BoosterHandle booster_;
  ModelMetadata metadata_;
  int64_t features_;
};

}  // namespace

Result<DenseMatrix> InputsAsMatrix(const std::vector<Tensor>& inputs) {
  DenseMatrix m;
  if (inputs.size() == 1) {
    const Tensor& t = inputs[0];
    if (t.shape.size() == 2) {
      m.rows = t.shape[0];
      m.cols = t.shape[1];
    } else if (t.shape.size() == 1) {
      m.rows = 1;
      m.cols = t.shape[0];
    } else {
      return InvalidArgument("input " + Quote(t.name) + " has " + std::to_string(t.shape.size()) +
                             " dimensions; the model takes rows of features: [rows, features]");
    }
    ASSIGN_OR_RETURN(m.values, t.ToFloats());
    return m;
  }
  // Several inputs: one column each.
  m.cols = static_cast<int64_t>(inputs.size());
  std::vector<std::vector<float>> columns;
  for (const Tensor& t : inputs) {
    bool column = t.shape.size() == 1 || (t.shape.size() == 2 && t.shape[1] == 1);
    if (!column) {
      return InvalidArgument("input " + Quote(t.name) +
                             ": with several inputs each is one feature column, [rows] or "
                             "[rows, 1]");
    }
    if (columns.empty()) m.rows = t.shape[0];
    if (t.shape[0] != m.rows) {
      return InvalidArgument("input " + Quote(t.name) + " has " + std::to_string(t.shape[0]) +
                             " rows, input " + Quote(inputs[0].name) + " has " +
                             std::to_string(m.rows));
    }
    ASSIGN_OR_RETURN(std::vector<float> values, t.ToFloats());
    columns.push_back(std::move(values));
  }
  m.values.resize(static_cast<size_t>(m.rows * m.cols));
  for (int64_t r = 0; r < m.rows; ++r) {
    for (int64_t c = 0; c < m.cols; ++c) m.values[r * m.cols + c] = columns[c][r];
  }
  return m;
}

Result<std::unique_ptr<Model>> LoadXgboostModel(const ModelSpec& spec) {
  ASSIGN_OR_RETURN(const XgboostApi* api, Api());
  ASSIGN_OR_RETURN(std::string path, LocalModelPath(spec.uri));
  ASSIGN_OR_RETURN(std::string file, FindModelFile(path, {".bst", ".json", ".ubj"}));
  BoosterHandle booster = nullptr;
  if (api->booster_create(nullptr, 0, &booster) != 0) {
    return Internal("XGBoost: " + LastError(api));
  }
  auto fail = [&](const std::string& what) -> Status {
    std::string why = LastError(api);
    api->booster_free(booster);
    return InvalidArgument(what + ": " + why);
  };
  std::string nthread = "1";
  if (auto it = spec.options.find("nthread"); it != spec.options.end()) nthread = it->second;
  if (api->booster_load_model(booster, file.c_str()) != 0) {
    return fail("XGBoost could not load " + Quote(file));
  }
  if (api->booster_set_param(booster, "nthread", nthread.c_str()) != 0) {
    return fail("nthread " + Quote(nthread));
  }
  bst_ulong features = 0;
  if (api->booster_num_feature(booster, &features) != 0) return fail("XGBoost");

  ModelMetadata meta;
  meta.name = spec.name;
  meta.platform = "xgboost";
  meta.inputs.push_back({"input-0", DataType::kFp32, {-1, static_cast<int64_t>(features)}});
  meta.outputs.push_back({"output-0", DataType::kFp32, {-1}});
  auto model =
      std::make_unique<XgboostModel>(api, booster, std::move(meta), static_cast<int64_t>(features));
  // One prediction now: the booster configures itself on its first, which must not race with
  // the requests that follow, and a model the library cannot run fails here, not on a request.
  DenseMatrix probe{std::vector<float>(std::max<bst_ulong>(features, 1), 0.0f), 1,
                    static_cast<int64_t>(std::max<bst_ulong>(features, 1))};
  Result<std::pair<std::vector<int64_t>, std::vector<float>>> first = model->Predict(probe);
  if (!first.ok()) return first.status().WithContext("model " + Quote(file));
  return std::unique_ptr<Model>(std::move(model));
}

}  // namespace skiff::serving
