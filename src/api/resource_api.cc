#include "api/resource_api.h"

#include <algorithm>
#include <cctype>
#include <optional>
#include <regex>
#include <set>
#include <string>

#include "api/access_review.h"
#include "api/discovery.h"
#include "api/namespace_api.h"
#include "api/openapi.h"
#include "api/table.h"
#include "core/admission.h"
#include "core/field_selector.h"
#include "core/ids.h"
#include "core/kube_protobuf.h"
#include "core/log.h"
#include "core/patch.h"
#include "core/resource.h"
#include "core/schema.h"
#include "core/text.h"
#include "http/status_json.h"

namespace skiff {

namespace {

std::string ContentType(const HttpRequest& req) {
  std::string type = req.Header("content-type");
  type = type.substr(0, type.find(';'));
  std::transform(type.begin(), type.end(), type.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  while (!type.empty() && type.back() == ' ') type.pop_back();
  return type;
}

bool ParseInt64(const std::string& text, int64_t* out) {
  if (text.empty()) return false;
  try {
    size_t used = 0;
    long long v = std::stoll(text, &used);
    if (used != text.size()) return false;
    *out = v;
    return true;
  } catch (...) {
    return false;
  }
}

Json& Metadata(Json& obj) {
  if (!obj.contains("metadata") || !obj["metadata"].is_object()) obj["metadata"] = Json::object();
  return obj["metadata"];
}

}  // namespace

Result<Json> ParseRequestBody(const HttpRequest& req) {
  const std::string& body = req.body;
  size_t first = body.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) {
    return InvalidArgument("request body: empty (want a JSON or YAML object)");
  }
  std::string type = ContentType(req);
  Json obj;
  if (type == kKubeProtobufType) {  // client-go's typed clients (core/kube_protobuf.h)
    ASSIGN_OR_RETURN(obj, DecodeKubeProtobuf(body));
    return obj;
  }
  bool json =
      type.find("json") != std::string::npos ||
      (type.find("yaml") == std::string::npos && (body[first] == '{' || body[first] == '['));
  if (json) {
    ASSIGN_OR_RETURN(obj, ParseJson(body, "request body"));
  } else {
    ASSIGN_OR_RETURN(obj, ParseJsonOrYaml(body, "request body"));
  }
  if (!obj.is_object()) {
    return InvalidArgument(std::string("request body: expected an object, got ") + obj.type_name());
  }
  return obj;
}

struct ResourceApi::Target {
  const ResourceType* type = nullptr;
  std::string store_type;
  std::string ns;    // "" for cluster-scoped kinds or a list across namespaces
  std::string name;  // "" for collections
  Principal principal;
  FieldValidation field_validation = FieldValidation::kWarn;
  // ?dryRun=All: admitted and answered as if written, nothing stored.
  bool dry_run = false;
  // Who the write's fields are recorded under (core/managed_fields.h): ?fieldManager=, else the
  // User-Agent's product.
  std::string field_manager;
  bool field_manager_named = false;
  std::optional<bool> force;  // ?force=: an apply takes the fields other managers hold
};

namespace {

bool BeingDeleted(const Json& obj) {
  return !TextAt(obj, {"metadata", "deletionTimestamp"}).empty();
}

bool HasFinalizers(const Json& obj) {
  const Json& finalizers = At(obj, {"metadata", "finalizers"});
  return finalizers.is_array() && !finalizers.empty();
}

// DeleteOptions (meta/v1), from the body kubectl, client-go and the Python client send, or from
// the query.
struct DeleteOptions {
  bool dry_run = false;  // dryRun: ["All"], as kubectl delete --dry-run=server sends it
  std::string uid;       // preconditions.uid
  int64_t version = 0;   // preconditions.resourceVersion or ?resourceVersion=; 0: none
  // propagationPolicy (or the older orphanDependents): "Background", "Foreground", "Orphan";
  // "" when not given (Background).
  std::string propagation;
};

Result<DeleteOptions> ReadDeleteOptions(const HttpRequest& req) {
  DeleteOptions options;
  std::string policy = req.Query("propagationPolicy");
  std::string version = req.Query("resourceVersion");
  if (req.body.find_first_not_of(" \t\r\n") != std::string::npos) {
    ASSIGN_OR_RETURN(Json body, ParseRequestBody(req));
    auto text = [&body](std::initializer_list<const char*> path, const std::string& field,
                        std::string& out) -> Status {
      const Json& value = At(body, path);
      if (value.is_null()) return Status::Ok();
      if (!value.is_string()) return InvalidArgument(field + ": must be a string");
      out = value.get<std::string>();
      return Status::Ok();
    };
    RETURN_IF_ERROR(text({"propagationPolicy"}, "propagationPolicy", policy));
    if (const Json& orphan = At(body, {"orphanDependents"});
        orphan.is_boolean() && policy.empty()) {
      policy = orphan.get<bool>() ? "Orphan" : "Background";  // the field before propagationPolicy
    }
    if (const Json& pre = At(body, {"preconditions"}); !pre.is_null() && !pre.is_object()) {
      return InvalidArgument("preconditions: must be an object");
    }
    for (const Json& dry : At(body, {"dryRun"})) {
      if (dry != Json("All"))
        return InvalidArgument("dryRun: Unsupported value: " +
                               dry.dump(-1, ' ', false, Json::error_handler_t::replace));
      options.dry_run = true;
    }
    RETURN_IF_ERROR(text({"preconditions", "uid"}, "preconditions.uid", options.uid));
    RETURN_IF_ERROR(
        text({"preconditions", "resourceVersion"}, "preconditions.resourceVersion", version));
  }
  if (!version.empty() && !ParseInt64(version, &options.version)) {
    return InvalidArgument("resourceVersion: " + Quote(version) + " is not an integer");
  }
  if (!policy.empty() && policy != "Background" && policy != "Foreground" && policy != "Orphan") {
    return InvalidArgument("propagationPolicy: Unsupported value: " + Quote(policy) +
                           ": supported values: \"Background\", \"Foreground\", \"Orphan\"");
  }
  options.propagation = policy;
  return options;
}

const Json& SchemaOf(const ResourceType& type) {
  static const Json* none = new Json(Json::object());
  return type.schema ? type.schema->openapi() : *none;
}

}  // namespace

ResourceApi::ResourceApi(Store& store, Authenticator& authn, Authorizer& authz, Clock& clock,
                         const TypeRegistry& types)
    : store_(store), authn_(authn), authz_(authz), clock_(clock), types_(types) {}

namespace {

std::string Quoted(const std::string& s) { return Json(s).dump(); }

HttpHeaders WarningHeaders(const std::vector<std::string>& warnings) {
  if (warnings.empty()) return {};
  // RFC 7234 warn-code 299 ("miscellaneous persistent warning"), several joined by ", ".
  std::string value;
  for (const std::string& w : warnings) {
    value += (value.empty() ? "" : ", ") + std::string("299 - ") + Quoted(w);
  }
  return {{"warning", value}};
}

}  // namespace

namespace {

constexpr char kCrdPath[] = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";

// A registered kind as a Kubernetes CustomResourceDefinition: its names, scope and schema.
Json CrdFor(const ResourceType& t) {
  std::string singular = t.kind;
  std::transform(singular.begin(), singular.end(), singular.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  Json schema = t.schema ? t.schema->openapi()
                         : Json{{"type", "object"}, {"x-kubernetes-preserve-unknown-fields", true}};
  // The columns that show a field as it is, and the age every object has.
  Json columns = Json::array();
  for (const PrinterColumn& c : t.columns) {
    if (c.json_path.empty()) continue;
    columns.push_back(
        {{"name", ColumnTitle(c.name)}, {"type", "string"}, {"jsonPath", c.json_path}});
  }
  columns.push_back(
      {{"name", "Age"}, {"type", "date"}, {"jsonPath", ".metadata.creationTimestamp"}});
  return {{"apiVersion", "apiextensions.k8s.io/v1"},
          {"kind", "CustomResourceDefinition"},
          {"metadata", {{"name", t.StoreType()}}},
          {"spec",
           {{"group", t.group},
            {"names",
             {{"kind", t.kind},
              {"listKind", t.kind + "List"},
              {"plural", t.plural},
              {"singular", singular},
              {"shortNames", t.short_names}}},
            {"scope", t.namespaced ? "Namespaced" : "Cluster"},
            {"versions", Json::array({{{"name", t.version},
                                       {"served", true},
                                       {"storage", true},
                                       {"schema", {{"openAPIV3Schema", schema}}},
                                       {"additionalPrinterColumns", std::move(columns)},
                                       {"subresources", {{"status", Json::object()}}}}})}}}};
}

}  // namespace

void ResourceApi::AddRoutes(Router& router) {
  AddDiscoveryRoutes(router, types_);
  AddOpenApiRoutes(router, types_);
  AddAccessReviewRoutes(router, types_, authz_);
  AddNamespaceRoutes(router, store_, authz_);
  router.Add("POST", "/apis/skiff.dev/v1/tokens:mint",
             [this](const HttpRequest& req, HttpResponder& r) { MintToken(req, r); });
  // Every registered kind's schema, read-only, to any signed-in user (it reveals no object).
  router.Add("GET", kCrdPath, [this](const HttpRequest&, HttpResponder& r) {
    Json items = Json::array();
    for (const ResourceType& t : types_.All()) items.push_back(CrdFor(t));
    r.SendJson(200, {{"apiVersion", "apiextensions.k8s.io/v1"},
                     {"kind", "CustomResourceDefinitionList"},
                     {"metadata", Json::object()},
                     {"items", std::move(items)}});
  });
  router.Add("GET", std::string(kCrdPath) + "/{name}",
             [this](const HttpRequest& req, HttpResponder& r) {
               for (const ResourceType& t : types_.All()) {
                 if (t.StoreType() == req.Param("name")) return r.SendJson(200, CrdFor(t));
               }
               SendStatusError(r, NotFound("customresourcedefinitions.apiextensions.k8s.io " +
                                           Quote(req.Param("name")) + " not found"));
             });
  for (bool core : {false, true}) {
    std::string ns_base = core ? "/api/{version}/namespaces/{namespace}/{plural}"
                               : "/apis/{group}/{version}/namespaces/{namespace}/{plural}";
    std::string cluster_base =
        core ? "/api/{version}/{plural}" : "/apis/{group}/{version}/{plural}";
    for (bool cluster : {false, true}) {
      const std::string& base = cluster ? cluster_base : ns_base;
      for (const char* m : {"GET", "POST", "DELETE"}) {
        router.Add(m, base, Bind(Op::kCollection, cluster, core));
      }
      for (const char* m : {"GET", "PUT", "PATCH", "DELETE"}) {
        router.Add(m, base + "/{name}", Bind(Op::kObject, cluster, core));
      }
      for (const char* m : {"GET", "PUT", "PATCH"}) {
        router.Add(m, base + "/{name}/status", Bind(Op::kStatus, cluster, core));
      }
    }
  }
}

Handler ResourceApi::Bind(Op op, bool cluster_path, bool core_group) {
  return [this, op, cluster_path, core_group](const HttpRequest& req, HttpResponder& r) {
    Serve(op, cluster_path, core_group, req, r);
  };
}

Result<ResourceApi::Target> ResourceApi::Resolve(const HttpRequest& req, bool cluster_path,
                                                 bool core_group, Op op) {
  Target t;
  std::string group = core_group ? "" : req.Param("group");
  std::string version = req.Param("version");
  std::string plural = req.Param("plural");
  t.type = types_.ByPlural(group, plural);
  std::string where = group.empty() ? "the core group" : "group " + Quote(group);
  if (t.type == nullptr) {
    return NotFound("the server could not find the requested resource: no resource " +
                    Quote(plural) + " in " + where);
  }
  if (t.type->version != version) {
    return NotFound("the server could not find the requested resource: " + Quote(plural) + " in " +
                    where + " is served at version " + Quote(t.type->version) + ", not " +
                    Quote(version));
  }
  t.store_type = t.type->StoreType();
  if (!cluster_path && !t.type->namespaced) {
    return NotFound(Quote(t.store_type) + " is cluster-scoped: use " +
                    (group.empty() ? "/api/" : "/apis/" + group + "/") + version + "/" + plural);
  }
  if (cluster_path && t.type->namespaced && !(op == Op::kCollection && req.method == "GET")) {
    return NotFound(Quote(t.store_type) + " is namespaced: use " +
                    (group.empty() ? "/api/" : "/apis/" + group + "/") + version +
                    "/namespaces/{namespace}/" + plural);
  }
  if (!cluster_path) {
    t.ns = req.Param("namespace");
    RETURN_IF_ERROR(ValidateName(t.ns, "namespace"));
  }
  if (op != Op::kCollection) {
    t.name = req.Param("name");
    RETURN_IF_ERROR(ValidateName(t.name, "metadata.name"));
  }
  t.principal = req.principal;
  ASSIGN_OR_RETURN(t.field_validation, ParseFieldValidation(req.Query("fieldValidation")));
  if (const std::string dry = req.Query("dryRun"); !dry.empty()) {
    if (dry != "All") return InvalidArgument("dryRun: " + Quote(dry) + " is not All");
    t.dry_run = true;
  }
  if (const std::string manager = req.Query("fieldManager"); !manager.empty()) {
    RETURN_IF_ERROR(ValidateFieldManager(manager));
    t.field_manager = manager;
    t.field_manager_named = true;
  } else {
    t.field_manager = DefaultFieldManager(req.Header("user-agent"));
  }
  if (const std::string force = req.Query("force"); !force.empty()) {
    if (force != "true" && force != "false") {
      return InvalidArgument("force: " + Quote(force) + " is not true or false");
    }
    t.force = force == "true";
  }
  return t;
}

void ResourceApi::Serve(Op op, bool cluster_path, bool core_group, const HttpRequest& req,
                        HttpResponder& r) {
  auto target = Resolve(req, cluster_path, core_group, op);
  if (!target.ok()) return SendStatusError(r, target.status());
  const Target& t = *target;

  Verb verb;
  const std::string& m = req.method;
  bool watch = false;
  if (m == "GET" && op == Op::kCollection) {
    watch = QueryFlagIsTrue(req.Query("watch"));
    verb = watch ? Verb::kWatch : Verb::kList;
  } else if (m == "GET") {
    verb = Verb::kGet;
  } else if (m == "POST") {
    verb = Verb::kCreate;
  } else if (m == "PUT") {
    verb = Verb::kUpdate;
  } else if (m == "PATCH") {
    verb = Verb::kPatch;
  } else {
    verb = Verb::kDelete;
  }

  // The body is parsed before authorizing only so that "create a token for myself" can be
  // recognised; a parse error is reported after the permission check.
  Result<Json> body = InvalidArgument("request body: none");
  bool has_body = verb == Verb::kCreate || verb == Verb::kUpdate;
  if (has_body) body = ParseRequestBody(req);

  AccessRequest access;
  access.store_type = t.store_type;
  access.namespace_ = t.ns;
  access.verb = verb;
  access.name = t.name;
  access.object = has_body && body.ok() ? &body.value() : nullptr;
  access.cluster_scoped = !t.type->namespaced;
  Status allowed = authz_.Check(t.principal, access);
  if (!allowed.ok()) return SendStatusError(r, allowed);
  // What only the platform writes: a status (its kind's controller's: one a user wrote could
  // point at another tenant's workload or artifact) and the objects of a platform-written kind
  // (usage records). Users read them; a cluster admin may write them (an escape hatch, each use
  // logged).
  const bool writes = verb == Verb::kCreate || verb == Verb::kUpdate || verb == Verb::kPatch ||
                      verb == Verb::kDelete;
  std::string why;  // what the caller may not write, when it is the platform's
  if (op == Op::kStatus && (verb == Verb::kUpdate || verb == Verb::kPatch)) {
    why = "may not write the status of " + t.store_type + ": it is written by its controller";
  } else if (t.type->platform_written && writes) {
    why = "may not change " + t.store_type + ": they are written by the platform";
  }
  if (!why.empty()) {
    if (!t.principal.is_admin) {
      return SendStatusError(r, PermissionDenied("user " + Quote(t.principal.user) + " " + why));
    }
    LogWarn("platform's object written by a cluster admin",
            {{"user", t.principal.user},
             {"object", t.store_type + " " + t.ns + "/" + t.name},
             {"what", why}});
  }
  if (has_body && !body.ok()) return SendStatusError(r, body.status());

  Status st;
  switch (verb) {
    case Verb::kList:
      st = List(t, req, r);
      break;
    case Verb::kWatch:
      st = Watch(t, req, r);
      break;
    case Verb::kGet:
      st = Get(t, req, r);
      break;
    case Verb::kCreate:
      st = Create(t, std::move(body).value(), r);
      break;
    case Verb::kUpdate:
      st = op == Op::kStatus ? ReplaceStatus(t, std::move(body).value(), r)
                             : Replace(t, std::move(body).value(), r);
      break;
    case Verb::kPatch:
      st = Patch(t, req, op == Op::kStatus, r);
      break;
    case Verb::kDelete:
      st = op == Op::kCollection ? DeleteCollection(t, req, r) : Delete(t, req, r);
      break;
  }
  if (!st.ok()) {
    if (r.status() == 0) SendStatusError(r, st);
  }
}

// --- the URL names the object ---

namespace {

// Fills apiVersion, kind, namespace and name from the URL when the body leaves them out, and
// refuses a body that names another object. The rest of identity is Admit's (core/admission.h).
Status MatchUrl(Json& obj, const ResourceType& type, const std::string& ns,
                const std::string& url_name) {
  for (auto [field, want] : {std::pair<const char*, std::string>{"apiVersion", type.ApiVersion()},
                             std::pair<const char*, std::string>{"kind", type.kind}}) {
    if (!obj.contains(field) || obj[field].is_null()) {
      obj[field] = want;
    } else if (!obj[field].is_string() || obj[field].get<std::string>() != want) {
      return InvalidArgument(std::string(field) + ": " + obj[field].dump() +
                             " does not match the URL (want " + Quote(want) + ")");
    }
  }
  if (obj.contains("metadata") && !obj["metadata"].is_object()) {
    return InvalidArgument("metadata: must be an object");
  }
  Json& meta = Metadata(obj);
  auto text = [&meta](const char* field) {
    return meta.value(field, Json("")).is_string() ? meta.value(field, std::string())
                                                   : std::string();
  };
  if (type.namespaced) {
    std::string body_ns = text("namespace");
    if (meta.contains("namespace") && !meta["namespace"].is_null() &&
        !meta["namespace"].is_string()) {
      return InvalidArgument("metadata.namespace: must be a string");
    }
    if (body_ns.empty()) {
      meta["namespace"] = ns;
    } else if (body_ns != ns) {
      return InvalidArgument("metadata.namespace: " + Quote(body_ns) +
                             " does not match the namespace in the URL " + Quote(ns));
    }
  }
  if (!url_name.empty()) {
    if (meta.contains("name") && !meta["name"].is_null() && !meta["name"].is_string()) {
      return InvalidArgument("metadata.name: must be a string");
    }
    std::string body_name = text("name");
    if (body_name.empty()) {
      meta["name"] = url_name;
    } else if (body_name != url_name) {
      return InvalidArgument("metadata.name: " + Quote(body_name) +
                             " does not match the name in the URL " + Quote(url_name));
    }
  }
  return Status::Ok();
}

}  // namespace

// --- verbs ---

Status ResourceApi::List(const Target& t, const HttpRequest& req, HttpResponder& r) {
  ListOptions options;
  options.label_selector = req.Query("labelSelector");
  if (!options.label_selector.empty()) {
    auto selector = LabelSelector::Parse(options.label_selector);
    if (!selector.ok()) return selector.status().WithContext("labelSelector");
  }
  std::string limit = req.Query("limit");
  if (!limit.empty() && (!ParseInt64(limit, &options.limit) || options.limit < 0)) {
    return InvalidArgument("limit: " + Quote(limit) + " is not a non-negative integer");
  }
  options.continue_token = req.Query("continue");
  // Field selectors filter the page the store returns: a page may hold fewer than `limit` items
  // and still have a continue token, which clients follow.
  ASSIGN_OR_RETURN(FieldSelector fields,
                   FieldSelector::Parse(req.Query("fieldSelector"), t.type->field_selectors));
  ASSIGN_OR_RETURN(ListResult list, store_.List(t.store_type, t.ns, options));
  std::vector<Json> selected;
  for (auto& item : list.items) {
    if (fields.Matches(item)) selected.push_back(std::move(item));
  }
  if (WantsTable(req)) {
    r.SendJson(200, ToTable(*t.type, selected, clock_.Now(),
                            {{"resourceVersion", std::to_string(list.resource_version)},
                             {"continue", list.continue_token}}));
    return Status::Ok();
  }
  r.SendJson(200, {{"apiVersion", t.type->ApiVersion()},
                   {"kind", t.type->kind + "List"},
                   {"metadata",
                    {{"resourceVersion", std::to_string(list.resource_version)},
                     {"continue", list.continue_token}}},
                   {"items", Json(std::move(selected))}});
  return Status::Ok();
}

Status ResourceApi::Watch(const Target& t, const HttpRequest& req, HttpResponder& r) {
  std::optional<LabelSelector> selector;
  std::string sel = req.Query("labelSelector");
  if (!sel.empty()) {
    auto parsed = LabelSelector::Parse(sel);
    if (!parsed.ok()) return parsed.status().WithContext("labelSelector");
    selector = std::move(parsed).value();
  }
  ASSIGN_OR_RETURN(FieldSelector fields,
                   FieldSelector::Parse(req.Query("fieldSelector"), t.type->field_selectors));
  int64_t after = 0;
  std::string rv = req.Query("resourceVersion");
  if (!rv.empty() && (!ParseInt64(rv, &after) || after < 0)) {
    return InvalidArgument("resourceVersion: " + Quote(rv) + " is not a non-negative integer");
  }
  std::optional<std::chrono::steady_clock::time_point> deadline;
  std::string timeout = req.Query("timeoutSeconds");
  if (!timeout.empty()) {
    int64_t seconds = 0;
    if (!ParseInt64(timeout, &seconds) || seconds < 0) {
      return InvalidArgument("timeoutSeconds: " + Quote(timeout) +
                             " is not a non-negative integer");
    }
    // Past a year is as good as none, and adding more could overflow the clock's count.
    constexpr int64_t kMaxWatchSeconds = 365LL * 24 * 3600;
    deadline = std::chrono::steady_clock::now() +
               std::chrono::seconds(std::min(seconds, kMaxWatchSeconds));
  }
  // Bookmarks (allowWatchBookmarks): an event carrying only the version reached, so that a
  // client resumes from there instead of from its last change. The streaming list
  // (sendInitialEvents=true) ends its initial events with one, annotated, as the API server does.
  const bool bookmarks = QueryFlagIsTrue(req.Query("allowWatchBookmarks"));
  // Without a version the watch starts with the current objects, as Kubernetes does;
  // sendInitialEvents says so either way.
  bool send_initial = after == 0;
  if (req.query.count("sendInitialEvents") != 0) {
    send_initial = QueryFlagIsTrue(req.Query("sendInitialEvents"));
    if (req.Query("resourceVersionMatch") != "NotOlderThan") {
      return InvalidArgument(
          "resourceVersionMatch: must be \"NotOlderThan\" when sendInitialEvents is set");
    }
    if (send_initial && !bookmarks) {
      return InvalidArgument("allowWatchBookmarks: must be true when sendInitialEvents is true");
    }
  } else if (!req.Query("resourceVersionMatch").empty()) {
    return InvalidArgument(
        "resourceVersionMatch: is forbidden for a watch unless "
        "sendInitialEvents is set");
  }
  // A client that prints (kubectl get -w) gets each object as a Table of one row, the column
  // definitions with the first.
  const bool table = WantsTable(req);
  bool defined = false;
  auto event_line = [&](const char* type, const Json& object) {
    Json shown = object;
    if (table && std::string(type) != "BOOKMARK" && std::string(type) != "ERROR") {
      shown =
          ToTable(*t.type, {object}, clock_.Now(),
                  {{"resourceVersion", TextAt(object, {"metadata", "resourceVersion"})}}, !defined);
      defined = true;
    }
    return Json{{"type", type}, {"object", shown}}.dump(-1, ' ', false,
                                                        Json::error_handler_t::replace) +
           "\n";
  };
  auto bookmark = [&t, &event_line](int64_t version, bool initial_events_end) {
    Json meta = {{"resourceVersion", std::to_string(version)}};
    if (initial_events_end) meta["annotations"] = {{"k8s.io/initial-events-end", "true"}};
    return event_line(
        "BOOKMARK",
        {{"apiVersion", t.type->ApiVersion()}, {"kind", t.type->kind}, {"metadata", meta}});
  };
  auto selected = [&selector, &fields](const Json& obj) {
    return (!selector || selector->Matches(MetaLabels(obj))) && fields.Matches(obj);
  };
  // The slot first: a refused watch costs no list.
  PerUserSlots::Slot slot = watches_.Acquire(t.principal.user);
  if (!slot) {
    SendRefusal(r, 429, "TooManyRequests",
                "too many open watches: user " + Quote(t.principal.user) +
                    " or the server is at its limit; close one, or retry later",
                {{"retry-after", "5"}});
    return Status::Ok();
  }
  std::vector<Json> initial;
  if (send_initial) {
    ListOptions options;
    options.label_selector = sel;
    ASSIGN_OR_RETURN(ListResult list, store_.List(t.store_type, t.ns, options));
    after = std::max(after, list.resource_version);
    initial = std::move(list.items);
  } else if (after == 0) {
    after = store_.CurrentVersion();
  }
  if (!r.StartStream(200, {{"content-type", "application/json"}})) return Status::Ok();
  for (const Json& obj : initial) {
    if (selected(obj) && !r.Write(event_line("ADDED", obj))) return Status::Ok();
  }
  if (send_initial && bookmarks && !r.Write(bookmark(after, true))) return Status::Ok();
  auto last_sent = std::chrono::steady_clock::now();
  ChangeFilter filter{t.store_type, t.ns};
  constexpr size_t kBatch = 256;
  while (!r.Cancelled()) {
    const auto now = std::chrono::steady_clock::now();
    if (deadline && now >= *deadline) break;
    if (bookmarks && now - last_sent >= bookmark_interval_) {
      if (!r.Write(bookmark(after, false))) return Status::Ok();
      last_sent = now;
    }
    int64_t current = store_.CurrentVersion();
    auto events = store_.ReadChanges(filter, after, kBatch);
    if (!events.ok()) {
      r.Write(event_line("ERROR", StatusJson(events.status())));
      break;
    }
    for (const WatchEvent& ev : *events) {
      after = ev.resource_version;
      if (!selected(ev.object)) continue;
      if (!r.Write(event_line(WatchEventTypeName(ev.type), ev.object))) return Status::Ok();
      last_sent = std::chrono::steady_clock::now();
    }
    if (events->size() == kBatch) continue;
    after = std::max(after, current);
    store_.WaitForChange(after, watch_poll_);
  }
  r.End();
  return Status::Ok();
}

Status ResourceApi::Get(const Target& t, const HttpRequest& req, HttpResponder& r) {
  ASSIGN_OR_RETURN(Json obj, store_.Get(t.store_type, t.ns, t.name));
  if (WantsTable(req)) {
    const Json meta = {{"resourceVersion", TextAt(obj, {"metadata", "resourceVersion"})}};
    r.SendJson(200, ToTable(*t.type, {obj}, clock_.Now(), meta));
    return Status::Ok();
  }
  r.SendJson(200, obj);
  return Status::Ok();
}

Status ResourceApi::Create(const Target& t, Json obj, HttpResponder& r) {
  RETURN_IF_ERROR(MatchUrl(obj, *t.type, t.ns, ""));
  const bool generated = !obj["metadata"].contains("name") || obj["metadata"]["name"] == Json("") ||
                         obj["metadata"]["name"].is_null();
  std::vector<std::string> warnings;
  Admission how{.op = WriteOp::kCreate, .field_validation = t.field_validation};
  RETURN_IF_ERROR(Admit(*t.type, how, obj, &warnings));
  RecordUpdate(nullptr, obj, ManagerOf(t, false), SchemaOf(*t.type));
  if (t.dry_run) {
    r.SendJson(201, obj, WarningHeaders(warnings));
    return Status::Ok();
  }
  Result<Json> created = store_.Create(t.store_type, obj);
  // A generated name that is taken: another suffix (five tries, as the API server does).
  for (int attempt = 1;
       generated && attempt < 5 && created.status().code() == StatusCode::kAlreadyExists;
       ++attempt) {
    obj["metadata"]["name"] = GenerateName(obj["metadata"].value("generateName", ""));
    created = store_.Create(t.store_type, obj);
  }
  if (!created.ok()) return created.status();
  AfterWrite(t, *created);
  r.SendJson(201, *created, WarningHeaders(warnings));
  return Status::Ok();
}

Status ResourceApi::Replace(const Target& t, Json obj, HttpResponder& r) {
  RETURN_IF_ERROR(MatchUrl(obj, *t.type, t.ns, t.name));
  ASSIGN_OR_RETURN(Json existing, store_.Get(t.store_type, t.ns, t.name));
  std::vector<std::string> warnings;
  Admission how{
      .op = WriteOp::kUpdate, .stored = &existing, .field_validation = t.field_validation};
  RETURN_IF_ERROR(Admit(*t.type, how, obj, &warnings));
  RecordUpdate(&existing, obj, ManagerOf(t, false), SchemaOf(*t.type));
  if (t.dry_run) {
    r.SendJson(200, obj, WarningHeaders(warnings));
    return Status::Ok();
  }
  ASSIGN_OR_RETURN(Json updated, store_.Update(t.store_type, std::move(obj)));
  AfterWrite(t, updated);
  ASSIGN_OR_RETURN(updated, FinishIfFinalized(t, std::move(updated)));
  r.SendJson(200, updated, WarningHeaders(warnings));
  return Status::Ok();
}

Status ResourceApi::ReplaceStatus(const Target& t, Json obj, HttpResponder& r) {
  RETURN_IF_ERROR(MatchUrl(obj, *t.type, t.ns, t.name));
  ASSIGN_OR_RETURN(Json existing, store_.Get(t.store_type, t.ns, t.name));
  std::vector<std::string> warnings;
  Admission how{
      .op = WriteOp::kUpdateStatus, .stored = &existing, .field_validation = t.field_validation};
  RETURN_IF_ERROR(Admit(*t.type, how, obj, &warnings));
  RecordUpdate(&existing, obj, ManagerOf(t, true), SchemaOf(*t.type));
  if (t.dry_run) {
    r.SendJson(200, obj, WarningHeaders(warnings));
    return Status::Ok();
  }
  ASSIGN_OR_RETURN(Json updated, store_.Update(t.store_type, std::move(obj)));
  r.SendJson(200, updated, WarningHeaders(warnings));
  return Status::Ok();
}

Status ResourceApi::Patch(const Target& t, const HttpRequest& req, bool status_only,
                          HttpResponder& r) {
  // Merge patch (RFC 7386) for every kind, JSON patch (RFC 6902) for every kind, strategic
  // merge patch for Kubernetes' own kinds (ResourceType::strategic_merge_patch), as the API
  // server has them; a patch type a kind has no strategy for is refused (415), never applied as
  // another (a strategic merge patch's $patch directives would be stored as data).
  const std::string type = ContentType(req);
  const std::vector<std::string> accepted = PatchTypesOf(*t.type);
  if (std::find(accepted.begin(), accepted.end(), type) == accepted.end()) {
    std::string list;
    for (const std::string& a : accepted) list += (list.empty() ? "" : ", ") + a;
    SendRefusal(r, 415, "UnsupportedMediaType",
                "the patch type " + Quote(type) + " is not supported for " + t.store_type +
                    ": accepted media types are " + list);
    return Status::Ok();
  }
  if (type == "application/apply-patch+yaml") return Apply(t, req, status_only, r);
  if (t.force.has_value()) {
    return InvalidArgument("force: may not be specified for non-apply patch");
  }
  Json patch;
  const bool json_patch = type == "application/json-patch+json";
  if (json_patch) {
    ASSIGN_OR_RETURN(patch, ParseJson(req.body, "request body"));
    if (!patch.is_array()) return InvalidArgument("request body: a JSON patch is a list");
  } else {
    ASSIGN_OR_RETURN(patch, ParseRequestBody(req));
  }
  bool pinned = !json_patch && patch.contains("metadata") && patch["metadata"].is_object() &&
                patch["metadata"].contains("resourceVersion");
  for (int attempt = 0; attempt < 5; ++attempt) {
    ASSIGN_OR_RETURN(Json existing, store_.Get(t.store_type, t.ns, t.name));
    Json obj = existing;
    if (json_patch) {
      RETURN_IF_ERROR(ApplyJsonPatch(obj, patch));
    } else if (type == "application/strategic-merge-patch+json") {
      RETURN_IF_ERROR(StrategicMergePatch(obj, patch, SchemaOf(*t.type)));
    } else {
      MergePatch(obj, patch);
    }
    if (!obj.is_object()) return InvalidArgument("request body: the patch must be an object");
    if (MetaName(obj) != t.name || MetaNamespace(obj) != t.ns) {
      return InvalidArgument("metadata.name: a patch may not change the name or namespace");
    }
    RETURN_IF_ERROR(MatchUrl(obj, *t.type, t.ns, t.name));
    std::vector<std::string> warnings;
    Admission how{.op = status_only ? WriteOp::kUpdateStatus : WriteOp::kUpdate,
                  .stored = &existing,
                  .field_validation = t.field_validation};
    RETURN_IF_ERROR(Admit(*t.type, how, obj, &warnings));
    RecordUpdate(&existing, obj, ManagerOf(t, status_only), SchemaOf(*t.type));
    if (t.dry_run || obj == existing) {  // a patch that changes nothing writes nothing
      r.SendJson(200, obj, WarningHeaders(warnings));
      return Status::Ok();
    }
    auto updated = store_.Update(t.store_type, obj);
    if (updated.ok()) {
      AfterWrite(t, *updated);
      ASSIGN_OR_RETURN(Json finished, FinishIfFinalized(t, std::move(updated).value()));
      r.SendJson(200, finished, WarningHeaders(warnings));
      return Status::Ok();
    }
    // Someone wrote in between: the patch did not name a version, so apply it again.
    if (updated.status().code() != StatusCode::kConflict || pinned) return updated.status();
  }
  return Conflict("the object kept changing while the patch was applied; try again");
}

// Server-side apply (core/managed_fields.h): the body is the manager's whole intent for the
// object; creates it when it is not there (which the caller must be allowed to do).
Status ResourceApi::Apply(const Target& t, const HttpRequest& req, bool status_only,
                          HttpResponder& r) {
  if (!t.field_manager_named) {
    return InvalidArgument("fieldManager: Required value: is required for apply patch");
  }
  ASSIGN_OR_RETURN(Json config, ParseRequestBody(req));
  RETURN_IF_ERROR(MatchUrl(config, *t.type, t.ns, t.name));
  const FieldManager manager = ManagerOf(t, status_only);
  for (int attempt = 0; attempt < 5; ++attempt) {
    Result<Json> existing = store_.Get(t.store_type, t.ns, t.name);
    if (!existing.ok() && (existing.status().code() != StatusCode::kNotFound || status_only)) {
      return existing.status();
    }
    const Json* live = existing.ok() ? &existing.value() : nullptr;
    if (live == nullptr) {
      AccessRequest access{.store_type = t.store_type,
                           .namespace_ = t.ns,
                           .verb = Verb::kCreate,
                           .name = t.name,
                           .object = &config,
                           .cluster_scoped = !t.type->namespaced};
      RETURN_IF_ERROR(authz_.Check(t.principal, access));
    }
    ASSIGN_OR_RETURN(Json obj, ServerSideApply(live, config, manager, t.force.value_or(false),
                                               SchemaOf(*t.type)));
    std::vector<std::string> warnings;
    Admission how{.op = live == nullptr ? WriteOp::kCreate
                        : status_only   ? WriteOp::kUpdateStatus
                                        : WriteOp::kUpdate,
                  .stored = live,
                  .field_validation = t.field_validation};
    RETURN_IF_ERROR(Admit(*t.type, how, obj, &warnings));
    const int code = live == nullptr ? 201 : 200;
    if (t.dry_run || (live != nullptr && obj == *live)) {  // the same apply again writes nothing
      r.SendJson(code, obj, WarningHeaders(warnings));
      return Status::Ok();
    }
    Result<Json> written =
        live == nullptr ? store_.Create(t.store_type, obj) : store_.Update(t.store_type, obj);
    if (written.ok()) {
      AfterWrite(t, *written);
      ASSIGN_OR_RETURN(Json finished, FinishIfFinalized(t, std::move(written).value()));
      r.SendJson(code, finished, WarningHeaders(warnings));
      return Status::Ok();
    }
    // Someone wrote (or created it) in between: apply again to what is there now.
    const StatusCode raced = live == nullptr ? StatusCode::kAlreadyExists : StatusCode::kConflict;
    if (written.status().code() != raced) return written.status();
  }
  return Conflict("the object kept changing while the configuration was applied; try again");
}

FieldManager ResourceApi::ManagerOf(const Target& t, bool status) const {
  return {.manager = t.field_manager,
          .api_version = t.type->ApiVersion(),
          .subresource = status ? "status" : "",
          .time = FormatRfc3339(clock_.Now())};
}

// An object with finalizers is not deleted at once: it is marked (metadata.deletionTimestamp,
// answered 202 as the API server does) and stays until its finalizers are removed, by whoever
// put them there; the update that removes the last one deletes it (FinishIfFinalized).
Status ResourceApi::Delete(const Target& t, const HttpRequest& req, HttpResponder& r) {
  ASSIGN_OR_RETURN(DeleteOptions options, ReadDeleteOptions(req));
  for (int attempt = 0; attempt < 5; ++attempt) {
    ASSIGN_OR_RETURN(Json existing, store_.Get(t.store_type, t.ns, t.name));
    if (!options.uid.empty() && options.uid != MetaUid(existing)) {
      return Conflict("Precondition failed: UID in precondition: " + options.uid +
                      ", UID in object meta: " + MetaUid(existing));
    }
    if (t.dry_run || options.dry_run) {
      r.SendJson(HasFinalizers(existing) ? 202 : 200, existing);
      return Status::Ok();
    }
    bool marked = false;
    Result<Json> gone = DeleteOrMark(t, existing, options.version, options.propagation, &marked);
    if (!gone.ok() && gone.status().code() == StatusCode::kConflict && options.version == 0) {
      continue;  // written in between: look again (the caller named no version)
    }
    if (!gone.ok()) return gone.status();
    if (!marked) {
      if (t.store_type == kApiTokenType) authn_.Invalidate(t.name);
      if (t.store_type == kUserType) authn_.InvalidateUser(t.name);
    }
    r.SendJson(marked ? 202 : 200, *gone);
    return Status::Ok();
  }
  return Conflict("the object kept changing while it was deleted; try again");
}

Result<Json> ResourceApi::DeleteOrMark(const Target& t, const Json& existing, int64_t expected,
                                       const std::string& propagation, bool* marked) {
  // Orphan and Foreground are finalizers the garbage collector acts on (gc/); a policy given
  // again for an object being deleted replaces the one before, as the API server does.
  Json marking = existing;
  Json& finalizers = marking["metadata"]["finalizers"];
  if (!finalizers.is_array()) finalizers = Json::array();
  if (!propagation.empty()) {
    const Json orphan(kOrphanFinalizer), foreground(kForegroundFinalizer);
    finalizers.erase(std::remove_if(finalizers.begin(), finalizers.end(),
                                    [&](const Json& f) { return f == orphan || f == foreground; }),
                     finalizers.end());
    if (propagation == "Orphan") finalizers.push_back(orphan);
    if (propagation == "Foreground") finalizers.push_back(foreground);
  }
  if (finalizers.empty()) marking["metadata"].erase("finalizers");
  *marked = HasFinalizers(marking);
  if (!*marked) {
    return store_.Delete(t.store_type, MetaNamespace(existing), MetaName(existing),
                         expected > 0 ? expected : MetaResourceVersion(existing));
  }
  if (BeingDeleted(existing) && marking == existing) {
    if (expected > 0 && expected != MetaResourceVersion(existing)) {
      return Conflict("the object's resourceVersion is not " + std::to_string(expected));
    }
    return existing;  // already waiting on its finalizers
  }
  if (!BeingDeleted(existing)) {
    marking["metadata"]["deletionTimestamp"] = FormatRfc3339(clock_.Now());
    marking["metadata"]["deletionGracePeriodSeconds"] = 0;
  }
  if (expected > 0) marking["metadata"]["resourceVersion"] = std::to_string(expected);
  return store_.Update(t.store_type, std::move(marking));
}

Result<Json> ResourceApi::FinishIfFinalized(const Target& t, Json updated) {
  if (!BeingDeleted(updated) || HasFinalizers(updated)) return updated;
  Result<Json> deleted = store_.Delete(t.store_type, MetaNamespace(updated), MetaName(updated),
                                       MetaResourceVersion(updated));
  // Written again meanwhile (the next write finishes it), or deleted by another: no error.
  if (!deleted.ok() && deleted.status().code() != StatusCode::kConflict &&
      deleted.status().code() != StatusCode::kNotFound) {
    return deleted.status();
  }
  return updated;
}

// deletecollection: every object of the collection (its labelSelector's, when given) deleted,
// one at a time (or marked, when it has finalizers); answers the list of them, as the API server
// does. An object deleted meanwhile by someone else is skipped.
Status ResourceApi::DeleteCollection(const Target& t, const HttpRequest& req, HttpResponder& r) {
  ListOptions options;
  options.label_selector = req.Query("labelSelector");
  if (!options.label_selector.empty()) {
    RETURN_IF_ERROR(
        LabelSelector::Parse(options.label_selector).status().WithContext("labelSelector"));
  }
  ASSIGN_OR_RETURN(DeleteOptions delete_options, ReadDeleteOptions(req));
  const bool dry_run = t.dry_run || delete_options.dry_run;
  ASSIGN_OR_RETURN(ListResult list, store_.List(t.store_type, t.ns, options));
  Json deleted = Json::array();
  for (Json& item : list.items) {
    if (dry_run) {
      deleted.push_back(std::move(item));
      continue;
    }
    bool marked = false;
    Result<Json> gone = DeleteOrMark(t, item, 0, delete_options.propagation, &marked);
    if (!gone.ok() && (gone.status().code() == StatusCode::kNotFound ||
                       gone.status().code() == StatusCode::kConflict)) {
      continue;  // deleted or changed meanwhile: the caller lists again
    }
    if (!gone.ok()) return gone.status();
    if (!marked && t.store_type == kApiTokenType) authn_.Invalidate(MetaName(item));
    if (!marked && t.store_type == kUserType) authn_.InvalidateUser(MetaName(item));
    deleted.push_back(std::move(gone).value());
  }
  r.SendJson(200, {{"apiVersion", t.type->ApiVersion()},
                   {"kind", t.type->kind + "List"},
                   {"metadata", {{"resourceVersion", std::to_string(store_.CurrentVersion())}}},
                   {"items", std::move(deleted)}});
  return Status::Ok();
}

void ResourceApi::AfterWrite(const Target& t, const Json& obj) {
  // A user's admin flag may have changed: verify their tokens afresh.
  if (t.store_type == kUserType) authn_.InvalidateUser(MetaName(obj));
}

void ResourceApi::MintToken(const HttpRequest& req, HttpResponder& r) {
  Json body = Json::object();
  if (req.body.find_first_not_of(" \t\r\n") != std::string::npos) {
    auto parsed = ParseRequestBody(req);
    if (!parsed.ok()) return SendStatusError(r, parsed.status());
    body = std::move(parsed).value();
  }
  if (body.contains("user") && !body["user"].is_string()) {
    return SendStatusError(r, InvalidArgument("user: must be a string"));
  }
  std::string user = body.value("user", req.principal.user);
  if (user.empty()) user = req.principal.user;
  std::optional<TimePoint> expires;
  if (body.contains("expires")) {
    TimePoint when;
    if (!body["expires"].is_string() || !ParseRfc3339(body["expires"].get<std::string>(), &when)) {
      return SendStatusError(r, InvalidArgument("expires: must be an RFC 3339 time"));
    }
    expires = when;
  }
  Json object = {{"spec", {{"user", user}}}};
  AccessRequest access;
  access.store_type = kApiTokenType;
  access.verb = Verb::kCreate;
  access.object = &object;
  access.cluster_scoped = true;
  Status allowed = authz_.Check(req.principal, access);
  if (!allowed.ok()) return SendStatusError(r, allowed);
  auto minted = skiff::MintToken(store_, clock_, user, expires);
  if (!minted.ok()) return SendStatusError(r, minted.status());
  r.SendJson(201, {{"apiVersion", "skiff.dev/v1"},
                   {"kind", "ApiToken"},
                   {"id", minted->id},
                   {"user", user},
                   {"token", minted->token}});
}

}  // namespace skiff
