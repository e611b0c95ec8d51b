#include "pipelines/run_retry.h"

#include <algorithm>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace skiff::pipelines {
namespace {

bool Kept(const std::string& state) { return state == "SUCCEEDED" || state == "CACHED"; }

// Resets the DAG node at `path`: drops children that did not succeed (with their subtrees) and
// recurses into nested DAGs. Returns false when the node itself must be dropped.
bool Reset(Json& tasks, const std::string& path, std::set<std::string>& dropped) {
  Json& node = tasks[path];
  const std::string state = node.value("state", "");
  if (Kept(state)) return true;
  const std::string kind = node.value("kind", "");
  if (kind != "DAG") {
    // Containers, importers, loops and iterations re-run whole.
    std::vector<std::string> stack = {path};
    while (!stack.empty()) {
      std::string p = stack.back();
      stack.pop_back();
      dropped.insert(p);
      if (tasks.contains(p)) {
        for (const Json& c : tasks[p].value("children", Json::array())) {
          if (c.is_string()) stack.push_back(c.get<std::string>());
        }
      }
    }
    return false;
  }
  Json children = Json::array();
  for (const Json& c : node.value("children", Json::array())) {
    if (!c.is_string() || !tasks.contains(c.get<std::string>())) continue;
    if (Reset(tasks, c.get<std::string>(), dropped)) children.push_back(c);
  }
  Json& again = tasks[path];
  again["children"] = children;
  again["state"] = "RUNNING";
  again.erase("finish_time");
  again.erase("message");
  return true;
}

int64_t IntField(const Json& obj, const char* field) {
  if (!obj.is_object()) return 0;
  auto it = obj.find(field);
  return it != obj.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
}

}  // namespace

bool RetryRequested(const Json& run) {
  return IntField(run.value("spec", Json()), "retries") >
         IntField(run.value("status", Json()), "retries");
}

Status RequestRetry(Json& run) {
  const Json& status = run.value("status", Json());
  const std::string state = status.is_object() && status.value("state", Json()).is_string()
                                ? status.value("state", std::string())
                                : std::string();
  if (state != "FAILED" && state != "CANCELED") {
    return FailedPrecondition("only a FAILED or CANCELED run can be retried; this one is " +
                              (state.empty() ? std::string("PENDING") : state));
  }
  if (RetryRequested(run)) return Status::Ok();  // asked already, not yet begun
  if (!run["spec"].is_object()) run["spec"] = Json::object();
  const int64_t done = IntField(status, "retries");
  if (done >= kMaxRunRetries) {
    return FailedPrecondition("the run was retried " + std::to_string(done) +
                              " times, the most a run may be");
  }
  run["spec"]["retries"] = done + 1;
  run["spec"]["cancelRequested"] = false;
  return Status::Ok();
}

Status ResetRunForRetry(Json& run) {
  if (!run.contains("status") || !run["status"].is_object()) {
    return FailedPrecondition("run has not started; nothing to retry");
  }
  Json& status = run["status"];
  const std::string state = status.value("state", "");
  if (state != "FAILED" && state != "CANCELED") {
    return FailedPrecondition("only a FAILED or CANCELED run can be retried; this one is " +
                              (state.empty() ? std::string("PENDING") : state));
  }
  status["state"] = "PENDING";
  status.erase("finishedAt");
  status["message"] = "";
  status["retries"] = std::min(
      kMaxRunRetries, std::max(IntField(run["spec"], "retries"),
                               std::min(IntField(status, "retries"), kMaxRunRetries - 1) + 1));
  if (!status.contains("engine") || !status["engine"].is_object() ||
      !status["engine"].contains("tasks") || !status["engine"]["tasks"].is_object() ||
      !status["engine"]["tasks"].contains("root")) {
    // The run failed before it started (bad parameters): it starts over.
    status.erase("engine");
    return Status::Ok();
  }
  Json& engine = status["engine"];
  Json& tasks = engine["tasks"];
  std::set<std::string> dropped;
  Reset(tasks, "root", dropped);
  for (const std::string& p : dropped) tasks.erase(p);
  engine["state"] = "RUNNING";
  // Re-run tasks get new workload ids: the failed attempts' workloads stay finished as they were.
  engine["generation"] = status["retries"];
  engine["failing"] = false;
  engine["cancel_requested"] = false;
  engine.erase("finish_time");
  engine.erase("message");
  return Status::Ok();
}

}  // namespace skiff::pipelines
