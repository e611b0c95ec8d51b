#include "backend/local/confine.h"

#include <algorithm>
#include <filesystem>

#include "core/files.h"

namespace skiff::local {
namespace {

size_t Depth(const std::string& path) { return std::count(path.begin(), path.end(), '/'); }

}  // namespace

uint32_t ProfileUid(const std::string& profile) {
  uint32_t h = 2166136261u;  // FNV-1a
  for (unsigned char c : profile) {
    h ^= c;
    h *= 16777619u;
  }
  return (1u << 24) + (h & ((1u << 24) - 1));
}

Result<SandboxPlan> PlanSandbox(const SandboxLayout& layout, const ContainerFolders& folders) {
  SandboxPlan plan;
  auto hidden = [&](const std::string& path) {
    return std::any_of(layout.hidden.begin(), layout.hidden.end(),
                       [&](const std::string& h) { return PathWithin(path, h); });
  };
  auto absolute = [](const std::string& path, const std::string& what) -> Status {
    if (path.empty() || path[0] != '/') {
      return InvalidArgument(what + ": " + path + " is not an absolute path");
    }
    return Status::Ok();
  };
  for (const std::string& h : layout.hidden) {
    RETURN_IF_ERROR(absolute(h, "hidden folder"));
    const bool inside_another =
        std::any_of(layout.hidden.begin(), layout.hidden.end(), [&](const std::string& other) {
          return NormalPath(other) != NormalPath(h) && PathWithin(h, other);
        });
    if (!inside_another) plan.hide.push_back(NormalPath(h));
  }
  // Read-only wherever they lie (in a hidden folder, or under /tmp, which is the container's own).
  for (const std::string& v : layout.visible)
    plan.binds.push_back({ResolvedPath(v), NormalPath(v), true});
  RETURN_IF_ERROR(absolute(folders.own_dir, "the workload's folder"));
  const std::string workdir = folders.working_dir.empty() ? folders.own_dir : folders.working_dir;
  RETURN_IF_ERROR(absolute(workdir, "workingDir"));
  plan.binds.push_back({ResolvedPath(folders.own_dir), NormalPath(workdir), false});
  for (const ContainerFolders::Mount& m : folders.mounts) {
    const std::string what = "volume " + m.volume;
    RETURN_IF_ERROR(absolute(m.source, what));
    RETURN_IF_ERROR(absolute(m.target, what + " mountPath"));
    const std::string source = ResolvedPath(m.source);
    if (!m.from_platform && hidden(source)) {
      return PermissionDenied(what + ": " + m.source +
                              " lies in a folder the platform keeps from workloads");
    }
    plan.binds.push_back({source, NormalPath(m.target), m.read_only});
  }
  for (const HostPath& p : folders.exposed) {
    RETURN_IF_ERROR(absolute(p.path, "exposed path"));
    plan.binds.push_back({ResolvedPath(p.path), NormalPath(p.path), p.read_only});
  }
  // Outer folders first: a volume mounted in the working directory lands on top of it.
  std::stable_sort(
      plan.binds.begin(), plan.binds.end(),
      [](const SandboxBind& a, const SandboxBind& b) { return Depth(a.target) < Depth(b.target); });
  RETURN_IF_ERROR(absolute(folders.tmp_dir, "the workload's /tmp"));
  plan.tmp = ResolvedPath(folders.tmp_dir);
  if (layout.profile_identity) {
    plan.uid = ProfileUid(folders.profile);
    plan.gid = *plan.uid;
  }
  if (!EncodeSandboxPlan(plan)) {
    return InvalidArgument(
        "a path of the workload holds a tab or a newline: it cannot be "
        "sandboxed");
  }
  return plan;
}

}  // namespace skiff::local
