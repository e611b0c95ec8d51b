// Discovery, as the Kubernetes API server serves it, so that kubectl and the Kubernetes client
// libraries find the kinds Skiff serves and how to reach them:
//
//   GET /version                  the server's version ({"major", "minor", "gitVersion", ...})
//   GET /api                      APIVersions: the core group's versions ("v1")
//   GET /api/v1                   APIResourceList of the core kinds (pods, secrets, ...)
//   GET /apis                     APIGroupList: every other group and its versions
//   GET /apis/GROUP               APIGroup
//   GET /apis/GROUP/VERSION       APIResourceList: each kind's plural, singular, kind, scope,
//                                 verbs, short names, and its status (and pods' log) subresource
//
// Built from the TypeRegistry, so a kind a module registers is discoverable with nothing more.
// A client that offers aggregated discovery in Accept
// (application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList, as kubectl and client-go
// do) gets from /api and /apis an APIGroupDiscoveryList instead: every group version's resources
// with their subresources, in one answer, so discovery costs two requests, not one per group.
// /version answers without a token, as the API server's does; the rest need one.
//
//   AddDiscoveryRoutes(router, TypeRegistry::Global());
//
// Thread-safe once added (the registry is read-only while serving).
#pragma once

#include "core/resource.h"
#include "http/http_server.h"

namespace skiff {

// The Kubernetes version Skiff's API answers as: the release of the kubectl its end-to-end tests
// drive (tools/kubectl/go.mod), so that kubectl finds no version skew to warn of.
inline constexpr char kKubernetesMajor[] = "1";
inline constexpr char kKubernetesMinor[] = "37";

void AddDiscoveryRoutes(Router& router, const TypeRegistry& types);

// The APIResourceList of group/version ("" group: the core API); empty resources when none.
Json ApiResourceList(const TypeRegistry& types, const std::string& group,
                     const std::string& version);

}  // namespace skiff
