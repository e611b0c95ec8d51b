// Schema: the typed shape of a kind, checked at the API edge and before every reconcile, with
// the semantics of a Kubernetes structural schema (OpenAPI v3 subset). A kind declares its schema
// as an OpenAPI document; the same document is what the kind's CRD serves.
//
//   ASSIGN_OR_RETURN(Schema schema, Schema::FromOpenApi(ParseJsonOrYaml(kDoc, "job schema")));
//   SchemaReport report = schema.Validate(obj);   // applies defaults, prunes unknown fields
//   if (!report.errors.empty()) return report.ToStatus("Job \"pi\"");
//
// Keywords: type (object, array, string, integer, number, boolean), properties, required,
// additionalProperties (a schema: a map; false or absent: unknown fields), items, enum, minimum,
// maximum, minLength, maxLength, minItems, maxItems, maxProperties, format (int32, int64),
// default, nullable, x-kubernetes-preserve-unknown-fields, x-kubernetes-int-or-string. A field
// the schema does not know is pruned (and reported in `unknown`, so a strict caller can refuse
// it) unless its object preserves unknown fields; a null for a field that is not nullable counts
// as absent, as in Kubernetes. What a preserved subtree holds is not checked, but nothing it
// holds can exceed kMaxDepth (the readers refuse deeper documents).
//
// Immutable after construction; thread-safe. Copies share the compiled tree.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/resource.h"
#include "core/status.h"

namespace skiff {

struct FieldError {
  std::string field;    // "spec.template.spec.containers[0].ports[1].containerPort"
  std::string message;  // "expected integer, got string"
  // Kubernetes cause reasons: FieldValueTypeInvalid, FieldValueRequired, FieldValueNotSupported,
  // FieldValueInvalid, FieldValueTooLong, FieldValueTooMany, FieldValueUnknown.
  std::string reason;
};

struct SchemaReport {
  std::vector<FieldError> errors;
  std::vector<std::string> unknown;  // field paths pruned because the schema does not know them
  // An InvalidArgument naming `what` and every error (as Kubernetes' 422 Status causes).
  Status ToStatus(const std::string& what) const;
};

class Schema {
 public:
  // Compiles an OpenAPI v3 structural schema. Errors name the schema path.
  static Result<Schema> FromOpenApi(const Json& doc);
  // A schema that accepts anything (kinds that declare none yet).
  Schema();

  // Checks `value` in place: applies defaults, drops nulls of fields that are not nullable and
  // prunes unknown fields. `path` prefixes every field path ("" for a whole object).
  SchemaReport Validate(Json& value, const std::string& path = "") const;
  // Checks without changing anything (unknown fields are reported, not pruned).
  SchemaReport Check(const Json& value, const std::string& path = "") const;

  const Json& openapi() const;  // the document it was compiled from
  bool accepts_anything() const;

  struct Node;

 private:
  explicit Schema(std::shared_ptr<const Node> root) : root_(std::move(root)) {}
  std::shared_ptr<const Node> root_;
};

// The schema of Kubernetes ObjectMeta as Skiff stores it (name, namespace, labels, ...).
const Json& ObjectMetaOpenApi();
// Wraps the schemas of a kind's top-level fields into the schema of a whole object:
// {apiVersion, kind, metadata, <fields>}. `fields` is an object of OpenAPI schemas.
Json KindOpenApi(Json fields, const std::vector<std::string>& required = {});
// Compiles a kind's schema written in its module. A schema that does not compile is a
// programming error (each module's kinds test compiles its schemas): it aborts with the message.
// `required` names top-level fields the kind cannot do without ("spec").
std::shared_ptr<const Schema> KindSchema(Json fields,
                                         const std::vector<std::string>& required = {});

// Builders for the OpenAPI documents kinds declare, so a schema reads like the type it describes:
//   Object({{"enabled", Boolean()}, {"maxConcurrency", Integer(1)}}, {"trigger"})
namespace openapi {
inline Json String() { return {{"type", "string"}}; }
inline Json Boolean() { return {{"type", "boolean"}}; }
inline Json Number() { return {{"type", "number"}}; }
// An int64 (JSON numbers with a fraction are refused); bounds are inclusive.
inline Json Integer() { return {{"type", "integer"}, {"format", "int64"}}; }
inline Json Integer(int64_t min) {
  return {{"type", "integer"}, {"format", "int64"}, {"minimum", min}};
}
inline Json Integer(int64_t min, int64_t max) {
  return {{"type", "integer"}, {"format", "int64"}, {"minimum", min}, {"maximum", max}};
}
inline Json Int32(int64_t min = INT32_MIN) {
  return {{"type", "integer"}, {"format", "int32"}, {"minimum", min}};
}
inline Json IntOrString() { return {{"x-kubernetes-int-or-string", true}}; }
inline Json Enum(std::vector<std::string> values) {
  return {{"type", "string"}, {"enum", std::move(values)}};
}
inline Json Array(Json items) { return {{"type", "array"}, {"items", std::move(items)}}; }
inline Json Map(Json values) {
  return {{"type", "object"}, {"additionalProperties", std::move(values)}};
}
inline Json StringMap() { return Map(String()); }
// A list a strategic merge patch merges element by element (core/patch.h): objects matched by
// `key` (containers by "name"), or, with no key, a set of primitives (finalizers).
inline Json MergeList(Json items, const std::string& key) {
  Json a = Array(std::move(items));
  a["x-kubernetes-patch-strategy"] = "merge";
  a["x-kubernetes-patch-merge-key"] = key;
  return a;
}
inline Json MergeSet(Json items) {
  Json a = Array(std::move(items));
  a["x-kubernetes-patch-strategy"] = "merge";
  return a;
}
// An object with these fields; others are pruned (and refused by strict callers).
inline Json Object(Json properties, const std::vector<std::string>& required = {}) {
  Json o = {{"type", "object"}, {"properties", std::move(properties)}};
  if (!required.empty()) o["required"] = required;
  return o;
}
// An object whose known fields are typed and whose other fields are kept as they are.
inline Json OpenObject(Json properties) {
  Json o = Object(std::move(properties));
  o["x-kubernetes-preserve-unknown-fields"] = true;
  return o;
}
// Any JSON value, kept as it is.
inline Json Any() { return {{"x-kubernetes-preserve-unknown-fields", true}}; }
// Kubernetes conditions: [{type, status, reason, message, lastTransitionTime, ...}].
inline Json Conditions() {
  return MergeList(OpenObject({{"type", String()},
                               {"status", String()},
                               {"reason", String()},
                               {"message", String()},
                               {"lastTransitionTime", String()},
                               {"lastUpdateTime", String()},
                               {"lastProbeTime", String()}}),
                   "type");
}
}  // namespace openapi

}  // namespace skiff
