#include "api/namespace_api.h"

#include <map>

#include "http/status_json.h"

namespace skiff {
namespace {

constexpr char kDefaultNamespace[] = "default";

// The namespace named `name`, from its Profile (null for `default`, which has none).
Json NamespaceJson(const std::string& name, const Json* profile) {
  Json meta = {{"name", name}, {"labels", {{"kubernetes.io/metadata.name", name}}}};
  if (profile != nullptr) {
    for (const char* key : {"uid", "creationTimestamp", "resourceVersion"}) {
      if ((*profile)["metadata"].contains(key)) meta[key] = (*profile)["metadata"][key];
    }
  }
  return {{"apiVersion", "v1"},
          {"kind", "Namespace"},
          {"metadata", std::move(meta)},
          {"spec", {{"finalizers", {"kubernetes"}}}},
          {"status", {{"phase", "Active"}}}};
}

// Every namespace there is: `default` and each Profile's, by name.
Result<std::map<std::string, Json>> AllNamespaces(Store& store) {
  std::map<std::string, Json> all;
  ASSIGN_OR_RETURN(ListResult profiles, store.List(kProfileType, "", {}));
  for (Json& p : profiles.items) {
    const std::string name = MetaName(p);
    all[name] = NamespaceJson(name, &p);
  }
  all.try_emplace(kDefaultNamespace, NamespaceJson(kDefaultNamespace, nullptr));
  return all;
}

Result<bool> MaySee(Authorizer& authz, const Principal& who, const std::string& ns) {
  if (who.is_admin) return true;
  ASSIGN_OR_RETURN(Role role, authz.RoleIn(who.user, ns));
  return role != Role::kNone;
}

}  // namespace

void AddNamespaceRoutes(Router& router, Store& store, Authorizer& authz) {
  router.Add(
      "GET", "/api/v1/namespaces", [&store, &authz](const HttpRequest& req, HttpResponder& r) {
        if (QueryFlagIsTrue(req.Query("watch"))) {
          return SendStatusError(r,
                                 InvalidArgument("watching namespaces is not served; list them"));
        }
        Result<std::map<std::string, Json>> all = AllNamespaces(store);
        if (!all.ok()) return SendStatusError(r, all.status());
        Json items = Json::array();
        for (auto& [name, ns] : *all) {
          Result<bool> visible = MaySee(authz, req.principal, name);
          if (!visible.ok()) return SendStatusError(r, visible.status());
          if (*visible) items.push_back(std::move(ns));
        }
        r.SendJson(200,
                   {{"apiVersion", "v1"},
                    {"kind", "NamespaceList"},
                    {"metadata", {{"resourceVersion", std::to_string(store.CurrentVersion())}}},
                    {"items", std::move(items)}});
      });
  router.Add(
      "GET", "/api/v1/namespaces/{name}",
      [&store, &authz](const HttpRequest& req, HttpResponder& r) {
        const std::string name = req.Param("name");
        Result<bool> visible = MaySee(authz, req.principal, name);
        if (!visible.ok()) return SendStatusError(r, visible.status());
        if (!*visible) {
          return SendStatusError(
              r, PermissionDenied("namespaces \"" + name + "\" is forbidden: user \"" +
                                  req.principal.user + "\" cannot get resource \"namespaces\""));
        }
        Result<std::map<std::string, Json>> all = AllNamespaces(store);
        if (!all.ok()) return SendStatusError(r, all.status());
        auto it = all->find(name);
        if (it == all->end()) {
          return SendStatusError(r, NotFound("namespaces \"" + name + "\" not found"));
        }
        r.SendJson(200, it->second);
      });
}

}  // namespace skiff
