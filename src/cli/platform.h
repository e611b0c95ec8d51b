// Platform: the store, local backend and controllers of one Skiff installation, assembled from a
// SKIFF_HOME. `skiff up` serves it over HTTP; `skiff run` without a server runs it in-process.
// The controllers are whatever the modules registered (cli/modules.h); the platform names none.
//
//   ASSIGN_OR_RETURN(auto platform, Platform::Create(options));
//   platform->Start();   // controller threads
//   ...
//   platform->Stop();    // controllers, then every workload (no child process left)
//
// Thread-safe after Start (each part documents its own rules).
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>

#include "backend/local/local_backend.h"
#include "controller/controller.h"
#include "store/store.h"

namespace skiff::cli {

struct PlatformOptions {
  std::string home;
  std::string store_url;  // "" = sqlite under home
  // The modules' settings by name (ControllerContext::settings); "" values are left out.
  std::map<std::string, std::string> settings;
  // Pods run in the local backend's sandbox (backend/local/sandbox.h): SKIFF_HOME and the
  // server's home are kept from them. Off: they run as the server's user and see what it sees.
  bool sandbox = true;
  // How long the store keeps its change history, for watches to resume from (ChangeFeed); 0:
  // forever.
  std::chrono::seconds watch_history{300};
};

class Platform {
 public:
  static Result<std::unique_ptr<Platform>> Create(const PlatformOptions& options);
  ~Platform();

  void Start();
  void Stop();

  Store& store() { return *store_; }
  LocalBackend& backend() { return *backend_; }
  ControllerManager& controllers() { return *controllers_; }
  // What the controllers recorded (ControllerContext::metrics), for /metrics.
  ControllerMetrics& controller_metrics() { return controller_metrics_; }
  const std::string& store_url() const { return store_url_; }
  const std::string& home() const { return home_; }
  // Reads key `key` of a Secret/ConfigMap ("secrets"/"configmaps") from the store.
  Result<std::string> ReadConfigValue(const std::string& kind, const std::string& ns,
                                      const std::string& name, const std::string& key);

 private:
  Platform() = default;

  std::string home_;
  std::string store_url_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<LocalBackend> backend_;
  ControllerMetrics controller_metrics_;
  std::unique_ptr<ControllerManager> controllers_;
};

}  // namespace skiff::cli
