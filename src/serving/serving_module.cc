// The serving module's registration: KServe's kinds, the InferenceService controller (which
// applies the built-in ClusterServingRuntimes when it starts) and the router's routes.
#include <unistd.h>

#include "core/files.h"
#include "core/resource.h"
#include "core/text.h"
#include "jobs/job_controller.h"
#include "jobs/pod_controller.h"
#include "serving/builtin_runtimes.h"
#include "serving/inference_service_controller.h"
#include "serving/router.h"
#include "serving/serving_kinds.h"

namespace skiff::serving {
namespace {

// The endpoints the controller finds and the router uses: one table per process.
ServingEndpoints& SharedEndpoints() {
  static auto* endpoints = new ServingEndpoints();
  return *endpoints;
}

// This program, which replicas of Skiff's own model server run.
std::string SelfBinary() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "skiff";
}

class InferenceServicePlugin : public Controller {
 public:
  explicit InferenceServicePlugin(const ControllerContext& ctx)
      : controller_(ctx.store, ctx.backend, ctx.clock, SharedEndpoints(), Options(ctx)) {}

  std::string StoreType() const override { return kInferenceServiceType; }
  std::vector<Watch> Watches() const override {
    return {{jobs::kPodType, [](const WatchEvent& ev) -> std::vector<Key> {
               auto labels = MetaLabels(ev.object);
               auto it = labels.find(kInferenceServiceLabel);
               if (it == labels.end()) return {};
               return {Key{ev.namespace_, it->second}};
             }}};
  }
  std::optional<Key> KeyForWorkload(
      const std::map<std::string, std::string>& labels) const override {
    auto isvc = labels.find(kInferenceServiceLabel);
    auto ns = labels.find(kWorkloadNamespaceLabel);
    if (isvc == labels.end() || ns == labels.end()) return std::nullopt;
    return Key{ns->second, isvc->second};
  }
  Result<std::optional<std::chrono::milliseconds>> Reconcile(const std::string& ns,
                                                             const std::string& name) override {
    return controller_.Reconcile(ns, name);
  }

 private:
  static InferenceServiceControllerOptions Options(const ControllerContext& ctx) {
    InferenceServiceControllerOptions options;
    options.skiff_binary = SelfBinary();
    options.pod_env.volumes_dir = ctx.home + "/volumes";
    options.pod_env.read_config = ctx.read_config;
    options.types = ctx.types;
    // The API server's URL, from the file `skiff up` writes once it listens.
    options.server_url = [home = ctx.home, url = std::string()]() mutable {
      if (url.empty()) {
        auto text = ReadFile(home + "/server.json");
        auto doc = text.ok() ? ParseJson(*text, "server.json") : Result<Json>(text.status());
        if (doc.ok()) url = TextAt(*doc, {"url"});
      }
      return url;
    };
    return options;
  }
  InferenceServiceController controller_;
};

}  // namespace

void Register(ModuleRegistry& modules) {
  modules.types().Add(InferenceServiceKind());
  modules.types().Add(ServingRuntimeKind(false));
  modules.types().Add(ServingRuntimeKind(true));
  modules.AddController(
      "inferenceservices", [](const ControllerContext& ctx) -> Result<std::unique_ptr<Controller>> {
        RETURN_IF_ERROR(ApplyBuiltinRuntimes(ctx.store, *ctx.types));
        return std::unique_ptr<Controller>(std::make_unique<InferenceServicePlugin>(ctx));
      });
  modules.AddRoutes("serving", [](const RouteContext& ctx) -> Result<std::shared_ptr<void>> {
    AddRouterRoutes(ctx, SharedEndpoints());
    return std::shared_ptr<void>();
  });
}

}  // namespace skiff::serving
