#include "kfp/kfp_module.h"

#include <memory>

#include "kfp/kfp_api.h"
#include "kfp/lineage_api.h"

namespace skiff {

void RegisterKfpModule(ModuleRegistry& modules) {
  modules.AddRoutes("kfp", [](const RouteContext& ctx) -> Result<std::shared_ptr<void>> {
    KfpApiOptions options;
    options.artifacts_root = ctx.home + "/artifacts";
    auto api = std::make_shared<KfpApi>(ctx.store, ctx.authorizer, ctx.clock, options);
    RegisterKfpApi(*api, ctx.add_route);
    AddLineageRoutes(ctx.add_route, ctx.store, ctx.authorizer);
    return std::shared_ptr<void>(std::move(api));
  });
}

}  // namespace skiff
