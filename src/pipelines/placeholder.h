// Placeholder substitution for a KFP container's command and args, as the KFP driver and launcher
// do it: IfPresent / Concat JSON placeholders are expanded first (a null or missing input counts
// as absent), then every `{{$...}}` is replaced:
//   {{$}}                                          the ExecutorInput as compact JSON
//   {{$.inputs.parameters['x']}}                   STRING as is, numbers like Go FormatFloat('f',
//   -1)
//                                                  (3, not 3.0), bools true/false, lists and
//                                                  structs as compact JSON
//   {{$.inputs.artifacts['a'].uri|path|metadata|metadata['k']}}   (first artifact of the list)
//   {{$.outputs.artifacts['a'].uri|path|metadata}}
//   {{$.outputs.parameters['y'].output_file}}      {{$.outputs.output_file}}
//   {{$.pipeline_root}} {{$.pipeline_job_name}} {{$.pipeline_job_resource_name}}
//   {{$.pipeline_job_uuid}} {{$.pipeline_task_name}} {{$.pipeline_task_uuid}}
// argv[0] only ever gets `{{$}}` replaced (the launcher's quirk). Anything else, e.g. the
// Vertex-only {{$.json_escape[1]}}, is an error naming the task and the placeholder.
//
//   PlaceholderContext ctx{.task = "root.add", .executor_input = io.executor_input, ...};
//   ASSIGN_OR_RETURN(CommandLine cl, ResolveCommandLine(container["command"], container["args"],
//   ctx));
//
// Thread-safe: free functions without shared state.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "core/resource.h"
#include "core/status.h"

namespace skiff::pipelines {

struct PlaceholderContext {
  std::string task;     // names the task in errors
  Json executor_input;  // as built by BuildTaskIo (defaults applied, component URIs)
  std::set<std::string> present_inputs;  // inputs given a non-null value (for IfPresent)
  std::string pipeline_root;
  std::string job_name;           // {{$.pipeline_job_name}}
  std::string job_resource_name;  // {{$.pipeline_job_resource_name}}
  std::string job_uuid;
  std::string task_name;
  std::string task_uuid;
};

struct CommandLine {
  std::vector<std::string> command;
  std::vector<std::string> args;
};

// Formats a parameter value as the launcher substitutes it.
std::string FormatParameterValue(const Json& value);

// Expands IfPresent/Concat in `command` and `args` (JSON arrays of strings or placeholder
// objects; null = empty) and substitutes every placeholder.
Result<CommandLine> ResolveCommandLine(const Json& command, const Json& args,
                                       const PlaceholderContext& ctx);

// Substitutes the placeholders in one string. `argv0` applies the launcher's argv[0] quirk.
Result<std::string> SubstitutePlaceholders(const std::string& text, const PlaceholderContext& ctx,
                                           bool argv0 = false);

}  // namespace skiff::pipelines
