#include "cli/modules.h"

#include "auth/auth.h"
#include "controller/controller.h"
#include "events/events.h"
#include "gc/garbage_collector.h"
#include "jobs/job_controller.h"
#include "kfp/kfp_module.h"
#include "pipelines/run_controller.h"
#include "profiles/profile_controller.h"
#include "serving/serving_kinds.h"
#include "usage/usage.h"

namespace skiff::cli {

void RegisterModules() {
  ModuleRegistry& modules = ModuleRegistry::Global();
  RegisterCoreKinds(modules.types());
  RegisterAuthKinds(modules.types());
  events::Register(modules);
  jobs::Register(modules);
  pipelines::Register(modules);
  RegisterKfpModule(modules);
  usage::Register(modules);
  profiles::Register(modules);
  gc::Register(modules);
  serving::Register(modules);
}

}  // namespace skiff::cli
