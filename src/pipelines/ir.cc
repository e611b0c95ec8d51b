#include "pipelines/ir.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

#include "core/quantity.h"
#include "core/resource.h"

namespace skiff::pipelines {
namespace {

// Errors carry the source and a dotted field path: "x.yaml: root.dag.tasks.a.componentRef: ...".
class Ctx {
 public:
  Ctx(std::string source) : source_(std::move(source)) {}  // NOLINT
  Status Error(const std::string& field, const std::string& what) const {
    return InvalidArgument(source_ + ": " + field + ": " + what);
  }
  const std::string& source() const { return source_; }

 private:
  std::string source_;
};

std::string Join(const std::string& a, const std::string& b) { return a.empty() ? b : a + "." + b; }

Result<const Json*> Child(const Ctx& ctx, const Json& obj, const std::string& path,
                          const std::string& key, Json::value_t want, bool required) {
  if (!obj.is_object()) return ctx.Error(path, "must be an object");
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) {
    if (required) return ctx.Error(Join(path, key), "required");
    return static_cast<const Json*>(nullptr);
  }
  bool ok = it->type() == want || (want == Json::value_t::number_float && it->is_number()) ||
            (want == Json::value_t::number_integer && it->is_number_integer());
  if (!ok) {
    const char* name = want == Json::value_t::object    ? "an object"
                       : want == Json::value_t::array   ? "a list"
                       : want == Json::value_t::string  ? "a string"
                       : want == Json::value_t::boolean ? "a boolean"
                                                        : "a number";
    return ctx.Error(Join(path, key), std::string("must be ") + name);
  }
  return &*it;
}

Result<std::string> StringField(const Ctx& ctx, const Json& obj, const std::string& path,
                                const std::string& key, bool required) {
  ASSIGN_OR_RETURN(const Json* v, Child(ctx, obj, path, key, Json::value_t::string, required));
  if (v == nullptr) return std::string();
  if (required && v->get<std::string>().empty()) return ctx.Error(Join(path, key), "required");
  return v->get<std::string>();
}

Status CheckKeys(const Ctx& ctx, const Json& obj, const std::string& path,
                 const std::set<std::string>& known) {
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    if (!known.count(it.key())) {
      return ctx.Error(Join(path, it.key()), "unknown field");
    }
  }
  return Status::Ok();
}

Result<ParameterType> ParseParameterType(const Ctx& ctx, const Json& def, const std::string& path) {
  std::string text;
  if (def.contains("parameterType")) {
    ASSIGN_OR_RETURN(text, StringField(ctx, def, path, "parameterType", false));
  } else if (def.contains("type")) {  // schemaVersion 2.0.0
    ASSIGN_OR_RETURN(text, StringField(ctx, def, path, "type", false));
  }
  static const std::map<std::string, ParameterType> kTypes = {
      {"", ParameterType::kUnspecified},
      {"PARAMETER_TYPE_ENUM_UNSPECIFIED", ParameterType::kUnspecified},
      {"STRING", ParameterType::kString},
      {"NUMBER_INTEGER", ParameterType::kInteger},
      {"INT", ParameterType::kInteger},
      {"NUMBER_DOUBLE", ParameterType::kDouble},
      {"DOUBLE", ParameterType::kDouble},
      {"BOOLEAN", ParameterType::kBoolean},
      {"LIST", ParameterType::kList},
      {"STRUCT", ParameterType::kStruct},
      {"TASK_FINAL_STATUS", ParameterType::kTaskFinalStatus},
  };
  auto it = kTypes.find(text);
  if (it == kTypes.end()) return ctx.Error(path + ".parameterType", "unknown type '" + text + "'");
  return it->second;
}

Result<InterfaceDefinition> ParseInterface(const Ctx& ctx, const Json& obj,
                                           const std::string& path) {
  InterfaceDefinition out;
  if (!obj.is_object()) return ctx.Error(path, "must be an object");
  ASSIGN_OR_RETURN(const Json* params,
                   Child(ctx, obj, path, "parameters", Json::value_t::object, false));
  if (params != nullptr) {
    for (auto it = params->begin(); it != params->end(); ++it) {
      std::string p = path + ".parameters." + it.key();
      if (!it->is_object()) return ctx.Error(p, "must be an object");
      ParameterDefinition def;
      ASSIGN_OR_RETURN(def.type, ParseParameterType(ctx, *it, p));
      if (it->contains("defaultValue")) def.default_value = (*it)["defaultValue"];
      ASSIGN_OR_RETURN(const Json* opt,
                       Child(ctx, *it, p, "isOptional", Json::value_t::boolean, false));
      def.is_optional = opt != nullptr && opt->get<bool>();
      out.parameters[it.key()] = std::move(def);
    }
  }
  ASSIGN_OR_RETURN(const Json* arts,
                   Child(ctx, obj, path, "artifacts", Json::value_t::object, false));
  if (arts != nullptr) {
    for (auto it = arts->begin(); it != arts->end(); ++it) {
      std::string p = path + ".artifacts." + it.key();
      if (!it->is_object()) return ctx.Error(p, "must be an object");
      ArtifactDefinition def;
      ASSIGN_OR_RETURN(const Json* type,
                       Child(ctx, *it, p, "artifactType", Json::value_t::object, false));
      if (type != nullptr) {
        ASSIGN_OR_RETURN(def.schema_title,
                         StringField(ctx, *type, p + ".artifactType", "schemaTitle", false));
        ASSIGN_OR_RETURN(def.schema_version,
                         StringField(ctx, *type, p + ".artifactType", "schemaVersion", false));
      }
      ASSIGN_OR_RETURN(const Json* list,
                       Child(ctx, *it, p, "isArtifactList", Json::value_t::boolean, false));
      def.is_list = list != nullptr && list->get<bool>();
      ASSIGN_OR_RETURN(const Json* opt,
                       Child(ctx, *it, p, "isOptional", Json::value_t::boolean, false));
      def.is_optional = opt != nullptr && opt->get<bool>();
      out.artifacts[it.key()] = std::move(def);
    }
  }
  return out;
}

// runtimeValue: {constant: <any>} (2.1.0) or {constantValue: {stringValue|intValue|doubleValue}}.
Result<Json> ParseRuntimeValue(const Ctx& ctx, const Json& rv, const std::string& path) {
  if (!rv.is_object()) return ctx.Error(path, "must be an object");
  if (rv.contains("constant")) return rv["constant"];
  if (rv.contains("constantValue")) {
    const Json& cv = rv["constantValue"];
    if (cv.contains("stringValue") && cv["stringValue"].is_string()) return cv["stringValue"];
    if (cv.contains("intValue")) {
      const Json& v = cv["intValue"];
      if (v.is_number_integer()) return v;
      if (v.is_string()) {
        try {
          return Json(std::stoll(v.get<std::string>()));
        } catch (const std::exception&) {
          return ctx.Error(path + ".constantValue.intValue", "not an integer");
        }
      }
    }
    if (cv.contains("doubleValue") && cv["doubleValue"].is_number()) return cv["doubleValue"];
    return ctx.Error(path + ".constantValue", "expected stringValue, intValue or doubleValue");
  }
  return ctx.Error(path, "expected constant or constantValue");
}

Result<OutputSelector> ParseSelector(const Ctx& ctx, const Json& sel, const std::string& path,
                                     const std::string& key_field) {
  OutputSelector out;
  ASSIGN_OR_RETURN(out.producer_subtask, StringField(ctx, sel, path, "producerSubtask", true));
  ASSIGN_OR_RETURN(out.output_key, StringField(ctx, sel, path, key_field, true));
  return out;
}

Result<TaskSpec> ParseTask(const Ctx& ctx, const std::string& key, const Json& t,
                           const std::string& path) {
  TaskSpec task;
  task.key = key;
  if (!t.is_object()) return ctx.Error(path, "must be an object");
  ASSIGN_OR_RETURN(const Json* info, Child(ctx, t, path, "taskInfo", Json::value_t::object, false));
  if (info != nullptr) {
    ASSIGN_OR_RETURN(task.name, StringField(ctx, *info, path + ".taskInfo", "name", false));
  }
  if (task.name.empty()) task.name = key;
  ASSIGN_OR_RETURN(const Json* ref,
                   Child(ctx, t, path, "componentRef", Json::value_t::object, true));
  ASSIGN_OR_RETURN(task.component, StringField(ctx, *ref, path + ".componentRef", "name", true));
  ASSIGN_OR_RETURN(const Json* deps,
                   Child(ctx, t, path, "dependentTasks", Json::value_t::array, false));
  if (deps != nullptr) {
    for (const Json& d : *deps) {
      if (!d.is_string()) return ctx.Error(path + ".dependentTasks", "must be strings");
      task.dependent_tasks.push_back(d.get<std::string>());
    }
  }
  ASSIGN_OR_RETURN(const Json* inputs, Child(ctx, t, path, "inputs", Json::value_t::object, false));
  if (inputs != nullptr) {
    std::string ip = path + ".inputs";
    ASSIGN_OR_RETURN(const Json* params,
                     Child(ctx, *inputs, ip, "parameters", Json::value_t::object, false));
    if (params != nullptr) {
      for (auto it = params->begin(); it != params->end(); ++it) {
        std::string p = ip + ".parameters." + it.key();
        const Json& b = *it;
        if (!b.is_object()) return ctx.Error(p, "must be an object");
        ParameterBinding binding;
        if (b.contains("componentInputParameter")) {
          binding.kind = ParameterBinding::Kind::kComponentInput;
          ASSIGN_OR_RETURN(binding.component_input,
                           StringField(ctx, b, p, "componentInputParameter", true));
        } else if (b.contains("taskOutputParameter")) {
          binding.kind = ParameterBinding::Kind::kTaskOutput;
          std::string op = p + ".taskOutputParameter";
          const Json& o = b["taskOutputParameter"];
          if (!o.is_object()) return ctx.Error(op, "must be an object");
          ASSIGN_OR_RETURN(binding.producer_task, StringField(ctx, o, op, "producerTask", true));
          ASSIGN_OR_RETURN(binding.output_key, StringField(ctx, o, op, "outputParameterKey", true));
        } else if (b.contains("runtimeValue")) {
          binding.kind = ParameterBinding::Kind::kConstant;
          ASSIGN_OR_RETURN(binding.constant,
                           ParseRuntimeValue(ctx, b["runtimeValue"], p + ".runtimeValue"));
        } else if (b.contains("taskFinalStatus")) {
          binding.kind = ParameterBinding::Kind::kTaskFinalStatus;
          const Json& o = b["taskFinalStatus"];
          if (!o.is_object()) return ctx.Error(p + ".taskFinalStatus", "must be an object");
          ASSIGN_OR_RETURN(binding.producer_task,
                           StringField(ctx, o, p + ".taskFinalStatus", "producerTask", true));
        } else {
          return ctx.Error(p,
                           "expected componentInputParameter, taskOutputParameter, "
                           "runtimeValue or taskFinalStatus");
        }
        ASSIGN_OR_RETURN(binding.expression_selector,
                         StringField(ctx, b, p, "parameterExpressionSelector", false));
        task.parameters[it.key()] = std::move(binding);
      }
    }
    ASSIGN_OR_RETURN(const Json* arts,
                     Child(ctx, *inputs, ip, "artifacts", Json::value_t::object, false));
    if (arts != nullptr) {
      for (auto it = arts->begin(); it != arts->end(); ++it) {
        std::string p = ip + ".artifacts." + it.key();
        const Json& b = *it;
        if (!b.is_object()) return ctx.Error(p, "must be an object");
        ArtifactBinding binding;
        if (b.contains("componentInputArtifact")) {
          binding.kind = ArtifactBinding::Kind::kComponentInput;
          ASSIGN_OR_RETURN(binding.component_input,
                           StringField(ctx, b, p, "componentInputArtifact", true));
        } else if (b.contains("taskOutputArtifact")) {
          binding.kind = ArtifactBinding::Kind::kTaskOutput;
          std::string op = p + ".taskOutputArtifact";
          const Json& o = b["taskOutputArtifact"];
          if (!o.is_object()) return ctx.Error(op, "must be an object");
          ASSIGN_OR_RETURN(binding.producer_task, StringField(ctx, o, op, "producerTask", true));
          ASSIGN_OR_RETURN(binding.output_key, StringField(ctx, o, op, "outputArtifactKey", true));
        } else {
          return ctx.Error(p, "expected componentInputArtifact or taskOutputArtifact");
        }
        task.artifacts[it.key()] = std::move(binding);
      }
    }
  }
  ASSIGN_OR_RETURN(const Json* trigger,
                   Child(ctx, t, path, "triggerPolicy", Json::value_t::object, false));
  if (trigger != nullptr) {
    std::string tp = path + ".triggerPolicy";
    ASSIGN_OR_RETURN(task.condition, StringField(ctx, *trigger, tp, "condition", false));
    ASSIGN_OR_RETURN(std::string strategy, StringField(ctx, *trigger, tp, "strategy", false));
    if (strategy == "ALL_UPSTREAM_TASKS_COMPLETED") {
      task.all_upstream_completed = true;
    } else if (!strategy.empty() && strategy != "ALL_UPSTREAM_TASKS_SUCCEEDED" &&
               strategy != "TRIGGER_STRATEGY_UNSPECIFIED") {
      return ctx.Error(tp + ".strategy", "unknown strategy '" + strategy + "'");
    }
  }
  for (const char* kind : {"parameterIterator", "artifactIterator"}) {
    ASSIGN_OR_RETURN(const Json* iter, Child(ctx, t, path, kind, Json::value_t::object, false));
    if (iter == nullptr) continue;
    std::string itp = path + "." + kind;
    if (task.iterator) return ctx.Error(itp, "a task has at most one iterator");
    IteratorSpec spec;
    spec.over_artifacts = std::string(kind) == "artifactIterator";
    ASSIGN_OR_RETURN(spec.item_input, StringField(ctx, *iter, itp, "itemInput", true));
    ASSIGN_OR_RETURN(const Json* items,
                     Child(ctx, *iter, itp, "items", Json::value_t::object, true));
    if (spec.over_artifacts) {
      ASSIGN_OR_RETURN(spec.input_name,
                       StringField(ctx, *items, itp + ".items", "inputArtifact", true));
    } else if (items->contains("raw")) {
      ASSIGN_OR_RETURN(std::string raw, StringField(ctx, *items, itp + ".items", "raw", false));
      auto parsed = ParseJson(raw, itp + ".items.raw");
      if (!parsed.ok() || !parsed->is_array()) {
        return ctx.Error(itp + ".items.raw", "must be a JSON list, got '" + raw + "'");
      }
      spec.raw_items = std::move(parsed).value();
    } else {
      ASSIGN_OR_RETURN(spec.input_name,
                       StringField(ctx, *items, itp + ".items", "inputParameter", true));
    }
    task.iterator = std::move(spec);
  }
  ASSIGN_OR_RETURN(const Json* policy,
                   Child(ctx, t, path, "iteratorPolicy", Json::value_t::object, false));
  if (policy != nullptr) {
    if (!task.iterator)
      return ctx.Error(path + ".iteratorPolicy", "set on a task without iterator");
    ASSIGN_OR_RETURN(const Json* limit,
                     Child(ctx, *policy, path + ".iteratorPolicy", "parallelismLimit",
                           Json::value_t::number_integer, false));
    if (limit != nullptr) {
      if (limit->get<int64_t>() < 0) {
        return ctx.Error(path + ".iteratorPolicy.parallelismLimit", "must be >= 0");
      }
      task.iterator->parallelism_limit = static_cast<int>(limit->get<int64_t>());
    }
  }
  ASSIGN_OR_RETURN(const Json* retry,
                   Child(ctx, t, path, "retryPolicy", Json::value_t::object, false));
  if (retry != nullptr) {
    std::string rp = path + ".retryPolicy";
    RetryPolicy r;
    ASSIGN_OR_RETURN(const Json* count,
                     Child(ctx, *retry, rp, "maxRetryCount", Json::value_t::number_integer, false));
    if (count != nullptr) r.max_retry_count = static_cast<int>(count->get<int64_t>());
    if (r.max_retry_count < 0) return ctx.Error(rp + ".maxRetryCount", "must be >= 0");
    ASSIGN_OR_RETURN(std::string backoff, StringField(ctx, *retry, rp, "backoffDuration", false));
    if (!backoff.empty()) {
      ASSIGN_OR_RETURN(r.backoff_duration, ParseProtoDuration(backoff, rp + ".backoffDuration"));
    }
    ASSIGN_OR_RETURN(const Json* factor,
                     Child(ctx, *retry, rp, "backoffFactor", Json::value_t::number_float, false));
    if (factor != nullptr) r.backoff_factor = factor->get<double>();
    ASSIGN_OR_RETURN(std::string max, StringField(ctx, *retry, rp, "backoffMaxDuration", false));
    if (!max.empty()) {
      ASSIGN_OR_RETURN(r.backoff_max_duration, ParseProtoDuration(max, rp + ".backoffMaxDuration"));
    }
    task.retry = r;
  }
  ASSIGN_OR_RETURN(const Json* caching,
                   Child(ctx, t, path, "cachingOptions", Json::value_t::object, false));
  if (caching != nullptr) {
    ASSIGN_OR_RETURN(const Json* enable, Child(ctx, *caching, path + ".cachingOptions",
                                               "enableCache", Json::value_t::boolean, false));
    task.enable_cache = enable != nullptr && enable->get<bool>();
    ASSIGN_OR_RETURN(task.cache_key,
                     StringField(ctx, *caching, path + ".cachingOptions", "cacheKey", false));
  }
  return task;
}

Result<DagSpec> ParseDag(const Ctx& ctx, const Json& dag, const std::string& path) {
  DagSpec out;
  if (!dag.is_object()) return ctx.Error(path, "must be an object");
  ASSIGN_OR_RETURN(const Json* tasks, Child(ctx, dag, path, "tasks", Json::value_t::object, false));
  if (tasks != nullptr) {
    for (auto it = tasks->begin(); it != tasks->end(); ++it) {
      ASSIGN_OR_RETURN(TaskSpec task, ParseTask(ctx, it.key(), *it, path + ".tasks." + it.key()));
      out.tasks[it.key()] = std::move(task);
    }
  }
  ASSIGN_OR_RETURN(const Json* outputs,
                   Child(ctx, dag, path, "outputs", Json::value_t::object, false));
  if (outputs != nullptr) {
    std::string op = path + ".outputs";
    ASSIGN_OR_RETURN(const Json* params,
                     Child(ctx, *outputs, op, "parameters", Json::value_t::object, false));
    if (params != nullptr) {
      for (auto it = params->begin(); it != params->end(); ++it) {
        std::string p = op + ".parameters." + it.key();
        DagOutputParameter out_param;
        if (it->contains("valueFromParameter")) {
          ASSIGN_OR_RETURN(OutputSelector sel,
                           ParseSelector(ctx, (*it)["valueFromParameter"],
                                         p + ".valueFromParameter", "outputParameterKey"));
          out_param.selectors.push_back(std::move(sel));
        } else if (it->contains("valueFromOneof")) {
          out_param.one_of = true;
          std::string vp = p + ".valueFromOneof";
          ASSIGN_OR_RETURN(const Json* sels,
                           Child(ctx, (*it)["valueFromOneof"], vp, "parameterSelectors",
                                 Json::value_t::array, true));
          for (const Json& s : *sels) {
            ASSIGN_OR_RETURN(OutputSelector sel, ParseSelector(ctx, s, vp + ".parameterSelectors",
                                                               "outputParameterKey"));
            out_param.selectors.push_back(std::move(sel));
          }
        } else {
          return ctx.Error(p, "expected valueFromParameter or valueFromOneof");
        }
        out.output_parameters[it.key()] = std::move(out_param);
      }
    }
    ASSIGN_OR_RETURN(const Json* arts,
                     Child(ctx, *outputs, op, "artifacts", Json::value_t::object, false));
    if (arts != nullptr) {
      for (auto it = arts->begin(); it != arts->end(); ++it) {
        std::string p = op + ".artifacts." + it.key();
        ASSIGN_OR_RETURN(const Json* sels,
                         Child(ctx, *it, p, "artifactSelectors", Json::value_t::array, true));
        std::vector<OutputSelector> selectors;
        for (const Json& s : *sels) {
          ASSIGN_OR_RETURN(OutputSelector sel,
                           ParseSelector(ctx, s, p + ".artifactSelectors", "outputArtifactKey"));
          selectors.push_back(std::move(sel));
        }
        out.output_artifacts[it.key()] = std::move(selectors);
      }
    }
  }
  // Structural checks: references name existing tasks, and the graph has no cycle.
  for (const auto& [key, task] : out.tasks) {
    std::string tp = path + ".tasks." + key;
    for (const std::string& up : task.Upstream()) {
      if (!out.tasks.count(up)) return ctx.Error(tp, "refers to unknown task '" + up + "'");
      if (up == key) return ctx.Error(tp, "depends on itself");
    }
  }
  for (const auto& [name, param] : out.output_parameters) {
    for (const OutputSelector& sel : param.selectors) {
      if (!out.tasks.count(sel.producer_subtask)) {
        return ctx.Error(path + ".outputs.parameters." + name,
                         "refers to unknown task '" + sel.producer_subtask + "'");
      }
    }
  }
  for (const auto& [name, sels] : out.output_artifacts) {
    for (const OutputSelector& sel : sels) {
      if (!out.tasks.count(sel.producer_subtask)) {
        return ctx.Error(path + ".outputs.artifacts." + name,
                         "refers to unknown task '" + sel.producer_subtask + "'");
      }
    }
  }
  // Kahn's algorithm for cycle detection.
  std::map<std::string, int> indegree;
  std::map<std::string, std::vector<std::string>> downstream;
  for (const auto& [key, task] : out.tasks) {
    indegree[key];
    for (const std::string& up : task.Upstream()) {
      indegree[key]++;
      downstream[up].push_back(key);
    }
  }
  std::vector<std::string> ready;
  for (const auto& [key, n] : indegree) {
    if (n == 0) ready.push_back(key);
  }
  size_t seen = 0;
  while (!ready.empty()) {
    std::string k = ready.back();
    ready.pop_back();
    ++seen;
    for (const std::string& d : downstream[k]) {
      if (--indegree[d] == 0) ready.push_back(d);
    }
  }
  if (seen != out.tasks.size()) return ctx.Error(path + ".tasks", "dependency cycle");
  return out;
}

Result<ComponentSpec> ParseComponent(const Ctx& ctx, const std::string& name, const Json& c,
                                     const std::string& path) {
  ComponentSpec out;
  out.name = name;
  out.raw = c;
  if (!c.is_object()) return ctx.Error(path, "must be an object");
  RETURN_IF_ERROR(CheckKeys(ctx, c, path,
                            {"inputDefinitions", "outputDefinitions", "dag", "executorLabel",
                             "singlePlatformSpecs", "taskConfigPassthroughs"}));
  if (c.contains("inputDefinitions")) {
    ASSIGN_OR_RETURN(out.inputs,
                     ParseInterface(ctx, c["inputDefinitions"], path + ".inputDefinitions"));
  }
  if (c.contains("outputDefinitions")) {
    ASSIGN_OR_RETURN(out.outputs,
                     ParseInterface(ctx, c["outputDefinitions"], path + ".outputDefinitions"));
  }
  ASSIGN_OR_RETURN(out.executor_label, StringField(ctx, c, path, "executorLabel", false));
  if (c.contains("dag")) {
    if (!out.executor_label.empty()) {
      return ctx.Error(path, "has both dag and executorLabel");
    }
    ASSIGN_OR_RETURN(DagSpec dag, ParseDag(ctx, c["dag"], path + ".dag"));
    out.dag = std::move(dag);
  } else if (out.executor_label.empty()) {
    return ctx.Error(path, "needs a dag or an executorLabel");
  }
  return out;
}

// A container's resources must parse (ParseContainerResources), so that a run is refused at
// admission rather than failing its task at start; placeholders are the launcher's to check.
Status CheckResources(const Ctx& ctx, const Json& container, const std::string& path) {
  ASSIGN_OR_RETURN(const Json* r,
                   Child(ctx, container, path, "resources", Json::value_t::object, false));
  if (r == nullptr) return Status::Ok();
  Result<ContainerResources> parsed =
      ParseContainerResources(*r, path + ".resources", /*skip_placeholders=*/true);
  if (!parsed.ok()) return InvalidArgument(ctx.source() + ": " + parsed.status().message());
  return Status::Ok();
}

Result<ExecutorSpec> ParseExecutor(const Ctx& ctx, const std::string& label, const Json& e,
                                   const std::string& path) {
  ExecutorSpec out;
  out.label = label;
  out.raw = e;
  if (!e.is_object()) return ctx.Error(path, "must be an object");
  if (e.contains("container")) {
    out.kind = ExecutorSpec::Kind::kContainer;
    ASSIGN_OR_RETURN(const Json* c, Child(ctx, e, path, "container", Json::value_t::object, true));
    ASSIGN_OR_RETURN(std::string image, StringField(ctx, *c, path + ".container", "image", true));
    (void)image;
    for (const char* list : {"command", "args"}) {
      ASSIGN_OR_RETURN(const Json* v,
                       Child(ctx, *c, path + ".container", list, Json::value_t::array, false));
      (void)v;
    }
    RETURN_IF_ERROR(CheckResources(ctx, *c, path + ".container"));
  } else if (e.contains("importer")) {
    out.kind = ExecutorSpec::Kind::kImporter;
    std::string ip = path + ".importer";
    ASSIGN_OR_RETURN(const Json* imp, Child(ctx, e, path, "importer", Json::value_t::object, true));
    ImporterSpec spec;
    ASSIGN_OR_RETURN(const Json* uri,
                     Child(ctx, *imp, ip, "artifactUri", Json::value_t::object, true));
    if (uri->contains("constant")) {
      spec.uri_constant = (*uri)["constant"];
    } else if (uri->contains("constantValue")) {
      ASSIGN_OR_RETURN(Json v, ParseRuntimeValue(ctx, *uri, ip + ".artifactUri"));
      spec.uri_constant = v;
    } else {
      ASSIGN_OR_RETURN(spec.uri_parameter,
                       StringField(ctx, *uri, ip + ".artifactUri", "runtimeParameter", true));
    }
    ASSIGN_OR_RETURN(const Json* type,
                     Child(ctx, *imp, ip, "typeSchema", Json::value_t::object, true));
    ASSIGN_OR_RETURN(spec.schema_title,
                     StringField(ctx, *type, ip + ".typeSchema", "schemaTitle", false));
    ASSIGN_OR_RETURN(spec.schema_version,
                     StringField(ctx, *type, ip + ".typeSchema", "schemaVersion", false));
    ASSIGN_OR_RETURN(const Json* meta,
                     Child(ctx, *imp, ip, "metadata", Json::value_t::object, false));
    if (meta != nullptr) spec.metadata = *meta;
    ASSIGN_OR_RETURN(const Json* reimport,
                     Child(ctx, *imp, ip, "reimport", Json::value_t::boolean, false));
    spec.reimport = reimport != nullptr && reimport->get<bool>();
    out.importer = std::move(spec);
  } else {
    std::string kinds;
    for (auto it = e.begin(); it != e.end(); ++it) kinds += (kinds.empty() ? "" : ", ") + it.key();
    return ctx.Error(path, "unknown executor type '" + kinds + "' (want container or importer)");
  }
  return out;
}

// Checks every componentRef and executorLabel resolves, recursively through DAGs.
Status CheckReferences(const Ctx& ctx, const PipelineSpec& spec, const ComponentSpec& comp,
                       const std::string& path) {
  if (!comp.dag) {
    if (spec.Executor(comp.executor_label) == nullptr) {
      return ctx.Error(path + ".executorLabel",
                       "executor '" + comp.executor_label + "' not in deploymentSpec.executors");
    }
    return Status::Ok();
  }
  for (const auto& [key, task] : comp.dag->tasks) {
    if (spec.Component(task.component) == nullptr) {
      return ctx.Error(path + ".dag.tasks." + key + ".componentRef.name",
                       "component '" + task.component + "' not in components");
    }
  }
  return Status::Ok();
}

// How deep DAG components may nest (root -> pipeline -> condition -> loop -> ...). KFP's
// compiler nests one level per dsl.Condition/ParallelFor/ExitHandler/sub-pipeline; 64 is far more
// than any real pipeline and keeps the engine's expansion and this check's recursion bounded.
constexpr size_t kMaxDagDepth = 64;

// How many tasks one run may have, its DAG components expanded (a loop's body counted once; its
// iterations are bounded by kMaxLoopIterations in the engine). The largest real pipelines have
// hundreds; a 100,000-task IR (12 MB) took the server to 2 GB before this limit.
constexpr size_t kMaxPipelineTasks = 10'000;

// Refuses a component whose DAG contains the component itself, directly or through other
// components (the engine would expand it forever), and DAGs nested deeper than kMaxDagDepth.
// Components are told apart by address: "root" may also be the name of an entry in components.
class ComponentGraphCheck {
 public:
  ComponentGraphCheck(const Ctx& ctx, const PipelineSpec& spec) : ctx_(ctx), spec_(spec) {}

  // The DAG nesting of `comp`, itself included (0 for a container or importer component).
  Result<size_t> Height(const ComponentSpec& comp, const std::string& path) {
    if (!comp.dag) return size_t{0};
    if (auto it = height_.find(&comp); it != height_.end()) return it->second;
    for (size_t i = 0; i < active_.size(); ++i) {
      if (active_[i] != &comp) continue;
      std::string cycle;
      for (size_t j = i; j < active_.size(); ++j) cycle += active_[j]->name + " -> ";
      return ctx_.Error(path, "component cycle: " + cycle + comp.name +
                                  " (a component's DAG may not contain itself)");
    }
    if (active_.size() >= kMaxDagDepth) return TooDeep(path);
    active_.push_back(&comp);
    size_t below = 0;
    for (const auto& [key, task] : comp.dag->tasks) {
      const ComponentSpec* c = spec_.Component(task.component);
      if (c == nullptr) continue;  // CheckReferences names it
      ASSIGN_OR_RETURN(size_t h, Height(*c, "components." + task.component));
      below = std::max(below, h);
    }
    active_.pop_back();
    if (below + 1 > kMaxDagDepth) return TooDeep(path);
    height_[&comp] = below + 1;
    return below + 1;
  }

  // The tasks a run of `comp` has once its DAG components are expanded (each loop iteration
  // counted once), saturating past kMaxPipelineTasks. Call after Height: no cycles are left.
  size_t ExpandedTasks(const ComponentSpec& comp) {
    if (!comp.dag) return 0;
    if (auto it = tasks_.find(&comp); it != tasks_.end()) return it->second;
    size_t n = 0;
    for (const auto& [key, task] : comp.dag->tasks) {
      const ComponentSpec* c = spec_.Component(task.component);
      n += 1 + (c == nullptr ? 0 : ExpandedTasks(*c));
      if (n > kMaxPipelineTasks) break;
    }
    n = std::min(n, kMaxPipelineTasks + 1);
    tasks_[&comp] = n;
    return n;
  }

 private:
  Status TooDeep(const std::string& path) const {
    return ctx_.Error(path, "DAGs nest more than " + std::to_string(kMaxDagDepth) +
                                " levels deep (a DAG's tasks refer to DAG components " +
                                std::to_string(kMaxDagDepth) + " times in a row)");
  }

  const Ctx& ctx_;
  const PipelineSpec& spec_;
  std::vector<const ComponentSpec*> active_;  // the DAG components being expanded, outermost first
  std::map<const ComponentSpec*, size_t> height_;
  std::map<const ComponentSpec*, size_t> tasks_;
};

// The producer tasks that kfp-kubernetes settings read outputs of ({"taskOutputParameter":
// {"producerTask": ...}}, e.g. the claim a pvcMount names).
void CollectPlatformProducers(const Json& j, std::set<std::string>* out) {
  if (j.is_array()) {
    for (const Json& item : j) CollectPlatformProducers(item, out);
  } else if (j.is_object()) {
    auto ref = j.find("taskOutputParameter");
    if (ref != j.end() && ref->is_object() && ref->contains("producerTask") &&
        (*ref)["producerTask"].is_string()) {
      out->insert((*ref)["producerTask"].get<std::string>());
    }
    for (const Json& v : j) CollectPlatformProducers(v, out);
  }
}

// A task waits for the sibling tasks its platform settings read outputs of. The kfp-kubernetes
// SDK lists them in dependentTasks itself since 1.1; IR from older versions relies on this.
void AddPlatformDependencies(const PipelineSpec& spec, ComponentSpec& comp) {
  if (!comp.dag) return;
  for (auto& [key, task] : comp.dag->tasks) {
    const ComponentSpec* c = spec.Component(task.component);
    if (c == nullptr || c->dag) continue;
    std::set<std::string> producers;
    CollectPlatformProducers(spec.PlatformConfig(c->executor_label), &producers);
    for (const std::string& p : producers) {
      if (p == key || !comp.dag->tasks.contains(p)) continue;
      if (std::find(task.dependent_tasks.begin(), task.dependent_tasks.end(), p) ==
          task.dependent_tasks.end()) {
        task.dependent_tasks.push_back(p);
      }
    }
  }
}

}  // namespace

const char* ParameterTypeName(ParameterType type) {
  switch (type) {
    case ParameterType::kUnspecified:
      return "PARAMETER_TYPE_ENUM_UNSPECIFIED";
    case ParameterType::kString:
      return "STRING";
    case ParameterType::kInteger:
      return "NUMBER_INTEGER";
    case ParameterType::kDouble:
      return "NUMBER_DOUBLE";
    case ParameterType::kBoolean:
      return "BOOLEAN";
    case ParameterType::kList:
      return "LIST";
    case ParameterType::kStruct:
      return "STRUCT";
    case ParameterType::kTaskFinalStatus:
      return "TASK_FINAL_STATUS";
  }
  return "?";
}

std::vector<std::string> TaskSpec::Upstream() const {
  std::set<std::string> all(dependent_tasks.begin(), dependent_tasks.end());
  for (const auto& [name, b] : parameters) {
    if (!b.producer_task.empty()) all.insert(b.producer_task);
  }
  for (const auto& [name, b] : artifacts) {
    if (!b.producer_task.empty()) all.insert(b.producer_task);
  }
  return {all.begin(), all.end()};
}

const ComponentSpec* PipelineSpec::Component(const std::string& name) const {
  auto it = components.find(name);
  return it == components.end() ? nullptr : &it->second;
}

const ExecutorSpec* PipelineSpec::Executor(const std::string& label) const {
  auto it = executors.find(label);
  return it == executors.end() ? nullptr : &it->second;
}

Json PipelineSpec::PlatformConfig(const std::string& executor_label) const {
  const Json* p = &platform_spec;
  for (const char* key : {"deploymentSpec", "executors"}) {
    if (!p->is_object() || !p->contains(key)) return nullptr;
    p = &(*p)[key];
  }
  if (!p->is_object() || !p->contains(executor_label)) return nullptr;
  return (*p)[executor_label];
}

Result<std::chrono::milliseconds> ParseProtoDuration(const std::string& text,
                                                     const std::string& field) {
  std::string t = text;
  if (t.size() < 2 || t.back() != 's') {
    return InvalidArgument(field + ": duration '" + text + "' must look like '30s'");
  }
  t.pop_back();
  try {
    size_t used = 0;
    double seconds = std::stod(t, &used);
    if (used != t.size() || !std::isfinite(seconds) || seconds < 0) throw std::invalid_argument("");
    return std::chrono::milliseconds(static_cast<int64_t>(std::llround(seconds * 1000)));
  } catch (const std::exception&) {
    return InvalidArgument(field + ": duration '" + text + "' must look like '30s'");
  }
}

Result<PipelineSpec> PipelineSpecFromDocuments(const std::vector<Json>& docs,
                                               const std::string& source) {
  Ctx ctx(source);
  if (docs.empty()) return ctx.Error("(document)", "empty");
  PipelineSpec spec;
  spec.source = source;
  Json doc = docs[0];
  if (!doc.is_object()) return ctx.Error("(document)", "must be an object");
  // Wrappers: {pipelineSpec, runtimeConfig} (PipelineJob) and {pipeline_spec, platform_spec}.
  if (doc.contains("pipelineSpec") && !doc.contains("root")) {
    if (doc.contains("runtimeConfig")) spec.runtime_config = doc["runtimeConfig"];
    doc = Json(doc["pipelineSpec"]);
  } else if (doc.contains("pipeline_spec") && !doc.contains("root")) {
    if (doc.contains("platform_spec") && doc["platform_spec"].is_object()) {
      const Json& ps = doc["platform_spec"];
      if (ps.contains("platforms") && ps["platforms"].contains("kubernetes")) {
        spec.platform_spec = ps["platforms"]["kubernetes"];
      }
    }
    doc = Json(doc["pipeline_spec"]);
  }
  if (!doc.is_object()) return ctx.Error("pipelineSpec", "must be an object");
  for (size_t i = 1; i < docs.size(); ++i) {
    const Json& d = docs[i];
    std::string p = "(document " + std::to_string(i + 1) + ")";
    if (!d.is_object() || !d.contains("platforms")) return ctx.Error(p, "expected platforms");
    if (!d["platforms"].is_object()) return ctx.Error(p + ".platforms", "must be an object");
    if (d["platforms"].contains("kubernetes")) spec.platform_spec = d["platforms"]["kubernetes"];
  }
  RETURN_IF_ERROR(CheckKeys(ctx, doc, "",
                            {"components", "deploymentSpec", "pipelineInfo", "root",
                             "schemaVersion", "sdkVersion", "defaultPipelineRoot"}));
  spec.raw = doc;
  ASSIGN_OR_RETURN(spec.schema_version, StringField(ctx, doc, "", "schemaVersion", true));
  if (spec.schema_version != "2.0.0" && spec.schema_version != "2.1.0") {
    return ctx.Error("schemaVersion",
                     "unsupported version '" + spec.schema_version + "' (want 2.0.0 or 2.1.0)");
  }
  ASSIGN_OR_RETURN(spec.sdk_version, StringField(ctx, doc, "", "sdkVersion", false));
  ASSIGN_OR_RETURN(const Json* info,
                   Child(ctx, doc, "", "pipelineInfo", Json::value_t::object, true));
  ASSIGN_OR_RETURN(spec.name, StringField(ctx, *info, "pipelineInfo", "name", true));
  ASSIGN_OR_RETURN(spec.display_name,
                   StringField(ctx, *info, "pipelineInfo", "displayName", false));
  ASSIGN_OR_RETURN(spec.description, StringField(ctx, *info, "pipelineInfo", "description", false));
  ASSIGN_OR_RETURN(spec.default_pipeline_root,
                   StringField(ctx, doc, "", "defaultPipelineRoot", false));
  ASSIGN_OR_RETURN(const Json* deployment,
                   Child(ctx, doc, "", "deploymentSpec", Json::value_t::object, true));
  ASSIGN_OR_RETURN(const Json* executors, Child(ctx, *deployment, "deploymentSpec", "executors",
                                                Json::value_t::object, false));
  if (executors != nullptr) {
    for (auto it = executors->begin(); it != executors->end(); ++it) {
      ASSIGN_OR_RETURN(ExecutorSpec e,
                       ParseExecutor(ctx, it.key(), *it, "deploymentSpec.executors." + it.key()));
      spec.executors[it.key()] = std::move(e);
    }
  }
  ASSIGN_OR_RETURN(const Json* root, Child(ctx, doc, "", "root", Json::value_t::object, true));
  if (!root->contains("dag")) return ctx.Error("root.dag", "required");
  ASSIGN_OR_RETURN(spec.root, ParseComponent(ctx, "root", *root, "root"));
  ASSIGN_OR_RETURN(const Json* comps,
                   Child(ctx, doc, "", "components", Json::value_t::object, false));
  if (comps != nullptr) {
    for (auto it = comps->begin(); it != comps->end(); ++it) {
      ASSIGN_OR_RETURN(ComponentSpec c,
                       ParseComponent(ctx, it.key(), *it, "components." + it.key()));
      spec.components[it.key()] = std::move(c);
    }
  }
  AddPlatformDependencies(spec, spec.root);
  for (auto& [name, comp] : spec.components) AddPlatformDependencies(spec, comp);
  RETURN_IF_ERROR(CheckReferences(ctx, spec, spec.root, "root"));
  for (const auto& [name, comp] : spec.components) {
    RETURN_IF_ERROR(CheckReferences(ctx, spec, comp, "components." + name));
  }
  ComponentGraphCheck graph(ctx, spec);
  RETURN_IF_ERROR(graph.Height(spec.root, "root").status());
  for (const auto& [name, comp] : spec.components) {
    RETURN_IF_ERROR(graph.Height(comp, "components." + name).status());
  }
  if (size_t tasks = graph.ExpandedTasks(spec.root); tasks > kMaxPipelineTasks) {
    return ctx.Error("root.dag.tasks", "the pipeline has more than " +
                                           std::to_string(kMaxPipelineTasks) +
                                           " tasks once its sub-DAGs are expanded (the limit)");
  }
  // Importer components need their runtime URI parameter among their inputs.
  for (const auto& [name, comp] : spec.components) {
    if (comp.dag) continue;
    const ExecutorSpec* e = spec.Executor(comp.executor_label);
    if (e->importer && !e->importer->uri_parameter.empty() &&
        !comp.inputs.parameters.count(e->importer->uri_parameter)) {
      return ctx.Error("components." + name + ".inputDefinitions.parameters",
                       "importer input '" + e->importer->uri_parameter + "' is not declared");
    }
  }
  return spec;
}

Result<ContainerResources> ParseContainerResources(const Json& resources, const std::string& where,
                                                   bool skip_placeholders) {
  // The quantity string under `str_key`, else the number under `num_key` (cores as they are;
  // gigabytes, which the SDK writes as a double, in bytes).
  auto read = [&](const char* str_key, const char* num_key, bool gigabytes,
                  Result<int64_t> (*parse)(const Json&, const std::string&)) -> Result<int64_t> {
    if (resources.contains(str_key)) {
      const Json& v = resources[str_key];
      if (skip_placeholders && v.is_string() &&
          v.get_ref<const std::string&>().find("{{") != std::string::npos) {
        return int64_t{0};
      }
      return parse(v, where + "." + str_key);
    }
    if (resources.contains(num_key) && resources[num_key].is_number()) {
      const Json& n = resources[num_key];
      return parse(gigabytes ? Json(std::round(n.get<double>() * 1e9)) : n, where + "." + num_key);
    }
    return int64_t{0};
  };
  ContainerResources out;
  ASSIGN_OR_RETURN(out.cpu_request_millis,
                   read("resourceCpuRequest", "cpuRequest", false, &ParseCpuMillis));
  ASSIGN_OR_RETURN(out.cpu_limit_millis,
                   read("resourceCpuLimit", "cpuLimit", false, &ParseCpuMillis));
  ASSIGN_OR_RETURN(out.memory_request_bytes,
                   read("resourceMemoryRequest", "memoryRequest", true, &ParseMemoryBytes));
  ASSIGN_OR_RETURN(out.memory_limit_bytes,
                   read("resourceMemoryLimit", "memoryLimit", true, &ParseMemoryBytes));
  return out;
}

Result<PipelineSpec> ParsePipelineSpec(const std::string& text, const std::string& source) {
  std::vector<Json> docs;
  try {
    ASSIGN_OR_RETURN(docs, ParseYamlDocuments(text, source));
  } catch (const std::exception& e) {
    return InvalidArgument(source + ": " + e.what());
  }
  if (docs.empty()) return InvalidArgument(source + ": empty document");
  return PipelineSpecFromDocuments(docs, source);
}

Result<PipelineSpec> LoadPipelineSpecFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string base = path.substr(path.find_last_of('/') + 1);
  if (!in) return NotFound(base + ": cannot open " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ParsePipelineSpec(ss.str(), base);
}

}  // namespace skiff::pipelines
