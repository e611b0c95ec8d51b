// The ClusterServingRuntimes KServe installs (kserve-xgbserver, kserve-sklearnserver, ...), which
// `skiff up` applies at start so that an InferenceService picks its runtime as it does on KServe:
// the same names, model formats, versions, priorities and protocols. Of their images, Skiff runs
// kserve-xgbserver's with its own model server; an InferenceService that selects another one is
// told why on its status (runtime_select.h).
#pragma once

#include <vector>

#include "core/resource.h"
#include "store/store.h"

namespace skiff::serving {

std::vector<Json> BuiltinClusterServingRuntimes();

// Creates each built-in runtime that is not in the store; one already there (perhaps disabled by
// an administrator) is left as it is.
Status ApplyBuiltinRuntimes(Store& store, const TypeRegistry& types);

}  // namespace skiff::serving
