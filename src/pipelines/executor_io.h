// The KFP executor contract for one container task: builds the ExecutorInput JSON the way the KFP
// driver and launcher do (defaults applied, output URIs and output files provisioned), creates the
// output folders, and reads the outputs back afterwards (executor output file, output parameter
// files typed per outputDefinitions, artifact metadata merged).
//
//   TaskIoOptions options{.output_file_prefix = "/work/<task>", .salt = "a1b2c3d4"};
//   ASSIGN_OR_RETURN(TaskIo io, BuildTaskIo(invocation, options));
//   RETURN_IF_ERROR(PrepareOutputFolders(io));
//   ... run the command with io.executor_input substituted ...
//   ASSIGN_OR_RETURN(CollectedOutputs out, CollectOutputs(io, invocation.component_spec));
//
// URIs and paths. Skiff's pipeline root is normally a `file://` URI. Inside a component the KFP
// Python SDK computes `artifact.path` from `artifact.uri` and leaves unknown schemes (file:// too)
// unchanged, so a `file:///x` URI would give the component the unusable path `file:///x`. The
// ExecutorInput therefore carries file-backed URIs as plain absolute paths (kfp.local does the
// same: path == uri) and the outcome records them as `file://` URIs again. gs://, minio:// and
// s3:// map to /gcs, /minio and /s3 as in the KFP launcher; any other scheme maps path == uri.
//
// Thread-safe: free functions without shared state.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/resource.h"
#include "core/status.h"
#include "pipelines/task.h"

namespace skiff::pipelines {

// The local path a component reads and writes for `uri` (launcher LocalPathForURI).
std::string LocalPathForUri(const std::string& uri);
// The URI written into the ExecutorInput: file:// URIs become their plain path.
std::string ComponentUri(const std::string& uri);
// The URI recorded for an artifact the component reports: plain absolute paths become file://.
std::string RecordedUri(const std::string& component_uri);

// Parses the text of an output parameter file as the KFP launcher does (metadata.TextToPbValue):
// STRING as is; NUMBER_INTEGER, NUMBER_DOUBLE, BOOLEAN from the trimmed text; LIST and STRUCT as
// JSON. `what` names the parameter in errors.
Result<Json> ParseParameterText(const std::string& text, const std::string& parameter_type,
                                const std::string& what);

// Normalises a parameter value the way a protobuf Value stores it: whole doubles become integers
// (protojson prints 3.0 as 3), recursively inside lists and structs.
Json NormalizeParameterValue(const Json& value);

// The task's input parameter values with the component's defaults applied for inputs that have
// no value (launcher addDefaultParams); null values count as absent.
Result<std::map<std::string, Json>> ResolvedParameterValues(const TaskInvocation& invocation);

// The executor output's file name, after the task's output file prefix.
inline constexpr char kExecutorOutputFile[] = "output_metadata.json";

// Where a task's output parameter `name` is written: <prefix>.out.<name>. The executor output is
// <prefix>.output_metadata.json. Files beside each other, no folder per task: creating a folder
// costs ten times a file on ext4.
std::string OutputParameterFile(const std::string& prefix, const std::string& name);

// Executors of kfp before 2.5 give an artifact a local path only for gs://, minio:// and s3://
// URIs (/gcs/..., /minio/..., /s3/...), which KFP's launcher provides. For them, artifact URIs
// under the run's local pipeline root are handed over as minio://<kLegacyMinioBucket>/<rest>, the
// task gets that folder at its local path (LocalPathForUri: /minio/<bucket>), and reported URIs
// are mapped back.
inline constexpr char kLegacyMinioBucket[] = "skiff-artifacts";

// True when `packages` (a component's packages_to_install) pin kfp to a version before 2.5.
bool PinsKfpWithoutLocalPaths(const std::vector<std::string>& packages);

struct TaskIoOptions {
  std::string output_file_prefix;   // per task, e.g. <work dir>/<workload id>
  std::string salt;                 // the output URI salt; stable for one task attempt
  bool legacy_minio_paths = false;  // see kLegacyMinioBucket
};

// Everything provisioned for one task execution.
struct TaskIo {
  Json executor_input;  // {"inputs": {...}, "outputs": {...}}, the `{{$}}` value
  std::map<std::string, Json> parameter_values;               // with component defaults applied
  std::map<std::string, std::string> output_parameter_files;  // name -> local path
  std::map<std::string, Artifact> output_artifacts;           // provisioned (URI as recorded)
  std::string task_root_uri;         // <pipeline_root>/<run_id>/<task path>/<salt>
  std::string executor_output_file;  // <output_file_prefix>.output_metadata.json
  std::string pipeline_root;
  // With TaskIoOptions::legacy_minio_paths: the local folder behind minio://<kLegacyMinioBucket>/.
  std::string legacy_minio_root;
};

// Builds the ExecutorInput for `invocation`. Errors name the task and the offending definition
// (an input parameter or artifact without a value and without a default is fine here, as in KFP;
// a malformed componentSpec is not).
Result<TaskIo> BuildTaskIo(const TaskInvocation& invocation, const TaskIoOptions& options);

// The parent of every output parameter file and output artifact path, and the executor output
// file's folder: where the task writes (once each).
std::vector<std::string> OutputFolders(const TaskIo& io);
// mkdir -p of each of OutputFolders (launcher prepareOutputFolders).
Status PrepareOutputFolders(const TaskIo& io);
// The local paths of the task's input artifacts (LocalPathForUri of each URI), once each.
std::vector<std::string> InputArtifactPaths(const TaskIo& io);

struct CollectedOutputs {
  std::map<std::string, Json> parameters;
  std::map<std::string, std::vector<Artifact>> artifacts;
};

// Reads the executor output file (missing = empty) and the output parameter files. A value in the
// executor output wins over the file, as in the KFP launcher. A declared output parameter with
// neither is an error naming it. Artifacts reported in the executor output are merged into the
// provisioned ones (non-empty URI overrides, metadata keys merge).
Result<CollectedOutputs> CollectOutputs(const TaskIo& io, const Json& component_spec);

}  // namespace skiff::pipelines
