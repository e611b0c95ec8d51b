// What the local backend gives one sandboxed container (sandbox.h): the plan, from the backend's
// layout and the container's folders, volumes and exposed paths. Pure but for following the
// sources' links, so its rules are tested without processes:
//
//   - the hidden folders (SKIFF_HOME, the server's home) are empty, and /tmp is the
//     container's own, but for what is bound: the layout's visible folders read-only wherever
//     they lie (the Python environment cache, which may be under /tmp), the workload's own
//     folder (at its workingDir when it names one), its volumes at their mount paths, and its
//     exposed paths;
//   - a volume that is not the platform's (a user's hostPath) may not lie in a hidden folder,
//     nor lead into one through a link (sources are bound by where their links lead);
//   - when the server is root the container runs as its profile's identity (ProfileUid).
//
//   ASSIGN_OR_RETURN(SandboxPlan plan, PlanSandbox(layout, folders));
//
// Thread-safe (pure functions).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "backend/local/sandbox.h"
#include "core/status.h"

namespace skiff::local {

struct SandboxLayout {
  std::vector<std::string> hidden;   // absolute folders no workload sees
  std::vector<std::string> visible;  // seen read-only by every workload, wherever they lie
  bool profile_identity = false;     // each profile runs as ProfileUid (the server is root)
};

struct ContainerFolders {
  std::string profile;      // its namespace ("" for a workload of no profile)
  std::string own_dir;      // the workload's folder on the machine
  std::string working_dir;  // where the container sees it ("" = at own_dir)
  std::string tmp_dir;      // the folder it sees as /tmp
  struct Mount {
    std::string volume;  // for errors
    std::string source;  // the folder of the machine
    std::string target;  // its mountPath
    bool read_only = false;
    bool from_platform = false;
  };
  std::vector<Mount> mounts;
  std::vector<HostPath> exposed;
};

// PermissionDenied naming the volume when a user's volume lies in a hidden folder;
// InvalidArgument naming the path when one cannot be carried (a relative path, a tab or newline).
Result<SandboxPlan> PlanSandbox(const SandboxLayout& layout, const ContainerFolders& folders);

// The identity of a profile's workloads when the server is root: 2^24 plus a hash of the name
// into 2^24 (clear of the machine's own users and of the ids user namespaces use; two profiles
// share one with a chance of one in 16 million per pair, and even then see nothing of each
// other's files through their sandboxes).
uint32_t ProfileUid(const std::string& profile);

}  // namespace skiff::local
