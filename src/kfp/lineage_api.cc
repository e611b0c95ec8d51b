#include "kfp/lineage_api.h"

#include <algorithm>
#include <tuple>

#include "http/status_json.h"
#include "pipelines/run_controller.h"

namespace skiff {
namespace {

constexpr char kApiVersion[] = "skiff.dev/v1alpha1";

// obj[key] when obj is an object that has it, else null; no copies.
const Json& FieldOf(const Json& obj, const char* key) {
  static const Json kNull;
  if (!obj.is_object()) return kNull;
  auto it = obj.find(key);
  return it != obj.end() ? *it : kNull;
}

std::string Text(const Json& obj, const char* key) {
  const Json& v = FieldOf(obj, key);
  return v.is_string() ? v.get<std::string>() : std::string();
}

// An artifact list as the engine stores it ([{name, uri, schemaTitle, ...}]); a lone object too.
std::vector<const Json*> ArtifactList(const Json& value) {
  std::vector<const Json*> out;
  if (value.is_object()) {
    out.push_back(&value);
  } else if (value.is_array()) {
    for (const Json& a : value) {
      if (a.is_object()) out.push_back(&a);
    }
  }
  return out;
}

// {"parameters": {...}, "artifacts": {name: [uri, ...]}} from a task's inputs or outputs.
Json IoSummary(const Json& io) {
  Json out = {{"parameters", Json::object()}, {"artifacts", Json::object()}};
  const Json& params = FieldOf(io, "parameters");
  if (params.is_object()) out["parameters"] = params;
  const Json& arts = FieldOf(io, "artifacts");
  if (arts.is_object()) {
    for (auto it = arts.begin(); it != arts.end(); ++it) {
      Json uris = Json::array();
      for (const Json* a : ArtifactList(*it)) {
        if (!Text(*a, "uri").empty()) uris.push_back(Text(*a, "uri"));
      }
      out["artifacts"][it.key()] = std::move(uris);
    }
  }
  return out;
}

bool Earlier(const LineageTaskRef& a, const LineageTaskRef& b) {
  return std::tie(a.time, a.run, a.task, a.key) < std::tie(b.time, b.run, b.task, b.key);
}

Json RefJson(const LineageTaskRef& r) {
  return {{"run", r.run}, {"task", r.task}, {"state", r.state}, {"key", r.key}, {"time", r.time}};
}

Json RefsJson(const std::vector<LineageTaskRef>& refs) {
  Json out = Json::array();
  for (const LineageTaskRef& r : refs) out.push_back(RefJson(r));
  return out;
}

}  // namespace

void LineageIndex::AddRun(const Json& run) {
  const std::string run_name = Text(FieldOf(run, "metadata"), "name");
  const Json& tasks = FieldOf(FieldOf(FieldOf(run, "status"), "engine"), "tasks");
  if (run_name.empty() || !tasks.is_object()) return;
  for (auto it = tasks.begin(); it != tasks.end(); ++it) {
    const Json& t = *it;
    const std::string kind = Text(t, "kind");
    if (kind != "CONTAINER" && kind != "IMPORTER") continue;  // DAGs pass their children's on
    LineageExecution e;
    e.run = run_name;
    e.task = it.key();
    e.name = Text(t, "name");
    e.component = Text(t, "component");
    e.kind = kind;
    e.state = Text(t, "state");
    e.start_time = Text(t, "start_time");
    e.finish_time = Text(t, "finish_time");
    e.message = Text(t, "message");
    e.inputs = IoSummary(FieldOf(t, "inputs"));
    e.outputs = IoSummary(FieldOf(t, "outputs"));

    const Json& outputs = FieldOf(FieldOf(t, "outputs"), "artifacts");
    if (outputs.is_object()) {
      for (auto o = outputs.begin(); o != outputs.end(); ++o) {
        for (const Json* a : ArtifactList(*o)) {
          const std::string uri = Text(*a, "uri");
          if (uri.empty()) continue;
          AddOutput(uri, *a,
                    {run_name, e.task, e.state, o.key(),
                     e.finish_time.empty() ? e.start_time : e.finish_time});
        }
      }
    }
    const Json& inputs = FieldOf(FieldOf(t, "inputs"), "artifacts");
    if (inputs.is_object()) {
      for (auto in = inputs.begin(); in != inputs.end(); ++in) {
        for (const Json* a : ArtifactList(*in)) {
          const std::string uri = Text(*a, "uri");
          if (uri.empty()) continue;
          LineageArtifact& art = artifacts_[uri];
          if (art.uri.empty()) {  // consumed before (or without) its producer being seen
            art.uri = uri;
            art.name = Text(*a, "name");
            art.type = Text(*a, "schemaTitle");
            art.schema_version = Text(*a, "schemaVersion");
          }
          art.consumers.push_back({run_name, e.task, e.state, in.key(), e.start_time});
          unsorted_.insert(uri);
        }
      }
    }
    executions_.push_back(std::move(e));
  }
}

void LineageIndex::AddOutput(const std::string& uri, const Json& artifact,
                             const LineageTaskRef& by) {
  LineageArtifact& art = artifacts_[uri];
  art.uri = uri;
  const bool cached = by.state == "CACHED";
  const bool replaces =
      !cached && (!art.producer || art.producer->state == "CACHED" || Earlier(by, *art.producer));
  if (!replaces) {
    art.reused_by.push_back(by);
    unsorted_.insert(uri);
    if (art.producer) return;
  } else if (art.producer) {
    art.reused_by.push_back(*art.producer);
    unsorted_.insert(uri);
  }
  // The producer's (or, until one is seen, the first reuser's) view of the artifact.
  if (replaces || art.reused_by.size() == 1) {
    art.name = Text(artifact, "name");
    art.type = Text(artifact, "schemaTitle");
    art.schema_version = Text(artifact, "schemaVersion");
    const Json& metadata = FieldOf(artifact, "metadata");
    art.metadata = metadata.is_object() ? metadata : Json::object();
    art.created = by.time;
  }
  if (replaces) art.producer = by;
}

void LineageIndex::SortPending() const {
  for (const std::string& uri : unsorted_) {
    LineageArtifact& art = artifacts_[uri];
    // Stable: refs that compare equal keep the order they were added in.
    std::stable_sort(art.consumers.begin(), art.consumers.end(), Earlier);
    std::stable_sort(art.reused_by.begin(), art.reused_by.end(), Earlier);
  }
  unsorted_.clear();
}

std::vector<const LineageArtifact*> LineageIndex::Artifacts() const {
  SortPending();
  std::vector<const LineageArtifact*> out;
  for (const auto& [uri, a] : artifacts_) out.push_back(&a);
  std::stable_sort(out.begin(), out.end(), [](const LineageArtifact* a, const LineageArtifact* b) {
    return std::tie(a->created, a->uri) < std::tie(b->created, b->uri);
  });
  return out;
}

const LineageArtifact* LineageIndex::Find(const std::string& uri) const {
  SortPending();
  auto it = artifacts_.find(uri);
  return it == artifacts_.end() ? nullptr : &it->second;
}

std::vector<LineageExecution> LineageIndex::Executions(const std::string& task) const {
  std::vector<LineageExecution> out;
  for (const LineageExecution& e : executions_) {
    if (task.empty() || e.name == task || e.task == task || e.task == "root." + task) {
      out.push_back(e);
    }
  }
  std::stable_sort(
      out.begin(), out.end(), [](const LineageExecution& a, const LineageExecution& b) {
        return std::tie(a.start_time, a.run, a.task) < std::tie(b.start_time, b.run, b.task);
      });
  return out;
}

Json LineageArtifactJson(const LineageArtifact& a) {
  Json out = {{"uri", a.uri},
              {"name", a.name},
              {"type", a.type},
              {"schemaVersion", a.schema_version},
              {"metadata", a.metadata},
              {"created", a.created},
              {"producer", a.producer ? RefJson(*a.producer) : Json()},
              {"consumers", RefsJson(a.consumers)},
              {"reusedBy", RefsJson(a.reused_by)}};
  return out;
}

Json LineageExecutionJson(const LineageExecution& e) {
  return {{"run", e.run},
          {"task", e.task},
          {"name", e.name},
          {"component", e.component},
          {"kind", e.kind},
          {"state", e.state},
          {"startTime", e.start_time},
          {"finishTime", e.finish_time},
          {"message", e.message},
          {"inputs", e.inputs},
          {"outputs", e.outputs}};
}

namespace {

// The namespace's runs, indexed, once the principal may list them.
Result<LineageIndex> IndexFor(Store& store, Authorizer& authz, const HttpRequest& req) {
  const std::string ns = req.Param("namespace");
  RETURN_IF_ERROR(
      authz.Check(req.principal, AccessRequest{pipelines::kPipelineRunType, ns, Verb::kList}));
  ASSIGN_OR_RETURN(ListResult runs, store.List(pipelines::kPipelineRunType, ns, ListOptions{}));
  LineageIndex index;
  for (const Json& run : runs.items) index.AddRun(run);
  return index;
}

Json ListOf(const char* kind, Json items) {
  return {{"apiVersion", kApiVersion}, {"kind", kind}, {"items", std::move(items)}};
}

}  // namespace

void AddLineageRoutes(const AddRouteFn& add_route, Store& store, Authorizer& authz) {
  const std::string base = std::string(kLineageApiPrefix) + "{namespace}";
  add_route("GET", base + "/artifacts", [&store, &authz](const HttpRequest& req, HttpResponder& r) {
    Result<LineageIndex> index = IndexFor(store, authz, req);
    if (!index.ok()) return SendStatusError(r, index.status());
    Json items = Json::array();
    for (const LineageArtifact* a : index->Artifacts()) items.push_back(LineageArtifactJson(*a));
    r.SendJson(200, ListOf("ArtifactList", std::move(items)));
  });
  add_route("GET", base + "/artifacts/{uri}",
            [&store, &authz](const HttpRequest& req, HttpResponder& r) {
              Result<LineageIndex> index = IndexFor(store, authz, req);
              if (!index.ok()) return SendStatusError(r, index.status());
              const LineageArtifact* a = index->Find(req.Param("uri"));
              if (a == nullptr) {
                return SendStatusError(
                    r, NotFound("artifact \"" + req.Param("uri") + "\" not found in the runs of " +
                                "namespace \"" + req.Param("namespace") + "\""));
              }
              Json out = LineageArtifactJson(*a);
              out["apiVersion"] = kApiVersion;
              out["kind"] = "Artifact";
              r.SendJson(200, out);
            });
  add_route("GET", base + "/executions",
            [&store, &authz](const HttpRequest& req, HttpResponder& r) {
              Result<LineageIndex> index = IndexFor(store, authz, req);
              if (!index.ok()) return SendStatusError(r, index.status());
              Json items = Json::array();
              for (const LineageExecution& e : index->Executions(req.Query("task"))) {
                items.push_back(LineageExecutionJson(e));
              }
              r.SendJson(200, ListOf("ExecutionList", std::move(items)));
            });
}

}  // namespace skiff
