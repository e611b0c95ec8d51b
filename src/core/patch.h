// The patches the Kubernetes API server applies besides JSON merge patch (MergePatch in
// core/resource.h):
//
//   JSON patch (RFC 6902, application/json-patch+json): a list of operations (add, remove,
//   replace, move, copy, test) on JSON pointers (RFC 6901).
//     RETURN_IF_ERROR(ApplyJsonPatch(obj, ops));
//
//   Strategic merge patch (application/strategic-merge-patch+json), for Kubernetes' own kinds:
//   a merge patch in which a list marked in the kind's schema with
//   `x-kubernetes-patch-strategy: merge` merges element by element instead of being replaced:
//   objects matched by `x-kubernetes-patch-merge-key` (containers by name, ports by
//   containerPort) and merged, primitives added to the set (finalizers). Its directives:
//     {"$patch": "replace"} in an object replaces it whole, and as an element of a merging list
//       replaces the list with the other elements;
//     {"$patch": "delete"} in an object deletes it, and as an element (with the merge key)
//       deletes the element with that key;
//     "$retainKeys": [keys] keeps only those keys of the object (then merges);
//     "$setElementOrder/FIELD": [elements or merge keys] orders FIELD's list as given;
//     "$deleteFromPrimitiveList/FIELD": [values] removes those values from FIELD's list.
//     RETURN_IF_ERROR(StrategicMergePatch(obj, patch, type.schema->openapi()));
//
// Both fail with InvalidArgument naming what is wrong (an operation that is not one, a path that
// leads nowhere, a failed test, a directive of the wrong shape) and leave `target` as it was.
// Pure functions: thread-safe.
#pragma once

#include <string>
#include <vector>

#include "core/resource.h"
#include "core/status.h"

namespace skiff {

// The patch media types a kind takes: JSON merge patch, JSON patch and server-side apply for every
// kind, strategic merge patch too for Kubernetes' own (ResourceType::strategic_merge_patch).
std::vector<std::string> PatchTypesOf(const ResourceType& type);

Status ApplyJsonPatch(Json& target, const Json& operations);
// `schema` is the kind's OpenAPI schema (Schema::openapi()); lists whose schema has no merge
// strategy, and any list under a part the schema does not describe, are replaced.
Status StrategicMergePatch(Json& target, const Json& patch, const Json& schema);

}  // namespace skiff
