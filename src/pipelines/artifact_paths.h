// Where the platform keeps pipeline artifacts, and which of them a run may reach: each profile's
// runs see their profile's artifacts only, whatever URI a run names (an importer's, a pipeline
// root of its own, an output written as a link).
//
// Under the artifacts folder (SKIFF_HOME/artifacts), a run of namespace NS that names no pipeline
// root keeps its artifacts in ROOT/namespaces/NS/<run uid>/...; runs from before kept them in
// ROOT/<run uid>/..., each readable by its own run only.
//
//   ctx.pipeline_root = "file://" + NamespaceArtifactRoot(artifacts_root, ns);
//   RETURN_IF_ERROR(CheckArtifactAccess(path, artifacts_root, ns, run_uid, "input artifact"));
//
// Pure functions of their arguments and the file system: thread-safe.
#pragma once

#include <string>

#include "core/status.h"

namespace skiff::pipelines {

// ROOT/namespaces/NS.
std::string NamespaceArtifactRoot(const std::string& artifacts_root, const std::string& ns);

// Ok when `path` (links followed) lies outside `artifacts_root`, inside the part of namespace
// `ns`, or in run `run_uid`'s own folder of the older layout; PermissionDenied naming `what` and
// the path otherwise.
Status CheckArtifactAccess(const std::string& path, const std::string& artifacts_root,
                           const std::string& ns, const std::string& run_uid,
                           const std::string& what);

}  // namespace skiff::pipelines
