#include "api/openapi.h"

#include <openssl/sha.h>

#include <cctype>
#include <cstdio>
#include <memory>
#include <set>

#include "api/discovery.h"
#include "core/patch.h"
#include "core/schema.h"
#include "http/status_json.h"

namespace skiff {
namespace {

std::string Capitalized(const std::string& s) {
  std::string out;
  bool up = true;
  for (char c : s) {
    if (c == '.' || c == '-') {
      up = true;
      continue;
    }
    out += up ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
    up = false;
  }
  return out;
}

// "Batch" + "V1", "Core" + "V1", "PipelinesKubeflowOrg" + "V2beta1": the middle of an
// operationId, as the API server's are built.
std::string OperationGroup(const ResourceType& t) {
  return (t.group.empty() ? "Core" : Capitalized(t.group)) + Capitalized(t.version);
}

Json Gvk(const ResourceType& t, const std::string& kind) {
  return {{"group", t.group}, {"version", t.version}, {"kind", kind}};
}

// One generator for both documents: OpenAPI 3.0 (v3) and Swagger 2.0 (!v3) differ in where a
// parameter's type, a body and a reference go.
class Writer {
 public:
  explicit Writer(bool v3) : v3_(v3) {}

  Json Ref(const std::string& name) const {
    return {{"$ref", (v3_ ? "#/components/schemas/" : "#/definitions/") + name}};
  }

  Json Param(const std::string& name, const std::string& in, const std::string& type,
             const std::string& description) const {
    Json p = {{"name", name}, {"in", in}, {"description", description}};
    if (in == "path") p["required"] = true;
    if (v3_) {
      p["schema"] = {{"type", type}, {"uniqueItems", true}};
    } else {
      p["type"] = type;
      p["uniqueItems"] = true;
    }
    return p;
  }

  // An operation on `t`: `body` is the request body's schema name ("" for none) and its media
  // types, `result` the response's.
  Json Operation(const ResourceType& t, const std::string& action, const std::string& id,
                 const std::string& kind, const Json& params, const std::string& body,
                 const std::vector<std::string>& body_types, const std::string& result) const {
    Json op = {{"operationId", id},
               {"tags", {OperationGroup(t)}},
               {"description", action + " " + kind},
               {"x-kubernetes-action", action},
               {"x-kubernetes-group-version-kind", Gvk(t, kind)},
               {"parameters", params}};
    const std::vector<std::string> json_types = {"application/json", "application/yaml"};
    if (v3_) {
      if (!body.empty()) {
        Json content = Json::object();
        for (const std::string& type : body_types) content[type] = {{"schema", Ref(body)}};
        op["requestBody"] = {{"content", content}, {"required", true}};
      }
      Json content = Json::object();
      for (const std::string& type : json_types) content[type] = {{"schema", Ref(result)}};
      op["responses"] = {{"200", {{"description", "OK"}, {"content", content}}},
                         {"401", {{"description", "Unauthorized"}}}};
    } else {
      if (!body.empty()) {
        op["parameters"].push_back(
            {{"name", "body"}, {"in", "body"}, {"required", true}, {"schema", Ref(body)}});
        op["consumes"] = body_types;
      }
      op["produces"] = json_types;
      op["schemes"] = {"https"};
      op["responses"] = {{"200", {{"description", "OK"}, {"schema", Ref(result)}}},
                         {"401", {{"description", "Unauthorized"}}}};
    }
    return op;
  }

  Json WriteParams() const {
    return Json::array(
        {Param("dryRun", "query", "string",
               "When present (All), the write is checked and answered but not stored."),
         Param("fieldManager", "query", "string",
               "The name the write's fields are recorded under in metadata.managedFields "
               "(required for an apply); else the client's User-Agent."),
         Param("fieldValidation", "query", "string",
               "What to do with fields the schema does not declare: Ignore, Warn (the "
               "default) or Strict."),
         Param("pretty", "query", "string", "Accepted and ignored: output is always compact.")});
  }

  Json PatchParams() const {
    Json p = WriteParams();
    p.push_back(Param("force", "query", "boolean",
                      "An apply takes over the fields other managers hold (apply only)."));
    return p;
  }

  Json ListParams() const {
    Json p = Json::array();
    for (const auto& [name, type, description] :
         std::vector<std::tuple<const char*, const char*, const char*>>{
             {"allowWatchBookmarks", "boolean", "Send BOOKMARK events on a quiet watch."},
             {"continue", "string", "The token of the next page, from the previous list."},
             {"fieldSelector", "string", "Selects objects by fields (metadata.name=x, ...)."},
             {"labelSelector", "string", "Selects objects by labels."},
             {"limit", "integer", "At most this many items in a page."},
             {"resourceVersion", "string", "The version a watch starts after."},
             {"resourceVersionMatch", "string", "NotOlderThan, with sendInitialEvents."},
             {"sendInitialEvents", "boolean", "A watch starts with the current objects."},
             {"timeoutSeconds", "integer", "The watch ends after this many seconds."},
             {"watch", "boolean", "Stream changes instead of a list."}}) {
      p.push_back(Param(name, "query", type, description));
    }
    return p;
  }

  Json DeleteParams() const {
    return Json::array(
        {Param("dryRun", "query", "string", "When present (All), nothing is deleted."),
         Param("gracePeriodSeconds", "query", "integer", "Accepted and ignored."),
         Param("propagationPolicy", "query", "string",
               "How the dependents go: Background (the default: after the object), Foreground "
               "(before it) or Orphan (they stay).")});
  }

  static Json Concat(Json a, const Json& b) {
    for (const Json& x : b) a.push_back(x);
    return a;
  }

  // The paths of one kind, keyed by path.
  Json Paths(const ResourceType& t) const {
    const std::string name = OpenApiSchemaName(t);
    const std::string list = name + "List";
    const std::string prefix =
        t.group.empty() ? "/api/" + t.version : "/apis/" + t.group + "/" + t.version;
    const std::string g = OperationGroup(t);
    const std::string scope = t.namespaced ? "Namespaced" : "";
    const std::string collection =
        prefix + (t.namespaced ? "/namespaces/{namespace}/" : "/") + t.plural;
    const std::string one = collection + "/{name}";
    Json path_params = Json::array();
    if (t.namespaced) {
      path_params.push_back(Param("namespace", "path", "string", "The object's namespace."));
    }
    Json name_params = path_params;
    name_params.push_back(Param("name", "path", "string", "The object's name."));
    const std::vector<std::string> json_body = {"application/json", "application/yaml"};

    Json paths = Json::object();
    paths[collection] = {
        {"parameters", path_params},
        {"get",
         Operation(t, "list", "list" + g + scope + t.kind, t.kind, ListParams(), "", {}, list)},
        {"post", Operation(t, "post", "create" + g + scope + t.kind, t.kind, WriteParams(), name,
                           json_body, name)},
        {"delete", Operation(t, "deletecollection", "delete" + g + "Collection" + scope + t.kind,
                             t.kind, Concat(DeleteParams(), ListParams()), "", {}, "Status")}};
    paths[one] = {{"parameters", name_params},
                  {"get", Operation(t, "get", "read" + g + scope + t.kind, t.kind, Json::array(),
                                    "", {}, name)},
                  {"put", Operation(t, "put", "replace" + g + scope + t.kind, t.kind, WriteParams(),
                                    name, json_body, name)},
                  {"patch", Operation(t, "patch", "patch" + g + scope + t.kind, t.kind,
                                      PatchParams(), "Patch", PatchTypesOf(t), name)},
                  {"delete", Operation(t, "delete", "delete" + g + scope + t.kind, t.kind,
                                       DeleteParams(), "", {}, "Status")}};
    paths[one + "/status"] = {
        {"parameters", name_params},
        {"get", Operation(t, "get", "read" + g + scope + t.kind + "Status", t.kind, Json::array(),
                          "", {}, name)},
        {"put", Operation(t, "put", "replace" + g + scope + t.kind + "Status", t.kind,
                          WriteParams(), name, json_body, name)},
        {"patch", Operation(t, "patch", "patch" + g + scope + t.kind + "Status", t.kind,
                            PatchParams(), "Patch", PatchTypesOf(t), name)}};
    if (t.namespaced) {
      paths[prefix + "/" + t.plural] = {
          {"get", Operation(t, "list", "list" + g + t.kind + "ForAllNamespaces", t.kind,
                            ListParams(), "", {}, list)}};
    }
    return paths;
  }

  // The schemas of one kind and its list.
  void AddSchemas(const ResourceType& t, Json& schemas) const {
    const std::string name = OpenApiSchemaName(t);
    Json schema = t.schema && !t.schema->accepts_anything()
                      ? t.schema->openapi()
                      : Json{{"type", "object"}, {"x-kubernetes-preserve-unknown-fields", true}};
    schema["x-kubernetes-group-version-kind"] = Json::array({Gvk(t, t.kind)});
    if (!schema.contains("description")) {
      schema["description"] = t.kind + " (" + t.ApiVersion() + "), as Skiff serves it.";
    }
    schemas[name] = std::move(schema);
    schemas[name + "List"] = {
        {"type", "object"},
        {"description", "A list of " + t.kind + "."},
        {"required", {"items"}},
        {"properties",
         {{"apiVersion", {{"type", "string"}}},
          {"kind", {{"type", "string"}}},
          {"metadata",
           {{"type", "object"},
            {"properties",
             {{"resourceVersion", {{"type", "string"}}}, {"continue", {{"type", "string"}}}}}}},
          {"items", {{"type", "array"}, {"items", Ref(name)}}}}},
        {"x-kubernetes-group-version-kind", Json::array({Gvk(t, t.kind + "List")})}};
  }

  static void AddCommonSchemas(Json& schemas) {
    schemas["Status"] = {{"type", "object"},
                         {"description", "The outcome of a call that returns no object."},
                         {"properties",
                          {{"apiVersion", {{"type", "string"}}},
                           {"kind", {{"type", "string"}}},
                           {"status", {{"type", "string"}}},
                           {"message", {{"type", "string"}}},
                           {"reason", {{"type", "string"}}},
                           {"code", {{"type", "integer"}, {"format", "int32"}}},
                           {"details", {{"type", "object"}}}}}};
    schemas["Patch"] = {{"type", "object"},
                        {"description", "A patch, in the format its content type names."}};
  }

 private:
  bool v3_;
};

std::string Sha512Hex(const std::string& data) {
  unsigned char digest[SHA512_DIGEST_LENGTH];
  SHA512(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  std::string hex;
  char buf[3];
  for (unsigned char b : digest) {
    std::snprintf(buf, sizeof buf, "%02X", b);
    hex += buf;
  }
  return hex;
}

Json Info() {
  return {{"title", "Skiff"},
          {"version", std::string("v") + kKubernetesMajor + "." + kKubernetesMinor + ".0"}};
}

// What the routes serve: built once.
struct Documents {
  Json v3_root;
  std::map<std::string, std::string> v3;  // "apis/batch/v1" -> the document's text
  std::string v2;
};

}  // namespace

std::string OpenApiSchemaName(const ResourceType& t) {
  static const std::set<std::string> kubernetes_groups = {"",
                                                          "batch",
                                                          "apps",
                                                          "autoscaling",
                                                          "policy",
                                                          "networking.k8s.io",
                                                          "events.k8s.io",
                                                          "rbac.authorization.k8s.io",
                                                          "apiextensions.k8s.io"};
  std::string group;
  if (kubernetes_groups.count(t.group) != 0) {
    std::string short_group = t.group.empty() ? "core" : t.group.substr(0, t.group.find('.'));
    group = "io.k8s.api." + short_group;
  } else {
    // "pipelines.kubeflow.org" -> "org.kubeflow.pipelines"
    size_t end = t.group.size();
    while (true) {
      const size_t dot = t.group.rfind('.', end - 1);
      const size_t start = dot == std::string::npos ? 0 : dot + 1;
      if (!group.empty()) group += ".";
      group += t.group.substr(start, end - start);
      if (dot == std::string::npos) break;
      end = dot;
    }
  }
  return group + "." + t.version + "." + t.kind;
}

Json OpenApiV3(const TypeRegistry& types, const std::string& group, const std::string& version) {
  Writer w(/*v3=*/true);
  Json paths = Json::object();
  Json schemas = Json::object();
  for (const ResourceType& t : types.All()) {
    if (t.group != group || t.version != version) continue;
    paths.update(w.Paths(t));
    w.AddSchemas(t, schemas);
  }
  if (paths.empty()) return nullptr;
  Writer::AddCommonSchemas(schemas);
  return {{"openapi", "3.0.0"},
          {"info", Info()},
          {"paths", std::move(paths)},
          {"components", {{"schemas", std::move(schemas)}}}};
}

Json OpenApiV2(const TypeRegistry& types) {
  Writer w(/*v3=*/false);
  Json paths = Json::object();
  Json definitions = Json::object();
  for (const ResourceType& t : types.All()) {
    paths.update(w.Paths(t));
    w.AddSchemas(t, definitions);
  }
  Writer::AddCommonSchemas(definitions);
  return {{"swagger", "2.0"},
          {"info", Info()},
          {"paths", std::move(paths)},
          {"definitions", std::move(definitions)},
          {"securityDefinitions",
           {{"BearerToken", {{"type", "apiKey"}, {"name", "authorization"}, {"in", "header"}}}}},
          {"security", Json::array({{{"BearerToken", Json::array()}}})}};
}

void AddOpenApiRoutes(Router& router, const TypeRegistry& types) {
  // The registry is complete when routes are added (modules register kinds first).
  auto docs = std::make_shared<Documents>();
  Json root_paths = Json::object();
  std::set<std::pair<std::string, std::string>> versions;
  for (const ResourceType& t : types.All()) versions.insert({t.group, t.version});
  for (const auto& [group, version] : versions) {
    const std::string key = group.empty() ? "api/" + version : "apis/" + group + "/" + version;
    const std::string text = OpenApiV3(types, group, version).dump();
    root_paths[key] = {{"serverRelativeURL", "/openapi/v3/" + key + "?hash=" + Sha512Hex(text)}};
    docs->v3[key] = text;
  }
  docs->v3_root = {{"paths", std::move(root_paths)}};
  docs->v2 = OpenApiV2(types).dump();

  router.Add("GET", "/openapi/v3",
             [docs](const HttpRequest&, HttpResponder& r) { r.SendJson(200, docs->v3_root); });
  router.Add("GET", "/openapi/v3/{path...}", [docs](const HttpRequest& req, HttpResponder& r) {
    auto it = docs->v3.find(req.Param("path"));
    if (it == docs->v3.end()) {
      return SendStatusError(r, NotFound("no OpenAPI document for " + req.Param("path")));
    }
    r.Send(200, it->second + "\n", {{"content-type", "application/json"}});
  });
  router.Add("GET", "/openapi/v2", [docs](const HttpRequest& req, HttpResponder& r) {
    const std::string accept = req.Header("accept");
    if (!accept.empty() && accept.find("json") == std::string::npos &&
        accept.find("*/*") == std::string::npos) {
      return SendRefusal(r, 406, "NotAcceptable",
                         "only application/json is served here, not " + accept);
    }
    r.Send(200, docs->v2 + "\n", {{"content-type", "application/json"}});
  });
}

}  // namespace skiff
