#include "cli/platform.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "auth/quota_store.h"
#include "core/clock.h"
#include "core/files.h"
#include "core/ids.h"
#include "core/log.h"
#include "store/encrypting_store.h"

namespace skiff::cli {

Result<std::string> Platform::ReadConfigValue(const std::string& kind, const std::string& ns,
                                              const std::string& name, const std::string& key) {
  ASSIGN_OR_RETURN(Json obj, store_->Get(kind, ns, name));
  const bool secret = kind == "secrets";
  if (obj.contains("stringData") && obj["stringData"].contains(key) &&
      obj["stringData"][key].is_string()) {
    return obj["stringData"][key].get<std::string>();
  }
  if (obj.contains("data") && obj["data"].contains(key) && obj["data"][key].is_string()) {
    std::string value = obj["data"][key].get<std::string>();
    if (!secret) return value;
    auto decoded = DecodeBase64(value);
    if (!decoded.ok()) {
      return InvalidArgument("secret " + ns + "/" + name + " key \"" + key +
                             "\" is not valid base64");
    }
    return decoded;
  }
  return NotFound(std::string(secret ? "secret" : "configmap") + " " + ns + "/" + name +
                  " has no key \"" + key + "\"");
}

Result<std::unique_ptr<Platform>> Platform::Create(const PlatformOptions& options) {
  std::unique_ptr<Platform> p(new Platform());
  // Absolute: the paths made from it are kept in the store (artifacts' URIs).
  p->home_ = AbsolutePath(options.home);
  std::error_code ec;
  for (const char* sub : {"", "/logs", "/artifacts", "/workloads", "/envs", "/volumes", "/tasks"}) {
    std::filesystem::create_directories(p->home_ + sub, ec);
    if (ec) return Internal("creating " + p->home_ + sub + ": " + ec.message());
  }
  ::chmod(p->home_.c_str(), 0700);
  Clock& clock = SystemClock::Instance();
  p->store_url_ =
      options.store_url.empty() ? "sqlite://" + p->home_ + "/skiff.db" : options.store_url;
  auto store = OpenStore(p->store_url_, clock);
  if (!store.ok()) return store.status().WithContext("opening the store");
  // Secrets are encrypted at rest, with a key kept beside the store and not in it.
  auto key = LoadOrCreateSecretsKey(p->home_ + "/" + kSecretsKeyFile, **store);
  if (!key.ok()) return key.status().WithContext("the Secrets key");
  auto encrypting = std::make_unique<EncryptingStore>(std::move(store).value(), *key);
  Result<int> sealed = encrypting->EncryptAll();
  if (!sealed.ok()) return sealed.status().WithContext("encrypting the stored Secrets");
  if (*sealed > 0) {
    LogInfo("encrypted the Secrets stored in plain text", {{"count", std::to_string(*sealed)}});
  }
  // The object counts of each Profile's quota are held at every create.
  p->store_ = std::make_unique<QuotaStore>(std::move(encrypting));

  LocalBackend::Options backend_options;
  backend_options.state_dir = p->home_ + "/workloads";
  backend_options.log_dir = p->home_ + "/logs";
  // Cached Python environments may be shared between homes (tests, several installations).
  const char* env_cache = std::getenv("SKIFF_ENV_CACHE");
  // By its canonical path: the environments' own paths (sys.path) must resolve inside a
  // sandbox too, where a `..` through a folder it does not show would not.
  backend_options.env_cache_dir =
      std::filesystem::weakly_canonical(
          std::filesystem::absolute(env_cache && *env_cache ? env_cache : p->home_ + "/envs"), ec)
          .string();
  if (std::filesystem::exists(p->home_ + "/images.yaml")) {
    backend_options.image_map_file = p->home_ + "/images.yaml";
  }
  if (options.sandbox) {
    backend_options.sandbox.enabled = true;
    // SKIFF_HOME (the store, tokens, every profile's files) and the server's own home (its
    // keys and credentials) are hidden; the Python environments and this program are seen
    // read-only.
    auto real = [](const std::string& path) {
      std::error_code ec;
      std::filesystem::path canonical = std::filesystem::weakly_canonical(path, ec);
      return ec ? path : canonical.string();
    };
    backend_options.sandbox.hidden.push_back(real(p->home_));
    if (const char* user_home = std::getenv("HOME");
        user_home != nullptr && user_home[0] == '/' && real(user_home) != "/") {
      backend_options.sandbox.hidden.push_back(real(user_home));
    }
    backend_options.sandbox.visible.push_back(backend_options.env_cache_dir);  // canonical
    // This program, read-only: the replicas of an InferenceService run it as their model
    // server (skiff serve). Where workloads would not see it (in a hidden folder, or under /tmp,
    // which is theirs), it is bound in; elsewhere they see it as it is.
    if (std::string self = real("/proc/self/exe"); self != "/proc/self/exe") {
      const auto& hidden = backend_options.sandbox.hidden;
      if (PathWithin(self, "/tmp") ||
          std::any_of(hidden.begin(), hidden.end(),
                      [&](const std::string& h) { return PathWithin(self, h); })) {
        backend_options.sandbox.visible.push_back(self);
      }
    }
  }
  auto backend = LocalBackend::Create(backend_options, clock);
  if (!backend.ok()) return backend.status().WithContext("starting the local backend");
  p->backend_ = std::move(backend).value();

  Platform* self = p.get();
  ControllerContext context{
      *p->store_,
      *p->backend_,
      clock,
      p->home_,
      [self](const std::string& kind, const std::string& ns, const std::string& name,
             const std::string& key) { return self->ReadConfigValue(kind, ns, name, key); },
      {}};
  for (const auto& [name, value] : options.settings) {
    if (!value.empty()) context.settings[name] = value;
  }
  context.metrics = &p->controller_metrics_;
  p->controllers_ = std::make_unique<ControllerManager>(*p->store_, TypeRegistry::Global(), clock,
                                                        options.watch_history);
  RETURN_IF_ERROR(p->controllers_->AddAll(ModuleRegistry::Global(), context));
  p->backend_->SetListener(
      [self](const std::string&, const std::map<std::string, std::string>& labels) {
        self->controllers_->OnWorkloadChange(labels);
      });
  return p;
}

void Platform::Start() { controllers_->Start(); }

void Platform::Stop() {
  if (controllers_) controllers_->Stop();
  if (backend_) backend_->Shutdown(std::chrono::seconds(5));
}

Platform::~Platform() {
  Stop();
  if (backend_) backend_->SetListener(nullptr);
}

}  // namespace skiff::cli
