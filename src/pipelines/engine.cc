#include "pipelines/engine.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <set>

#include "core/ids.h"
#include "core/resource.h"
#include "pipelines/dag_expression.h"

namespace skiff::pipelines {
namespace {

constexpr const char* kKindDag = "DAG";
constexpr const char* kKindLoop = "LOOP";
constexpr const char* kKindIteration = "ITERATION";
constexpr const char* kKindContainer = "CONTAINER";
constexpr const char* kKindImporter = "IMPORTER";
// Iterations one ParallelFor may run: past it the loop task fails, naming the limit (each
// iteration is a DAG of tasks in the run's status).
constexpr size_t kMaxLoopIterations = 10'000;

bool Succeeded(const std::string& state) { return state == kSucceeded || state == kCached; }

std::string StateOf(const Json& node) { return node.value("state", std::string(kPending)); }

Json EmptyIo() { return {{"parameters", Json::object()}, {"artifacts", Json::object()}}; }

Status CheckType(const std::string& name, const ParameterDefinition& def, const Json& value) {
  bool ok = true;
  switch (def.type) {
    case ParameterType::kString:
      ok = value.is_string();
      break;
    case ParameterType::kInteger:
      // An integral value in the int64 range: 3 and 3.0, not 3.5, 1e300 or 2^64 (which the
      // conversion to int64 would silently change).
      if (value.is_number_unsigned()) {
        ok = value.get<uint64_t>() <= static_cast<uint64_t>(INT64_MAX);
      } else if (value.is_number_float()) {
        const double d = value.get<double>();
        ok = d == std::trunc(d) && d >= -0x1p63 && d < 0x1p63;
      } else {
        ok = value.is_number_integer();
      }
      if (!ok && value.is_number()) {
        return InvalidArgument("parameter '" + name + "': expected NUMBER_INTEGER, got " +
                               value.dump() + " (not an integer in the int64 range)");
      }
      break;
    case ParameterType::kDouble:
      ok = value.is_number();
      break;
    case ParameterType::kBoolean:
      ok = value.is_boolean();
      break;
    case ParameterType::kList:
      ok = value.is_array();
      break;
    case ParameterType::kStruct:
      ok = value.is_object();
      break;
    default:
      break;
  }
  if (!ok) {
    return InvalidArgument("parameter '" + name + "': expected " + ParameterTypeName(def.type) +
                           ", got " + value.dump());
  }
  return Status::Ok();
}

// The per-call reconciler: holds references to everything one Reconcile needs.
class Reconciler {
 public:
  Reconciler(const PipelineSpec& spec, const RunContext& ctx, Json& status, TaskRunner& runner,
             Clock& clock)
      : spec_(spec),
        ctx_(ctx),
        status_(status),
        tasks_(status["tasks"]),
        runner_(runner),
        clock_(clock) {}

  // Reconciles the DAG node at `path` (which must be RUNNING). True when anything changed.
  Result<bool> ReconcileDag(const std::string& path, const ComponentSpec& comp) {
    bool any = false;
    const DagSpec& dag = *comp.dag;
    for (size_t round = 0; round <= dag.tasks.size() * 4 + 4; ++round) {
      bool changed = false;
      for (const auto& [key, task] : dag.tasks) {
        ASSIGN_OR_RETURN(bool c, StepTask(path, task));
        changed = changed || c;
      }
      any = any || changed;
      if (!changed) break;
      // Hand back to the controller now and then, so a long burst of instant tasks is written
      // to the store (progress and crash safety) instead of finishing in one unseen call.
      if (std::chrono::steady_clock::now() - started_ > ctx_.max_reconcile_time) break;
    }
    // Finished when every child is terminal.
    for (const auto& [key, task] : dag.tasks) {
      if (!IsTerminalState(StateOf(Node(path + "." + key)))) return any;
    }
    Json& node = tasks_[path];
    std::string failed;
    bool canceled = false;
    for (const auto& [key, task] : dag.tasks) {
      std::string st = StateOf(Node(path + "." + key));
      if (st == kFailed && failed.empty()) failed = key;
      if (st == kCanceled) canceled = true;
    }
    if (!failed.empty()) {
      Finish(node, kFailed, "task '" + failed + "' failed");
    } else if (canceled) {
      Finish(node, kCanceled, "cancelled");
    } else {
      Result<Json> outputs = ResolveDagOutputs(path, dag);
      if (!outputs.ok()) {
        Finish(node, kFailed, outputs.status().message());
        MarkFailing();
      } else {
        node["outputs"] = *outputs;
        Finish(node, kSucceeded, "");
      }
    }
    return true;
  }

  void Finish(Json& node, const char* state, const std::string& message) {
    node["state"] = state;
    if (!message.empty()) node["message"] = message;
    node["finish_time"] = Now();
    if (!node.contains("start_time")) node["start_time"] = node["finish_time"];
  }

  std::string Now() const { return FormatRfc3339(clock_.Now()); }
  bool Cancelling() const { return status_.value("cancel_requested", false); }
  bool RunFailing() const { return status_.value("failing", false); }
  void MarkFailing() { status_["failing"] = true; }

 private:
  const Json& Node(const std::string& path) const {
    static const Json kEmpty = Json::object();
    auto it = tasks_.find(path);
    return it == tasks_.end() ? kEmpty : *it;
  }

  Json& NewNode(const std::string& path, const std::string& parent, const TaskSpec& task,
                const char* kind) {
    Json& node = tasks_[path];
    node = {{"name", task.name},           {"key", task.key},
            {"component", task.component}, {"kind", kind},
            {"state", kPending},           {"attempt", 0},
            {"inputs", EmptyIo()},         {"outputs", EmptyIo()},
            {"children", Json::array()},   {"uuid", StableUuid(ctx_.run_id + "/" + path)}};
    Json& parent_node = tasks_[parent];
    if (!parent_node.contains("children")) parent_node["children"] = Json::array();
    parent_node["children"].push_back(path);
    return node;
  }

  // One task of the DAG at `dag_path`: create, start, poll or recurse. True when it changed.
  Result<bool> StepTask(const std::string& dag_path, const TaskSpec& task) {
    const std::string path = dag_path + "." + task.key;
    const ComponentSpec* comp = spec_.Component(task.component);
    if (comp == nullptr) return Internal("component '" + task.component + "' missing");
    const ExecutorSpec* exec = comp->dag ? nullptr : spec_.Executor(comp->executor_label);
    if (!tasks_.contains(path)) {
      const char* kind = task.iterator                         ? kKindLoop
                         : comp->dag                           ? kKindDag
                         : (exec != nullptr && exec->importer) ? kKindImporter
                                                               : kKindContainer;
      NewNode(path, dag_path, task, kind);
    }
    Json& node = tasks_[path];
    std::string state = StateOf(node);
    if (IsTerminalState(state)) return false;
    if (state == kPending) return StartTask(dag_path, path, task, *comp, exec);
    std::string kind = node.value("kind", "");
    if (kind == kKindDag) return ReconcileDag(path, *comp);
    if (kind == kKindLoop) return ReconcileLoop(path, task, *comp);
    if (kind == kKindContainer) return PollContainer(path, task, *comp, *exec);
    return InvalidArgument("task '" + path + "': unexpected kind '" + kind + "' while running");
  }

  Result<bool> StartTask(const std::string& dag_path, const std::string& path, const TaskSpec& task,
                         const ComponentSpec& comp, const ExecutorSpec* exec) {
    Json& node = tasks_[path];
    if (Cancelling()) {
      Finish(node, kCanceled, "run cancelled before the task started");
      return true;
    }
    // Wait for every upstream task to finish.
    std::vector<std::string> upstream = task.Upstream();
    for (const std::string& up : upstream) {
      if (!IsTerminalState(StateOf(Node(dag_path + "." + up)))) return false;
    }
    if (!task.all_upstream_completed) {
      for (const std::string& up : upstream) {
        std::string st = StateOf(Node(dag_path + "." + up));
        if (!Succeeded(st)) {
          Finish(node, kSkipped, "upstream task '" + up + "' is " + st);
          return true;
        }
      }
      if (RunFailing()) {
        Finish(node, kSkipped, "not started: the run is failing");
        return true;
      }
    }
    Result<Json> inputs = ResolveTaskInputs(dag_path, task);
    if (!inputs.ok()) {
      Finish(node, kFailed, inputs.status().message());
      MarkFailing();
      return true;
    }
    node["inputs"] = *inputs;
    if (!task.condition.empty()) {
      std::map<std::string, Json> values;
      for (auto it = (*inputs)["parameters"].begin(); it != (*inputs)["parameters"].end(); ++it) {
        values[it.key()] = *it;
      }
      Result<bool> run = EvaluateCondition(task.condition, values);
      if (!run.ok()) {
        Finish(node, kFailed, run.status().message());
        MarkFailing();
        return true;
      }
      if (!*run) {
        Finish(node, kSkipped, "condition is false: " + task.condition);
        return true;
      }
    }
    node["start_time"] = Now();
    if (task.iterator) return StartLoop(path, task, comp);
    if (comp.dag) {
      ApplyDagDefaults(node, comp);
      node["state"] = kRunning;
      return true;
    }
    if (exec->importer) {
      RunImporter(path, task, comp, *exec->importer);
      return true;
    }
    return StartAttempt(path, task, comp, *exec, 0);
  }

  // Inputs of a nested DAG that were not passed get the component's defaults.
  static void ApplyDagDefaults(Json& node, const ComponentSpec& comp) {
    Json& params = node["inputs"]["parameters"];
    for (const auto& [name, def] : comp.inputs.parameters) {
      if (!params.contains(name) && def.default_value) params[name] = *def.default_value;
    }
  }

  std::string SubstituteRuntimeConstants(std::string text, const std::string& task_name,
                                         const std::string& task_path) const {
    TimePoint schedule = ctx_.schedule_time == TimePoint{} ? ctx_.create_time : ctx_.schedule_time;
    const std::pair<const char*, std::string> kValues[] = {
        {"{{$.pipeline_job_name}}", ctx_.display_name.empty() ? ctx_.run_name : ctx_.display_name},
        {"{{$.pipeline_job_resource_name}}", ctx_.run_name},
        {"{{$.pipeline_job_uuid}}", ctx_.run_id},
        {"{{$.pipeline_task_name}}", task_name},
        {"{{$.pipeline_task_uuid}}", StableUuid(ctx_.run_id + "/" + task_path)},
        {"{{$.pipeline_job_create_time_utc}}", FormatRfc3339(ctx_.create_time)},
        {"{{$.pipeline_job_schedule_time_utc}}", FormatRfc3339(schedule)},
        {"{{$.workspace_path}}", "/kfp-workspace"},
        {"{{$.pipeline_root}}", PipelineRoot()},
    };
    for (const auto& [placeholder, value] : kValues) {
      size_t pos = 0;
      while ((pos = text.find(placeholder, pos)) != std::string::npos) {
        text.replace(pos, std::char_traits<char>::length(placeholder), value);
        pos += value.size();
      }
    }
    return text;
  }

  std::string PipelineRoot() const {
    return ctx_.pipeline_root.empty() ? spec_.default_pipeline_root : ctx_.pipeline_root;
  }

  // dsl.PipelineTaskFinalStatus as the KFP driver fills it: `state` is the producer's ML Metadata
  // execution state (COMPLETE, CACHED, FAILED, CANCELED).
  Json FinalStatus(const std::string& dag_path, const std::string& producer) const {
    const Json& up = Node(dag_path + "." + producer);
    std::string st = StateOf(up);
    std::string state = st == kSucceeded  ? "COMPLETE"
                        : st == kCached   ? "CACHED"
                        : st == kCanceled ? "CANCELED"
                                          : "FAILED";
    Json error = Json::object();
    if (!Succeeded(st)) {
      error = {{"code", 2}, {"message", up.value("message", std::string(st))}};
    }
    return {{"state", state},
            {"pipelineJobResourceName", ctx_.run_name},
            {"pipelineTaskName", up.value("name", producer)},
            {"error", error}};
  }

  Result<Json> ResolveTaskInputs(const std::string& dag_path, const TaskSpec& task) const {
    const Json& dag_inputs = Node(dag_path)["inputs"];
    Json out = EmptyIo();
    for (const auto& [name, b] : task.parameters) {
      std::optional<Json> value;
      switch (b.kind) {
        case ParameterBinding::Kind::kComponentInput: {
          const Json& params = dag_inputs["parameters"];
          if (params.contains(b.component_input)) value = params[b.component_input];
          break;
        }
        case ParameterBinding::Kind::kTaskOutput: {
          const Json& producer = Node(dag_path + "." + b.producer_task);
          const Json& outs = producer["outputs"]["parameters"];
          if (outs.contains(b.output_key)) {
            value = outs[b.output_key];
          } else if (Succeeded(StateOf(producer))) {
            return InvalidArgument("input '" + name + "': task '" + b.producer_task +
                                   "' has no output parameter '" + b.output_key + "'");
          }
          break;
        }
        case ParameterBinding::Kind::kConstant:
          value = b.constant.is_string()
                      ? Json(SubstituteRuntimeConstants(b.constant.get<std::string>(), task.name,
                                                        dag_path + "." + task.key))
                      : b.constant;
          break;
        case ParameterBinding::Kind::kTaskFinalStatus:
          value = FinalStatus(dag_path, b.producer_task);
          break;
      }
      if (value && !b.expression_selector.empty()) {
        Result<Json> selected = EvaluateSelector(b.expression_selector, *value);
        if (!selected.ok()) return selected.status().WithContext("input '" + name + "'");
        value = *selected;
      }
      if (value) out["parameters"][name] = *value;
    }
    // f-string constants refer to the task's other inputs: "heads and
    // {{$.inputs.parameters['x']}}".
    for (const auto& [name, b] : task.parameters) {
      if (b.kind != ParameterBinding::Kind::kConstant || !out["parameters"].contains(name) ||
          !out["parameters"][name].is_string()) {
        continue;
      }
      std::string text = out["parameters"][name].get<std::string>();
      for (auto it = out["parameters"].begin(); it != out["parameters"].end(); ++it) {
        if (it.key() == name) continue;
        std::string ph = "{{$.inputs.parameters['" + it.key() + "']}}";
        std::string value = ParameterValueText(*it);
        for (size_t pos = text.find(ph); pos != std::string::npos;
             pos = text.find(ph, pos + value.size())) {
          text.replace(pos, ph.size(), value);
        }
      }
      out["parameters"][name] = text;
    }
    for (const auto& [name, b] : task.artifacts) {
      if (b.kind == ArtifactBinding::Kind::kComponentInput) {
        const Json& arts = dag_inputs["artifacts"];
        if (arts.contains(b.component_input)) out["artifacts"][name] = arts[b.component_input];
      } else {
        const Json& producer = Node(dag_path + "." + b.producer_task);
        const Json& outs = producer["outputs"]["artifacts"];
        if (outs.contains(b.output_key)) {
          out["artifacts"][name] = outs[b.output_key];
        } else if (Succeeded(StateOf(producer))) {
          return InvalidArgument("input '" + name + "': task '" + b.producer_task +
                                 "' has no output artifact '" + b.output_key + "'");
        }
      }
    }
    return out;
  }

  Result<Json> ResolveDagOutputs(const std::string& path, const DagSpec& dag) const {
    Json out = EmptyIo();
    for (const auto& [name, param] : dag.output_parameters) {
      bool found = false;
      for (const OutputSelector& sel : param.selectors) {
        const Json& child = Node(path + "." + sel.producer_subtask);
        const Json& outs = child["outputs"]["parameters"];
        if (Succeeded(StateOf(child)) && outs.contains(sel.output_key)) {
          out["parameters"][name] = outs[sel.output_key];
          found = true;
          break;
        }
      }
      if (!found && param.one_of) {
        return InvalidArgument("output parameter '" + name + "': no OneOf branch ran");
      }
    }
    for (const auto& [name, selectors] : dag.output_artifacts) {
      bool found = false;
      for (const OutputSelector& sel : selectors) {
        const Json& child = Node(path + "." + sel.producer_subtask);
        const Json& outs = child["outputs"]["artifacts"];
        if (Succeeded(StateOf(child)) && outs.contains(sel.output_key)) {
          out["artifacts"][name] = outs[sel.output_key];
          found = true;
          break;
        }
      }
      if (!found && selectors.size() > 1) {
        return InvalidArgument("output artifact '" + name + "': no OneOf branch ran");
      }
    }
    return out;
  }

  // --- ParallelFor ---

  Result<bool> StartLoop(const std::string& path, const TaskSpec& task, const ComponentSpec& comp) {
    Json& node = tasks_[path];
    const IteratorSpec& it = *task.iterator;
    Json items;
    if (it.raw_items) {
      items = *it.raw_items;
    } else if (it.over_artifacts) {
      items = node["inputs"]["artifacts"].value(it.input_name, Json::array());
    } else {
      const Json& params = node["inputs"]["parameters"];
      if (!params.contains(it.input_name)) {
        Finish(node, kFailed, "loop items: input '" + it.input_name + "' has no value");
        MarkFailing();
        return true;
      }
      items = params[it.input_name];
      if (items.is_string()) {
        auto parsed = ParseJson(items.get<std::string>(), "loop items");
        if (parsed.ok()) items = std::move(parsed).value();
      }
    }
    if (!items.is_array()) {
      Finish(node, kFailed, "loop items are not a list: " + items.dump());
      MarkFailing();
      return true;
    }
    if (items.size() > kMaxLoopIterations) {
      Finish(node, kFailed,
             "the loop has " + std::to_string(items.size()) + " items; at most " +
                 std::to_string(kMaxLoopIterations) + " iterations are run");
      MarkFailing();
      return true;
    }
    node["items"] = items;
    node["iteration_count"] = items.size();
    ApplyDagDefaults(node, comp);
    node["state"] = kRunning;
    return true;
  }

  Result<bool> ReconcileLoop(const std::string& path, const TaskSpec& task,
                             const ComponentSpec& comp) {
    bool changed = false;
    const size_t count = tasks_[path]["items"].size();
    const int limit = task.iterator->parallelism_limit;
    int running = 0;
    size_t created = 0;
    for (size_t i = 0; i < count; ++i) {
      std::string ipath = path + ".iteration-" + std::to_string(i);
      if (!tasks_.contains(ipath)) continue;
      ++created;
      if (StateOf(tasks_[ipath]) != kRunning) continue;
      ASSIGN_OR_RETURN(bool c, ReconcileDag(ipath, comp));
      changed = changed || c;
      if (StateOf(tasks_[ipath]) == kRunning) ++running;
    }
    // Start further iterations, in order, up to the parallelism limit.
    for (size_t i = 0; i < count && !Cancelling() && !RunFailing(); ++i) {
      std::string ipath = path + ".iteration-" + std::to_string(i);
      if (tasks_.contains(ipath)) continue;
      if (limit > 0 && running >= limit) break;
      Json& parent = tasks_[path];
      TaskSpec iteration_task;
      iteration_task.key = task.key + ".iteration-" + std::to_string(i);
      iteration_task.name = task.name + "-iteration-" + std::to_string(i);
      iteration_task.component = task.component;
      Json& node = NewNode(ipath, path, iteration_task, kKindIteration);
      node["inputs"] = parent["inputs"];
      const Json& item = parent["items"][i];
      if (task.iterator->over_artifacts) {
        node["inputs"]["artifacts"][task.iterator->item_input] = Json::array({item});
      } else {
        node["inputs"]["parameters"][task.iterator->item_input] = item;
      }
      node["iteration_index"] = i;
      node["start_time"] = Now();
      node["state"] = kRunning;
      ++running;
      ++created;
      changed = true;
    }
    if (running > 0) return changed;
    if (created < count && !Cancelling() && !RunFailing()) return changed;
    // Every iteration that will run has finished: collect outputs (dsl.Collected).
    Json& node = tasks_[path];
    Json outputs = EmptyIo();
    const DagSpec& dag = *comp.dag;
    for (const auto& [name, p] : dag.output_parameters) outputs["parameters"][name] = Json::array();
    for (const auto& [name, a] : dag.output_artifacts) outputs["artifacts"][name] = Json::array();
    std::string failed;
    bool canceled = created < count;
    for (size_t i = 0; i < count; ++i) {
      std::string ipath = path + ".iteration-" + std::to_string(i);
      if (!tasks_.contains(ipath)) continue;
      const Json& it = tasks_[ipath];
      std::string st = StateOf(it);
      if (st == kFailed && failed.empty()) failed = ipath;
      if (st == kCanceled) canceled = true;
      if (!Succeeded(st)) continue;
      for (auto p = it["outputs"]["parameters"].begin(); p != it["outputs"]["parameters"].end();
           ++p) {
        outputs["parameters"][p.key()].push_back(*p);
      }
      for (auto a = it["outputs"]["artifacts"].begin(); a != it["outputs"]["artifacts"].end();
           ++a) {
        for (const Json& art : *a) outputs["artifacts"][a.key()].push_back(art);
      }
    }
    if (!failed.empty()) {
      Finish(node, kFailed, "iteration '" + failed + "' failed");
    } else if (canceled) {
      Finish(node, kCanceled, "cancelled");
    } else {
      node["outputs"] = outputs;
      Finish(node, kSucceeded, "");
    }
    return true;
  }

  // --- importer ---

  void RunImporter(const std::string& path, const TaskSpec& task, const ComponentSpec& comp,
                   const ImporterSpec& importer) {
    Json& node = tasks_[path];
    const Json& params = node["inputs"]["parameters"];
    Json uri;
    if (importer.uri_constant) {
      uri = *importer.uri_constant;
    } else if (params.contains(importer.uri_parameter)) {
      uri = params[importer.uri_parameter];
    }
    if (!uri.is_string() || uri.get<std::string>().empty()) {
      Finish(node, kFailed, "importer: artifact URI has no value");
      MarkFailing();
      return;
    }
    // Metadata values may hold {{$.inputs.parameters['x']}} placeholders.
    Json metadata = importer.metadata;
    std::function<void(Json&)> substitute = [&](Json& v) {
      if (v.is_string()) {
        std::string s = v.get<std::string>();
        for (auto it = params.begin(); it != params.end(); ++it) {
          std::string ph = "{{$.inputs.parameters['" + it.key() + "']}}";
          if (s == ph) {
            v = *it;
            return;
          }
          size_t pos;
          while ((pos = s.find(ph)) != std::string::npos) {
            s.replace(pos, ph.size(), ParameterValueText(*it));
          }
        }
        v = s;
      } else if (v.is_object() || v.is_array()) {
        for (Json& e : v) substitute(e);
      }
    };
    substitute(metadata);
    std::string output_name = "artifact";
    if (!comp.outputs.artifacts.empty()) output_name = comp.outputs.artifacts.begin()->first;
    Artifact art;
    art.name = output_name;
    art.uri = uri.get<std::string>();
    art.schema_title = importer.schema_title;
    art.schema_version = importer.schema_version;
    art.metadata = metadata;
    node["outputs"]["artifacts"][output_name] = Json::array({ArtifactToJson(art)});
    node["reimport"] = importer.reimport;
    (void)task;
    Finish(node, kSucceeded, "");
  }

  // --- container tasks ---

  // kfp-kubernetes settings name things (pvcNameParameter, secretNameParameter, ...) by an input
  // of the DAG the task runs in ({"componentInputParameter": NAME}) or by an output of a sibling
  // task ({"taskOutputParameter": {producerTask, outputParameterKey}}); as the KFP driver does,
  // the value found is written beside the reference as "resolved" for the launcher. Older
  // kfp-kubernetes put the reference on the entry itself ({"mountPath", "taskOutputParameter"}),
  // newer in a "<field>Parameter" object; both are resolved. A DAG input without a value resolves
  // to null, and the launcher leaves that setting out, as the KFP driver does.
  void ResolvePlatformInputs(const std::string& path, Json& config) const {
    const std::string dag = path.substr(0, path.rfind('.'));
    const Json& dag_params =
        Node(dag).value("inputs", Json::object()).value("parameters", Json::object());
    auto text = [](const Json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); };
    std::function<void(Json&)> walk = [&](Json& j) {
      if (j.is_array()) {
        for (Json& item : j) walk(item);
        return;
      }
      if (!j.is_object()) return;
      if (j.contains("componentInputParameter") && j["componentInputParameter"].is_string()) {
        // An optional input without a value resolves to null: the setting is left out.
        auto p = dag_params.find(j["componentInputParameter"].get<std::string>());
        j["resolved"] = p == dag_params.end() || p->is_null() ? Json() : Json(text(*p));
      } else if (j.contains("taskOutputParameter") && j["taskOutputParameter"].is_object()) {
        const Json& ref = j["taskOutputParameter"];
        const Json& outs = Node(dag + "." + ref.value("producerTask", ""))
                               .value("outputs", Json::object())
                               .value("parameters", Json::object());
        auto o = outs.find(ref.value("outputParameterKey", ""));
        if (o != outs.end()) j["resolved"] = text(*o);
      }
      for (auto it = j.begin(); it != j.end(); ++it) {
        if (it.key() != "resolved") walk(it.value());
      }
    };
    walk(config);
  }

  TaskInvocation Invocation(const std::string& path, const TaskSpec& task,
                            const ComponentSpec& comp, const ExecutorSpec& exec,
                            int attempt) const {
    const Json& node = Node(path);
    TaskInvocation inv;
    inv.run_id = ctx_.run_id;
    inv.run_name = ctx_.run_name;
    inv.namespace_ = ctx_.namespace_;
    inv.task_path = path;
    inv.task_name = task.name;
    inv.attempt = attempt;
    // A retried run (generation > 0) gives its re-run tasks fresh workload ids.
    const int generation = status_.value("generation", 0);
    inv.workload_id = ctx_.run_id + "." +
                      (generation > 0 ? "g" + std::to_string(generation) + "." : "") + path + "." +
                      std::to_string(attempt);
    inv.component_spec = comp.raw;
    inv.executor_spec = exec.raw;
    inv.platform_config = spec_.PlatformConfig(exec.label);
    ResolvePlatformInputs(path, inv.platform_config);
    const Json& inputs = node["inputs"];
    for (auto it = inputs["parameters"].begin(); it != inputs["parameters"].end(); ++it) {
      inv.parameter_inputs[it.key()] = *it;
    }
    for (auto it = inputs["artifacts"].begin(); it != inputs["artifacts"].end(); ++it) {
      std::vector<Artifact>& list = inv.artifact_inputs[it.key()];
      for (const Json& a : *it) list.push_back(ArtifactFromJson(a));
    }
    inv.pipeline_root = PipelineRoot();
    inv.enable_cache = ctx_.enable_cache && task.enable_cache;
    return inv;
  }

  Result<bool> StartAttempt(const std::string& path, const TaskSpec& task,
                            const ComponentSpec& comp, const ExecutorSpec& exec, int attempt) {
    Json& node = tasks_[path];
    TaskInvocation inv = Invocation(path, task, comp, exec, attempt);
    node["attempt"] = attempt;
    node["workload_id"] = inv.workload_id;
    node["attempt_start_time"] = Now();
    node.erase("retry_at");
    Status started = runner_.Start(inv);
    if (!started.ok()) {
      RecordAttempt(node, kFailed, started.message());
      Finish(node, kFailed, "start: " + started.message());
      MarkFailing();
      return true;
    }
    node["state"] = kRunning;
    return true;
  }

  void RecordAttempt(Json& node, const char* state, const std::string& message) {
    if (!node.contains("attempts")) node["attempts"] = Json::array();
    node["attempts"].push_back({{"attempt", node.value("attempt", 0)},
                                {"state", state},
                                {"message", message},
                                {"start_time", node.value("attempt_start_time", Now())},
                                {"finish_time", Now()}});
  }

  // activeDeadlineSeconds from the Kubernetes platform config (kfp-kubernetes set_timeout).
  std::optional<std::chrono::seconds> Timeout(const ExecutorSpec& exec) const {
    Json config = spec_.PlatformConfig(exec.label);
    if (!config.is_object() || !config.contains("activeDeadlineSeconds")) return std::nullopt;
    const Json& v = config["activeDeadlineSeconds"];
    try {
      int64_t s = v.is_string() ? std::stoll(v.get<std::string>()) : v.get<int64_t>();
      if (s > 0) return std::chrono::seconds(s);
    } catch (const std::exception&) {
    }
    return std::nullopt;
  }

  Result<bool> PollContainer(const std::string& path, const TaskSpec& task,
                             const ComponentSpec& comp, const ExecutorSpec& exec) {
    Json& node = tasks_[path];
    int attempt = node.value("attempt", 0);
    if (node.contains("retry_at")) {
      if (Cancelling()) {
        Finish(node, kCanceled, "cancelled while waiting to retry");
        return true;
      }
      TimePoint at;
      if (!ParseRfc3339(node["retry_at"].get<std::string>(), &at)) {
        return InvalidArgument("task '" + path + "': bad retry_at");
      }
      if (clock_.Now() < at) return false;
      return StartAttempt(path, task, comp, exec, attempt + 1);
    }
    // A running task is asked once per Reconcile: what finishes later is the next Reconcile's
    // (the backend's change notification brings it), so a busy run is not spun on.
    if (!Cancelling() && !polled_.insert(path).second) return false;
    TaskInvocation inv = Invocation(path, task, comp, exec, attempt);
    if (Cancelling()) {
      Status st = runner_.Cancel(inv);
      RecordAttempt(node, kCanceled, "cancelled");
      Finish(node, kCanceled, st.ok() ? "cancelled" : "cancelled: " + st.message());
      return true;
    }
    std::optional<TaskOutcome> outcome;
    if (std::optional<std::chrono::seconds> timeout = Timeout(exec)) {
      TimePoint started;
      if (ParseRfc3339(node.value("attempt_start_time", std::string()), &started) &&
          clock_.Now() - started >= *timeout) {
        (void)runner_.Cancel(inv);
        TaskOutcome timed_out;
        timed_out.state = TaskOutcome::State::kFailed;
        timed_out.message = "timeout after " + std::to_string(timeout->count()) + "s";
        outcome = timed_out;
      }
    }
    if (!outcome) {
      Result<std::optional<TaskOutcome>> polled = runner_.Poll(inv);
      if (!polled.ok()) {
        TaskOutcome failed;
        failed.message = "poll: " + polled.status().message();
        outcome = failed;
      } else if (!polled->has_value()) {
        return false;
      } else {
        outcome = **polled;
      }
    }
    if (!outcome->warnings.empty()) node["warnings"] = outcome->warnings;
    if (outcome->state != TaskOutcome::State::kFailed) {
      Json outputs = EmptyIo();
      for (const auto& [name, value] : outcome->output_parameters) {
        outputs["parameters"][name] = value;
      }
      for (const auto& [name, list] : outcome->output_artifacts) {
        Json arr = Json::array();
        for (const Artifact& a : list) arr.push_back(ArtifactToJson(a));
        outputs["artifacts"][name] = arr;
      }
      node["outputs"] = outputs;
      const char* st = outcome->state == TaskOutcome::State::kCached ? kCached : kSucceeded;
      RecordAttempt(node, st, outcome->message);
      Finish(node, st, outcome->message);
      return true;
    }
    RecordAttempt(node, kFailed, outcome->message);
    int max_retries = task.retry ? task.retry->max_retry_count : 0;
    if (attempt < max_retries) {
      const RetryPolicy& r = *task.retry;
      double delay_ms = static_cast<double>(r.backoff_duration.count()) *
                        std::pow(r.backoff_factor, static_cast<double>(attempt));
      delay_ms = std::min(delay_ms, static_cast<double>(r.backoff_max_duration.count()));
      auto delay = std::chrono::milliseconds(static_cast<int64_t>(delay_ms));
      node["retry_at"] = FormatRfc3339(clock_.Now() + delay);
      node["message"] = "attempt " + std::to_string(attempt) + " failed: " + outcome->message;
      // A zero backoff retries right away in this same reconcile.
      if (delay.count() == 0) return StartAttempt(path, task, comp, exec, attempt + 1);
      return true;
    }
    Finish(node, kFailed, outcome->message);
    MarkFailing();
    return true;
  }

  const PipelineSpec& spec_;
  const RunContext& ctx_;
  Json& status_;
  Json& tasks_;
  TaskRunner& runner_;
  Clock& clock_;
  const std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  std::set<std::string> polled_;  // running tasks already polled in this Reconcile
};

}  // namespace

bool IsTerminalState(const std::string& state) {
  return state == kSucceeded || state == kFailed || state == kSkipped || state == kCached ||
         state == kCanceled;
}

Json ArtifactToJson(const Artifact& a) {
  return {{"name", a.name},
          {"uri", a.uri},
          {"schemaTitle", a.schema_title},
          {"schemaVersion", a.schema_version},
          {"metadata", a.metadata}};
}

Artifact ArtifactFromJson(const Json& j) {
  Artifact a;
  if (!j.is_object()) return a;
  a.name = j.value("name", "");
  a.uri = j.value("uri", "");
  a.schema_title = j.value("schemaTitle", "");
  a.schema_version = j.value("schemaVersion", "");
  if (j.contains("metadata") && j["metadata"].is_object()) a.metadata = j["metadata"];
  return a;
}

Result<std::map<std::string, Json>> ResolvePipelineParameters(
    const PipelineSpec& spec, const std::map<std::string, Json>& overrides) {
  std::map<std::string, Json> out;
  const auto& defs = spec.root.inputs.parameters;
  for (const auto& [name, value] : overrides) {
    auto it = defs.find(name);
    if (it == defs.end()) {
      return InvalidArgument("parameter '" + name + "': not an input of pipeline '" + spec.name +
                             "'");
    }
    RETURN_IF_ERROR(CheckType(name, it->second, value));
    Json v = value;
    if (it->second.type == ParameterType::kInteger && v.is_number_float()) {
      v = static_cast<int64_t>(v.get<double>());
    }
    out[name] = v;
  }
  for (const auto& [name, def] : defs) {
    if (out.count(name)) continue;
    if (def.default_value) {
      out[name] = *def.default_value;
    } else if (!def.is_optional) {
      return InvalidArgument("parameter '" + name + "': required by pipeline '" + spec.name +
                             "' and not given");
    }
  }
  return out;
}

void Engine::RequestCancel(Json& run_status) {
  if (!run_status.is_object()) run_status = Json::object();
  if (run_status.contains("state") && IsTerminalState(run_status["state"].get<std::string>())) {
    return;
  }
  run_status["cancel_requested"] = true;
}

Result<bool> Engine::Reconcile(const PipelineSpec& spec, const RunContext& context,
                               Json& run_status, TaskRunner& runner, Clock& clock) {
  if (!run_status.is_object()) run_status = Json::object();
  if (!run_status.contains("tasks")) {
    std::map<std::string, Json> overrides = context.parameters;
    // Old-style {pipelineSpec, runtimeConfig} jobs carry their own values; explicit ones win.
    if (spec.runtime_config.contains("parameterValues") &&
        spec.runtime_config["parameterValues"].is_object()) {
      for (auto it = spec.runtime_config["parameterValues"].begin();
           it != spec.runtime_config["parameterValues"].end(); ++it) {
        overrides.emplace(it.key(), *it);
      }
    }
    ASSIGN_OR_RETURN(auto params, ResolvePipelineParameters(spec, overrides));
    Json inputs = EmptyIo();
    for (const auto& [k, v] : params) inputs["parameters"][k] = v;
    std::string now = FormatRfc3339(clock.Now());
    run_status["state"] = kRunning;
    run_status["start_time"] = now;
    run_status["parameters"] = inputs["parameters"];
    run_status["failing"] = false;
    run_status.emplace("cancel_requested", false);
    run_status["tasks"] = Json::object();
    run_status["tasks"]["root"] = {
        {"name", spec.name}, {"kind", kKindDag},     {"component", "root"},
        {"state", kRunning}, {"attempt", 0},         {"start_time", now},
        {"inputs", inputs},  {"outputs", EmptyIo()}, {"children", Json::array()}};
  }
  if (!run_status["tasks"].is_object() || !run_status["tasks"].contains("root")) {
    return InvalidArgument("run status: tasks.root missing");
  }
  std::string state = run_status.value("state", std::string(kRunning));
  if (IsTerminalState(state)) return true;
  Reconciler r(spec, context, run_status, runner, clock);
  Json& root = run_status["tasks"]["root"];
  if (StateOf(root) == kRunning) {
    try {
      ASSIGN_OR_RETURN(bool changed, r.ReconcileDag("root", spec.root));
      (void)changed;
    } catch (const Json::exception& e) {
      return InvalidArgument(std::string("run status is malformed: ") + e.what());
    }
  }
  Json& root_after = run_status["tasks"]["root"];
  std::string root_state = StateOf(root_after);
  if (!IsTerminalState(root_state)) return false;
  run_status["state"] = root_state == kCached ? kSucceeded : root_state;
  if (root_after.contains("message")) run_status["message"] = root_after["message"];
  run_status["outputs"] = root_after["outputs"];
  run_status["finish_time"] = FormatRfc3339(clock.Now());
  return true;
}

}  // namespace skiff::pipelines
