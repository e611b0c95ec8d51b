// Lineage across runs, from the server's lineage endpoints (kfp/lineage_api.h):
//   skiff get artifacts [URI] [-o json|yaml]   URI, type, producer run/task, created, consumers
//   skiff describe artifact URI                producer, consumers, type, metadata, and the
//                                              executions of its producer task across runs
//   skiff get executions [TASK] [-o json|yaml] every run of a task (or of every task)
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "cli/api_client.h"
#include "cli/commands.h"
#include "cli/printers.h"
#include "http/http_server.h"
#include "kfp/lineage_api.h"

namespace skiff::cli {
namespace {

std::string Str(const Json& obj, const char* key) {
  if (!obj.is_object() || !obj.contains(key) || !obj[key].is_string()) return "";
  return obj[key].get<std::string>();
}

// "root.train" -> "train"; nested paths keep their DAGs ("loop.iteration-0.train").
std::string TaskLabel(const std::string& path) {
  return path.rfind("root.", 0) == 0 ? path.substr(5) : path;
}

// "r1/train", or "<none>".
std::string RefLabel(const Json& ref) {
  if (!ref.is_object()) return "<none>";
  return Str(ref, "run") + "/" + TaskLabel(Str(ref, "task"));
}

std::string LineagePath(const GlobalFlags& g, const std::string& what) {
  return std::string(kLineageApiPrefix) + PercentEncode(g.namespace_) + "/" + what;
}

Result<Json> Fetch(const GlobalFlags& g, const std::string& path) {
  ASSIGN_OR_RETURN(ClientConfig cfg, LoadClientConfig(g.config));
  ApiClient api(std::move(cfg));
  return api.Call("GET", path);
}

// Prints `doc` as JSON or YAML; false for any other output.
bool PrintStructured(const std::string& output, const Json& doc) {
  if (output == "json") {
    std::printf("%s\n", doc.dump(2).c_str());
  } else if (output == "yaml") {
    std::printf("%s", ToYaml(doc).c_str());
  } else {
    return false;
  }
  return true;
}

std::string ExecutionsTable(const Json& executions) {
  std::vector<std::vector<std::string>> rows = {{"RUN", "TASK", "STATE", "STARTED", "FINISHED"}};
  for (const Json& e : executions) {
    rows.push_back({Str(e, "run"), TaskLabel(Str(e, "task")), Str(e, "state"), Str(e, "startTime"),
                    Str(e, "finishTime")});
  }
  return FormatColumns(rows);
}

int GetArtifacts(const GlobalFlags& g, const std::string& uri, const std::string& output) {
  Result<Json> got =
      Fetch(g, LineagePath(g, uri.empty() ? "artifacts" : "artifacts/" + PercentEncode(uri)));
  if (!got.ok()) return Fail(got.status());
  if (PrintStructured(output, *got)) return 0;
  if (!output.empty() && output != "wide") {
    return Fail(InvalidArgument("--output: must be one of yaml, json, wide"));
  }
  const Json items = uri.empty() ? got->value("items", Json::array()) : Json::array({*got});
  if (items.empty()) {
    std::fprintf(stderr, "No artifacts found in %s namespace.\n", g.namespace_.c_str());
    return 0;
  }
  std::vector<std::vector<std::string>> rows = {
      {"URI", "TYPE", "PRODUCER", "CREATED", "CONSUMERS"}};
  for (const Json& a : items) {
    const Json consumers = a.value("consumers", Json::array());
    rows.push_back({Str(a, "uri"), Str(a, "type"), RefLabel(a.value("producer", Json())),
                    Str(a, "created"),
                    std::to_string(consumers.is_array() ? consumers.size() : 0)});
  }
  std::printf("%s", FormatColumns(rows).c_str());
  return 0;
}

int GetExecutions(const GlobalFlags& g, const std::string& task, const std::string& output) {
  Result<Json> got =
      Fetch(g, LineagePath(g, "executions") + (task.empty() ? "" : "?task=" + PercentEncode(task)));
  if (!got.ok()) return Fail(got.status());
  if (PrintStructured(output, *got)) return 0;
  if (!output.empty() && output != "wide") {
    return Fail(InvalidArgument("--output: must be one of yaml, json, wide"));
  }
  const Json items = got->value("items", Json::array());
  if (items.empty()) {
    std::fprintf(stderr, "No executions%s found in %s namespace.\n",
                 task.empty() ? "" : (" of task " + task).c_str(), g.namespace_.c_str());
    return 0;
  }
  std::printf("%s", ExecutionsTable(items).c_str());
  return 0;
}

// "run r1, task consumer, input data (CACHED)".
std::string Mention(const Json& ref, const char* key_word) {
  std::string out = "run " + Str(ref, "run") + ", task " + TaskLabel(Str(ref, "task"));
  if (!Str(ref, "key").empty()) out += std::string(", ") + key_word + " " + Str(ref, "key");
  if (!Str(ref, "state").empty()) out += " (" + Str(ref, "state") + ")";
  return out;
}

std::string Indented(const std::string& text, const std::string& prefix) {
  std::string out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    out += prefix + text.substr(start, end - start) + "\n";
    start = end + 1;
  }
  return out;
}

int DescribeArtifact(const GlobalFlags& g, const std::string& uri) {
  Result<Json> got = Fetch(g, LineagePath(g, "artifacts/" + PercentEncode(uri)));
  if (!got.ok()) return Fail(got.status());
  const Json& a = *got;
  std::string out;
  out += "URI:        " + Str(a, "uri") + "\n";
  out += "Name:       " + Str(a, "name") + "\n";
  out += "Type:       " + Str(a, "type") +
         (Str(a, "schemaVersion").empty() ? "" : " (" + Str(a, "schemaVersion") + ")") + "\n";
  out += "Namespace:  " + g.namespace_ + "\n";
  out += "Created:    " + Str(a, "created") + "\n";
  const Json producer = a.value("producer", Json());
  out += "Producer:   " + (producer.is_object() ? Mention(producer, "output") : "<none>") + "\n";
  const Json consumers = a.value("consumers", Json::array());
  out += "Consumers:" + std::string(consumers.empty() ? "  <none>" : "") + "\n";
  for (const Json& c : consumers) out += "  " + Mention(c, "input") + "\n";
  const Json reused = a.value("reusedBy", Json::array());
  if (!reused.empty()) {
    out += "Reused by (from the cache, or imported again):\n";
    for (const Json& r : reused) out += "  " + Mention(r, "output") + "\n";
  }
  const Json metadata = a.value("metadata", Json::object());
  out += "Metadata:" + std::string(metadata.empty() ? "   <none>" : "") + "\n";
  if (!metadata.empty()) out += Indented(ToYaml(metadata), "  ");
  if (producer.is_object()) {
    const std::string task = Str(producer, "task");
    Result<Json> executions =
        Fetch(g, LineagePath(g, "executions") + "?task=" + PercentEncode(task));
    if (executions.ok()) {
      const Json items = executions->value("items", Json::array());
      out += "Executions of " + TaskLabel(task) + ":\n" + Indented(ExecutionsTable(items), "  ");
    }
  }
  std::printf("%s", out.c_str());
  return 0;
}

}  // namespace

bool IsLineageKind(const std::string& kind) {
  return kind == "artifact" || kind == "artifacts" || kind == "execution" || kind == "executions";
}

int CmdGetLineage(const GlobalFlags& g, const std::string& kind, const std::string& name,
                  const std::string& output) {
  if (g.all_namespaces) return Fail(InvalidArgument("lineage is per namespace: drop -A"));
  if (kind == "execution" || kind == "executions") return GetExecutions(g, name, output);
  return GetArtifacts(g, name, output);
}

int CmdDescribeLineage(const GlobalFlags& g, const std::string& kind, const std::string& name) {
  if (kind == "execution" || kind == "executions") {
    return GetExecutions(g, name, "");
  }
  return DescribeArtifact(g, name);
}

}  // namespace skiff::cli
