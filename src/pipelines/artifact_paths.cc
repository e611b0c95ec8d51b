#include "pipelines/artifact_paths.h"

#include <filesystem>

#include "core/files.h"

namespace skiff::pipelines {
namespace {

namespace fs = std::filesystem;

// The path of `path` relative to `dir`, when it lies in it (empty otherwise).
fs::path Inside(const fs::path& path, const fs::path& dir) {
  fs::path rel = path.lexically_relative(dir);
  if (rel.empty() || *rel.begin() == "..") return {};
  return rel;
}

}  // namespace

std::string NamespaceArtifactRoot(const std::string& artifacts_root, const std::string& ns) {
  return (fs::path(artifacts_root) / "namespaces" / ns).string();
}

Status CheckArtifactAccess(const std::string& path, const std::string& artifacts_root,
                           const std::string& ns, const std::string& run_uid,
                           const std::string& what) {
  if (artifacts_root.empty()) return Status::Ok();
  const fs::path root = ResolvedPath(artifacts_root);
  const fs::path resolved = ResolvedPath(path);
  const fs::path rel = Inside(resolved, root);
  if (rel.empty()) {
    // Outside the artifacts folder (or the folder itself, which holds everyone's).
    if (resolved == root) {
      return PermissionDenied(what + " " + path + " is the whole artifacts folder of the platform");
    }
    return Status::Ok();
  }
  auto it = rel.begin();
  const std::string first = it->string();
  if (first == "namespaces") {
    ++it;
    if (it != rel.end() && !ns.empty() && it->string() == ns) return Status::Ok();
  } else if (!run_uid.empty() && first == run_uid) {
    return Status::Ok();  // the run's own folder of the older layout
  }
  return PermissionDenied(what + " " + path + " belongs to another profile's runs");
}

}  // namespace skiff::pipelines
