// Models as the inference server sees them, the runtimes that load them, and the repository of
// loaded models (the Open Inference Protocol's model repository extension).
//
//   ModelRepository repo;
//   RETURN_IF_ERROR(repo.Load({.name = "iris", .format = "xgboost", .uri = "/models/iris"}));
//   std::shared_ptr<Model> m = repo.Find("iris");
//   ASSIGN_OR_RETURN(InferResponse out, m->Infer(request));
//
// A runtime is a function from a ModelSpec to a loaded Model, registered by format name
// (built in: "xgboost"; RegisterRuntime adds more). Model::Infer is called from many
// request threads at once, so every Model is thread-safe. The repository is thread-safe; a model
// being unloaded finishes the requests that already hold it.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/thread_annotations.h"
#include "serving/tensor.h"

namespace skiff::serving {

// A tensor's name, datatype and shape as the model's metadata describes it (-1: any size).
struct TensorSpec {
  std::string name;
  DataType datatype = DataType::kFp32;
  std::vector<int64_t> shape;
};

struct ModelMetadata {
  std::string name;
  std::vector<std::string> versions;
  std::string platform;  // "xgboost", ...
  std::vector<TensorSpec> inputs;
  std::vector<TensorSpec> outputs;
};

class Model {
 public:
  virtual ~Model() = default;
  virtual const ModelMetadata& Metadata() const = 0;
  // InvalidArgument for inputs the model cannot take (naming the input and what it expects).
  virtual Result<InferResponse> Infer(const InferRequest& request) = 0;
};

// What to load: a model of `format` from `uri` (a local path, or file://PATH; a folder holds the
// model's file), and the runtime's options ("nthread", ...).
struct ModelSpec {
  std::string name;
  std::string format;
  std::string uri;
  std::map<std::string, std::string> options;
};

using Runtime = std::function<Result<std::unique_ptr<Model>>(const ModelSpec&)>;

// Registers the runtime of a format (at static initialisation, as modules register kinds).
void RegisterRuntime(const std::string& format, Runtime runtime);
// The formats a runtime is registered for, sorted.
std::vector<std::string> RuntimeFormats();
// Loads `spec` with its format's runtime; InvalidArgument naming the known formats otherwise.
Result<std::unique_ptr<Model>> LoadModel(const ModelSpec& spec);

// The local path a model URI names: a path as it is, file://PATH as PATH. Remote schemes (s3://,
// gs://, https://, ...) are FailedPrecondition: this server reads models from local storage only.
Result<std::string> LocalModelPath(const std::string& uri);
// The one file in `path` (a file, or a folder holding exactly one file with one of `extensions`).
Result<std::string> FindModelFile(const std::string& path,
                                  const std::vector<std::string>& extensions);

class ModelRepository {
 public:
  enum class State { kReady, kUnavailable };
  struct Entry {
    std::string name;
    std::string format;
    State state = State::kUnavailable;
    std::string reason;  // why it is unavailable
  };

  // Loads (or reloads) a model under spec.name. On failure the entry stays, unavailable, with
  // the error as its reason, and the error is returned.
  Status Load(const ModelSpec& spec);
  // Loads a model by the name it was loaded under before. NotFound when it never was.
  Status Reload(const std::string& name);
  // NotFound when no model has this name.
  Status Unload(const std::string& name);
  // The ready model of this name, or null.
  std::shared_ptr<Model> Find(const std::string& name) const;
  // Whether the name is known (ready or not).
  bool Known(const std::string& name) const;
  std::vector<Entry> Index() const;
  // True when every known model is ready (and there is at least one).
  bool AllReady() const;

 private:
  struct Slot {
    ModelSpec spec;
    Entry entry;
    std::shared_ptr<Model> model;
  };
  mutable Mutex mu_;
  std::map<std::string, Slot> slots_ GUARDED_BY(mu_);
};

const char* StateName(ModelRepository::State state);

}  // namespace skiff::serving
