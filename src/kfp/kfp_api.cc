#include "kfp/kfp_api.h"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/admission.h"
#include "core/ids.h"
#include "core/log.h"
#include "core/resource.h"
#include "kfp/kfp_list.h"
#include "kfp/kfp_openapi_json.h"
#include "pipelines/artifact_paths.h"
#include "pipelines/ir.h"
#include "pipelines/recurring_run_controller.h"
#include "pipelines/run_controller.h"
#include "pipelines/run_retry.h"

namespace skiff {
namespace {

using pipelines::kPipelineRunType;
using pipelines::kRecurringRunType;

constexpr char kApiVersion[] = "pipelines.kubeflow.org/v2beta1";
constexpr char kEpoch[] = "1970-01-01T00:00:00Z";
// The task details a run answer holds at most by default (a run may have far more tasks: its
// loops' iterations), and at most when asked for a page.
constexpr size_t kTaskDetailsPageSize = 1'000;
constexpr int64_t kMaxTaskDetailsPageSize = 10'000;

// Reads a string field under its proto JSON names (snake_case or lowerCamelCase).
std::string Str(const Json& body, const char* snake, const char* camel = nullptr) {
  for (const char* k : {snake, camel}) {
    if (k != nullptr && body.is_object() && body.contains(k) && body[k].is_string()) {
      return body[k].get<std::string>();
    }
  }
  return "";
}

const Json* Obj(const Json& body, const char* snake, const char* camel) {
  for (const char* k : {snake, camel}) {
    if (body.is_object() && body.contains(k) && body[k].is_object()) return &body[k];
  }
  return nullptr;
}

Result<Json> ParseBody(const HttpRequest& req) {
  if (req.body.empty()) return Json::object();
  ASSIGN_OR_RETURN(Json body, ParseJson(req.body, "request body"));
  if (!body.is_object()) return InvalidArgument("request body: must be a JSON object");
  return body;
}

// obj[key] when obj is an object with an object there, else an empty object; no copies.
const Json& ObjectAt(const Json& obj, const char* key) {
  static const Json kEmpty = Json::object();
  if (!obj.is_object()) return kEmpty;
  auto it = obj.find(key);
  return it != obj.end() && it->is_object() ? *it : kEmpty;
}

// obj[key] when obj is an object with a value of that type there, else `fallback`. Stored objects
// are read through these: one written before a schema existed (no spec, a number where a string
// belongs) is shown with defaults instead of failing every list of its namespace.
std::string StrOr(const Json& obj, const char* key, const std::string& fallback) {
  if (!obj.is_object()) return fallback;
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : fallback;
}

bool BoolOr(const Json& obj, const char* key, bool fallback) {
  if (!obj.is_object()) return fallback;
  auto it = obj.find(key);
  return it != obj.end() && it->is_boolean() ? it->get<bool>() : fallback;
}

int64_t IntOr(const Json& obj, const char* key, int64_t fallback) {
  if (!obj.is_object()) return fallback;
  auto it = obj.find(key);
  if (it == obj.end()) return fallback;
  if (it->is_number_unsigned()) {
    return it->get<uint64_t>() <= static_cast<uint64_t>(INT64_MAX) ? it->get<int64_t>() : fallback;
  }
  return it->is_number_integer() ? it->get<int64_t>() : fallback;
}

// A proto3 JSON int64: a JSON integer or a decimal string ("3600"), as protobuf's JSON mapping
// writes and accepts them. InvalidArgument naming `field` for anything else or out of range.
Result<int64_t> ProtoInt64(const Json& v, const std::string& field) {
  if (v.is_number_unsigned()) {
    if (v.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
      return InvalidArgument(field + ": out of the int64 range: " + v.dump());
    }
    return v.get<int64_t>();
  }
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_string()) {
    const std::string& text = v.get_ref<const std::string&>();
    int64_t out = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    if (!text.empty() && ec == std::errc() && end == text.data() + text.size()) return out;
  }
  return InvalidArgument(field + ": not an integer: " + v.dump());
}

std::string CreatedAt(const Json& obj) {
  return StrOr(ObjectAt(obj, "metadata"), "creationTimestamp", kEpoch);
}

Json NewObject(const char* kind, const std::string& ns, const std::string& name) {
  return {{"apiVersion", kApiVersion},
          {"kind", kind},
          {"metadata", {{"name", name}, {"namespace", ns}}},
          {"spec", Json::object()}};
}

// "<id>:<action>" -> (id, action); action "" when there is none.
std::pair<std::string, std::string> SplitAction(const std::string& param) {
  size_t colon = param.rfind(':');
  if (colon == std::string::npos) return {param, ""};
  return {param.substr(0, colon), param.substr(colon + 1)};
}

// The IR documents in an uploaded or inline spec: [pipeline spec, platform spec?]. Accepts the
// client's {"pipeline_spec": ..., "platform_spec": ...} wrapper.
Result<std::vector<Json>> SpecDocuments(const Json& spec, const std::string& source) {
  std::vector<Json> docs;
  if (!spec.is_object() || spec.empty()) {
    return InvalidArgument(source + ": pipeline_spec must be a non-empty object");
  }
  if (spec.contains("pipeline_spec") && spec["pipeline_spec"].is_object()) {
    docs.push_back(spec["pipeline_spec"]);
    if (spec.contains("platform_spec") && spec["platform_spec"].is_object()) {
      docs.push_back(spec["platform_spec"]);
    }
  } else {
    docs.push_back(spec);
  }
  auto parsed = pipelines::PipelineSpecFromDocuments(docs, source);
  if (!parsed.ok()) return InvalidArgument(parsed.status().message());
  return docs;
}

std::string MapTaskState(const std::string& s) {
  if (s == "CACHED") return "SKIPPED";
  if (s.empty()) return "PENDING";
  return s;
}

// obj[key], or null when obj is no object or has no such key; no copies.
const Json& FieldOf(const Json& obj, const char* key) {
  static const Json kNull;
  if (!obj.is_object()) return kNull;
  auto it = obj.find(key);
  return it != obj.end() ? *it : kNull;
}

Json ArtifactIds(const Json& artifacts) {
  Json out = Json::object();
  if (!artifacts.is_object()) return out;
  for (auto it = artifacts.begin(); it != artifacts.end(); ++it) {
    Json ids = Json::array();
    const Json list = it->is_array() ? *it : Json::array({*it});
    for (const Json& a : list) {
      if (a.is_object()) ids.push_back(StrOr(a, "uri", StrOr(a, "name", "")));
    }
    out[it.key()] = {{"artifact_ids", ids}};
  }
  return out;
}

// Which of a run's task details an answer holds: at most `limit`, in task-path order, after the
// path `after` ("" = from the first).
struct TaskPage {
  std::string after;
  size_t limit = kTaskDetailsPageSize;
};

// One page of a run's task details; `next` (when not null) receives the path the next page
// starts after, "" when this page holds the last task.
Json TaskDetails(const Json& run, const std::string& run_id, const TaskPage& page = {},
                 std::string* next = nullptr) {
  Json details = Json::array();
  if (next != nullptr) next->clear();
  const Json& tasks = ObjectAt(ObjectAt(ObjectAt(run, "status"), "engine"), "tasks");
  if (tasks.empty() || !tasks.is_object()) return details;
  std::map<std::string, std::string> parent_of;
  for (auto it = tasks.begin(); it != tasks.end(); ++it) {
    const Json& children = FieldOf(*it, "children");
    if (!children.is_array()) continue;
    for (const Json& c : children) {
      if (c.is_string()) parent_of[c.get<std::string>()] = it.key();
    }
  }
  auto id_of = [&](const std::string& path) {
    if (auto t = tasks.find(path); t != tasks.end()) {
      const Json& uuid = FieldOf(*t, "uuid");
      if (uuid.is_string() && !uuid.get_ref<const std::string&>().empty()) {
        return uuid.get<std::string>();
      }
    }
    return path;
  };
  const Json::object_t& by_path = tasks.get_ref<const Json::object_t&>();
  for (auto it = page.after.empty() ? by_path.begin() : by_path.upper_bound(page.after);
       it != by_path.end(); ++it) {
    if (details.size() == page.limit) {
      if (next != nullptr) *next = std::prev(it)->first;
      break;
    }
    const Json& t = it->second;
    const std::string& path = it->first;
    Json d = {{"run_id", run_id},
              {"task_id", id_of(path)},
              {"display_name", path == "root" ? std::string("root") : StrOr(t, "name", path)},
              {"create_time", StrOr(t, "start_time", CreatedAt(run))},
              {"start_time", StrOr(t, "start_time", kEpoch)},
              {"end_time", StrOr(t, "finish_time", kEpoch)},
              {"state", MapTaskState(StrOr(t, "state", ""))},
              {"inputs", ArtifactIds(FieldOf(ObjectAt(t, "inputs"), "artifacts"))},
              {"outputs", ArtifactIds(FieldOf(ObjectAt(t, "outputs"), "artifacts"))},
              {"child_tasks", Json::array()},
              {"state_history", Json::array()},
              // Skiff extensions (ignored by kfp_server_api): the task's path and parameters.
              {"task_path", path},
              {"kind", StrOr(t, "kind", "")},
              {"input_parameters", ObjectAt(ObjectAt(t, "inputs"), "parameters")},
              {"output_parameters", ObjectAt(ObjectAt(t, "outputs"), "parameters")}};
    if (auto p = parent_of.find(path); p != parent_of.end()) d["parent_task_id"] = id_of(p->second);
    const Json& children = FieldOf(t, "children");
    for (const Json& c : children.is_array() ? children : Json::array()) {
      if (c.is_string()) {
        d["child_tasks"].push_back(
            {{"task_id", id_of(c.get<std::string>())}, {"pod_name", c.get<std::string>()}});
      }
    }
    const std::string workload = StrOr(t, "workload_id", "");
    if (!workload.empty()) {
      d["pod_name"] = workload;
      d["executor_detail"] = {{"main_job", workload}};
    }
    if (StrOr(t, "state", "") == "FAILED") {
      d["error"] = {{"code", 2}, {"message", StrOr(t, "message", "")}, {"details", Json::array()}};
    }
    details.push_back(std::move(d));
  }
  return details;
}

Json RunSummaryToApi(const Json& run);

}  // namespace

int GrpcCodeFor(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return 0;
    case StatusCode::kInvalidArgument:
    case StatusCode::kInvalid:
      return 3;
    case StatusCode::kDeadlineExceeded:
      return 4;
    case StatusCode::kNotFound:
      return 5;
    case StatusCode::kAlreadyExists:
      return 6;
    case StatusCode::kPermissionDenied:
      return 7;
    case StatusCode::kResourceExhausted:
      return 8;
    case StatusCode::kFailedPrecondition:
    case StatusCode::kExpired:
      return 9;
    case StatusCode::kConflict:
      return 10;
    case StatusCode::kUnimplemented:
      return 12;
    case StatusCode::kInternal:
      return 13;
    case StatusCode::kUnavailable:
      return 14;
    case StatusCode::kUnauthenticated:
      return 16;
  }
  return 2;
}

Json KfpErrorBody(const Status& status) {
  return {{"error", status.message()},
          {"code", GrpcCodeFor(status.code())},
          {"message", status.message()},
          {"details", Json::array()}};
}

Handler KfpHandler(KfpApi& api, KfpApi::Method method) {
  return [&api, method](const HttpRequest& req, HttpResponder& r) {
    Result<Json> out = Status::Ok();
    try {
      out = (api.*method)(req);
    } catch (const std::exception& e) {
      out = Internal(std::string("unexpected error: ") + e.what());
    }
    if (out.ok()) {
      r.SendJson(200, *out);
    } else {
      if (out.status().code() == StatusCode::kInternal) {
        LogWarn("kfp api error", {{"path", req.path}, {"error", out.status().message()}});
      }
      r.SendJson(HttpStatusFor(out.status().code()), KfpErrorBody(out.status()));
    }
  };
}

Result<std::string> MultipartField(const std::string& content_type, const std::string& body,
                                   const std::string& field, std::string* filename) {
  std::string lower = content_type;
  std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
  if (lower.rfind("multipart/form-data", 0) != 0) {
    return InvalidArgument("Content-Type: expected multipart/form-data with a file field '" +
                           field + "', got '" + content_type + "'");
  }
  size_t b = lower.find("boundary=");
  if (b == std::string::npos) return InvalidArgument("Content-Type: multipart boundary missing");
  std::string boundary = content_type.substr(b + 9);
  if (size_t semi = boundary.find(';'); semi != std::string::npos) boundary.resize(semi);
  if (boundary.size() >= 2 && boundary.front() == '"' && boundary.back() == '"') {
    boundary = boundary.substr(1, boundary.size() - 2);
  }
  if (boundary.empty()) return InvalidArgument("Content-Type: multipart boundary is empty");
  const std::string delim = "--" + boundary;
  size_t pos = body.find(delim);
  while (pos != std::string::npos) {
    size_t header_start = pos + delim.size();
    if (body.compare(header_start, 2, "--") == 0) break;  // closing delimiter
    if (body.compare(header_start, 2, "\r\n") == 0) header_start += 2;
    size_t header_end = body.find("\r\n\r\n", header_start);
    if (header_end == std::string::npos) break;
    std::string headers = body.substr(header_start, header_end - header_start);
    size_t content_start = header_end + 4;
    size_t next = body.find("\r\n" + delim, content_start);
    if (next == std::string::npos) return InvalidArgument("multipart body: unterminated part");
    std::string lower_headers = headers;
    std::transform(lower_headers.begin(), lower_headers.end(), lower_headers.begin(), ::tolower);
    if (lower_headers.find("name=\"" + field + "\"") != std::string::npos) {
      if (filename != nullptr) {
        size_t f = headers.find("filename=\"");
        if (f != std::string::npos) {
          size_t e = headers.find('"', f + 10);
          *filename = headers.substr(f + 10, e == std::string::npos ? e : e - f - 10);
        }
      }
      return body.substr(content_start, next - content_start);
    }
    pos = next + 2;
  }
  return InvalidArgument("multipart body: no file field '" + field + "'");
}

KfpApi::KfpApi(Store& store, Authorizer& authorizer, Clock& clock, KfpApiOptions options)
    : store_(store),
      authorizer_(authorizer),
      clock_(clock),
      options_(std::move(options)),
      types_(options_.types != nullptr ? *options_.types : TypeRegistry::Global()),
      run_index_(store, kPipelineRunType, &RunSummaryToApi) {}

Result<Json> KfpApi::CreateObject(const std::string& store_type, Json obj) {
  RETURN_IF_ERROR(Admit(types_, store_type, {.op = WriteOp::kCreate}, obj, nullptr));
  return store_.Create(store_type, std::move(obj));
}

Result<Json> KfpApi::UpdateObject(const std::string& store_type, const Json& stored, Json obj) {
  RETURN_IF_ERROR(
      Admit(types_, store_type, {.op = WriteOp::kUpdate, .stored = &stored}, obj, nullptr));
  return store_.Update(store_type, std::move(obj));
}

std::string KfpApi::NamespaceOf(const HttpRequest& req, const Json* body) const {
  std::string ns = req.Query("namespace");
  if (ns.empty() && body != nullptr) ns = Str(*body, "namespace");
  return ns.empty() ? options_.default_namespace : ns;
}

Status KfpApi::Check(const HttpRequest& req, const std::string& ns, Verb verb) {
  return authorizer_.Check(req.principal, ns, verb);
}

std::optional<std::string> KfpApi::KnownNamespace(const std::string& type, const std::string& id) {
  MutexLock lock(&namespaces_mu_);
  auto it = namespaces_.find(type + "/" + id);
  if (it == namespaces_.end()) return std::nullopt;
  return it->second;
}

Result<Json> KfpApi::FindById(const HttpRequest& req, const std::string& type,
                              const std::string& id, const std::string& what, Verb verb) {
  if (id.empty()) return InvalidArgument(what + " id: required");
  const Status not_found = NotFound(what + " '" + id + "' not found");
  // No oracle: to a caller who may not even read in the object's namespace, the object is not
  // there (404, the answer for an unknown id), as the generic API answers; one who may read it
  // but not do `verb` learns they may not (403).
  auto allowed = [&](const std::string& ns) -> Status {
    Status st = Check(req, ns, verb);
    if (st.ok() || (verb != Verb::kGet && Check(req, ns, Verb::kGet).ok())) return st;
    return not_found;
  };
  if (std::optional<std::string> ns = KnownNamespace(type, id)) {
    Result<Json> obj = store_.Get(type, *ns, id);
    if (obj.ok()) {
      RETURN_IF_ERROR(allowed(*ns));
      return obj;
    }
    if (obj.status().code() != StatusCode::kNotFound) return obj.status();
    MutexLock lock(&namespaces_mu_);
    namespaces_.erase(type + "/" + id);  // deleted since: look everywhere
  }
  ASSIGN_OR_RETURN(ListResult all, store_.List(type, "", ListOptions{}));
  Json* found = nullptr;
  {
    MutexLock lock(&namespaces_mu_);
    if (namespaces_.size() + all.items.size() > kMaxKnownNamespaces) namespaces_.clear();
    for (Json& obj : all.items) {
      // The first in (namespace, name) order wins, as the list's own order does.
      namespaces_.emplace(type + "/" + MetaName(obj), MetaNamespace(obj));
      if (found == nullptr && MetaName(obj) == id) found = &obj;
    }
  }
  if (found == nullptr) return not_found;
  RETURN_IF_ERROR(allowed(MetaNamespace(*found)));
  return std::move(*found);
}

Result<Json> KfpApi::ListIn(const std::string& type, const std::string& ns) {
  ASSIGN_OR_RETURN(ListResult all, store_.List(type, ns, ListOptions{}));
  return Json(std::move(all.items));
}

Result<Json> KfpApi::Healthz(const HttpRequest&) {
  return Json{{"multi_user", true}, {"pipeline_store", "database"}};
}

// ---- experiments ----

Json KfpApi::ExperimentToApi(const Json& obj, const std::string& last_run_created_at) {
  const Json& spec = ObjectAt(obj, "spec");
  return {{"experiment_id", MetaName(obj)},
          {"display_name", StrOr(spec, "displayName", MetaName(obj))},
          {"description", StrOr(spec, "description", "")},
          {"created_at", CreatedAt(obj)},
          {"namespace", MetaNamespace(obj)},
          {"storage_state", StrOr(spec, "storageState", "AVAILABLE")},
          {"last_run_created_at", last_run_created_at.empty() ? kEpoch : last_run_created_at}};
}

Result<Json> KfpApi::CreateExperiment(const HttpRequest& req) {
  ASSIGN_OR_RETURN(Json body, ParseBody(req));
  const std::string ns = NamespaceOf(req, &body);
  RETURN_IF_ERROR(Check(req, ns, Verb::kCreate));
  const std::string display = Str(body, "display_name", "displayName");
  if (display.empty()) return InvalidArgument("experiment.display_name: required");
  ASSIGN_OR_RETURN(Json existing, ListIn(kKfpExperimentType, ns));
  for (const Json& e : existing) {
    if (StrOr(ObjectAt(e, "spec"), "displayName", "") == display) {
      return AlreadyExists("experiment '" + display + "' already exists in namespace '" + ns + "'");
    }
  }
  Json obj = NewObject("Experiment", ns, NewUuid());
  obj["spec"] = {{"displayName", display},
                 {"description", Str(body, "description")},
                 {"storageState", "AVAILABLE"}};
  ASSIGN_OR_RETURN(Json created, CreateObject(kKfpExperimentType, obj));
  return ExperimentToApi(created);
}

Result<std::map<std::string, std::string>> KfpApi::LastRunCreatedAt(const std::string& ns) {
  ASSIGN_OR_RETURN(std::vector<KfpRunIndex::Summary> runs, run_index_.Summaries(ns));
  std::map<std::string, std::string> last;
  for (const KfpRunIndex::Summary& run : runs) {
    const std::string experiment = run->value("experiment_id", "");
    if (experiment.empty()) continue;
    std::string& at = last[experiment];
    at = std::max(at, run->value("created_at", std::string()));  // RFC 3339 UTC sorts as text
  }
  return last;
}

Result<Json> KfpApi::ListExperiments(const HttpRequest& req) {
  const std::string ns = NamespaceOf(req, nullptr);
  RETURN_IF_ERROR(Check(req, ns, Verb::kList));
  ASSIGN_OR_RETURN(KfpListQuery q,
                   KfpListQuery::FromRequest(req.Query("filter"), req.Query("sort_by"),
                                             req.Query("page_size"), req.Query("page_token")));
  ASSIGN_OR_RETURN(Json items, ListIn(kKfpExperimentType, ns));
  ASSIGN_OR_RETURN(auto last_runs, LastRunCreatedAt(ns));
  std::vector<Json> api;
  for (const Json& e : items) api.push_back(ExperimentToApi(e, last_runs[MetaName(e)]));
  KfpPage page = q.Apply(std::move(api), "created_at");
  Json out = {{"total_size", page.total_size}, {"experiments", page.items}};
  if (!page.next_page_token.empty()) out["next_page_token"] = page.next_page_token;
  return out;
}

Result<Json> KfpApi::GetExperiment(const HttpRequest& req) {
  ASSIGN_OR_RETURN(Json e, FindById(req, kKfpExperimentType, req.Param("experiment_id"),
                                    "experiment", Verb::kGet));
  ASSIGN_OR_RETURN(auto last_runs, LastRunCreatedAt(MetaNamespace(e)));
  return ExperimentToApi(e, last_runs[MetaName(e)]);
}

Result<Json> KfpApi::DeleteExperiment(const HttpRequest& req) {
  ASSIGN_OR_RETURN(Json e, FindById(req, kKfpExperimentType, req.Param("experiment_id"),
                                    "experiment", Verb::kDelete));
  RETURN_IF_ERROR(store_.Delete(kKfpExperimentType, MetaNamespace(e), MetaName(e)).status());
  return Json::object();
}

Result<Json> KfpApi::ExperimentAction(const HttpRequest& req) {
  auto [id, action] = SplitAction(req.Param("experiment_action"));
  if (action != "archive" && action != "unarchive") {
    return NotFound("unknown experiment action '" + action + "' (archive, unarchive)");
  }
  ASSIGN_OR_RETURN(const Json stored,
                   FindById(req, kKfpExperimentType, id, "experiment", Verb::kUpdate));
  const std::string state = action == "archive" ? "ARCHIVED" : "AVAILABLE";
  Json e = stored;
  if (!e["spec"].is_object()) e["spec"] = Json::object();
  e["spec"]["storageState"] = state;
  e["metadata"].erase("resourceVersion");
  RETURN_IF_ERROR(UpdateObject(kKfpExperimentType, stored, e).status());
  if (action == "archive") {
    // As KFP does: archiving an experiment archives its runs.
    ASSIGN_OR_RETURN(Json runs, ListIn(kPipelineRunType, MetaNamespace(e)));
    for (const Json& run : runs) {
      if (StrOr(ObjectAt(run, "spec"), "experimentId", "") != id) continue;
      auto ignored = UpdateRun(req, MetaName(run), [](Json& r) {
        r["spec"]["storageState"] = "ARCHIVED";
        return Status::Ok();
      });
      (void)ignored;
    }
  }
  return Json::object();
}

// ---- pipelines and versions ----

Json KfpApi::PipelineToApi(const Json& obj) {
  const Json& spec = ObjectAt(obj, "spec");
  return {{"pipeline_id", MetaName(obj)},
          {"display_name", StrOr(spec, "displayName", MetaName(obj))},
          {"name", StrOr(spec, "displayName", MetaName(obj))},
          {"description", StrOr(spec, "description", "")},
          {"created_at", CreatedAt(obj)},
          {"namespace", MetaNamespace(obj)}};
}

Json KfpApi::PipelineVersionToApi(const Json& obj, bool with_spec) {
  const Json& spec = ObjectAt(obj, "spec");
  Json out = {{"pipeline_id", StrOr(spec, "pipelineId", "")},
              {"pipeline_version_id", MetaName(obj)},
              {"display_name", StrOr(spec, "displayName", MetaName(obj))},
              {"name", StrOr(spec, "displayName", MetaName(obj))},
              {"description", StrOr(spec, "description", "")},
              {"created_at", CreatedAt(obj)},
              {"code_source_url", StrOr(spec, "codeSourceUrl", "")}};
  if (with_spec) {
    if (spec.contains("platformSpec") && spec["platformSpec"].is_object()) {
      out["pipeline_spec"] = {{"pipeline_spec", ObjectAt(spec, "pipelineSpec")},
                              {"platform_spec", spec["platformSpec"]}};
    } else {
      out["pipeline_spec"] = ObjectAt(spec, "pipelineSpec");
    }
  }
  return out;
}

Result<Json> KfpApi::StorePipelineVersion(const std::string& ns, const std::string& pipeline_id,
                                          const std::string& name, const std::string& description,
                                          const std::vector<Json>& docs,
                                          const std::string& code_source_url) {
  ASSIGN_OR_RETURN(Json existing, ListIn(kKfpPipelineVersionType, ns));
  for (const Json& v : existing) {
    if (StrOr(ObjectAt(v, "spec"), "pipelineId", "") == pipeline_id &&
        StrOr(ObjectAt(v, "spec"), "displayName", "") == name) {
      return AlreadyExists("pipeline version '" + name + "' already exists in pipeline '" +
                           pipeline_id + "'");
    }
  }
  Json obj = NewObject("PipelineVersion", ns, NewUuid());
  obj["metadata"]["labels"] = {{kKfpPipelineIdLabel, pipeline_id}};
  obj["spec"] = {{"pipelineId", pipeline_id},
                 {"displayName", name},
                 {"description", description},
                 {"codeSourceUrl", code_source_url},
                 {"pipelineSpec", docs[0]}};
  if (docs.size() > 1) obj["spec"]["platformSpec"] = docs[1];
  ASSIGN_OR_RETURN(Json created, CreateObject(kKfpPipelineVersionType, obj));
  return PipelineVersionToApi(created, true);
}

namespace {

// The documents of an uploaded package (YAML or JSON), validated as KFP IR.
Result<std::vector<Json>> UploadedDocuments(const HttpRequest& req, size_t limit,
                                            std::string* filename) {
  if (req.body.size() > limit) {
    return ResourceExhausted("pipeline package is " + std::to_string(req.body.size()) +
                             " bytes; the limit is " + std::to_string(limit));
  }
  ASSIGN_OR_RETURN(std::string file,
                   MultipartField(req.Header("content-type"), req.body, "uploadfile", filename));
  if (file.empty()) return InvalidArgument("uploadfile: the file is empty");
  const std::string source = filename->empty() ? "uploadfile" : *filename;
  auto docs = ParseYamlDocuments(file, source);
  if (!docs.ok()) return InvalidArgument(docs.status().message());
  if (docs->empty()) return InvalidArgument(source + ": no document in the file");
  auto parsed = pipelines::PipelineSpecFromDocuments(*docs, source);
  if (!parsed.ok()) return InvalidArgument("invalid pipeline spec: " + parsed.status().message());
  std::vector<Json> out = {docs->at(0)};
  if (docs->size() > 1) out.push_back(docs->at(1));
  return out;
}

std::string BaseName(std::string name) {
  if (size_t s = name.find_last_of('/'); s != std::string::npos) name = name.substr(s + 1);
  if (size_t d = name.find('.'); d != std::string::npos && d > 0) name.resize(d);
  return name;
}

}  // namespace

Result<Json> KfpApi::UploadPipeline(const HttpRequest& req) {
  const std::string ns = NamespaceOf(req, nullptr);
  RETURN_IF_ERROR(Check(req, ns, Verb::kCreate));
  std::string filename;
  ASSIGN_OR_RETURN(std::vector<Json> docs,
                   UploadedDocuments(req, options_.max_upload_bytes, &filename));
  std::string name = req.Query("name");
  if (name.empty()) name = req.Query("display_name");
  if (name.empty()) name = BaseName(filename);
  if (name.empty()) name = docs[0].value("pipelineInfo", Json::object()).value("name", "");
  if (name.empty()) return InvalidArgument("name: required (query parameter)");
  ASSIGN_OR_RETURN(Json existing, ListIn(kKfpPipelineType, ns));
  for (const Json& p : existing) {
    if (StrOr(ObjectAt(p, "spec"), "displayName", "") == name) {
      return AlreadyExists("pipeline '" + name + "' already exists in namespace '" + ns + "'");
    }
  }
  Json obj = NewObject("Pipeline", ns, NewUuid());
  obj["spec"] = {{"displayName", name}, {"description", req.Query("description")}};
  ASSIGN_OR_RETURN(Json created, CreateObject(kKfpPipelineType, obj));
  auto version = StorePipelineVersion(ns, MetaName(created), name, req.Query("description"), docs,
                                      req.Query("code_source_url"));
  if (!version.ok()) {
    auto ignored = store_.Delete(kKfpPipelineType, ns, MetaName(created));
    (void)ignored;
    return version.status();
  }
  return PipelineToApi(created);
}

Result<Json> KfpApi::UploadPipelineVersion(const HttpRequest& req) {
  const std::string pipeline_id = req.Query("pipelineid");
  if (pipeline_id.empty()) return InvalidArgument("pipelineid: required (query parameter)");
  ASSIGN_OR_RETURN(Json pipeline,
                   FindById(req, kKfpPipelineType, pipeline_id, "pipeline", Verb::kCreate));
  std::string filename;
  ASSIGN_OR_RETURN(std::vector<Json> docs,
                   UploadedDocuments(req, options_.max_upload_bytes, &filename));
  std::string name = req.Query("name");
  if (name.empty()) name = req.Query("display_name");
  if (name.empty()) name = BaseName(filename);
  if (name.empty()) return InvalidArgument("name: required (query parameter)");
  return StorePipelineVersion(MetaNamespace(pipeline), pipeline_id, name, req.Query("description"),
                              docs, req.Query("code_source_url"));
}

Result<Json> KfpApi::CreatePipeline(const HttpRequest& req) {
  ASSIGN_OR_RETURN(Json body, ParseBody(req));
  const std::string ns = NamespaceOf(req, &body);
  RETURN_IF_ERROR(Check(req, ns, Verb::kCreate));
  std::string name = Str(body, "display_name", "displayName");
  if (name.empty()) name = Str(body, "name");
  if (name.empty()) return InvalidArgument("pipeline.display_name: required");
  ASSIGN_OR_RETURN(Json existing, ListIn(kKfpPipelineType, ns));
  for (const Json& p : existing) {
    if (StrOr(ObjectAt(p, "spec"), "displayName", "") == name) {
      return AlreadyExists("pipeline '" + name + "' already exists in namespace '" + ns + "'");
    }
  }
  Json obj = NewObject("Pipeline", ns, NewUuid());
  obj["spec"] = {{"displayName", name}, {"description", Str(body, "description")}};
  ASSIGN_OR_RETURN(Json created, CreateObject(kKfpPipelineType, obj));
  return PipelineToApi(created);
}

Result<Json> KfpApi::CreatePipelineAndVersion(const HttpRequest& req) {
  ASSIGN_OR_RETURN(Json body, ParseBody(req));
  const Json* pipeline = Obj(body, "pipeline", "pipeline");
  const Json* version = Obj(body, "pipeline_version", "pipelineVersion");
  if (pipeline == nullptr) return InvalidArgument("pipeline: required object");
  if (version == nullptr) return InvalidArgument("pipeline_version: required object");
  const Json* spec = Obj(*version, "pipeline_spec", "pipelineSpec");
  if (spec == nullptr) return InvalidArgument("pipeline_version.pipeline_spec: required object");
  ASSIGN_OR_RETURN(std::vector<Json> docs, SpecDocuments(*spec, "pipeline_version.pipeline_spec"));
  HttpRequest inner = req;
  inner.body = pipeline->dump();
  ASSIGN_OR_RETURN(Json created, CreatePipeline(inner));
  std::string vname = Str(*version, "display_name", "displayName");
  if (vname.empty()) vname = created["display_name"].get<std::string>();
  auto v = StorePipelineVersion(
      created["namespace"].get<std::string>(), created["pipeline_id"].get<std::string>(), vname,
      Str(*version, "description"), docs, Str(*version, "code_source_url", "codeSourceUrl"));
  if (!v.ok()) {
    auto ignored = store_.Delete(kKfpPipelineType, created["namespace"].get<std::string>(),
                                 created["pipeline_id"].get<std::string>());
    (void)ignored;
    return v.status();
  }
  return created;
}

Result<Json> KfpApi::ListPipelines(const HttpRequest& req) {
  const std::string ns = NamespaceOf(req, nullptr);
  RETURN_IF_ERROR(Check(req, ns, Verb::kList));
  ASSIGN_OR_RETURN(KfpListQuery q,
                   KfpListQuery::FromRequest(req.Query("filter"), req.Query("sort_by"),
                                             req.Query("page_size"), req.Query("page_token")));
  ASSIGN_OR_RETURN(Json items, ListIn(kKfpPipelineType, ns));
  std::vector<Json> api;
  for (const Json& p : items) api.push_back(PipelineToApi(p));
  KfpPage page = q.Apply(std::move(api), "created_at");
  Json out = {{"total_size", page.total_size}, {"pipelines", page.items}};
  if (!page.next_page_token.empty()) out["next_page_token"] = page.next_page_token;
  return out;
}

Result<Json> KfpApi::GetPipeline(const HttpRequest& req) {
  ASSIGN_OR_RETURN(
      Json p, FindById(req, kKfpPipelineType, req.Param("pipeline_id"), "pipeline", Verb::kGet));
  return PipelineToApi(p);
}

Result<Json> KfpApi::GetPipelineByName(const HttpRequest& req) {
  const std::string ns = NamespaceOf(req, nullptr);
  RETURN_IF_ERROR(Check(req, ns, Verb::kGet));
  const std::string name = req.Param("name");
  ASSIGN_OR_RETURN(Json items, ListIn(kKfpPipelineType, ns));
  for (const Json& p : items) {
    if (StrOr(ObjectAt(p, "spec"), "displayName", "") == name) return PipelineToApi(p);
  }
  return NotFound("pipeline named '" + name + "' not found in namespace '" + ns + "'");
}

Result<Json> KfpApi::DeletePipeline(const HttpRequest& req) {
  ASSIGN_OR_RETURN(
      Json p, FindById(req, kKfpPipelineType, req.Param("pipeline_id"), "pipeline", Verb::kDelete));
  const std::string ns = MetaNamespace(p), id = MetaName(p);
  ListOptions opts;
  opts.label_selector = std::string(kKfpPipelineIdLabel) + "=" + id;
  ASSIGN_OR_RETURN(ListResult versions, store_.List(kKfpPipelineVersionType, ns, opts));
  const bool cascade = req.Query("cascade") == "true";
  if (!versions.items.empty() && !cascade) {
    return Conflict("pipeline '" + id + "' still has " + std::to_string(versions.items.size()) +
                    " version(s); delete them first or pass cascade=true");
  }
  for (const Json& v : versions.items) {
    RETURN_IF_ERROR(store_.Delete(kKfpPipelineVersionType, ns, MetaName(v)).status());
  }
  RETURN_IF_ERROR(store_.Delete(kKfpPipelineType, ns, id).status());
  return Json::object();
}

Result<Json> KfpApi::CreatePipelineVersion(const HttpRequest& req) {
  ASSIGN_OR_RETURN(
      Json p, FindById(req, kKfpPipelineType, req.Param("pipeline_id"), "pipeline", Verb::kCreate));
  ASSIGN_OR_RETURN(Json body, ParseBody(req));
  const Json* spec = Obj(body, "pipeline_spec", "pipelineSpec");
  if (spec == nullptr) {
    return InvalidArgument(
        "pipeline_version.pipeline_spec: required object (package_url is not supported)");
  }
  ASSIGN_OR_RETURN(std::vector<Json> docs, SpecDocuments(*spec, "pipeline_version.pipeline_spec"));
  std::string name = Str(body, "display_name", "displayName");
  if (name.empty()) name = Str(body, "name");
  if (name.empty()) return InvalidArgument("pipeline_version.display_name: required");
  return StorePipelineVersion(MetaNamespace(p), MetaName(p), name, Str(body, "description"), docs,
                              Str(body, "code_source_url", "codeSourceUrl"));
}

Result<Json> KfpApi::ListPipelineVersions(const HttpRequest& req) {
  ASSIGN_OR_RETURN(
      Json p, FindById(req, kKfpPipelineType, req.Param("pipeline_id"), "pipeline", Verb::kList));
  ASSIGN_OR_RETURN(KfpListQuery q,
                   KfpListQuery::FromRequest(req.Query("filter"), req.Query("sort_by"),
                                             req.Query("page_size"), req.Query("page_token")));
  ListOptions opts;
  opts.label_selector = std::string(kKfpPipelineIdLabel) + "=" + MetaName(p);
  ASSIGN_OR_RETURN(ListResult versions,
                   store_.List(kKfpPipelineVersionType, MetaNamespace(p), opts));
  std::vector<Json> api;
  for (const Json& v : versions.items) api.push_back(PipelineVersionToApi(v, true));
  KfpPage page = q.Apply(std::move(api), "created_at");
  Json out = {{"total_size", page.total_size}, {"pipeline_versions", page.items}};
  if (!page.next_page_token.empty()) out["next_page_token"] = page.next_page_token;
  return out;
}

Result<Json> KfpApi::GetPipelineVersion(const HttpRequest& req) {
  ASSIGN_OR_RETURN(Json v, FindById(req, kKfpPipelineVersionType, req.Param("pipeline_version_id"),
                                    "pipeline version", Verb::kGet));
  if (StrOr(ObjectAt(v, "spec"), "pipelineId", "") != req.Param("pipeline_id")) {
    return NotFound("pipeline version '" + req.Param("pipeline_version_id") +
                    "' not found in pipeline '" + req.Param("pipeline_id") + "'");
  }
  return PipelineVersionToApi(v, true);
}

Result<Json> KfpApi::DeletePipelineVersion(const HttpRequest& req) {
  ASSIGN_OR_RETURN(Json v, FindById(req, kKfpPipelineVersionType, req.Param("pipeline_version_id"),
                                    "pipeline version", Verb::kDelete));
  if (StrOr(ObjectAt(v, "spec"), "pipelineId", "") != req.Param("pipeline_id")) {
    return NotFound("pipeline version '" + req.Param("pipeline_version_id") +
                    "' not found in pipeline '" + req.Param("pipeline_id") + "'");
  }
  RETURN_IF_ERROR(store_.Delete(kKfpPipelineVersionType, MetaNamespace(v), MetaName(v)).status());
  return Json::object();
}

// ---- runs ----

namespace {

// A run as the API shows it in lists: everything but its pipeline spec and task details, the
// parts that grow with the pipeline (RunToApi adds them).
Json RunSummaryToApi(const Json& run) {
  const Json& spec = ObjectAt(run, "spec");
  const Json& status = ObjectAt(run, "status");
  const std::string id = MetaName(run);
  const std::string created = StrOr(status, "createdAt", CreatedAt(run));
  std::string state = StrOr(status, "state", "PENDING");
  // A retry asked for and not yet begun by the run controller: the run is pending again.
  const bool retrying =
      (state == "FAILED" || state == "CANCELED") && pipelines::RetryRequested(run);
  if (retrying) state = "PENDING";
  Json out = {{"run_id", id},
              {"display_name", StrOr(spec, "displayName", id)},
              {"experiment_id", StrOr(spec, "experimentId", "")},
              {"storage_state", StrOr(spec, "storageState", "AVAILABLE")},
              {"description", StrOr(spec, "description", "")},
              {"runtime_config",
               {{"parameters", ObjectAt(spec, "parameters")},
                {"pipeline_root", StrOr(spec, "pipelineRoot", "")}}},
              {"service_account", StrOr(spec, "serviceAccount", "")},
              {"created_at", created},
              {"scheduled_at", StrOr(spec, "scheduledAt", created)},
              {"finished_at", retrying ? kEpoch : StrOr(status, "finishedAt", kEpoch)},
              {"state", state},
              {"state_history", Json::array()},
              {"namespace", MetaNamespace(run)}};
  if (spec.contains("recurringRunId")) out["recurring_run_id"] = spec["recurringRunId"];
  if (const Json* ref = Obj(spec, "pipelineVersionReference", "pipelineVersionReference")) {
    out["pipeline_version_reference"] = {
        {"pipeline_id", StrOr(*ref, "pipelineId", "")},
        {"pipeline_version_id", StrOr(*ref, "pipelineVersionId", "")}};
    out["pipeline_version_id"] = StrOr(*ref, "pipelineVersionId", "");
  }
  if (state == "FAILED") {
    out["error"] = {
        {"code", 2}, {"message", StrOr(status, "message", "")}, {"details", Json::array()}};
  }
  if (status.contains("engine") && status["engine"].is_object() &&
      status["engine"].contains("outputs")) {
    out["pipeline_outputs"] = status["engine"]["outputs"];  // Skiff extension
  }
  return out;
}

// The run_details of a run: one page of its task details, and the token of the next page
// (next_task_details_page_token, a Skiff extension) when there are more.
Json RunDetails(const Json& run, const TaskPage& page = {}) {
  std::string next;
  Json details = {{"task_details", TaskDetails(run, MetaName(run), page, &next)}};
  if (!next.empty()) details["next_task_details_page_token"] = EncodeBase64(next);
  return details;
}

// What RunSummaryToApi leaves out: run_details, and pipeline_spec unless run from a version.
void AddRunDetailsAndSpec(const Json& run, Json& out, const TaskPage& page = {}) {
  out["run_details"] = RunDetails(run, page);
  const Json& spec = ObjectAt(run, "spec");
  if (Obj(spec, "pipelineVersionReference", "pipelineVersionReference") != nullptr) return;
  if (spec.contains("platformSpec") && spec["platformSpec"].is_object()) {
    out["pipeline_spec"] = {{"pipeline_spec", FieldOf(spec, "pipelineSpec")},
                            {"platform_spec", spec["platformSpec"]}};
  } else {
    out["pipeline_spec"] = ObjectAt(spec, "pipelineSpec");
  }
}

}  // namespace

Json KfpApi::RunToApi(const Json& run) {
  Json out = RunSummaryToApi(run);
  AddRunDetailsAndSpec(run, out);
  return out;
}

Status KfpApi::ResolveSpec(const HttpRequest& req, const Json& body, const std::string& ns,
                           Json* pipeline_spec, Json* platform_spec) {
  const Json* inline_spec = Obj(body, "pipeline_spec", "pipelineSpec");
  const Json* ref = Obj(body, "pipeline_version_reference", "pipelineVersionReference");
  if ((inline_spec == nullptr) == (ref == nullptr)) {
    return InvalidArgument(
        "exactly one of pipeline_spec and pipeline_version_reference is "
        "required");
  }
  if (inline_spec != nullptr) {
    ASSIGN_OR_RETURN(std::vector<Json> docs, SpecDocuments(*inline_spec, "pipeline_spec"));
    *pipeline_spec = docs[0];
    *platform_spec = docs.size() > 1 ? docs[1] : Json::object();
    return Status::Ok();
  }
  const std::string pipeline_id = Str(*ref, "pipeline_id", "pipelineId");
  std::string version_id = Str(*ref, "pipeline_version_id", "pipelineVersionId");
  if (pipeline_id.empty())
    return InvalidArgument("pipeline_version_reference.pipeline_id: required");
  ASSIGN_OR_RETURN(Json pipeline,
                   FindById(req, kKfpPipelineType, pipeline_id, "pipeline", Verb::kGet));
  (void)ns;
  ListOptions opts;
  opts.label_selector = std::string(kKfpPipelineIdLabel) + "=" + pipeline_id;
  ASSIGN_OR_RETURN(ListResult versions,
                   store_.List(kKfpPipelineVersionType, MetaNamespace(pipeline), opts));
  const Json* chosen = nullptr;
  for (const Json& v : versions.items) {
    if (!version_id.empty()) {
      if (MetaName(v) == version_id) chosen = &v;
    } else if (chosen == nullptr || CreatedAt(v) >= CreatedAt(*chosen)) {
      chosen = &v;  // the latest version
    }
  }
  if (chosen == nullptr) {
    return NotFound(version_id.empty() ? "pipeline '" + pipeline_id + "' has no versions"
                                       : "pipeline version '" + version_id +
                                             "' not found in pipeline '" + pipeline_id + "'");
  }
  const Json& chosen_spec = ObjectAt(*chosen, "spec");
  *pipeline_spec = ObjectAt(chosen_spec, "pipelineSpec");
  *platform_spec = ObjectAt(chosen_spec, "platformSpec");
  return Status::Ok();
}

Result<Json> KfpApi::CreateRun(const HttpRequest& req) {
  ASSIGN_OR_RETURN(Json body, ParseBody(req));
  std::string experiment_id = Str(body, "experiment_id", "experimentId");
  if (experiment_id.empty()) experiment_id = req.Query("experiment_id");
  std::string ns = NamespaceOf(req, &body);
  if (!experiment_id.empty()) {
    ASSIGN_OR_RETURN(Json exp,
                     FindById(req, kKfpExperimentType, experiment_id, "experiment", Verb::kGet));
    ns = MetaNamespace(exp);
  }
  RETURN_IF_ERROR(Check(req, ns, Verb::kCreate));
  Json pipeline_spec, platform_spec;
  RETURN_IF_ERROR(ResolveSpec(req, body, ns, &pipeline_spec, &platform_spec));
  std::map<std::string, Json> params;
  std::string pipeline_root;
  if (const Json* rc = Obj(body, "runtime_config", "runtimeConfig")) {
    if (rc->contains("parameters")) {
      if (!(*rc)["parameters"].is_object()) {
        return InvalidArgument("runtime_config.parameters: must be an object");
      }
      for (auto it = (*rc)["parameters"].begin(); it != (*rc)["parameters"].end(); ++it) {
        params[it.key()] = *it;
      }
    }
    pipeline_root = Str(*rc, "pipeline_root", "pipelineRoot");
  }
  const std::string id = NewUuid();
  Json run = pipelines::MakePipelineRun(ns, id, pipeline_spec, platform_spec, params, true);
  Json& spec = run["spec"];
  std::string display = Str(body, "display_name", "displayName");
  spec["displayName"] = display.empty() ? id : display;
  spec["experimentId"] = experiment_id;
  spec["description"] = Str(body, "description");
  spec["storageState"] = "AVAILABLE";
  spec["pipelineRoot"] = pipeline_root;
  spec["serviceAccount"] = Str(body, "service_account", "serviceAccount");
  if (const Json* ref = Obj(body, "pipeline_version_reference", "pipelineVersionReference")) {
    spec["pipelineVersionReference"] = {
        {"pipelineId", Str(*ref, "pipeline_id", "pipelineId")},
        {"pipelineVersionId", Str(*ref, "pipeline_version_id", "pipelineVersionId")}};
  }
  ASSIGN_OR_RETURN(Json created, CreateObject(kPipelineRunType, run));
  return RunToApi(created);
}

Result<Json> KfpApi::ListRuns(const HttpRequest& req) {
  std::string ns = NamespaceOf(req, nullptr);
  const std::string experiment_id = req.Query("experiment_id");
  if (!experiment_id.empty()) {
    ASSIGN_OR_RETURN(Json exp,
                     FindById(req, kKfpExperimentType, experiment_id, "experiment", Verb::kList));
    ns = MetaNamespace(exp);
  }
  RETURN_IF_ERROR(Check(req, ns, Verb::kList));
  ASSIGN_OR_RETURN(KfpListQuery q,
                   KfpListQuery::FromRequest(req.Query("filter"), req.Query("sort_by"),
                                             req.Query("page_size"), req.Query("page_token")));
  // Filter, sort and page the index's summaries; only the page's runs are read, for their task
  // details (lists leave out the pipeline spec: get_run returns it).
  ASSIGN_OR_RETURN(std::vector<KfpRunIndex::Summary> summaries, run_index_.Summaries(ns));
  std::vector<const Json*> candidates;
  candidates.reserve(summaries.size());
  for (const KfpRunIndex::Summary& s : summaries) {
    if (!experiment_id.empty() && s->value("experiment_id", "") != experiment_id) continue;
    candidates.push_back(s.get());
  }
  KfpSelection selection = q.Select(candidates, "created_at");
  Json runs = Json::array();
  for (size_t i : selection.page) {
    Json a = *candidates[i];
    const std::string id = a.value("run_id", "");
    Result<Json> run = store_.Get(kPipelineRunType, a.value("namespace", ""), id);
    if (!run.ok() && run.status().code() != StatusCode::kNotFound) return run.status();
    // A run deleted since the index caught up keeps its summary, without tasks.
    a["run_details"] = run.ok() ? RunDetails(*run) : Json{{"task_details", Json::array()}};
    runs.push_back(std::move(a));
  }
  Json out = {{"total_size", selection.total_size}, {"runs", std::move(runs)}};
  if (!selection.next_page_token.empty()) out["next_page_token"] = selection.next_page_token;
  return out;
}

Result<Json> KfpApi::GetRun(const HttpRequest& req) {
  // A big run's task details come in pages (Skiff extension): task_details_page_size (at most
  // kMaxTaskDetailsPageSize) and the task_details_page_token a previous answer gave.
  TaskPage page;
  if (std::string size = req.Query("task_details_page_size"); !size.empty()) {
    ASSIGN_OR_RETURN(int64_t n, ProtoInt64(Json(size), "task_details_page_size"));
    if (n < 1 || n > kMaxTaskDetailsPageSize) {
      return InvalidArgument("task_details_page_size: must be 1 to " +
                             std::to_string(kMaxTaskDetailsPageSize) + ", got " + size);
    }
    page.limit = static_cast<size_t>(n);
  }
  if (std::string token = req.Query("task_details_page_token"); !token.empty()) {
    Result<std::string> after = DecodeBase64(token);
    if (!after.ok() || after->empty()) {
      return InvalidArgument("task_details_page_token: not a token this server gave");
    }
    page.after = *after;
  }
  ASSIGN_OR_RETURN(Json run,
                   FindById(req, kPipelineRunType, req.Param("run_id"), "run", Verb::kGet));
  Json out = RunSummaryToApi(run);
  AddRunDetailsAndSpec(run, out, page);
  return out;
}

Result<Json> KfpApi::DeleteRun(const HttpRequest& req) {
  ASSIGN_OR_RETURN(Json run,
                   FindById(req, kPipelineRunType, req.Param("run_id"), "run", Verb::kDelete));
  const std::string state = StrOr(ObjectAt(run, "status"), "state", "");
  if (state == "RUNNING" || state == "PENDING" || state == "CANCELING" || state.empty()) {
    // Stop its tasks first: the controller cancels, then the object goes.
    auto ignored = UpdateRun(req, MetaName(run), [](Json& r) {
      r["spec"]["cancelRequested"] = true;
      return Status::Ok();
    });
    (void)ignored;
  }
  RETURN_IF_ERROR(store_.Delete(kPipelineRunType, MetaNamespace(run), MetaName(run)).status());
  return Json::object();
}

Result<Json> KfpApi::UpdateRun(const HttpRequest& req, const std::string& id,
                               const std::function<Status(Json&)>& mutate) {
  for (int attempt = 0;; ++attempt) {
    ASSIGN_OR_RETURN(const Json stored, FindById(req, kPipelineRunType, id, "run", Verb::kUpdate));
    Json run = stored;
    RETURN_IF_ERROR(mutate(run));
    auto updated = UpdateObject(kPipelineRunType, stored, run);
    if (updated.ok()) return std::move(updated).value();
    if (updated.status().code() != StatusCode::kConflict || attempt >= 20) {
      return updated.status();
    }
  }
}

Result<Json> KfpApi::RunAction(const HttpRequest& req) {
  auto [id, action] = SplitAction(req.Param("run_action"));
  std::function<Status(Json&)> mutate;
  if (action == "terminate") {
    mutate = [](Json& r) {
      const std::string state = StrOr(ObjectAt(r, "status"), "state", "");
      if (state == "SUCCEEDED" || state == "FAILED" || state == "CANCELED") {
        return FailedPrecondition("run is already " + state + "; nothing to terminate");
      }
      r["spec"]["cancelRequested"] = true;
      return Status::Ok();
    };
  } else if (action == "retry") {
    // Asked for through the spec; the run controller resets the run (pipelines/run_retry.h).
    mutate = &pipelines::RequestRetry;
  } else if (action == "archive" || action == "unarchive") {
    const std::string state = action == "archive" ? "ARCHIVED" : "AVAILABLE";
    mutate = [state](Json& r) {
      r["spec"]["storageState"] = state;
      return Status::Ok();
    };
  } else {
    return NotFound("unknown run action '" + action + "' (terminate, retry, archive, unarchive)");
  }
  RETURN_IF_ERROR(UpdateRun(req, id, mutate).status());
  return Json::object();
}

Result<Json> KfpApi::ReadArtifact(const HttpRequest& req) {
  auto [artifact_name, action] = SplitAction(req.Param("artifact_action"));
  if (action != "read") return NotFound("unknown artifact action '" + action + "' (read)");
  ASSIGN_OR_RETURN(Json run,
                   FindById(req, kPipelineRunType, req.Param("run_id"), "run", Verb::kGet));
  const std::string node = req.Param("node_id");
  const Json& status = ObjectAt(run, "status");
  const Json& tasks = ObjectAt(ObjectAt(status, "engine"), "tasks");
  // By key, uuid or workload first; then by a task's name (the root DAG carries the pipeline's
  // name, which may be a task's too).
  const Json* task = nullptr;
  for (auto it = tasks.begin(); task == nullptr && it != tasks.end(); ++it) {
    if (it.key() == node || StrOr(*it, "uuid", "") == node ||
        StrOr(*it, "workload_id", "") == node) {
      task = &*it;
    }
  }
  for (auto it = tasks.begin(); task == nullptr && it != tasks.end(); ++it) {
    if (it.key() != "root" && StrOr(*it, "name", "") == node) task = &*it;
  }
  if (task == nullptr)
    return NotFound("node '" + node + "' not found in run '" + MetaName(run) + "'");
  const Json& arts = ObjectAt(ObjectAt(*task, "outputs"), "artifacts");
  if (!arts.contains(artifact_name)) {
    return NotFound("artifact '" + artifact_name + "' not found in node '" + node + "'");
  }
  const Json& a = arts[artifact_name];
  const Json first = a.is_array() ? (a.empty() ? Json::object() : a[0]) : a;
  const std::string uri = StrOr(first, "uri", "");
  const std::string prefix = "file://";
  if (uri.rfind(prefix, 0) != 0) {
    return Unimplemented("artifact '" + artifact_name + "' is at '" + uri +
                         "'; only file:// artifacts can be read");
  }
  std::filesystem::path path = uri.substr(prefix.size());
  std::error_code ec;
  path = std::filesystem::weakly_canonical(path, ec);
  if (!options_.artifacts_root.empty()) {
    auto root = std::filesystem::weakly_canonical(options_.artifacts_root, ec).string();
    if (path.string().rfind(root + "/", 0) != 0) {
      return PermissionDenied("artifact '" + artifact_name + "' lies outside the artifact store");
    }
    // Within it, the run's profile's artifacts only (an importer may name another's).
    RETURN_IF_ERROR(pipelines::CheckArtifactAccess(path.string(), options_.artifacts_root,
                                                   MetaNamespace(run), MetaUid(run),
                                                   "artifact '" + artifact_name + "'"));
  }
  if (std::filesystem::is_directory(path, ec)) {
    return FailedPrecondition("artifact '" + artifact_name + "' is a directory");
  }
  auto size = std::filesystem::file_size(path, ec);
  if (ec) return NotFound("artifact '" + artifact_name + "': file missing: " + path.string());
  if (size > options_.max_artifact_read_bytes) {
    return ResourceExhausted("artifact '" + artifact_name + "' is " + std::to_string(size) +
                             " bytes; the limit for :read is " +
                             std::to_string(options_.max_artifact_read_bytes));
  }
  std::ifstream in(path, std::ios::binary);
  std::stringstream data;
  data << in.rdbuf();
  return Json{{"data", EncodeBase64(data.str())}};
}

// ---- recurring runs ----

Json KfpApi::RecurringRunToApi(const Json& obj) {
  const Json& spec = ObjectAt(obj, "spec");
  const Json& status = ObjectAt(obj, "status");
  const bool enabled = BoolOr(spec, "enabled", true);
  const Json& trigger = ObjectAt(spec, "trigger");
  Json api_trigger = Json::object();
  Json window = Json::object();
  if (trigger.contains("startTime")) window["start_time"] = trigger["startTime"];
  if (trigger.contains("endTime")) window["end_time"] = trigger["endTime"];
  if (trigger.contains("cron")) {
    api_trigger["cron_schedule"] = window;
    api_trigger["cron_schedule"]["cron"] = trigger["cron"];
  } else {
    api_trigger["periodic_schedule"] = window;
    api_trigger["periodic_schedule"]["interval_second"] =
        std::to_string(IntOr(trigger, "intervalSecond", 0));
  }
  Json out = {{"recurring_run_id", MetaName(obj)},
              {"display_name", StrOr(spec, "displayName", MetaName(obj))},
              {"description", StrOr(spec, "description", "")},
              {"runtime_config",
               {{"parameters", ObjectAt(spec, "parameters")},
                {"pipeline_root", StrOr(spec, "pipelineRoot", "")}}},
              {"service_account", StrOr(spec, "serviceAccount", "")},
              {"max_concurrency", std::to_string(IntOr(spec, "maxConcurrency", 1))},
              {"trigger", api_trigger},
              {"mode", enabled ? "ENABLE" : "DISABLE"},
              {"status", enabled ? "ENABLED" : "DISABLED"},
              {"created_at", CreatedAt(obj)},
              {"updated_at", StrOr(status, "updatedAt", CreatedAt(obj))},
              {"no_catchup", BoolOr(spec, "noCatchup", false)},
              {"namespace", MetaNamespace(obj)},
              {"experiment_id", StrOr(spec, "experimentId", "")},
              // Skiff extensions: schedule bookkeeping.
              {"last_scheduled_at", StrOr(status, "lastScheduledAt", "")},
              {"next_scheduled_at", StrOr(status, "nextScheduledAt", "")},
              {"fired_runs", IntOr(status, "firedRuns", 0)}};
  if (const Json* ref = Obj(spec, "pipelineVersionReference", "pipelineVersionReference")) {
    out["pipeline_version_reference"] = {
        {"pipeline_id", StrOr(*ref, "pipelineId", "")},
        {"pipeline_version_id", StrOr(*ref, "pipelineVersionId", "")}};
  } else {
    out["pipeline_spec"] = ObjectAt(spec, "pipelineSpec");
  }
  const std::string message = StrOr(status, "message", "");
  if (!message.empty() && message.rfind("waiting", 0) != 0) {
    out["error"] = {{"code", 9}, {"message", message}, {"details", Json::array()}};
  }
  return out;
}

namespace {

// The stored trigger ({cron|intervalSecond, startTime?, endTime?}) from the API's V2beta1Trigger.
Result<Json> TriggerFromApi(const Json& body) {
  const Json* t = Obj(body, "trigger", "trigger");
  if (t == nullptr) return InvalidArgument("recurring_run.trigger: required object");
  const Json* cron = Obj(*t, "cron_schedule", "cronSchedule");
  const Json* periodic = Obj(*t, "periodic_schedule", "periodicSchedule");
  if ((cron == nullptr) == (periodic == nullptr)) {
    return InvalidArgument(
        "recurring_run.trigger: exactly one of cron_schedule and periodic_schedule is required");
  }
  const Json& src = cron != nullptr ? *cron : *periodic;
  Json out = Json::object();
  std::string start = Str(src, "start_time", "startTime"), end = Str(src, "end_time", "endTime");
  if (!start.empty()) out["startTime"] = start;
  if (!end.empty()) out["endTime"] = end;
  if (cron != nullptr) {
    out["cron"] = Str(src, "cron");
  } else {
    for (const char* k : {"interval_second", "intervalSecond"}) {
      if (!src.contains(k)) continue;
      // An int64 field: proto3 JSON sends it as a string ("3600") as often as a number.
      ASSIGN_OR_RETURN(int64_t seconds,
                       ProtoInt64(src[k], "recurring_run.trigger.periodic_schedule." +
                                              std::string("interval_second")));
      out["intervalSecond"] = seconds;
    }
    if (!out.contains("intervalSecond")) {
      return InvalidArgument("recurring_run.trigger.periodic_schedule.interval_second: required");
    }
  }
  auto parsed = pipelines::Schedule::FromTrigger(out);
  if (!parsed.ok()) return InvalidArgument("recurring_run." + parsed.status().message());
  return out;
}

}  // namespace

Result<Json> KfpApi::CreateRecurringRun(const HttpRequest& req) {
  ASSIGN_OR_RETURN(Json body, ParseBody(req));
  std::string experiment_id = Str(body, "experiment_id", "experimentId");
  std::string ns = NamespaceOf(req, &body);
  if (!experiment_id.empty()) {
    ASSIGN_OR_RETURN(Json exp,
                     FindById(req, kKfpExperimentType, experiment_id, "experiment", Verb::kGet));
    ns = MetaNamespace(exp);
  }
  RETURN_IF_ERROR(Check(req, ns, Verb::kCreate));
  ASSIGN_OR_RETURN(Json trigger, TriggerFromApi(body));
  Json pipeline_spec, platform_spec;
  RETURN_IF_ERROR(ResolveSpec(req, body, ns, &pipeline_spec, &platform_spec));
  const std::string display = Str(body, "display_name", "displayName");
  if (display.empty()) return InvalidArgument("recurring_run.display_name: required");
  const std::string mode = Str(body, "mode");
  if (!mode.empty() && mode != "ENABLE" && mode != "DISABLE" && mode != "MODE_UNSPECIFIED") {
    return InvalidArgument("recurring_run.mode: '" + mode + "' (ENABLE, DISABLE)");
  }
  int64_t max_concurrency = 1;
  for (const char* k : {"max_concurrency", "maxConcurrency"}) {
    if (!body.contains(k)) continue;
    ASSIGN_OR_RETURN(max_concurrency, ProtoInt64(body[k], "recurring_run.max_concurrency"));
  }
  if (max_concurrency < 1 || max_concurrency > 10) {
    return InvalidArgument("recurring_run.max_concurrency: must be between 1 and 10, got " +
                           std::to_string(max_concurrency));
  }
  bool no_catchup = false;
  for (const char* k : {"no_catchup", "noCatchup"}) {
    if (!body.contains(k) || body[k].is_null()) continue;
    if (!body[k].is_boolean()) {
      return InvalidArgument("recurring_run.no_catchup: must be a boolean, got " + body[k].dump());
    }
    no_catchup = body[k].get<bool>();
  }
  std::map<std::string, Json> params;
  std::string pipeline_root;
  Json params_json = Json::object();
  if (const Json* rc = Obj(body, "runtime_config", "runtimeConfig")) {
    if (rc->contains("parameters") && (*rc)["parameters"].is_object()) {
      params_json = (*rc)["parameters"];
      for (auto it = params_json.begin(); it != params_json.end(); ++it) params[it.key()] = *it;
    }
    pipeline_root = Str(*rc, "pipeline_root", "pipelineRoot");
  }
  Json obj = NewObject("RecurringRun", ns, NewUuid());
  Json& spec = obj["spec"];
  spec = {{"displayName", display},
          {"description", Str(body, "description")},
          {"experimentId", experiment_id},
          {"serviceAccount", Str(body, "service_account", "serviceAccount")},
          {"pipelineSpec", pipeline_spec},
          {"parameters", params_json},
          {"pipelineRoot", pipeline_root},
          {"trigger", trigger},
          {"maxConcurrency", max_concurrency},
          {"noCatchup", no_catchup},
          {"enabled", mode != "DISABLE"}};
  if (platform_spec.is_object() && !platform_spec.empty()) spec["platformSpec"] = platform_spec;
  if (const Json* ref = Obj(body, "pipeline_version_reference", "pipelineVersionReference")) {
    spec["pipelineVersionReference"] = {
        {"pipelineId", Str(*ref, "pipeline_id", "pipelineId")},
        {"pipelineVersionId", Str(*ref, "pipeline_version_id", "pipelineVersionId")}};
  }
  ASSIGN_OR_RETURN(Json created, CreateObject(kRecurringRunType, obj));
  return RecurringRunToApi(created);
}

Result<Json> KfpApi::ListRecurringRuns(const HttpRequest& req) {
  std::string ns = NamespaceOf(req, nullptr);
  const std::string experiment_id = req.Query("experiment_id");
  if (!experiment_id.empty()) {
    ASSIGN_OR_RETURN(Json exp,
                     FindById(req, kKfpExperimentType, experiment_id, "experiment", Verb::kList));
    ns = MetaNamespace(exp);
  }
  RETURN_IF_ERROR(Check(req, ns, Verb::kList));
  ASSIGN_OR_RETURN(KfpListQuery q,
                   KfpListQuery::FromRequest(req.Query("filter"), req.Query("sort_by"),
                                             req.Query("page_size"), req.Query("page_token")));
  ASSIGN_OR_RETURN(Json items, ListIn(kRecurringRunType, ns));
  std::vector<Json> api;
  for (const Json& rr : items) {
    if (!experiment_id.empty() &&
        StrOr(ObjectAt(rr, "spec"), "experimentId", "") != experiment_id) {
      continue;
    }
    Json a = RecurringRunToApi(rr);
    a.erase("pipeline_spec");
    api.push_back(std::move(a));
  }
  KfpPage page = q.Apply(std::move(api), "created_at");
  Json out = {{"total_size", page.total_size}, {"recurringRuns", page.items}};
  if (!page.next_page_token.empty()) out["next_page_token"] = page.next_page_token;
  return out;
}

Result<Json> KfpApi::GetRecurringRun(const HttpRequest& req) {
  ASSIGN_OR_RETURN(Json rr, FindById(req, kRecurringRunType, req.Param("recurring_run_id"),
                                     "recurring run", Verb::kGet));
  return RecurringRunToApi(rr);
}

Result<Json> KfpApi::DeleteRecurringRun(const HttpRequest& req) {
  ASSIGN_OR_RETURN(Json rr, FindById(req, kRecurringRunType, req.Param("recurring_run_id"),
                                     "recurring run", Verb::kDelete));
  RETURN_IF_ERROR(store_.Delete(kRecurringRunType, MetaNamespace(rr), MetaName(rr)).status());
  return Json::object();
}

Result<Json> KfpApi::RecurringRunAction(const HttpRequest& req) {
  auto [id, action] = SplitAction(req.Param("recurring_run_action"));
  if (action != "enable" && action != "disable") {
    return NotFound("unknown recurring run action '" + action + "' (enable, disable)");
  }
  // Only the spec changes: the recurring run controller notices the flip (and does not catch up
  // the times that passed while disabled), as it does for a flip through the generic API.
  for (int attempt = 0;; ++attempt) {
    ASSIGN_OR_RETURN(const Json stored,
                     FindById(req, kRecurringRunType, id, "recurring run", Verb::kUpdate));
    Json rr = stored;
    if (!rr["spec"].is_object()) rr["spec"] = Json::object();
    rr["spec"]["enabled"] = action == "enable";
    auto updated = UpdateObject(kRecurringRunType, stored, rr);
    if (updated.ok()) return Json::object();
    if (updated.status().code() != StatusCode::kConflict || attempt >= 20) return updated.status();
  }
}

// ---- routes ----

const Json& KfpOpenApiDocument() {
  static const Json doc = Json::parse(kKfpOpenApiJson, nullptr, /*allow_exceptions=*/false);
  return doc;
}

void RegisterKfpApi(KfpApi& api, const AddRouteFn& add_route) {
  const std::string b = "/apis/v2beta1";
  auto add = [&](const char* method, const std::string& pattern, KfpApi::Method m) {
    add_route(method, b + pattern, KfpHandler(api, m));
  };
  add("GET", "/healthz", &KfpApi::Healthz);
  add_route("GET", b + "/openapi.json", [](const HttpRequest&, HttpResponder& r) {
    static const std::string body = KfpOpenApiDocument().dump();
    if (KfpOpenApiDocument().is_discarded()) {
      r.SendJson(500, KfpErrorBody(Internal("the embedded OpenAPI document is not valid JSON")));
      return;
    }
    r.Send(200, body);
  });

  add("POST", "/experiments", &KfpApi::CreateExperiment);
  add("GET", "/experiments", &KfpApi::ListExperiments);
  add("GET", "/experiments/{experiment_id}", &KfpApi::GetExperiment);
  add("DELETE", "/experiments/{experiment_id}", &KfpApi::DeleteExperiment);
  add("POST", "/experiments/{experiment_action}", &KfpApi::ExperimentAction);

  add("POST", "/pipelines/upload", &KfpApi::UploadPipeline);
  add("POST", "/pipelines/upload_version", &KfpApi::UploadPipelineVersion);
  add("POST", "/pipelines/create", &KfpApi::CreatePipelineAndVersion);
  add("POST", "/pipelines", &KfpApi::CreatePipeline);
  add("GET", "/pipelines", &KfpApi::ListPipelines);
  add("GET", "/pipelines/names/{name}", &KfpApi::GetPipelineByName);
  add("GET", "/pipelines/{pipeline_id}", &KfpApi::GetPipeline);
  add("DELETE", "/pipelines/{pipeline_id}", &KfpApi::DeletePipeline);
  add("POST", "/pipelines/{pipeline_id}/versions", &KfpApi::CreatePipelineVersion);
  add("GET", "/pipelines/{pipeline_id}/versions", &KfpApi::ListPipelineVersions);
  add("GET", "/pipelines/{pipeline_id}/versions/{pipeline_version_id}",
      &KfpApi::GetPipelineVersion);
  add("DELETE", "/pipelines/{pipeline_id}/versions/{pipeline_version_id}",
      &KfpApi::DeletePipelineVersion);

  add("POST", "/runs", &KfpApi::CreateRun);
  add("GET", "/runs", &KfpApi::ListRuns);
  add("GET", "/runs/{run_id}", &KfpApi::GetRun);
  add("DELETE", "/runs/{run_id}", &KfpApi::DeleteRun);
  add("POST", "/runs/{run_action}", &KfpApi::RunAction);
  add("GET", "/runs/{run_id}/nodes/{node_id}/artifacts/{artifact_action}", &KfpApi::ReadArtifact);

  add("POST", "/recurringruns", &KfpApi::CreateRecurringRun);
  add("GET", "/recurringruns", &KfpApi::ListRecurringRuns);
  add("GET", "/recurringruns/{recurring_run_id}", &KfpApi::GetRecurringRun);
  add("DELETE", "/recurringruns/{recurring_run_id}", &KfpApi::DeleteRecurringRun);
  add("POST", "/recurringruns/{recurring_run_action}", &KfpApi::RecurringRunAction);
}

}  // namespace skiff
