// Namespaces, as the Kubernetes API serves them, for the namespaces Skiff has: `default` and one
// per Profile (Kubeflow's profiles are namespaces). Read-only: a namespace is made by creating a
// Profile. A user sees the namespaces they have a role in (a cluster admin sees all), as
// `kubectl get ns` lists them:
//
//   GET /api/v1/namespaces          NamespaceList
//   GET /api/v1/namespaces/{name}   Namespace (403 without a role there, whether or not it exists)
//
//   AddNamespaceRoutes(router, store, authz);
//
// Thread-safe as the store and the authorizer are.
#pragma once

#include "auth/auth.h"
#include "http/http_server.h"
#include "store/store.h"

namespace skiff {

void AddNamespaceRoutes(Router& router, Store& store, Authorizer& authz);

}  // namespace skiff
