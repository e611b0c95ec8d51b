// The serving router inside `skiff up`: every InferenceService is reached at
// /serving/NAMESPACE/NAME/... on the API port (the path after NAME goes to a ready replica as it
// is: /serving/team/iris/v2/models/iris/infer), authenticated by the same tokens as the rest of
// the API and allowed to whoever may read the InferenceService (any role in its profile).
// Requests are spread over the ready replicas in turn; one whose replica cannot be reached is
// tried on the next. No ready replica: 503 {"error": ...}.
//
// Thread-safe: handlers run concurrently.
#pragma once

#include "controller/controller.h"
#include "serving/endpoints.h"

namespace skiff::serving {

void AddRouterRoutes(const RouteContext& context, ServingEndpoints& endpoints);

}  // namespace skiff::serving
