// The modules this binary is built from: each registers its kinds and controllers in one call.
// A new module (tuning, training, serving, ...) adds one line to modules.cc.
#pragma once

namespace skiff::cli {

// Registers every module into ModuleRegistry::Global() (and so TypeRegistry::Global()). Called
// once by main before anything else; calling it again changes nothing.
void RegisterModules();

}  // namespace skiff::cli
