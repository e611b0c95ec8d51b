#include "pipelines/executor_io.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include "core/resource.h"

namespace skiff::pipelines {
namespace {

namespace fs = std::filesystem;

constexpr const char* kFileScheme = "file://";

bool StartsWith(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

// "root.for-loop-2.iteration-0.add-numbers" -> "root/for-loop-2/iteration-0/add-numbers".
std::string TaskPathToDir(const std::string& task_path) {
  std::string out;
  std::string segment;
  auto flush = [&] {
    if (segment.empty()) return;
    if (!out.empty()) out += '/';
    out += segment;
    segment.clear();
  };
  for (char c : task_path) {
    if (c == '.' || c == '/') {
      flush();
    } else if (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') {
      segment += c;
    } else {
      segment += '_';
    }
  }
  flush();
  return out.empty() ? "task" : out;
}

Json TypeOf(const Json& artifact_type) {
  Json type = Json::object();
  if (artifact_type.is_object()) {
    if (artifact_type.contains("schemaTitle")) type["schemaTitle"] = artifact_type["schemaTitle"];
    if (artifact_type.contains("schemaVersion")) {
      type["schemaVersion"] = artifact_type["schemaVersion"];
    }
  }
  return type;
}

std::string LegacyMinioPrefix() { return std::string("minio://") + kLegacyMinioBucket + "/"; }

// The URI the component sees: a plain path, or with `legacy_root` set, minio:// for paths under it.
std::string TaskUri(const std::string& uri, const std::string& legacy_root) {
  std::string path = ComponentUri(uri);
  if (!legacy_root.empty() && StartsWith(path, legacy_root + "/")) {
    return LegacyMinioPrefix() + path.substr(legacy_root.size() + 1);
  }
  return path;
}

// TaskUri's inverse for a URI the component reports.
std::string FromTaskUri(const std::string& uri, const std::string& legacy_root) {
  const std::string prefix = LegacyMinioPrefix();
  if (!legacy_root.empty() && StartsWith(uri, prefix)) {
    return legacy_root + "/" + uri.substr(prefix.size());
  }
  return uri;
}

Json ArtifactToJson(const Artifact& a, const std::string& legacy_root) {
  Json j = {{"name", a.name}, {"uri", TaskUri(a.uri, legacy_root)}};
  Json type = Json::object();
  if (!a.schema_title.empty()) type["schemaTitle"] = a.schema_title;
  if (!a.schema_version.empty()) type["schemaVersion"] = a.schema_version;
  j["type"] = type;
  j["metadata"] = a.metadata.is_object() ? a.metadata : Json::object();
  return j;
}

Result<std::string> ReadWholeFile(const std::string& path, bool* exists) {
  std::error_code ec;
  *exists = fs::exists(path, ec);
  if (!*exists) return std::string();
  std::ifstream in(path, std::ios::binary);
  if (!in) return Internal("cannot open " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string JoinUri(std::string base, const std::string& tail) {
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base + "/" + tail;
}

// Catches what nlohmann::json throws on ill-typed input (the module edge: errors as values).
template <typename F>
auto CatchJsonErrors(const std::string& where, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const Json::exception& e) {
    return InvalidArgument(where + ": " + e.what());
  }
}

}  // namespace

std::string LocalPathForUri(const std::string& uri) {
  if (StartsWith(uri, kFileScheme)) return uri.substr(std::string(kFileScheme).size());
  if (StartsWith(uri, "gs://")) return "/gcs/" + uri.substr(5);
  if (StartsWith(uri, "minio://")) return "/minio/" + uri.substr(8);
  if (StartsWith(uri, "s3://")) return "/s3/" + uri.substr(5);
  return uri;
}

std::string ComponentUri(const std::string& uri) {
  if (StartsWith(uri, kFileScheme)) return uri.substr(std::string(kFileScheme).size());
  return uri;
}

std::string RecordedUri(const std::string& component_uri) {
  if (StartsWith(component_uri, "/")) return kFileScheme + component_uri;
  return component_uri;
}

Json NormalizeParameterValue(const Json& value) {
  if (value.is_number_float()) {
    double d = value.get<double>();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9007199254740992.0) {
      return Json(static_cast<int64_t>(d));
    }
    return value;
  }
  if (value.is_array()) {
    Json out = Json::array();
    for (const Json& v : value) out.push_back(NormalizeParameterValue(v));
    return out;
  }
  if (value.is_object()) {
    Json out = Json::object();
    for (auto it = value.begin(); it != value.end(); ++it) {
      out[it.key()] = NormalizeParameterValue(it.value());
    }
    return out;
  }
  return value;
}

Result<Json> ParseParameterText(const std::string& text, const std::string& parameter_type,
                                const std::string& what) {
  if (parameter_type.empty() || parameter_type == "STRING") return Json(text);
  std::string t = Trim(text);
  if (parameter_type == "NUMBER_INTEGER") {
    int64_t v = 0;
    auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
    if (ec != std::errc() || ptr != t.data() + t.size() || t.empty()) {
      return InvalidArgument(what + ": '" + t + "' is not a NUMBER_INTEGER");
    }
    return Json(v);
  }
  if (parameter_type == "NUMBER_DOUBLE") {
    if (t.empty()) return InvalidArgument(what + ": empty text is not a NUMBER_DOUBLE");
    errno = 0;
    char* end = nullptr;
    double v = std::strtod(t.c_str(), &end);
    if (end != t.c_str() + t.size() || errno == ERANGE) {
      return InvalidArgument(what + ": '" + t + "' is not a NUMBER_DOUBLE");
    }
    return NormalizeParameterValue(Json(v));
  }
  if (parameter_type == "BOOLEAN") {  // Go strconv.ParseBool
    if (t == "1" || t == "t" || t == "T" || t == "true" || t == "TRUE" || t == "True") {
      return Json(true);
    }
    if (t == "0" || t == "f" || t == "F" || t == "false" || t == "FALSE" || t == "False") {
      return Json(false);
    }
    return InvalidArgument(what + ": '" + t + "' is not a BOOLEAN");
  }
  if (parameter_type == "LIST" || parameter_type == "STRUCT" ||
      parameter_type == "TASK_FINAL_STATUS") {
    auto parsed = ParseJson(t, what);
    if (!parsed.ok()) {
      return InvalidArgument(what + ": not valid JSON for " + parameter_type + " (" +
                             parsed.status().message() + ")");
    }
    Json v = std::move(parsed).value();
    if (parameter_type == "LIST" && !v.is_array()) {
      return InvalidArgument(what + ": LIST value is not a JSON array");
    }
    if (parameter_type != "LIST" && !v.is_object()) {
      return InvalidArgument(what + ": " + parameter_type + " value is not a JSON object");
    }
    return NormalizeParameterValue(v);
  }
  return InvalidArgument(what + ": unknown parameterType '" + parameter_type + "'");
}

Result<std::map<std::string, Json>> ResolvedParameterValues(const TaskInvocation& inv) {
  std::map<std::string, Json> values;
  for (const auto& [name, value] : inv.parameter_inputs) {
    if (value.is_null()) continue;
    values[name] = NormalizeParameterValue(value);
  }
  if (!inv.component_spec.is_object()) {
    return InvalidArgument("task " + inv.task_path + ": componentSpec is not an object");
  }
  const Json input_defs = inv.component_spec.value("inputDefinitions", Json::object());
  if (!input_defs.is_object()) {
    return InvalidArgument("task " + inv.task_path + ": inputDefinitions is not an object");
  }
  const Json param_defs = input_defs.value("parameters", Json::object());
  if (!param_defs.is_object()) return values;
  for (auto it = param_defs.begin(); it != param_defs.end(); ++it) {
    if (values.count(it.key())) continue;
    if (it.value().is_object() && it.value().contains("defaultValue") &&
        !it.value()["defaultValue"].is_null()) {
      values[it.key()] = NormalizeParameterValue(it.value()["defaultValue"]);
    }
  }
  return values;
}

static Result<TaskIo> BuildTaskIoImpl(const TaskInvocation& inv, const TaskIoOptions& options);

bool PinsKfpWithoutLocalPaths(const std::vector<std::string>& packages) {
  for (std::string p : packages) {
    p.erase(std::remove_if(p.begin(), p.end(),
                           [](char c) { return c == '\'' || c == '"' || c == ' '; }),
            p.end());
    if (!StartsWith(p, "kfp==")) continue;
    // "1.8.9", "2.0.0-beta.16", "2.0.0b16", "2.4.0": major and minor decide.
    int major = 0, minor = 0;
    if (std::sscanf(p.c_str() + 5, "%d.%d", &major, &minor) != 2) continue;
    return major < 2 || (major == 2 && minor < 5);
  }
  return false;
}

std::string OutputParameterFile(const std::string& prefix, const std::string& name) {
  return prefix + ".out." + name;
}

Result<TaskIo> BuildTaskIo(const TaskInvocation& inv, const TaskIoOptions& options) {
  return CatchJsonErrors("task " + inv.task_path, [&] { return BuildTaskIoImpl(inv, options); });
}

static Result<TaskIo> BuildTaskIoImpl(const TaskInvocation& inv, const TaskIoOptions& options) {
  const std::string where = "task " + inv.task_path;
  if (!inv.component_spec.is_object()) {
    return InvalidArgument(where + ": componentSpec is not an object");
  }
  if (options.output_file_prefix.empty()) {
    return InvalidArgument(where + ": no output file prefix");
  }
  TaskIo io;
  io.pipeline_root = inv.pipeline_root;
  if (options.legacy_minio_paths) {
    std::string root = ComponentUri(inv.pipeline_root.substr(0, inv.pipeline_root.find('?')));
    while (root.size() > 1 && root.back() == '/') root.pop_back();
    if (StartsWith(root, "/")) io.legacy_minio_root = root;  // a local pipeline root only
  }

  Json parameter_values = Json::object();
  ASSIGN_OR_RETURN(io.parameter_values, ResolvedParameterValues(inv));
  for (const auto& [name, value] : io.parameter_values) parameter_values[name] = value;

  Json input_artifacts = Json::object();
  for (const auto& [name, list] : inv.artifact_inputs) {
    Json arts = Json::array();
    for (const Artifact& a : list) arts.push_back(ArtifactToJson(a, io.legacy_minio_root));
    input_artifacts[name] = {{"artifacts", arts}};
  }

  // Outputs (provisionOutputs): the task root, one file per output parameter, one URI per artifact.
  std::string root = inv.pipeline_root;
  if (size_t q = root.find('?'); q != std::string::npos) root.resize(q);
  if (root.empty()) return InvalidArgument(where + ": the run has no pipeline root");
  io.task_root_uri = JoinUri(
      JoinUri(JoinUri(root, inv.run_id.empty() ? "run" : inv.run_id), TaskPathToDir(inv.task_path)),
      options.salt.empty() ? "0" : options.salt);
  // Local to the task, as the KFP launcher's /tmp/kfp_outputs/output_metadata.json: a task without
  // output artifacts then needs no folder in the artifact store.
  io.executor_output_file = options.output_file_prefix + "." + kExecutorOutputFile;

  const Json output_defs = inv.component_spec.value("outputDefinitions", Json::object());
  if (!output_defs.is_object()) {
    return InvalidArgument(where + ": outputDefinitions is not an object");
  }
  Json output_parameters = Json::object();
  const Json out_params = output_defs.value("parameters", Json::object());
  if (out_params.is_object()) {
    for (auto it = out_params.begin(); it != out_params.end(); ++it) {
      if (it.key().empty() || it.key().find('/') != std::string::npos || it.key() == "." ||
          it.key() == "..") {
        return InvalidArgument(where + ": output parameter name '" + it.key() +
                               "' cannot name a file");
      }
      std::string file = OutputParameterFile(options.output_file_prefix, it.key());
      io.output_parameter_files[it.key()] = file;
      output_parameters[it.key()] = {{"outputFile", file}};
    }
  }
  Json output_artifacts = Json::object();
  const Json out_arts = output_defs.value("artifacts", Json::object());
  if (out_arts.is_object()) {
    for (auto it = out_arts.begin(); it != out_arts.end(); ++it) {
      if (it.key().empty() || it.key().find('/') != std::string::npos) {
        return InvalidArgument(where + ": output artifact name '" + it.key() +
                               "' cannot name a file");
      }
      const Json& def = it.value();
      Json type = TypeOf(def.is_object() ? def.value("artifactType", Json::object()) : Json());
      Artifact a;
      a.name = it.key();
      a.uri = RecordedUri(ComponentUri(JoinUri(io.task_root_uri, it.key())));
      a.schema_title = type.value("schemaTitle", "");
      a.schema_version = type.value("schemaVersion", "");
      if (def.is_object() && def.contains("metadata") && def["metadata"].is_object()) {
        a.metadata = def["metadata"];
      }
      io.output_artifacts[it.key()] = a;
      output_artifacts[it.key()] = {
          {"artifacts", Json::array({ArtifactToJson(a, io.legacy_minio_root)})}};
    }
  }

  Json inputs = Json::object();
  if (!parameter_values.empty()) inputs["parameterValues"] = parameter_values;
  if (!input_artifacts.empty()) inputs["artifacts"] = input_artifacts;
  Json outputs = Json::object();
  if (!output_parameters.empty()) outputs["parameters"] = output_parameters;
  if (!output_artifacts.empty()) outputs["artifacts"] = output_artifacts;
  outputs["outputFile"] = io.executor_output_file;
  io.executor_input = {{"inputs", inputs}, {"outputs", outputs}};
  return io;
}

std::vector<std::string> OutputFolders(const TaskIo& io) {
  std::vector<std::string> dirs;
  auto add = [&dirs](const std::string& file) {
    std::string dir = fs::path(file).parent_path().string();
    if (!dir.empty() && std::find(dirs.begin(), dirs.end(), dir) == dirs.end()) {
      dirs.push_back(dir);
    }
  };
  for (const auto& [name, file] : io.output_parameter_files) add(file);
  for (const auto& [name, a] : io.output_artifacts) add(LocalPathForUri(a.uri));
  add(io.executor_output_file);
  return dirs;
}

std::vector<std::string> InputArtifactPaths(const TaskIo& io) {
  std::vector<std::string> paths;
  const Json& inputs = io.executor_input.value("inputs", Json::object());
  const Json& artifacts = inputs.is_object() ? inputs.value("artifacts", Json::object()) : Json();
  if (!artifacts.is_object()) return paths;
  for (const auto& [name, list] : artifacts.items()) {
    const Json& items = list.is_object() ? list.value("artifacts", Json::array()) : Json();
    if (!items.is_array()) continue;
    for (const Json& a : items) {
      if (!a.is_object() || !a.value("uri", Json()).is_string()) continue;
      std::string path = LocalPathForUri(a["uri"].get<std::string>());
      if (std::find(paths.begin(), paths.end(), path) == paths.end()) paths.push_back(path);
    }
  }
  return paths;
}

Status PrepareOutputFolders(const TaskIo& io) {
  for (const std::string& d : OutputFolders(io)) {
    if (d.empty()) continue;
    std::error_code ec;
    fs::create_directories(d, ec);
    if (ec) return Internal("creating output folder " + d + ": " + ec.message());
  }
  return Status::Ok();
}

static Result<CollectedOutputs> CollectOutputsImpl(const TaskIo& io, const Json& component_spec);

Result<CollectedOutputs> CollectOutputs(const TaskIo& io, const Json& component_spec) {
  return CatchJsonErrors("collecting outputs",
                         [&] { return CollectOutputsImpl(io, component_spec); });
}

static Result<CollectedOutputs> CollectOutputsImpl(const TaskIo& io, const Json& component_spec) {
  Json executor_output = Json::object();
  bool exists = false;
  ASSIGN_OR_RETURN(std::string text, ReadWholeFile(io.executor_output_file, &exists));
  if (exists && !Trim(text).empty()) {
    auto parsed = ParseJson(text, "executor output " + io.executor_output_file);
    if (!parsed.ok()) return parsed.status();
    executor_output = std::move(parsed).value();
    if (!executor_output.is_object()) {
      return InvalidArgument("executor output " + io.executor_output_file +
                             " is not a JSON object");
    }
  }
  const Json eo_params = executor_output.value("parameterValues", Json::object());
  const Json eo_artifacts = executor_output.value("artifacts", Json::object());

  CollectedOutputs out;
  Json out_params = Json::object();
  if (component_spec.is_object() && component_spec.contains("outputDefinitions") &&
      component_spec["outputDefinitions"].is_object()) {
    out_params = component_spec["outputDefinitions"].value("parameters", Json::object());
  }
  for (const auto& [name, file] : io.output_parameter_files) {
    std::string type;
    if (out_params.is_object() && out_params.contains(name) && out_params[name].is_object()) {
      type = out_params[name].value("parameterType", "");
    }
    if (eo_params.is_object() && eo_params.contains(name)) {
      out.parameters[name] = NormalizeParameterValue(eo_params[name]);
      continue;
    }
    bool file_exists = false;
    ASSIGN_OR_RETURN(std::string value_text, ReadWholeFile(file, &file_exists));
    if (!file_exists) {
      return FailedPrecondition("output parameter '" + name +
                                "' was declared but the component wrote no file at " + file);
    }
    ASSIGN_OR_RETURN(out.parameters[name],
                     ParseParameterText(value_text, type, "output parameter '" + name + "'"));
  }

  for (const auto& [name, provisioned] : io.output_artifacts) {
    std::vector<Artifact>& list = out.artifacts[name];
    const Json reported =
        eo_artifacts.is_object() && eo_artifacts.contains(name) && eo_artifacts[name].is_object()
            ? eo_artifacts[name].value("artifacts", Json::array())
            : Json::array();
    if (!reported.is_array() || reported.empty()) {
      list.push_back(provisioned);
      continue;
    }
    for (const Json& r : reported) {
      Artifact a = provisioned;
      if (!r.is_object()) continue;
      if (r.contains("name") && r["name"].is_string() && !r["name"].get<std::string>().empty()) {
        a.name = r["name"].get<std::string>();
      }
      if (r.contains("uri") && r["uri"].is_string() && !r["uri"].get<std::string>().empty()) {
        a.uri = RecordedUri(FromTaskUri(r["uri"].get<std::string>(), io.legacy_minio_root));
      }
      if (r.contains("metadata") && r["metadata"].is_object()) {
        if (!a.metadata.is_object()) a.metadata = Json::object();
        for (auto it = r["metadata"].begin(); it != r["metadata"].end(); ++it) {
          a.metadata[it.key()] = it.value();
        }
      }
      list.push_back(std::move(a));
    }
  }
  return out;
}

}  // namespace skiff::pipelines
