#include "api/discovery.h"

#include <algorithm>
#include <map>
#include <set>

#include "api/access_review.h"
#include "http/status_json.h"

#ifndef SKIFF_VERSION
#define SKIFF_VERSION "0.0.0"
#endif

namespace skiff {
namespace {

// Every kind served is listed as a CustomResourceDefinition, read-only (resource_api.cc).
constexpr char kApiExtensionsGroup[] = "apiextensions.k8s.io";

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

Json VersionJson() {
  return {{"major", kKubernetesMajor},
          {"minor", kKubernetesMinor},
          {"gitVersion", std::string("v") + kKubernetesMajor + "." + kKubernetesMinor +
                             ".0+skiff." + SKIFF_VERSION},
          {"gitCommit", ""},
          {"gitTreeState", "clean"},
          {"buildDate", "1970-01-01T00:00:00Z"},
          {"goVersion", ""},
          {"compiler", "skiff"},
          {"platform", "linux/amd64"}};
}

// Group -> its versions, in registration order of their first kind.
std::map<std::string, std::vector<std::string>> GroupVersions(const TypeRegistry& types) {
  std::map<std::string, std::vector<std::string>> groups;
  for (const ResourceType& t : types.All()) {
    std::vector<std::string>& versions = groups[t.group];
    if (std::find(versions.begin(), versions.end(), t.version) == versions.end()) {
      versions.push_back(t.version);
    }
  }
  groups[kAuthorizationGroup] = {"v1"};  // access_review.h
  groups[kApiExtensionsGroup] = {"v1"};
  return groups;
}

Json GroupJson(const std::string& name, const std::vector<std::string>& versions) {
  Json list = Json::array();
  for (const std::string& v : versions) {
    list.push_back({{"groupVersion", name + "/" + v}, {"version", v}});
  }
  return {{"name", name}, {"versions", list}, {"preferredVersion", list.at(0)}};
}

// Aggregated discovery (apidiscovery.k8s.io/v2): what a client offering it in Accept gets from
// /api and /apis instead, every group version's resources in one answer.
constexpr char kAggregatedType[] =
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

bool WantsAggregated(const HttpRequest& req) {
  const std::string accept = req.Header("accept");
  size_t start = 0;
  while (start <= accept.size()) {
    size_t end = accept.find(',', start);
    if (end == std::string::npos) end = accept.size();
    std::string range = accept.substr(start, end - start);
    range.erase(std::remove(range.begin(), range.end(), ' '), range.end());
    if (range.starts_with("application/json;") &&
        range.find(";g=apidiscovery.k8s.io") != std::string::npos &&
        range.find(";v=v2") != std::string::npos && range.find(";v=v2beta1") == std::string::npos &&
        range.find(";as=APIGroupDiscoveryList") != std::string::npos) {
      return true;
    }
    start = end + 1;
  }
  return false;
}

// One group version in aggregated discovery's shape, from its APIResourceList: each
// subresource ("jobs/status") listed under its resource.
Json VersionDiscovery(const TypeRegistry& types, const std::string& group,
                      const std::string& version) {
  const Json list = ApiResourceList(types, group, version);
  Json resources = Json::array();
  std::map<std::string, size_t> position;
  for (const Json& r : list["resources"]) {
    const std::string name = r.value("name", "");
    const Json kind = {{"group", group}, {"version", version}, {"kind", r.value("kind", "")}};
    const size_t slash = name.find('/');
    if (slash == std::string::npos) {
      Json resource = {{"resource", name},
                       {"responseKind", kind},
                       {"scope", r.value("namespaced", false) ? "Namespaced" : "Cluster"},
                       {"singularResource", r.value("singularName", "")},
                       {"verbs", r.value("verbs", Json::array())}};
      if (r.contains("shortNames")) resource["shortNames"] = r["shortNames"];
      if (r.contains("categories")) resource["categories"] = r["categories"];
      position[name] = resources.size();
      resources.push_back(std::move(resource));
      continue;
    }
    auto parent = position.find(name.substr(0, slash));
    if (parent == position.end()) continue;
    resources[parent->second]["subresources"].push_back(
        {{"subresource", name.substr(slash + 1)},
         {"responseKind", kind},
         {"verbs", r.value("verbs", Json::array())}});
  }
  return {{"version", version}, {"resources", std::move(resources)}, {"freshness", "Current"}};
}

// /api's (`core`) or /apis' groups as an APIGroupDiscoveryList.
void SendAggregated(const TypeRegistry& types, bool core, HttpResponder& r) {
  Json items = Json::array();
  for (const auto& [name, versions] : GroupVersions(types)) {
    if (name.empty() != core) continue;
    Json listed = Json::array();
    for (const std::string& v : versions) listed.push_back(VersionDiscovery(types, name, v));
    items.push_back({{"metadata", core ? Json::object() : Json{{"name", name}}},
                     {"versions", std::move(listed)}});
  }
  r.SendJson(200,
             {{"kind", "APIGroupDiscoveryList"},
              {"apiVersion", "apidiscovery.k8s.io/v2"},
              {"metadata", Json::object()},
              {"items", std::move(items)}},
             {{"content-type", kAggregatedType}, {"vary", "Accept"}});
}

}  // namespace

Json ApiResourceList(const TypeRegistry& types, const std::string& group,
                     const std::string& version) {
  Json resources = Json::array();
  for (const ResourceType& t : types.All()) {
    if (t.group != group || t.version != version) continue;
    Json r = {
        {"name", t.plural},
        {"singularName", Lower(t.kind)},
        {"namespaced", t.namespaced},
        {"kind", t.kind},
        {"verbs",
         {"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}}};
    if (!t.short_names.empty()) r["shortNames"] = t.short_names;
    resources.push_back(std::move(r));
    resources.push_back({{"name", t.plural + "/status"},
                         {"singularName", ""},
                         {"namespaced", t.namespaced},
                         {"kind", t.kind},
                         {"verbs", {"get", "patch", "update"}}});
    if (group.empty() && t.plural == "pods") {
      resources.push_back({{"name", "pods/log"},
                           {"singularName", ""},
                           {"namespaced", true},
                           {"kind", "Pod"},
                           {"verbs", {"get"}}});
    }
  }
  if (group == kAuthorizationGroup && version == "v1") resources = AccessReviewResources();
  if (group == kApiExtensionsGroup && version == "v1") {
    resources = Json::array({{{"name", "customresourcedefinitions"},
                              {"singularName", "customresourcedefinition"},
                              {"namespaced", false},
                              {"kind", "CustomResourceDefinition"},
                              {"verbs", {"get", "list"}},
                              {"shortNames", {"crd", "crds"}},
                              {"categories", {"api-extensions"}}}});
  }
  if (group.empty() && version == "v1") {  // namespace_api.h: read-only, one per profile
    resources.push_back({{"name", "namespaces"},
                         {"singularName", "namespace"},
                         {"namespaced", false},
                         {"kind", "Namespace"},
                         {"verbs", {"get", "list"}},
                         {"shortNames", {"ns"}}});
  }
  return {{"kind", "APIResourceList"},
          {"apiVersion", "v1"},
          {"groupVersion", group.empty() ? version : group + "/" + version},
          {"resources", std::move(resources)}};
}

void AddDiscoveryRoutes(Router& router, const TypeRegistry& types) {
  router.Add(
      "GET", "/version",
      [](const HttpRequest&, HttpResponder& r) { r.SendJson(200, VersionJson()); },
      /*requires_auth=*/false);
  router.Add("GET", "/api", [&types](const HttpRequest& req, HttpResponder& r) {
    if (WantsAggregated(req)) return SendAggregated(types, /*core=*/true, r);
    Json versions = Json::array();
    auto groups = GroupVersions(types);
    if (auto core = groups.find(""); core != groups.end()) versions = core->second;
    std::string host = req.Header("host");
    r.SendJson(200, {{"kind", "APIVersions"},
                     {"versions", versions},
                     {"serverAddressByClientCIDRs",
                      Json::array({{{"clientCIDR", "0.0.0.0/0"}, {"serverAddress", host}}})}});
  });
  router.Add("GET", "/api/{version}", [&types](const HttpRequest& req, HttpResponder& r) {
    auto groups = GroupVersions(types);
    auto core = groups.find("");
    const std::string version = req.Param("version");
    if (core == groups.end() ||
        std::find(core->second.begin(), core->second.end(), version) == core->second.end()) {
      return SendStatusError(r, NotFound("the server could not find the requested resource"));
    }
    r.SendJson(200, ApiResourceList(types, "", version));
  });
  router.Add("GET", "/apis", [&types](const HttpRequest& req, HttpResponder& r) {
    if (WantsAggregated(req)) return SendAggregated(types, /*core=*/false, r);
    Json groups = Json::array();
    for (const auto& [name, versions] : GroupVersions(types)) {
      if (!name.empty()) groups.push_back(GroupJson(name, versions));
    }
    r.SendJson(200, {{"kind", "APIGroupList"}, {"apiVersion", "v1"}, {"groups", groups}});
  });
  router.Add("GET", "/apis/{group}", [&types](const HttpRequest& req, HttpResponder& r) {
    auto groups = GroupVersions(types);
    auto it = groups.find(req.Param("group"));
    if (req.Param("group").empty() || it == groups.end()) {
      return SendStatusError(r, NotFound("the server could not find the requested resource"));
    }
    Json group = GroupJson(it->first, it->second);
    group["kind"] = "APIGroup";
    group["apiVersion"] = "v1";
    r.SendJson(200, group);
  });
  router.Add("GET", "/apis/{group}/{version}", [&types](const HttpRequest& req, HttpResponder& r) {
    auto groups = GroupVersions(types);
    auto it = groups.find(req.Param("group"));
    const std::string version = req.Param("version");
    if (req.Param("group").empty() || it == groups.end() ||
        std::find(it->second.begin(), it->second.end(), version) == it->second.end()) {
      return SendStatusError(r, NotFound("the server could not find the requested resource"));
    }
    r.SendJson(200, ApiResourceList(types, it->first, version));
  });
}

}  // namespace skiff
