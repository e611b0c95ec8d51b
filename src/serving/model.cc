#include "serving/model.h"

#include <algorithm>
#include <filesystem>
#include <system_error>

#include "core/text.h"
#include "serving/xgboost_model.h"

namespace skiff::serving {
namespace {

Mutex& RuntimesMutex() {
  static Mutex mu;
  return mu;
}
std::map<std::string, Runtime>& Runtimes() {
  static auto* runtimes = new std::map<std::string, Runtime>{
      {"xgboost", LoadXgboostModel},
  };
  return *runtimes;
}

}  // namespace

void RegisterRuntime(const std::string& format, Runtime runtime) {
  MutexLock lock(&RuntimesMutex());
  Runtimes()[format] = std::move(runtime);
}

std::vector<std::string> RuntimeFormats() {
  MutexLock lock(&RuntimesMutex());
  std::vector<std::string> out;
  for (const auto& [format, runtime] : Runtimes()) out.push_back(format);
  return out;
}

Result<std::unique_ptr<Model>> LoadModel(const ModelSpec& spec) {
  Runtime runtime;
  {
    MutexLock lock(&RuntimesMutex());
    auto it = Runtimes().find(spec.format);
    if (it != Runtimes().end()) runtime = it->second;
  }
  if (!runtime) {
    std::string known;
    for (const std::string& f : RuntimeFormats()) known += (known.empty() ? "" : ", ") + f;
    return InvalidArgument("no runtime for model format " + Quote(spec.format) +
                           " (this server runs: " + known + ")");
  }
  return runtime(spec);
}

Result<std::string> LocalModelPath(const std::string& uri) {
  if (uri.empty()) return InvalidArgument("no model location given");
  if (uri.rfind("file://", 0) == 0) return uri.substr(7);
  size_t scheme = uri.find("://");
  if (scheme != std::string::npos) {
    return FailedPrecondition("model " + Quote(uri) + ": " + uri.substr(0, scheme) +
                              ":// storage is not reachable from this server; copy the model to "
                              "a local folder and give its path or a file:// URI");
  }
  return uri;
}

Result<std::string> FindModelFile(const std::string& path,
                                  const std::vector<std::string>& extensions) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::file_status st = fs::status(path, ec);
  if (ec || !fs::exists(st)) return NotFound("model path " + Quote(path) + " does not exist");
  if (fs::is_regular_file(st)) return path;
  if (!fs::is_directory(st)) return InvalidArgument(Quote(path) + " is not a file or a folder");
  std::vector<std::string> found;
  for (fs::directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    std::string ext = it->path().extension().string();
    if (std::find(extensions.begin(), extensions.end(), ext) != extensions.end()) {
      found.push_back(it->path().string());
    }
  }
  std::string wanted;
  for (const std::string& e : extensions) wanted += (wanted.empty() ? "" : ", ") + e;
  if (found.empty()) {
    return NotFound("no model file (" + wanted + ") in " + Quote(path));
  }
  if (found.size() > 1) {
    std::sort(found.begin(), found.end());
    return InvalidArgument("more than one model file (" + wanted + ") in " + Quote(path) + ": " +
                           found[0] + ", " + found[1]);
  }
  return found[0];
}

Status ModelRepository::Load(const ModelSpec& spec) {
  Result<std::unique_ptr<Model>> loaded = LoadModel(spec);
  MutexLock lock(&mu_);
  Slot& slot = slots_[spec.name];
  slot.spec = spec;
  slot.entry.name = spec.name;
  slot.entry.format = spec.format;
  if (!loaded.ok()) {
    slot.model.reset();
    slot.entry.state = State::kUnavailable;
    slot.entry.reason = loaded.status().message();
    return loaded.status();
  }
  slot.model = std::shared_ptr<Model>(std::move(loaded).value());
  slot.entry.state = State::kReady;
  slot.entry.reason.clear();
  return Status::Ok();
}

Status ModelRepository::Reload(const std::string& name) {
  ModelSpec spec;
  {
    MutexLock lock(&mu_);
    auto it = slots_.find(name);
    if (it == slots_.end()) return NotFound("model " + Quote(name) + " is not in the repository");
    spec = it->second.spec;
  }
  return Load(spec);
}

Status ModelRepository::Unload(const std::string& name) {
  MutexLock lock(&mu_);
  auto it = slots_.find(name);
  if (it == slots_.end()) return NotFound("model " + Quote(name) + " is not in the repository");
  it->second.model.reset();
  it->second.entry.state = State::kUnavailable;
  it->second.entry.reason = "unloaded";
  return Status::Ok();
}

std::shared_ptr<Model> ModelRepository::Find(const std::string& name) const {
  MutexLock lock(&mu_);
  auto it = slots_.find(name);
  return it == slots_.end() ? nullptr : it->second.model;
}

bool ModelRepository::Known(const std::string& name) const {
  MutexLock lock(&mu_);
  return slots_.count(name) > 0;
}

std::vector<ModelRepository::Entry> ModelRepository::Index() const {
  MutexLock lock(&mu_);
  std::vector<Entry> out;
  for (const auto& [name, slot] : slots_) out.push_back(slot.entry);
  return out;
}

bool ModelRepository::AllReady() const {
  MutexLock lock(&mu_);
  if (slots_.empty()) return false;
  return std::all_of(slots_.begin(), slots_.end(),
                     [](const auto& s) { return s.second.entry.state == State::kReady; });
}

const char* StateName(ModelRepository::State state) {
  return state == ModelRepository::State::kReady ? "READY" : "UNAVAILABLE";
}

}  // namespace skiff::serving
