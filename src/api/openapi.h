// The OpenAPI documents of the kinds Skiff serves, as the Kubernetes API server publishes them,
// generated from each kind's schema, so that kubectl validates with them (`kubectl apply` finds
// that the server checks fields itself: fieldValidation), `kubectl explain` reads them, and code
// generators and GitOps tools find every kind:
//
//   GET /openapi/v3                       {"paths": {"apis/batch/v1": {"serverRelativeURL":
//                                          "/openapi/v3/apis/batch/v1?hash=<SHA-512>"}, ...}}
//   GET /openapi/v3/api/v1                an OpenAPI 3.0 document per group version: its paths
//   GET /openapi/v3/apis/GROUP/VERSION    (each operation with x-kubernetes-action,
//                                          x-kubernetes-group-version-kind and the query
//                                          parameters Skiff reads) and components.schemas (each
//                                          kind's schema with its group, version and kind)
//   GET /openapi/v2                       the same as one Swagger 2.0 document, in JSON (a
//                                          client that takes only protobuf gets 406)
//
// Built once from the TypeRegistry when the routes are added; any signed-in user may read them
// (they reveal no object).
//
// Thread-safe once added.
#pragma once

#include <string>

#include "core/resource.h"
#include "http/http_server.h"

namespace skiff {

void AddOpenApiRoutes(Router& router, const TypeRegistry& types);

// The OpenAPI 3.0 document of one group version ("" group: the core API); null when no kind
// is registered there.
Json OpenApiV3(const TypeRegistry& types, const std::string& group, const std::string& version);
// The Swagger 2.0 document of every kind.
Json OpenApiV2(const TypeRegistry& types);
// The name a kind's schema has in those documents: "io.k8s.api.batch.v1.Job" for Kubernetes'
// own groups, the reversed group otherwise ("org.kubeflow.pipelines.v2beta1.PipelineRun").
std::string OpenApiSchemaName(const ResourceType& type);

}  // namespace skiff
