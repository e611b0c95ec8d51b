#include "pipelines/placeholder.h"

#include <charconv>
#include <cmath>
#include <optional>

#include "core/resource.h"
#include "pipelines/executor_io.h"

namespace skiff::pipelines {
namespace {

bool StartsWith(const std::string& s, size_t pos, const std::string& prefix) {
  return s.compare(pos, prefix.size(), prefix) == 0;
}

// Parses `['name']` or `["name"]` at `pos`; advances `pos` past the `]`.
std::optional<std::string> ParseBracketName(const std::string& s, size_t* pos) {
  if (*pos + 2 > s.size() || s[*pos] != '[') return std::nullopt;
  char quote = s[*pos + 1];
  if (quote != '\'' && quote != '"') return std::nullopt;
  size_t end = s.find(std::string(1, quote) + "]", *pos + 2);
  if (end == std::string::npos) return std::nullopt;
  std::string name = s.substr(*pos + 2, end - (*pos + 2));
  *pos = end + 2;
  return name;
}

std::string ValueText(const Json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

Status Unsupported(const PlaceholderContext& ctx, const std::string& placeholder,
                   const std::string& why) {
  return InvalidArgument("task " + ctx.task + ": placeholder " + placeholder + " " + why);
}

// The first artifact of inputs/outputs.artifacts[name], or an error.
Result<Json> FirstArtifact(const PlaceholderContext& ctx, const std::string& side,
                           const std::string& name, const std::string& placeholder) {
  const Json* list = nullptr;
  if (ctx.executor_input.contains(side) && ctx.executor_input[side].contains("artifacts") &&
      ctx.executor_input[side]["artifacts"].contains(name)) {
    list = &ctx.executor_input[side]["artifacts"][name];
  }
  if (list == nullptr || !list->contains("artifacts") || !(*list)["artifacts"].is_array() ||
      (*list)["artifacts"].empty()) {
    return Unsupported(ctx, placeholder,
                       "refers to " + side + " artifact '" + name + "', which has no value");
  }
  return (*list)["artifacts"][0];
}

std::string ArtifactPath(const Json& artifact) {
  std::string path = LocalPathForUri(artifact.value("uri", ""));
  const Json md = artifact.value("metadata", Json::object());
  if (md.is_object() && md.value("_kfp_workspace", false) == true) {
    std::string rel = path;
    while (!rel.empty() && rel.front() == '/') rel.erase(rel.begin());
    return "/kfp-workspace/.artifacts/" + rel;
  }
  return path;
}

Result<std::string> ResolveArtifactField(const PlaceholderContext& ctx, const std::string& side,
                                         const std::string& body, size_t pos,
                                         const std::string& placeholder) {
  std::optional<std::string> name = ParseBracketName(body, &pos);
  if (!name) return Unsupported(ctx, placeholder, "is malformed");
  std::string rest = body.substr(pos);
  if (rest != ".uri" && rest != ".path" && rest != ".metadata" &&
      !StartsWith(rest, 0, ".metadata[")) {
    return Unsupported(ctx, placeholder, "is not supported");
  }
  ASSIGN_OR_RETURN(Json artifact, FirstArtifact(ctx, side, *name, placeholder));
  if (rest == ".uri") return artifact.value("uri", "");
  if (rest == ".path") return ArtifactPath(artifact);
  Json md = artifact.value("metadata", Json::object());
  if (!md.is_object()) md = Json::object();
  if (rest == ".metadata") return md.dump();
  size_t key_pos = std::string(".metadata").size();
  std::optional<std::string> key = ParseBracketName(rest, &key_pos);
  if (!key || key_pos != rest.size()) return Unsupported(ctx, placeholder, "is malformed");
  if (!md.contains(*key)) {
    return Unsupported(ctx, placeholder,
                       "refers to metadata key '" + *key + "', which the artifact lacks");
  }
  return ValueText(md[*key]);
}

// Resolves the placeholder `{{$<body>}}`.
Result<std::string> ResolveOne(const std::string& body, const PlaceholderContext& ctx) {
  const std::string placeholder = "{{$" + body + "}}";
  if (body.empty()) return ctx.executor_input.dump();
  if (StartsWith(body, 0, ".inputs.parameters[")) {
    size_t pos = std::string(".inputs.parameters").size();
    std::optional<std::string> name = ParseBracketName(body, &pos);
    if (!name || pos != body.size()) return Unsupported(ctx, placeholder, "is malformed");
    const Json& inputs =
        ctx.executor_input.contains("inputs") ? ctx.executor_input["inputs"] : Json::object();
    if (!inputs.contains("parameterValues") || !inputs["parameterValues"].contains(*name)) {
      return Unsupported(
          ctx, placeholder,
          "refers to input parameter '" + *name + "', which has no value and no default");
    }
    return FormatParameterValue(inputs["parameterValues"][*name]);
  }
  if (StartsWith(body, 0, ".inputs.artifacts[")) {
    return ResolveArtifactField(ctx, "inputs", body, std::string(".inputs.artifacts").size(),
                                placeholder);
  }
  if (StartsWith(body, 0, ".outputs.artifacts[")) {
    return ResolveArtifactField(ctx, "outputs", body, std::string(".outputs.artifacts").size(),
                                placeholder);
  }
  if (StartsWith(body, 0, ".outputs.parameters[")) {
    size_t pos = std::string(".outputs.parameters").size();
    std::optional<std::string> name = ParseBracketName(body, &pos);
    if (!name || body.substr(pos) != ".output_file") {
      return Unsupported(ctx, placeholder, "is not supported");
    }
    const Json outputs = ctx.executor_input.value("outputs", Json::object());
    const Json params = outputs.value("parameters", Json::object());
    if (!params.contains(*name)) {
      return Unsupported(ctx, placeholder,
                         "refers to output parameter '" + *name + "', which is not declared");
    }
    return params[*name].value("outputFile", "");
  }
  if (body == ".outputs.output_file") {
    return ctx.executor_input.value("outputs", Json::object()).value("outputFile", "");
  }
  if (body == ".pipeline_root") return ctx.pipeline_root;
  if (body == ".pipeline_job_name") return ctx.job_name;
  if (body == ".pipeline_job_resource_name") return ctx.job_resource_name;
  if (body == ".pipeline_job_uuid") return ctx.job_uuid;
  if (body == ".pipeline_task_name") return ctx.task_name;
  if (body == ".pipeline_task_uuid") return ctx.task_uuid;
  return Unsupported(ctx, placeholder, "is not supported by Skiff's launcher");
}

bool LooksLikeStructuredPlaceholder(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos || s[b] != '{') return false;
  size_t q = s.find_first_not_of(" \t\r\n", b + 1);
  return q != std::string::npos &&
         (StartsWith(s, q, "\"IfPresent\"") || StartsWith(s, q, "\"Concat\""));
}

Result<std::vector<std::string>> Expand(const Json& item, const PlaceholderContext& ctx, int depth);

Result<std::vector<std::string>> ExpandList(const Json& items, const PlaceholderContext& ctx,
                                            int depth) {
  std::vector<std::string> out;
  if (items.is_null()) return out;
  if (!items.is_array()) return Expand(items, ctx, depth);
  for (const Json& item : items) {
    ASSIGN_OR_RETURN(std::vector<std::string> part, Expand(item, ctx, depth));
    out.insert(out.end(), part.begin(), part.end());
  }
  return out;
}

Result<std::vector<std::string>> Expand(const Json& item, const PlaceholderContext& ctx,
                                        int depth) {
  if (depth > 32) {
    return InvalidArgument("task " + ctx.task + ": IfPresent/Concat placeholders nest too deeply");
  }
  if (item.is_null()) return std::vector<std::string>{};
  if (item.is_string()) {
    const std::string& s = item.get_ref<const std::string&>();
    if (LooksLikeStructuredPlaceholder(s)) {
      auto parsed = ParseJson(s, "placeholder");
      if (parsed.ok() && parsed->is_object()) return Expand(*parsed, ctx, depth + 1);
    }
    return std::vector<std::string>{s};
  }
  if (item.is_array()) return ExpandList(item, ctx, depth + 1);
  if (item.is_object()) {
    if (item.contains("IfPresent")) {
      const Json& spec = item["IfPresent"];
      if (!spec.is_object() || !spec.contains("InputName") || !spec["InputName"].is_string()) {
        return InvalidArgument("task " + ctx.task +
                               ": IfPresent placeholder without InputName: " + item.dump());
      }
      bool present = ctx.present_inputs.count(spec["InputName"].get<std::string>()) > 0;
      const char* branch = present ? "Then" : "Else";
      if (!spec.contains(branch)) return std::vector<std::string>{};
      return ExpandList(spec[branch], ctx, depth + 1);
    }
    if (item.contains("Concat")) {
      ASSIGN_OR_RETURN(std::vector<std::string> parts, ExpandList(item["Concat"], ctx, depth + 1));
      std::string joined;
      for (const std::string& p : parts) joined += p;
      return std::vector<std::string>{joined};
    }
    return InvalidArgument("task " + ctx.task + ": unknown structured placeholder " + item.dump());
  }
  return std::vector<std::string>{item.dump()};
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

std::string FormatParameterValue(const Json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_boolean()) return value.get<bool>() ? "true" : "false";
  if (value.is_number_integer()) return value.dump();
  if (value.is_number_float()) {
    double d = value.get<double>();
    if (!std::isfinite(d)) return std::isnan(d) ? "NaN" : (d > 0 ? "+Inf" : "-Inf");
    char buf[400];
    auto [ptr, ec] = std::to_chars(buf, buf + sizeof(buf), d, std::chars_format::fixed);
    if (ec != std::errc()) return value.dump();
    return std::string(buf, ptr);
  }
  if (value.is_null()) return "null";
  return NormalizeParameterValue(value).dump();
}

Result<std::string> SubstitutePlaceholders(const std::string& text, const PlaceholderContext& ctx,
                                           bool argv0) {
  if (!ctx.executor_input.is_object()) {
    return InvalidArgument("task " + ctx.task + ": no executor input to substitute from");
  }
  std::string out;
  size_t pos = 0;
  while (true) {
    size_t start = text.find("{{$", pos);
    if (start == std::string::npos) break;
    size_t end = text.find("}}", start + 3);
    if (end == std::string::npos) break;
    out.append(text, pos, start - pos);
    std::string body = text.substr(start + 3, end - start - 3);
    if (argv0 && !body.empty()) {
      out.append(text, start, end + 2 - start);  // left as is, like the launcher
    } else {
      ASSIGN_OR_RETURN(std::string value,
                       CatchJsonErrors("task " + ctx.task, [&] { return ResolveOne(body, ctx); }));
      out += value;
    }
    pos = end + 2;
  }
  out.append(text, pos, std::string::npos);
  return out;
}

static Result<CommandLine> ResolveCommandLineImpl(const Json& command, const Json& args,
                                                  const PlaceholderContext& ctx);

Result<CommandLine> ResolveCommandLine(const Json& command, const Json& args,
                                       const PlaceholderContext& ctx) {
  return CatchJsonErrors("task " + ctx.task,
                         [&] { return ResolveCommandLineImpl(command, args, ctx); });
}

static Result<CommandLine> ResolveCommandLineImpl(const Json& command, const Json& args,
                                                  const PlaceholderContext& ctx) {
  if (!command.is_null() && !command.is_array()) {
    return InvalidArgument("task " + ctx.task + ": container command is not a list");
  }
  if (!args.is_null() && !args.is_array()) {
    return InvalidArgument("task " + ctx.task + ": container args is not a list");
  }
  ASSIGN_OR_RETURN(std::vector<std::string> cmd, ExpandList(command, ctx, 0));
  ASSIGN_OR_RETURN(std::vector<std::string> arg, ExpandList(args, ctx, 0));
  CommandLine out;
  bool first = true;
  for (const std::string& c : cmd) {
    ASSIGN_OR_RETURN(std::string s, SubstitutePlaceholders(c, ctx, first));
    out.command.push_back(std::move(s));
    first = false;
  }
  for (const std::string& a : arg) {
    ASSIGN_OR_RETURN(std::string s, SubstitutePlaceholders(a, ctx, first));
    out.args.push_back(std::move(s));
    first = false;
  }
  return out;
}

}  // namespace skiff::pipelines
