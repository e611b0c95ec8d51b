// Server-side printing, as the Kubernetes API server does it for `kubectl get`: a client that
// asks for a Table (Accept: application/json;as=Table;v=v1;g=meta.k8s.io) gets the rows it
// prints instead of the objects: a Name column, the kind's printer columns (those `skiff get`
// shows; ResourceType::columns) and Age, each row with the object's metadata
// (PartialObjectMetadata) for kubectl's --show-labels, -L and sorting. Lists, gets and watches
// (each event's object a Table of one row) answer so.
//
//   if (WantsTable(req)) return r.SendJson(200, ToTable(type, items, clock.Now(), list_meta));
//
// Pure: thread-safe.
#pragma once

#include <vector>

#include "core/clock.h"
#include "core/resource.h"
#include "http/http_server.h"

namespace skiff {

bool WantsTable(const HttpRequest& req);
// `list_meta` is the list's metadata (resourceVersion, continue); `with_definitions` false for
// the watch events after the first, which Kubernetes sends without column definitions.
Json ToTable(const ResourceType& type, const std::vector<Json>& items, TimePoint now,
             Json list_meta, bool with_definitions = true);

}  // namespace skiff
