// "Can I?", as the Kubernetes API answers it, from Skiff's own authorizer, so that
// `kubectl auth can-i` (and any client that checks before it acts) tells the truth:
//
//   POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews
//       {"spec": {"resourceAttributes": {"namespace", "verb", "group", "resource", "name"}}}
//       or {"spec": {"nonResourceAttributes": {"path", "verb"}}}
//     -> 201, the review with status {"allowed", "denied", "reason"}
//   POST /apis/authorization.k8s.io/v1/selfsubjectrulesreviews  {"spec": {"namespace"}}
//     -> 201, status {"resourceRules", "nonResourceRules", "incomplete": false}: what the
//        caller's role in that namespace allows, one rule per kind
//
// The resource is resolved as discovery names it (group and plural; `namespaces` too); a verb
// is one of get, list, watch, create, update, patch, delete, deletecollection, or `*` (every
// one). Each answer is the one the same request would get from the resource API. Every signed-in
// user may ask about themselves; nothing is stored.
//
//   AddAccessReviewRoutes(router, TypeRegistry::Global(), authz);
//
// Thread-safe as the authorizer is.
#pragma once

#include "auth/auth.h"
#include "core/resource.h"
#include "http/http_server.h"

namespace skiff {

inline constexpr char kAuthorizationGroup[] = "authorization.k8s.io";

void AddAccessReviewRoutes(Router& router, const TypeRegistry& types, Authorizer& authz);

// The APIResourceList entries discovery serves for authorization.k8s.io/v1.
Json AccessReviewResources();

}  // namespace skiff
