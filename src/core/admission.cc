#include "core/admission.h"

#include <regex>
#include <utility>

#include "core/ids.h"
#include "core/schema.h"
#include "core/text.h"

namespace skiff {
namespace {

// The store's own metadata: what a writer sends there is replaced.
constexpr const char* kSystemFields[] = {"uid", "creationTimestamp", "generation",
                                         "deletionTimestamp", "deletionGracePeriodSeconds"};

// A string field of metadata, or "" when absent or null; InvalidArgument when another type.
Result<std::string> MetaText(const Json& meta, const char* field) {
  auto it = meta.find(field);
  if (it == meta.end() || it->is_null()) return std::string();
  if (!it->is_string())
    return InvalidArgument(std::string("metadata.") + field + ": must be a string");
  return it->get<std::string>();
}

Status CheckIdentity(const ResourceType& type, Json& obj) {
  if (!obj.is_object()) {
    return InvalidArgument(std::string("expected an object, got ") + obj.type_name());
  }
  for (auto [field, want] : {std::pair<const char*, std::string>{"apiVersion", type.ApiVersion()},
                             std::pair<const char*, std::string>{"kind", type.kind}}) {
    if (!obj.contains(field) || obj[field].is_null()) {
      obj[field] = want;
    } else if (!obj[field].is_string() || obj[field].get<std::string>() != want) {
      return InvalidArgument(std::string(field) + ": " + obj[field].dump() + " is not " +
                             Quote(want));
    }
  }
  if (!obj.contains("metadata") || obj["metadata"].is_null()) obj["metadata"] = Json::object();
  if (!obj["metadata"].is_object()) return InvalidArgument("metadata: must be an object");
  Json& meta = obj["metadata"];
  ASSIGN_OR_RETURN(std::string ns, MetaText(meta, "namespace"));
  if (type.namespaced) {
    RETURN_IF_ERROR(ValidateName(ns, "metadata.namespace"));
  } else if (!ns.empty()) {
    return InvalidArgument("metadata.namespace: must be empty: " + type.kind +
                           " is cluster-scoped");
  } else {
    meta.erase("namespace");
  }
  RETURN_IF_ERROR(MetaText(meta, "name").status());
  RETURN_IF_ERROR(MetaText(meta, "generateName").status());
  RETURN_IF_ERROR(MetaText(meta, "resourceVersion").status());
  return Status::Ok();
}

// Kubernetes' rule: once an object is being deleted, its finalizers may be removed, not added
// (else it might never go).
Status NoNewFinalizersWhileDeleting(const Json& stored, const Json& obj) {
  if (TextAt(stored, {"metadata", "deletionTimestamp"}).empty()) return Status::Ok();
  const Json& before = At(stored, {"metadata", "finalizers"});
  for (const Json& finalizer : At(obj, {"metadata", "finalizers"})) {
    if (before.is_array() && std::find(before.begin(), before.end(), finalizer) != before.end()) {
      continue;
    }
    const std::string message =
        "no new finalizers can be added if the object is being deleted, found new finalizers " +
        finalizer.dump(-1, ' ', false, Json::error_handler_t::replace);
    return Invalid(MetaName(stored) + " is invalid: metadata.finalizers: " + message,
                   {{"metadata.finalizers", message, "FieldValueForbidden"}});
  }
  return Status::Ok();
}

// Kubernetes' rules for metadata.ownerReferences (their types are the schema's): each names its
// owner fully, since the garbage collector finds the owner by them, and at most one is the
// controller.
Status CheckOwnerReferences(const Json& obj, const std::string& what) {
  const Json& refs = At(obj, {"metadata", "ownerReferences"});
  if (!refs.is_array()) return Status::Ok();
  std::vector<StatusCause> causes;
  std::vector<std::string> controllers;
  for (size_t i = 0; i < refs.size(); ++i) {
    const std::string at = "metadata.ownerReferences[" + std::to_string(i) + "].";
    for (const char* field : {"apiVersion", "kind", "name", "uid"}) {
      if (TextAt(refs[i], {field}).empty()) {
        causes.push_back(
            {at + field, std::string(field) + " must not be empty", "FieldValueRequired"});
      }
    }
    if (At(refs[i], {"controller"}) == Json(true)) {
      controllers.push_back(TextAt(refs[i], {"kind"}) + "/" + TextAt(refs[i], {"name"}));
    }
  }
  if (controllers.size() > 1) {
    std::string found;
    for (const std::string& c : controllers) found += (found.empty() ? "" : ", ") + c;
    causes.push_back({"metadata.ownerReferences",
                      "only one reference can have controller set to true, found in " + found,
                      "FieldValueInvalid"});
  }
  if (causes.empty()) return Status::Ok();
  std::string message = what + " is invalid: ";
  for (size_t i = 0; i < causes.size(); ++i) {
    message += (i ? ", " : "") + causes[i].field + ": " + causes[i].message;
  }
  return Invalid(message, std::move(causes));
}

// On create: the name, or one made from generateName.
Status NameNewObject(Json& meta) {
  std::string name = meta.value("name", Json("")).is_string() ? meta.value("name", "") : "";
  std::string prefix =
      meta.value("generateName", Json("")).is_string() ? meta.value("generateName", "") : "";
  if (name.empty() && !prefix.empty()) {
    // The prefix must be a name once a suffix follows it.
    RETURN_IF_ERROR(ValidateName(prefix + "x", "metadata.generateName"));
    meta["name"] = GenerateName(prefix);
    return Status::Ok();
  }
  return ValidateName(name, "metadata.name");
}

// The stored object's name and namespace are the object's identity: an update keeps them.
Status SameObject(const Json& stored, const Json& obj) {
  if (MetaName(obj) != MetaName(stored) || MetaNamespace(obj) != MetaNamespace(stored)) {
    return InvalidArgument("metadata.name: " + Quote(MetaName(obj)) +
                           " is not the object being updated, " + Quote(MetaName(stored)));
  }
  return Status::Ok();
}

Status CheckSchema(const ResourceType& type, const Admission& how, Json& obj,
                   const std::string& what, std::vector<std::string>* warnings) {
  if (!type.schema) return Status::Ok();
  SchemaReport report = type.schema->Validate(obj);
  for (const std::string& field : report.unknown) {
    switch (how.field_validation) {
      case FieldValidation::kStrict:
        report.errors.push_back({field, "field not declared in schema", "FieldValueUnknown"});
        break;
      case FieldValidation::kWarn:
        if (warnings != nullptr) warnings->push_back("unknown field " + Quote(field));
        break;
      case FieldValidation::kIgnore:
        break;
    }
  }
  return report.ToStatus(what);
}

}  // namespace

Result<FieldValidation> ParseFieldValidation(const std::string& text) {
  if (text.empty() || text == "Warn") return FieldValidation::kWarn;
  if (text == "Strict") return FieldValidation::kStrict;
  if (text == "Ignore") return FieldValidation::kIgnore;
  return InvalidArgument("fieldValidation: " + Quote(text) + " is not one of Strict, Warn, Ignore");
}

Status AsInvalid(const Status& st, const std::string& what) {
  if (st.ok() || st.code() != StatusCode::kInvalidArgument) return st;
  static const std::regex kField(
      R"(^([A-Za-z][A-Za-z0-9_]*(\[[^\]\s:]+\])?(\.[A-Za-z0-9_/-]+(\[[^\]\s:]+\])?)*): )");
  std::smatch m;
  const bool named = std::regex_search(st.message(), m, kField);
  return Invalid(
      what + " is invalid: " + st.message(),
      {{named ? m[1].str() : "", named ? m.suffix().str() : st.message(), "FieldValueInvalid"}});
}

Status Admit(const ResourceType& type, const Admission& how, Json& obj,
             std::vector<std::string>* warnings) {
  if (how.op != WriteOp::kCreate && (how.stored == nullptr || !how.stored->is_object())) {
    return Internal("admission of an update without the stored object");
  }
  RETURN_IF_ERROR(CheckIdentity(type, obj));
  Json& meta = obj["metadata"];
  switch (how.op) {
    case WriteOp::kCreate:
      RETURN_IF_ERROR(NameNewObject(meta));
      for (const char* field : kSystemFields) meta.erase(field);
      meta.erase("resourceVersion");
      obj.erase("status");
      break;
    case WriteOp::kUpdate: {
      const Json& stored = *how.stored;
      RETURN_IF_ERROR(SameObject(stored, obj));
      const Json& stored_meta = stored["metadata"];
      for (const char* field : kSystemFields) {
        if (stored_meta.contains(field)) {
          meta[field] = stored_meta[field];
        } else {
          meta.erase(field);
        }
      }
      if (stored.contains("status")) {
        obj["status"] = stored["status"];
      } else {
        obj.erase("status");
      }
      break;
    }
    case WriteOp::kUpdateStatus: {
      RETURN_IF_ERROR(SameObject(*how.stored, obj));
      Json next = *how.stored;
      if (obj.contains("status")) {
        next["status"] = std::move(obj["status"]);
      } else {
        next.erase("status");
      }
      if (meta.contains("resourceVersion")) {
        next["metadata"]["resourceVersion"] = meta["resourceVersion"];
      } else {
        next["metadata"].erase("resourceVersion");
      }
      obj = std::move(next);
      break;
    }
  }
  const std::string what = type.kind + " " + Quote(MetaName(obj));
  RETURN_IF_ERROR(CheckSchema(type, how, obj, what, warnings));
  if (how.op == WriteOp::kUpdateStatus) return Status::Ok();  // rules are about the spec
  RETURN_IF_ERROR(CheckOwnerReferences(obj, what));
  if (how.op == WriteOp::kUpdate) {
    RETURN_IF_ERROR(NoNewFinalizersWhileDeleting(*how.stored, obj));
  }
  if (type.validate) {
    RETURN_IF_ERROR(AsInvalid(type.validate(obj, how.op == WriteOp::kCreate), what));
  }
  if (how.op == WriteOp::kUpdate && type.validate_update) {
    RETURN_IF_ERROR(AsInvalid(type.validate_update(*how.stored, obj), what));
  }
  return Status::Ok();
}

Status Admit(const TypeRegistry& types, const std::string& store_type, const Admission& how,
             Json& obj, std::vector<std::string>* warnings) {
  const ResourceType* type = types.ByStoreType(store_type);
  if (type == nullptr) return Internal("no kind is registered for " + store_type);
  return Admit(*type, how, obj, warnings);
}

}  // namespace skiff
