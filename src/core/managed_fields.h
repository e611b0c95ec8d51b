// Field ownership and server-side apply, as the Kubernetes API server keeps them
// (metadata.managedFields; structured-merge-diff's semantics).
//
// Every write through the API records which *field manager* (kubectl's --field-manager, a
// client's fieldManager parameter, else its User-Agent) set which fields. A write that is not an
// apply (create, update, patch) takes the fields it changed from whoever held them. An apply
// (PATCH application/apply-patch+yaml) is a manager's whole intent: it owns exactly the fields of
// its configuration; fields it owned before and no longer names are removed (unless another
// manager owns them too); and setting a field another manager owns to a different value is a
// conflict (409, a cause per field) unless forced, which takes the field over.
//
//   ASSIGN_OR_RETURN(Json next, ServerSideApply(live_or_null, config, apply, schema));
//   RETURN_IF_ERROR(RecordUpdate(&before, after, update, schema));  // after a PUT or a patch
//
// Lists merge as the kind's schema says (x-kubernetes-list-type map/set with
// x-kubernetes-list-map-keys, or Kubernetes' own kinds' patch strategy and merge key): a keyed
// list element by element, a set by value; any other list is one value. What the API server
// leaves out of field sets is left out here too: apiVersion, kind, the server-set metadata
// (name, namespace, uid, resourceVersion, generation, creationTimestamp, managedFields, ...) and,
// outside the status subresource, status.
//
// Pure functions: thread-safe.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/resource.h"
#include "core/status.h"

namespace skiff {

// A set of paths into an object, in the API server's FieldsV1 form: {"f:spec": {"f:parallelism":
// {}}}; "k:{...}" names a keyed list's element by its keys, "v:..." a set's element by value, and
// "." marks a node that is itself in the set as well as some of its children.
class FieldSet {
 public:
  // The fields `object` sets, its lists read as `schema` (the kind's OpenAPI schema) says.
  static FieldSet Of(const Json& object, const Json& schema);
  // The paths whose value differs between `before` and `after` (added, removed or changed).
  static FieldSet Changed(const Json& before, const Json& after, const Json& schema);
  // Reads a stored fieldsV1 document; what is not one yields the empty set.
  static FieldSet FromFieldsV1(const Json& fields);
  Json ToFieldsV1() const;

  bool empty() const { return !member_ && children_.empty(); }
  FieldSet Union(const FieldSet& other) const;
  FieldSet Intersection(const FieldSet& other) const;
  FieldSet Difference(const FieldSet& other) const;
  bool operator==(const FieldSet& other) const = default;
  // Each member as the API server prints it: ".spec.containers[name=\"main\"].image".
  std::vector<std::string> Paths() const;

 private:
  friend struct FieldSetAccess;  // managed_fields.cc
  void CollectPaths(const std::string& prefix, std::vector<std::string>& out) const;

  bool member_ = false;
  std::map<std::string, FieldSet> children_;
};

struct FieldManager {
  std::string manager;      // "kubectl", "kubectl-client-side-apply"
  std::string api_version;  // the kind's, "batch/v1"
  std::string subresource;  // "" or "status"
  std::string time;         // RFC 3339, when the write happens
};

// Applies `config`, an apply configuration (the object as its manager wants it), to `live` (null:
// the object does not exist yet, and the result is to be created). Returns the object to store,
// metadata.managedFields included; a Conflict status naming each field another manager holds with
// another value unless `force`; InvalidArgument when the configuration is not one. `schema` is the
// kind's OpenAPI schema.
Result<Json> ServerSideApply(const Json* live, const Json& config, const FieldManager& manager,
                             bool force, const Json& schema);

// Records in `after`'s metadata.managedFields the fields a create (`before` null), an update or a
// patch by `manager` changed; the managers that held them lose them.
void RecordUpdate(const Json* before, Json& after, const FieldManager& manager, const Json& schema);

// The field manager of a request that names none: its User-Agent up to the first '/', as the API
// server derives it ("kubectl" from "kubectl/v1.37.2 (linux/amd64)"), at most 128 characters.
std::string DefaultFieldManager(const std::string& user_agent);
// Checks a fieldManager parameter: at most 128 printable characters.
Status ValidateFieldManager(const std::string& manager);

}  // namespace skiff
