// Admission: the one gate every write of a resource passes, whoever writes it: the generic
// resource API, the KFP API, `skiff run --local`, and a controller that creates or changes an
// object of another kind (a RecurringRun firing a PipelineRun). A kind's own controller writing
// its own object's status is the one writer that goes to the store directly.
//
//   std::vector<std::string> warnings;
//   RETURN_IF_ERROR(Admit(type, {.op = WriteOp::kCreate}, obj, &warnings));
//   store.Create(type.StoreType(), obj);
//
//   Admission update{.op = WriteOp::kUpdate, .stored = &existing};
//   RETURN_IF_ERROR(Admit(type, update, obj, &warnings));
//   store.Update(type.StoreType(), obj);        // obj carries the precondition resourceVersion
//
// What Admit does, in order (Kubernetes' rules for what a user may set):
//  1. Identity: apiVersion and kind are the type's (filled when absent); metadata is an object;
//     the namespace is a DNS-1123 name for a namespaced kind and absent for a cluster-scoped one;
//     the name is a DNS-1123 name. On create, a `generateName` with no name gives the name: the
//     prefix (cut to leave room for the suffix) plus five random characters.
//  2. The platform's fields: `uid`, `creationTimestamp`, `generation`, `deletionTimestamp` and
//     `deletionGracePeriodSeconds` are the store's. A create drops them (and `resourceVersion` and
//     the status); an update keeps the stored ones whatever the writer sent, and the stored status
//     (status has its own write); `resourceVersion` stays as the writer's precondition (absent:
//     last write wins). A status write (kUpdateStatus) takes only the status (and the precondition)
//     from `obj`: the rest is the stored object.
//  3. The kind's schema: types, required fields, enums, ranges, defaults; unknown fields at any
//     depth are pruned and reported as warnings, or refused (FieldValidation::kStrict).
//  4. The kind's rules (`ResourceType::validate`) on create and update, and its update rule
//     (`ResourceType::validate_update`, which sees the stored object) on update; and
//     Kubernetes' own: an object being deleted (deletionTimestamp set) takes no new finalizers;
//     each ownerReference names its owner's apiVersion, kind, name and uid, and at most one is
//     the controller.
// Everything refused is a kInvalid Status (HTTP 422) naming each offending field in its causes,
// except a malformed identity (wrong apiVersion, a name that is no name), which is
// kInvalidArgument (400), as Kubernetes answers.
//
// Pure functions of their arguments (plus GenerateName's randomness): thread-safe.
#pragma once

#include <string>
#include <vector>

#include "core/resource.h"

namespace skiff {

enum class WriteOp {
  kCreate,        // a new object
  kUpdate,        // a replacement of the spec (and metadata) of `stored`
  kUpdateStatus,  // a replacement of the status of `stored`
};

// What to do with fields the schema does not declare (Kubernetes' ?fieldValidation=).
enum class FieldValidation { kWarn, kIgnore, kStrict };

// Parses "Strict", "Warn", "Ignore" ("" is Warn); InvalidArgument otherwise.
Result<FieldValidation> ParseFieldValidation(const std::string& text);

struct Admission {
  WriteOp op = WriteOp::kCreate;
  // The object as stored: required for kUpdate and kUpdateStatus, ignored on kCreate.
  const Json* stored = nullptr;
  FieldValidation field_validation = FieldValidation::kWarn;
};

// Prepares `obj` for the store and checks it, as described above. `warnings` (may be null)
// receives one line per unknown field pruned under kWarn.
Status Admit(const ResourceType& type, const Admission& how, Json& obj,
             std::vector<std::string>* warnings);

// Admit for the kind `types` files under `store_type` ("pipelineruns.pipelines.kubeflow.org"),
// for a writer that knows the store type; Internal when no kind is registered there.
Status Admit(const TypeRegistry& types, const std::string& store_type, const Admission& how,
             Json& obj, std::vector<std::string>* warnings);

// A rule's InvalidArgument("spec.parallelism: must be >= 0") as a kInvalid naming its field;
// other codes pass through. `what` names the object ("Job \"pi\"").
Status AsInvalid(const Status& st, const std::string& what);

}  // namespace skiff
