// The KFP v2 pipeline IR (PipelineSpec, schemaVersion 2.0.0 and 2.1.0) as a typed model: what the
// DAG engine walks is typed (components, DAG tasks, input bindings, iterators, trigger policies,
// DAG outputs, executors); the rest stays as Json (container specs, platform config).
//
//   ASSIGN_OR_RETURN(PipelineSpec spec, ParsePipelineSpec(text, "add_numbers.yaml"));
//   const ComponentSpec& root = spec.root;
//   for (const auto& [name, task] : root.dag->tasks) ...
//
// The parser accepts YAML or JSON, an optional second YAML document `platforms: kubernetes:`
// (PlatformSpec), the `{pipelineSpec, runtimeConfig}` job wrapper and the REST
// `{pipeline_spec, platform_spec}` wrapper. It validates what the engine relies on and refuses
// bad input with an error naming the source and the field ("x.yaml: pipelineInfo.name: required").
// Value types; thread-compatible.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/resource.h"
#include "core/status.h"

namespace skiff::pipelines {

// PipelineSpec.ParameterType; old-schema `type: INT|DOUBLE|STRING` maps onto these.
enum class ParameterType {
  kUnspecified,
  kString,
  kInteger,
  kDouble,
  kBoolean,
  kList,
  kStruct,
  kTaskFinalStatus,
};
const char* ParameterTypeName(ParameterType type);  // "NUMBER_INTEGER", ...

struct ParameterDefinition {
  ParameterType type = ParameterType::kUnspecified;
  std::optional<Json> default_value;
  bool is_optional = false;
};

struct ArtifactDefinition {
  std::string schema_title;    // "system.Dataset"
  std::string schema_version;  // "0.0.1"
  bool is_list = false;        // isArtifactList (dsl.Collected / List[Artifact])
  bool is_optional = false;
};

// inputDefinitions / outputDefinitions.
struct InterfaceDefinition {
  std::map<std::string, ParameterDefinition> parameters;
  std::map<std::string, ArtifactDefinition> artifacts;
};

// One entry of a task's inputs.parameters.
struct ParameterBinding {
  enum class Kind { kComponentInput, kTaskOutput, kConstant, kTaskFinalStatus };
  Kind kind = Kind::kConstant;
  std::string component_input;  // kComponentInput: the enclosing DAG's input name
  std::string producer_task;    // kTaskOutput, kTaskFinalStatus
  std::string output_key;       // kTaskOutput
  Json constant;                // kConstant (may hold a {{$.pipeline_job_name}}-like placeholder)
  std::string
      expression_selector;  // parameterExpressionSelector, e.g. parseJson(string_value)["a"]
};

// One entry of a task's inputs.artifacts.
struct ArtifactBinding {
  enum class Kind { kComponentInput, kTaskOutput };
  Kind kind = Kind::kComponentInput;
  std::string component_input;
  std::string producer_task;
  std::string output_key;
};

// parameterIterator / artifactIterator + iteratorPolicy (dsl.ParallelFor).
struct IteratorSpec {
  bool over_artifacts = false;
  std::optional<Json> raw_items;  // items.raw parsed (a JSON list)
  std::string input_name;         // items.inputParameter / items.inputArtifact
  std::string item_input;         // itemInput: the loop component's input receiving one item
  int parallelism_limit = 0;      // 0 = unlimited
};

struct RetryPolicy {
  int max_retry_count = 0;
  std::chrono::milliseconds backoff_duration{0};
  double backoff_factor = 2.0;
  std::chrono::milliseconds backoff_max_duration{std::chrono::hours(1)};
};

struct TaskSpec {
  std::string key;        // the key in dag.tasks
  std::string name;       // taskInfo.name
  std::string component;  // componentRef.name
  std::vector<std::string> dependent_tasks;
  std::map<std::string, ParameterBinding> parameters;
  std::map<std::string, ArtifactBinding> artifacts;
  std::string condition;                // triggerPolicy.condition ("" = always)
  bool all_upstream_completed = false;  // triggerPolicy.strategy ALL_UPSTREAM_TASKS_COMPLETED
  std::optional<IteratorSpec> iterator;
  std::optional<RetryPolicy> retry;
  bool enable_cache = false;  // cachingOptions.enableCache
  std::string cache_key;      // cachingOptions.cacheKey

  // Every task this one waits for: dependentTasks plus producers of its inputs.
  std::vector<std::string> Upstream() const;
};

// A DAG output selector: which subtask's output feeds the DAG output.
struct OutputSelector {
  std::string producer_subtask;
  std::string output_key;
};

struct DagOutputParameter {
  std::vector<OutputSelector> selectors;  // one for valueFromParameter; several for OneOf
  bool one_of = false;
};

struct DagSpec {
  std::map<std::string, TaskSpec> tasks;
  std::map<std::string, DagOutputParameter> output_parameters;
  std::map<std::string, std::vector<OutputSelector>> output_artifacts;  // artifactSelectors
};

struct ComponentSpec {
  std::string name;  // key in components ("root" for the root)
  InterfaceDefinition inputs;
  InterfaceDefinition outputs;
  std::optional<DagSpec> dag;  // a nested pipeline / condition / loop / exit-handler body
  std::string executor_label;  // a container or importer component
  Json raw;                    // the component object as written
};

struct ImporterSpec {
  std::optional<Json> uri_constant;  // artifactUri.constant
  std::string uri_parameter;         // artifactUri.runtimeParameter (an input parameter)
  std::string schema_title;
  std::string schema_version;
  Json metadata = Json::object();
  bool reimport = false;
};

struct ExecutorSpec {
  enum class Kind { kContainer, kImporter };
  std::string label;
  Kind kind = Kind::kContainer;
  Json raw;  // {"container": {...}} or {"importer": {...}}
  std::optional<ImporterSpec> importer;
};

struct PipelineSpec {
  std::string source;  // file name or "request", used in errors
  std::string schema_version;
  std::string sdk_version;
  std::string name;  // pipelineInfo.name
  std::string display_name;
  std::string description;
  std::string default_pipeline_root;
  ComponentSpec root;
  std::map<std::string, ComponentSpec> components;
  std::map<std::string, ExecutorSpec> executors;
  Json platform_spec = Json::object();   // platforms.kubernetes ({} when absent)
  Json runtime_config = Json::object();  // from a {pipelineSpec, runtimeConfig} wrapper
  Json raw;                              // the PipelineSpec document

  // Looks up a component by name; nullptr when missing (the validator guarantees presence for
  // every componentRef).
  const ComponentSpec* Component(const std::string& name) const;
  const ExecutorSpec* Executor(const std::string& label) const;
  // platforms.kubernetes.deploymentSpec.executors[label], or null.
  Json PlatformConfig(const std::string& executor_label) const;
};

// Parses YAML (one or two documents) or JSON text. `source` names the input in errors.
Result<PipelineSpec> ParsePipelineSpec(const std::string& text, const std::string& source);

// A container executor's `resources` as the KFP SDK writes them: quantity strings
// (resourceCpuLimit "500m", resourceMemoryLimit "4Gi", and the requests), which win over the
// older numbers (cpuLimit in cores, memoryLimit in GB; a key of that name holding no number is
// not read). With `skip_placeholders`, a string holding a placeholder ({{$.inputs...}}: set from a
// pipeline parameter, resolved at launch) counts as absent. Absent values are 0; errors name
// `where`.KEY.
struct ContainerResources {
  int64_t cpu_request_millis = 0;
  int64_t cpu_limit_millis = 0;
  int64_t memory_request_bytes = 0;
  int64_t memory_limit_bytes = 0;
};
Result<ContainerResources> ParseContainerResources(const Json& resources, const std::string& where,
                                                   bool skip_placeholders);
// Builds the model from already-parsed documents (the first is the PipelineSpec or a wrapper;
// an optional later one holds `platforms`).
Result<PipelineSpec> PipelineSpecFromDocuments(const std::vector<Json>& docs,
                                               const std::string& source);
// Reads and parses a file; errors name the file's base name.
Result<PipelineSpec> LoadPipelineSpecFile(const std::string& path);

// Parses a protobuf Duration string ("3600s", "0.5s").
Result<std::chrono::milliseconds> ParseProtoDuration(const std::string& text,
                                                     const std::string& field);

}  // namespace skiff::pipelines
