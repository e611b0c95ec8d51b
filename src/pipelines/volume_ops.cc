#include "pipelines/volume_ops.h"

#include <filesystem>
#include <system_error>
#include <vector>

#include "core/ids.h"
#include "core/quantity.h"
#include "core/resource.h"

namespace skiff::pipelines {
namespace {

namespace fs = std::filesystem;

constexpr char kCreateImage[] = "argostub/createpvc";
constexpr char kDeleteImage[] = "argostub/deletepvc";

std::string StringInput(const TaskInvocation& inv, const std::string& name) {
  auto it = inv.parameter_inputs.find(name);
  if (it == inv.parameter_inputs.end() || !it->second.is_string()) return "";
  return it->second.get<std::string>();
}

bool HasValue(const TaskInvocation& inv, const std::string& name) {
  auto it = inv.parameter_inputs.find(name);
  if (it == inv.parameter_inputs.end() || it->second.is_null()) return false;
  if (it->second.is_string()) return !it->second.get<std::string>().empty();
  return !it->second.empty();
}

// A Kubernetes object name (RFC 1123 subdomain), as the API server would insist on.
bool ValidClaimName(const std::string& name) { return ValidateName(name, "claim").ok(); }

TaskOutcome Failed(const TaskInvocation& inv, const std::string& op, const std::string& why) {
  return {.state = TaskOutcome::State::kFailed,
          .message = "task " + inv.task_path + ": " + op + ": " + why};
}

TaskOutcome Create(const TaskInvocation& inv, const std::string& volumes_root) {
  const std::string name_input = StringInput(inv, "pvc_name");
  const std::string suffix = StringInput(inv, "pvc_name_suffix");
  if (!name_input.empty() && !suffix.empty()) {
    return Failed(inv, "createpvc", "at most one of pvc_name and pvc_name_suffix can be non-empty");
  }
  // KFP generates a random UUID; a UUID derived from the workload id is as unique and survives a
  // restart of the task.
  std::string claim = name_input.empty() ? StableUuid(inv.workload_id) + suffix : name_input;
  if (!ValidClaimName(claim)) {
    return Failed(inv, "createpvc",
                  "'" + claim +
                      "' is not a valid claim name (lowercase letters, digits, '-' and '.', "
                      "starting and ending with a letter or digit, at most 253 characters)");
  }
  if (!HasValue(inv, "size")) return Failed(inv, "createpvc", "parameter size is required");
  if (Result<int64_t> size = ParseMemoryBytes(inv.parameter_inputs.at("size"), "size");
      !size.ok()) {
    return Failed(inv, "createpvc", size.status().message());
  }

  TaskOutcome outcome{.state = TaskOutcome::State::kSucceeded};
  std::vector<std::string> ignored;
  for (const char* field : {"access_modes", "storage_class_name", "annotations", "volume_name"}) {
    if (HasValue(inv, field)) ignored.push_back(field);
  }
  std::string line = "claim " + claim + " is a folder on this backend; ignored: size";
  for (const std::string& f : ignored) line += ", " + f;
  outcome.warnings.push_back(line);

  const std::string dir = ClaimDir(volumes_root, inv.namespace_, claim);
  std::error_code ec;
  bool existed = fs::exists(dir, ec);
  fs::create_directories(dir, ec);
  if (ec) return Failed(inv, "createpvc", "creating " + dir + ": " + ec.message());

  if (HasValue(inv, "data_source")) {
    const Json& source = inv.parameter_inputs.at("data_source");
    std::string kind = source.is_object() ? source.value("kind", "") : "";
    std::string from = source.is_object() ? source.value("name", "") : "";
    if (kind == "PersistentVolumeClaim" && !from.empty()) {
      const std::string from_dir = ClaimDir(volumes_root, inv.namespace_, from);
      if (!fs::is_directory(from_dir, ec)) {
        return Failed(inv, "createpvc", "data_source claim '" + from + "' does not exist");
      }
      if (!existed) {
        fs::copy(from_dir, dir, fs::copy_options::recursive | fs::copy_options::copy_symlinks, ec);
        if (ec) return Failed(inv, "createpvc", "cloning claim '" + from + "': " + ec.message());
      }
    } else {
      outcome.warnings.push_back("data_source " + source.dump() +
                                 " is not available on this backend; claim " + claim +
                                 " starts empty");
    }
  }
  outcome.output_parameters["name"] = claim;
  return outcome;
}

TaskOutcome Delete(const TaskInvocation& inv, const std::string& volumes_root) {
  const std::string claim = StringInput(inv, "pvc_name");
  if (claim.empty()) return Failed(inv, "deletepvc", "parameter pvc_name is required");
  if (!ValidClaimName(claim)) {
    return Failed(inv, "deletepvc", "'" + claim + "' is not a valid claim name");
  }
  TaskOutcome outcome{.state = TaskOutcome::State::kSucceeded};
  const std::string dir = ClaimDir(volumes_root, inv.namespace_, claim);
  std::error_code ec;
  if (!fs::exists(dir, ec)) {
    outcome.warnings.push_back("claim " + claim + " did not exist");
    return outcome;
  }
  fs::remove_all(dir, ec);
  if (ec) return Failed(inv, "deletepvc", "removing " + dir + ": " + ec.message());
  return outcome;
}

}  // namespace

VolumeOp VolumeOpOf(const Json& executor_spec) {
  if (!executor_spec.is_object() || !executor_spec.contains("container")) return VolumeOp::kNone;
  const Json& c = executor_spec["container"];
  if (!c.is_object() || !c.contains("image") || !c["image"].is_string()) return VolumeOp::kNone;
  const std::string image = c["image"].get<std::string>();
  if (image == kCreateImage) return VolumeOp::kCreate;
  if (image == kDeleteImage) return VolumeOp::kDelete;
  return VolumeOp::kNone;
}

std::string ClaimDir(const std::string& volumes_root, const std::string& ns,
                     const std::string& claim) {
  return (fs::path(volumes_root) / SafePathComponent(ns) / SafePathComponent(claim)).string();
}

TaskOutcome RunVolumeOp(VolumeOp op, const TaskInvocation& invocation,
                        const std::string& volumes_root) {
  switch (op) {
    case VolumeOp::kCreate:
      return Create(invocation, volumes_root);
    case VolumeOp::kDelete:
      return Delete(invocation, volumes_root);
    case VolumeOp::kNone:
      break;
  }
  return Failed(invocation, "volume operation", "the executor is not a PVC operation");
}

}  // namespace skiff::pipelines
