// Roles and the Authorizer (see auth.h).
#include "auth/auth.h"
#include "core/text.h"

namespace skiff {

const char* VerbName(Verb verb) {
  switch (verb) {
    case Verb::kGet:
      return "get";
    case Verb::kList:
      return "list";
    case Verb::kWatch:
      return "watch";
    case Verb::kCreate:
      return "create";
    case Verb::kUpdate:
      return "update";
    case Verb::kPatch:
      return "patch";
    case Verb::kDelete:
      return "delete";
  }
  return "unknown";
}

std::optional<Verb> ParseVerb(const std::string& name) {
  for (Verb v : {Verb::kGet, Verb::kList, Verb::kWatch, Verb::kCreate, Verb::kUpdate, Verb::kPatch,
                 Verb::kDelete}) {
    if (name == VerbName(v)) return v;
  }
  return std::nullopt;
}

const char* RoleName(Role role) {
  switch (role) {
    case Role::kNone:
      return "";
    case Role::kView:
      return "view";
    case Role::kEdit:
      return "edit";
    case Role::kAdmin:
      return "admin";
  }
  return "";
}

std::optional<Role> ParseRole(const std::string& name) {
  for (Role r : {Role::kView, Role::kEdit, Role::kAdmin}) {
    if (name == RoleName(r)) return r;
  }
  return std::nullopt;
}

namespace {

bool IsReadVerb(Verb verb) {
  return verb == Verb::kGet || verb == Verb::kList || verb == Verb::kWatch;
}

}  // namespace

bool Authorizer::RoleAllows(Role role, Verb verb, const std::string& store_type) {
  switch (role) {
    case Role::kAdmin:
      return true;
    case Role::kEdit:
      return store_type != kRoleBindingType;
    case Role::kView:
      // As Kubernetes' view role: not Secrets (reading one is holding its credentials, more than
      // viewing) and not who holds which role.
      return store_type != kRoleBindingType && store_type != "secrets" && IsReadVerb(verb);
    case Role::kNone:
      return false;
  }
  return false;
}

Result<Role> Authorizer::RoleIn(const std::string& user, const std::string& ns) {
  if (user.empty() || ns.empty()) return Role::kNone;
  auto profile = store_.Get(kProfileType, "", ns);
  if (profile.ok()) {
    const Json& owner =
        (*profile)["spec"].is_object() ? (*profile)["spec"].value("owner", Json()) : Json();
    if (owner.is_object() && owner.value("name", "") == user &&
        owner.value("kind", "User") == "User") {
      return Role::kAdmin;
    }
  } else if (profile.status().code() != StatusCode::kNotFound) {
    return profile.status().WithContext("authorizing");
  }
  ASSIGN_OR_RETURN(ListResult bindings, store_.List(kRoleBindingType, ns, ListOptions{}));
  Role best = Role::kNone;
  for (const Json& b : bindings.items) {
    const Json& spec = b.contains("spec") && b["spec"].is_object() ? b["spec"] : Json();
    if (!spec.is_object() || spec.value("user", "") != user) continue;
    std::optional<Role> role = ParseRole(spec.value("role", ""));
    if (role && *role > best) best = *role;
  }
  return best;
}

Status Authorizer::Check(const Principal& who, const std::string& ns, Verb verb) {
  AccessRequest request;
  request.namespace_ = ns;
  request.verb = verb;
  return Check(who, request);
}

Status Authorizer::Check(const Principal& who, const AccessRequest& request) {
  if (who.user.empty()) return Unauthenticated("not authenticated");
  if (who.is_admin) return Status::Ok();
  const std::string verb = VerbName(request.verb);
  if (request.cluster_scoped) {
    if (request.store_type == kApiTokenType && request.verb == Verb::kCreate &&
        request.object != nullptr && request.object->is_object()) {
      const Json& spec = request.object->value("spec", Json::object());
      if (spec.is_object() && spec.value("user", "") == who.user) return Status::Ok();
    }
    if (request.store_type == kProfileType && request.verb == Verb::kGet && !request.name.empty()) {
      ASSIGN_OR_RETURN(Role role, RoleIn(who.user, request.name));
      if (role != Role::kNone) return Status::Ok();
    }
    return PermissionDenied("user " + Quote(who.user) + " may not " + verb + " " +
                            request.store_type + " (cluster-scoped: needs a cluster admin)");
  }
  if (request.namespace_.empty()) {
    return PermissionDenied("user " + Quote(who.user) + " may not " + verb +
                            " across all namespaces");
  }
  ASSIGN_OR_RETURN(Role role, RoleIn(who.user, request.namespace_));
  if (RoleAllows(role, request.verb, request.store_type)) return Status::Ok();
  if (request.store_type == kRoleBindingType && role != Role::kNone) {
    return PermissionDenied("user " + Quote(who.user) + " may not " + verb +
                            " rolebindings in namespace " + Quote(request.namespace_) +
                            " (needs the admin role)");
  }
  return PermissionDenied("user " + Quote(who.user) + " may not " + verb + " in namespace " +
                          Quote(request.namespace_));
}

}  // namespace skiff
