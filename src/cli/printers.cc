#include "cli/printers.h"

#include <algorithm>
#include <set>
#include <sstream>

namespace skiff::cli {
namespace {

std::string Age(const Json& obj, TimePoint now) {
  TimePoint created;
  if (!obj.contains("metadata") ||
      !ParseRfc3339(obj["metadata"].value("creationTimestamp", ""), &created)) {
    return "<unknown>";
  }
  return HumanDuration(now - created);
}

std::string Str(const Json& obj, std::initializer_list<const char*> path, std::string dflt = "") {
  const Json* cur = &obj;
  for (const char* p : path) {
    if (!cur->is_object() || !cur->contains(p)) return dflt;
    cur = &(*cur)[p];
  }
  if (cur->is_string()) return cur->get<std::string>();
  if (cur->is_null()) return dflt;
  return cur->dump();
}

std::string JobStatusWord(const Json& job) {
  for (const Json& c : job.value("status", Json::object()).value("conditions", Json::array())) {
    if (c.value("status", "") != "True") continue;
    if (c.value("type", "") == "Complete") return "Complete";
    if (c.value("type", "") == "Failed") return "Failed";
  }
  if (job["spec"].value("suspend", false)) return "Suspended";
  return "Running";
}

std::string RenderTable(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  std::ostringstream out;
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) {
      out << row[i];
      if (i + 1 < row.size()) out << std::string(widths[i] - row[i].size() + 3, ' ');
    }
    out << "\n";
  }
  return out.str();
}

std::string PodExitCode(const Json& pod) {
  for (const Json& c :
       pod.value("status", Json::object()).value("containerStatuses", Json::array())) {
    if (c.contains("state") && c["state"].contains("terminated")) {
      return std::to_string(c["state"]["terminated"].value("exitCode", 0));
    }
  }
  return "";
}

}  // namespace

std::string HumanDuration(TimePoint::duration d) {
  long long s = std::chrono::duration_cast<std::chrono::seconds>(d).count();
  if (s < 0) s = 0;
  if (s < 120) return std::to_string(s) + "s";
  long long m = s / 60;
  if (m < 10) return std::to_string(m) + "m" + std::to_string(s % 60) + "s";
  if (m < 180) return std::to_string(m) + "m";
  long long h = m / 60;
  if (h < 48) return std::to_string(h) + "h" + (m % 60 ? std::to_string(m % 60) + "m" : "");
  return std::to_string(h / 24) + "d" + (h % 24 ? std::to_string(h % 24) + "h" : "");
}

std::string PrintTable(const ResourceType& type, const std::vector<Json>& items, TimePoint now,
                       bool with_namespace) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> header;
  if (with_namespace) header.push_back("NAMESPACE");
  if (type.kind == "Job") {
    header.insert(header.end(), {"NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"});
  } else if (type.kind == "Pod") {
    header.insert(header.end(), {"NAME", "READY", "STATUS", "EXIT CODE", "AGE"});
  } else if (type.kind == "PipelineRun") {
    header.insert(header.end(), {"NAME", "STATE", "TASKS", "DURATION", "AGE"});
  } else {
    header.insert(header.end(), {"NAME", "AGE"});
  }
  rows.push_back(header);
  for (const Json& obj : items) {
    std::vector<std::string> row;
    if (with_namespace) row.push_back(MetaNamespace(obj));
    row.push_back(MetaName(obj));
    if (type.kind == "Job") {
      const Json st = obj.value("status", Json::object());
      std::string want =
          obj["spec"].contains("completions") && obj["spec"]["completions"].is_number()
              ? std::to_string(obj["spec"]["completions"].get<int>())
              : "1";
      row.push_back(JobStatusWord(obj));
      row.push_back(std::to_string(st.value("succeeded", 0)) + "/" + want);
      TimePoint start, end = now;
      if (ParseRfc3339(st.value("startTime", ""), &start)) {
        ParseRfc3339(st.value("completionTime", ""), &end);
        row.push_back(HumanDuration(end - start));
      } else {
        row.push_back("");
      }
    } else if (type.kind == "Pod") {
      const Json st = obj.value("status", Json::object());
      int total = 0, ready = 0;
      for (const Json& c : st.value("containerStatuses", Json::array())) {
        total++;
        if (c.value("ready", false)) ready++;
      }
      if (total == 0)
        total = static_cast<int>(obj["spec"].value("containers", Json::array()).size());
      row.push_back(std::to_string(ready) + "/" + std::to_string(total));
      std::string phase = st.value("phase", "Pending");
      std::string reason = st.value("reason", "");
      row.push_back(reason.empty() || phase != "Failed" ? phase : phase + " (" + reason + ")");
      row.push_back(PodExitCode(obj));
    } else if (type.kind == "PipelineRun") {
      const Json st = obj.value("status", Json::object());
      row.push_back(st.value("state", "PENDING"));
      int total = 0, done = 0;
      const Json tasks = st.value("engine", Json::object()).value("tasks", Json::object());
      for (auto it = tasks.begin(); it != tasks.end(); ++it) {
        std::string kind = it.value().value("kind", "");
        if (kind != "CONTAINER" && kind != "IMPORTER") continue;
        total++;
        std::string s = it.value().value("state", "");
        if (s == "SUCCEEDED" || s == "CACHED" || s == "FAILED" || s == "SKIPPED" || s == "CANCELED")
          done++;
      }
      row.push_back(std::to_string(done) + "/" + std::to_string(total));
      TimePoint start, end = now;
      if (ParseRfc3339(st.value("startedAt", ""), &start)) {
        ParseRfc3339(st.value("finishedAt", ""), &end);
        row.push_back(HumanDuration(end - start));
      } else {
        row.push_back("");
      }
    }
    row.push_back(Age(obj, now));
    rows.push_back(row);
  }
  return RenderTable(rows);
}

std::string Describe(const ResourceType& type, const Json& obj, const std::vector<Json>& related,
                     TimePoint now) {
  std::ostringstream out;
  out << "Name:         " << MetaName(obj) << "\n";
  if (type.namespaced) out << "Namespace:    " << MetaNamespace(obj) << "\n";
  out << "Kind:         " << type.kind << " (" << type.ApiVersion() << ")\n";
  std::string labels;
  for (const auto& [k, v] : MetaLabels(obj)) labels += (labels.empty() ? "" : ",") + k + "=" + v;
  out << "Labels:       " << (labels.empty() ? "<none>" : labels) << "\n";
  out << "Created:      " << Str(obj, {"metadata", "creationTimestamp"}) << " (" << Age(obj, now)
      << " ago)\n";
  const Json st = obj.value("status", Json::object());
  if (type.kind == "Job") {
    const Json& spec = obj["spec"];
    out << "Parallelism:  " << spec.value("parallelism", 1) << "\n";
    out << "Completions:  "
        << (spec.contains("completions") ? spec["completions"].dump() : "<unset>") << "\n";
    out << "Completion Mode: " << spec.value("completionMode", "NonIndexed") << "\n";
    out << "Backoff Limit: " << spec.value("backoffLimit", 6) << "\n";
    if (spec.contains("activeDeadlineSeconds")) {
      out << "Active Deadline Seconds: " << spec["activeDeadlineSeconds"].dump() << "s\n";
    }
    out << "Start Time:   " << st.value("startTime", "<none>") << "\n";
    if (st.contains("completionTime"))
      out << "Completed At: " << st["completionTime"].get<std::string>() << "\n";
    out << "Pods Statuses: " << st.value("active", 0) << " Active / " << st.value("succeeded", 0)
        << " Succeeded / " << st.value("failed", 0) << " Failed\n";
    out << "Conditions:\n";
    std::vector<std::vector<std::string>> rows = {{"  TYPE", "STATUS", "REASON", "MESSAGE"}};
    for (const Json& c : st.value("conditions", Json::array())) {
      rows.push_back({"  " + c.value("type", ""), c.value("status", ""), c.value("reason", ""),
                      c.value("message", "")});
    }
    out << (rows.size() > 1 ? RenderTable(rows) : "  <none>\n");
    out << "Pods (attempts, oldest first):\n";
    std::vector<std::vector<std::string>> prow = {
        {"  NAME", "PHASE", "EXIT CODE", "STARTED", "FINISHED", "REASON"}};
    for (const Json& p : related) {
      const Json ps = p.value("status", Json::object());
      prow.push_back({"  " + MetaName(p), ps.value("phase", "Pending"), PodExitCode(p),
                      ps.value("startTime", ""), ps.value("finishTime", ""),
                      ps.value("reason", "")});
    }
    out << (prow.size() > 1 ? RenderTable(prow) : "  <none>\n");
  } else if (type.kind == "PipelineRun") {
    out << "Pipeline:     " << Str(obj, {"spec", "pipelineSpec", "pipelineInfo", "name"}) << "\n";
    out << "State:        " << st.value("state", "PENDING") << "\n";
    if (!st.value("message", "").empty())
      out << "Message:      " << st["message"].get<std::string>() << "\n";
    out << "Started:      " << st.value("startedAt", "<not yet>") << "\n";
    out << "Finished:     " << st.value("finishedAt", "<not yet>") << "\n";
    out << "Parameters:   " << obj["spec"].value("parameters", Json::object()).dump() << "\n";
    out << "Tasks:\n";
    const Json tasks = st.value("engine", Json::object()).value("tasks", Json::object());
    std::vector<std::vector<std::string>> rows = {
        {"  TASK", "KIND", "STATE", "ATTEMPTS", "OUTPUTS"}};
    for (auto it = tasks.begin(); it != tasks.end(); ++it) {
      const Json& t = it.value();
      if (it.key() == "root") continue;
      // Indent by depth in the tree: "root.a.b" is two levels down.
      std::string path = it.key().substr(5);
      size_t depth = static_cast<size_t>(std::count(path.begin(), path.end(), '.'));
      std::string label = std::string(2 + 2 * depth, ' ') + t.value("name", path);
      std::string outputs;
      const Json params = t.value("outputs", Json::object()).value("parameters", Json::object());
      for (auto p = params.begin(); p != params.end(); ++p) {
        outputs += (outputs.empty() ? "" : " ") + p.key() + "=" + p.value().dump();
      }
      rows.push_back({label, t.value("kind", ""), t.value("state", ""),
                      std::to_string(t.value("attempt", 0) + 1), outputs.substr(0, 80)});
    }
    out << (rows.size() > 1 ? RenderTable(rows) : "  <none yet>\n");
    // Settings without effect on this backend, each said once with the first task it came from.
    std::vector<std::string> notes;
    std::set<std::string> said;
    for (auto it = tasks.begin(); it != tasks.end(); ++it) {
      for (const Json& w : it.value().value("warnings", Json::array())) {
        if (w.is_string() && said.insert(w.get<std::string>()).second) {
          notes.push_back("  " + it.key().substr(it.key().find('.') + 1) + ": " +
                          w.get<std::string>());
        }
      }
    }
    if (!notes.empty()) {
      out << "Notes:\n";
      for (const std::string& n : notes) out << n << "\n";
    }
  } else {
    if (obj.contains("spec")) out << "Spec:\n" << ToYaml(obj["spec"]);
    if (!st.empty()) out << "Status:\n" << ToYaml(st);
  }
  return out.str();
}

}  // namespace skiff::cli
