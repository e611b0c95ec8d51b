// Request bodies in the Kubernetes protobuf encoding (application/vnd.kubernetes.protobuf), read
// into the JSON the API serves. client-go's generated clients (kubectl's typed calls: `kubectl
// auth can-i`, `kubectl create configmap`, ...) send Kubernetes' own kinds this way and do not
// fall back to JSON, so Skiff reads the kinds those calls send: SelfSubjectAccessReview,
// SelfSubjectRulesReview, ConfigMap and Secret (with their ObjectMeta), and the DeleteOptions a
// typed client's delete carries. Answers are JSON, which those clients accept.
//
// The encoding: the bytes "k8s\0", then a runtime.Unknown message (typeMeta {apiVersion, kind},
// raw: the object's own message, as k8s.io/api's generated.proto numbers its fields).
//
//   ASSIGN_OR_RETURN(Json obj, DecodeKubeProtobuf(req.body));
//
// InvalidArgument for bytes that are not such a message, and for
// a kind it cannot read, naming it (send it as JSON). Unknown fields are skipped, as protobuf
// readers do. Pure: thread-safe.
#pragma once

#include <string_view>

#include "core/resource.h"
#include "core/status.h"

namespace skiff {

inline constexpr char kKubeProtobufType[] = "application/vnd.kubernetes.protobuf";

Result<Json> DecodeKubeProtobuf(std::string_view body);

}  // namespace skiff
