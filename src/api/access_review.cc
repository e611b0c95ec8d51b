#include "api/access_review.h"

#include <vector>

#include "api/resource_api.h"
#include "core/text.h"
#include "http/status_json.h"

namespace skiff {
namespace {

constexpr char kApiVersion[] = "authorization.k8s.io/v1";

// Paths every signed-in user may read: discovery, the OpenAPI documents, health.
bool IsDiscoveryPath(const std::string& path) {
  for (const char* prefix : {"/api", "/apis", "/openapi", "/version", "/healthz"}) {
    const std::string p = prefix;
    if (path == p || path.rfind(p + "/", 0) == 0) return true;
  }
  return false;
}

// The verbs a request names ("*": all of them; deletecollection is a delete).
Result<std::vector<Verb>> VerbsOf(const std::string& verb) {
  if (verb == "*") {
    return std::vector<Verb>{Verb::kGet,    Verb::kList,  Verb::kWatch, Verb::kCreate,
                             Verb::kUpdate, Verb::kPatch, Verb::kDelete};
  }
  if (verb == "deletecollection") return std::vector<Verb>{Verb::kDelete};
  if (std::optional<Verb> v = ParseVerb(verb)) return std::vector<Verb>{*v};
  return InvalidArgument("spec.resourceAttributes.verb: " + Quote(verb) +
                         " is not one of get, list, watch, create, update, patch, delete, "
                         "deletecollection, *");
}

// A write of a kind only the platform writes (ResourceType::platform_written).
bool PlatformOnly(const ResourceType& type, Verb verb) {
  return type.platform_written && verb != Verb::kGet && verb != Verb::kList && verb != Verb::kWatch;
}

// Whether `who` may do `verb` to `resource` in `ns`, and why not.
Status Decide(const Principal& who, const TypeRegistry& types, Authorizer& authz,
              const Json& attributes) {
  const std::string ns = TextAt(attributes, {"namespace"});
  const std::string group = TextAt(attributes, {"group"});
  const std::string resource = TextAt(attributes, {"resource"});
  const std::string subresource = TextAt(attributes, {"subresource"});
  ASSIGN_OR_RETURN(std::vector<Verb> verbs, VerbsOf(TextAt(attributes, {"verb"})));
  if (who.is_admin) return Status::Ok();
  if (group.empty() && resource == "namespaces") {  // namespace_api.h: read, with a role there
    for (Verb v : verbs) {
      if (v != Verb::kGet && v != Verb::kList && v != Verb::kWatch) {
        return PermissionDenied("namespaces are made by creating a Profile");
      }
    }
    const std::string name = TextAt(attributes, {"name"});
    if (name.empty()) return Status::Ok();  // lists the namespaces the user has a role in
    ASSIGN_OR_RETURN(Role role, authz.RoleIn(who.user, name));
    if (role == Role::kNone) return PermissionDenied("no role in namespace " + Quote(name));
    return Status::Ok();
  }
  const ResourceType* type = types.ByPlural(group, resource);
  if (type == nullptr) {
    return PermissionDenied("no resource " + Quote(resource) +
                            (group.empty() ? "" : " in group " + Quote(group)));
  }
  if (subresource == "status") {
    bool writes = false;
    for (Verb v : verbs) writes |= v != Verb::kGet;
    if (writes) {
      return PermissionDenied("the status of " + type->StoreType() +
                              " is written by its controller");
    }
  }
  for (Verb v : verbs) {
    if (PlatformOnly(*type, v)) {
      return PermissionDenied(type->StoreType() + " are written by the platform");
    }
    AccessRequest request;
    request.store_type = type->StoreType();
    request.namespace_ = type->namespaced ? ns : "";
    request.verb = v;
    request.name = TextAt(attributes, {"name"});
    request.cluster_scoped = !type->namespaced;
    RETURN_IF_ERROR(authz.Check(who, request));
  }
  return Status::Ok();
}

// The rules `who`'s role in `ns` comes to, one per kind, as RBAC writes them.
Result<Json> RulesIn(const Principal& who, const TypeRegistry& types, Authorizer& authz,
                     const std::string& ns) {
  Json rules = Json::array();
  if (who.is_admin) {
    rules.push_back({{"verbs", {"*"}}, {"apiGroups", {"*"}}, {"resources", {"*"}}});
    return rules;
  }
  ASSIGN_OR_RETURN(Role role, authz.RoleIn(who.user, ns));
  if (role == Role::kNone) return rules;
  // The role is read once; each kind's verbs follow from it as Decide would find them.
  const std::vector<std::string> all = {"get",    "list",  "watch",  "create",
                                        "update", "patch", "delete", "deletecollection"};
  for (const ResourceType& t : types.All()) {
    if (!t.namespaced) continue;
    std::vector<std::string> verbs;
    for (const std::string& verb : all) {
      const Verb v = VerbsOf(verb)->front();
      if (!PlatformOnly(t, v) && Authorizer::RoleAllows(role, v, t.StoreType())) {
        verbs.push_back(verb);
      }
    }
    if (verbs.empty()) continue;
    rules.push_back({{"verbs", verbs}, {"apiGroups", {t.group}}, {"resources", {t.plural}}});
  }
  rules.push_back({{"verbs", {"get", "list", "watch"}},
                   {"apiGroups", {""}},
                   {"resources", {"namespaces"}},
                   {"resourceNames", {ns}}});
  return rules;
}

Json Review(const char* kind, const Json& spec, Json status) {
  return {{"kind", kind},
          {"apiVersion", kApiVersion},
          {"metadata", {{"creationTimestamp", nullptr}}},
          {"spec", spec},
          {"status", std::move(status)}};
}

Result<Json> ReviewBody(const HttpRequest& req, const char* kind) {
  ASSIGN_OR_RETURN(Json body, ParseRequestBody(req));
  if (!TextAt(body, {"kind"}).empty() && TextAt(body, {"kind"}) != kind) {
    return InvalidArgument("kind: " + Quote(TextAt(body, {"kind"})) + " is not " + kind);
  }
  const Json& spec = At(body, {"spec"});
  if (!spec.is_object()) return InvalidArgument("spec: required, an object");
  return spec;
}

}  // namespace

Json AccessReviewResources() {
  Json out = Json::array();
  for (const auto& [plural, kind] :
       {std::pair<const char*, const char*>{"selfsubjectaccessreviews", "SelfSubjectAccessReview"},
        {"selfsubjectrulesreviews", "SelfSubjectRulesReview"}}) {
    std::string singular = plural;
    singular.pop_back();
    out.push_back({{"name", plural},
                   {"singularName", singular},
                   {"namespaced", false},
                   {"kind", kind},
                   {"verbs", {"create"}}});
  }
  return out;
}

void AddAccessReviewRoutes(Router& router, const TypeRegistry& types, Authorizer& authz) {
  const std::string base = std::string("/apis/") + kAuthorizationGroup + "/v1/";
  router.Add(
      "POST", base + "selfsubjectaccessreviews",
      [&types, &authz](const HttpRequest& req, HttpResponder& r) {
        auto spec = ReviewBody(req, "SelfSubjectAccessReview");
        if (!spec.ok()) return SendStatusError(r, spec.status());
        Status decided;
        if (const Json& attributes = At(*spec, {"resourceAttributes"}); attributes.is_object()) {
          decided = Decide(req.principal, types, authz, attributes);
        } else if (const Json& path = At(*spec, {"nonResourceAttributes"}); path.is_object()) {
          const bool read = TextAt(path, {"verb"}) == "get";
          decided = req.principal.is_admin || (read && IsDiscoveryPath(TextAt(path, {"path"})))
                        ? Status::Ok()
                        : PermissionDenied("only discovery is open to every user");
        } else {
          return SendStatusError(
              r, InvalidArgument("spec: needs resourceAttributes or nonResourceAttributes"));
        }
        if (!decided.ok() && decided.code() != StatusCode::kPermissionDenied) {
          return SendStatusError(r, decided);
        }
        Json status = {{"allowed", decided.ok()}};
        if (decided.ok()) {
          status["reason"] = "allowed by Skiff's roles";
        } else {
          status["denied"] = true;
          status["reason"] = decided.message();
        }
        r.SendJson(201, Review("SelfSubjectAccessReview", *spec, std::move(status)));
      });
  router.Add("POST", base + "selfsubjectrulesreviews",
             [&types, &authz](const HttpRequest& req, HttpResponder& r) {
               auto spec = ReviewBody(req, "SelfSubjectRulesReview");
               if (!spec.ok()) return SendStatusError(r, spec.status());
               auto rules = RulesIn(req.principal, types, authz, TextAt(*spec, {"namespace"}));
               if (!rules.ok()) return SendStatusError(r, rules.status());
               Json non_resource = Json::array({{{"verbs", {"get"}},
                                                 {"nonResourceURLs",
                                                  {"/api", "/api/*", "/apis", "/apis/*", "/healthz",
                                                   "/openapi", "/openapi/*", "/version"}}}});
               r.SendJson(201, Review("SelfSubjectRulesReview", *spec,
                                      {{"resourceRules", std::move(*rules)},
                                       {"nonResourceRules", std::move(non_resource)},
                                       {"incomplete", false}}));
             });
}

}  // namespace skiff
