// The KFP module: the KFP v2beta1 REST API (kfp_api.h) and lineage across runs (lineage_api.h),
// served over the pipelines module's kinds. It registers routes only; its kinds and controllers
// are the pipelines module's.
//
//   RegisterKfpModule(ModuleRegistry::Global());  // cli/modules.cc
#pragma once

#include "controller/controller.h"

namespace skiff {

void RegisterKfpModule(ModuleRegistry& modules);

}  // namespace skiff
