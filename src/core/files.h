// Reading and replacing whole files.
//
//   ASSIGN_OR_RETURN(std::string text, ReadFile(home + "/server.json"));
//   RETURN_IF_ERROR(WriteFileAtomically(home + "/admin-token", token + "\n",
//                                       {.mode = 0600, .sync = true}));
//
// Thread-safe (no state; concurrent writers of one path each replace it whole).
#pragma once

#include <string>

#include "core/status.h"

namespace skiff {

// The whole file; NotFound (naming the path and why) when it cannot be opened.
Result<std::string> ReadFile(const std::string& path);

struct WriteOptions {
  int mode = 0600;  // of the file written, whatever the umask (and whatever the old file had)
  // fsync before the rename: the new contents survive a power loss, at milliseconds a write.
  bool sync = false;
};
// Writes `contents` to `path` through a temporary file beside it and a rename: a reader (or a
// process started after a crash) sees the old or the new contents, never a mix. Errors name the
// path.
Status WriteFileAtomically(const std::string& path, const std::string& contents,
                           WriteOptions options = {});

// Paths, compared by component:
// `path` lexically normal, without a trailing '/' ("/a/./b/" -> "/a/b").
std::string NormalPath(const std::string& path);
// `path` made absolute (from the working directory), then normal.
std::string AbsolutePath(const std::string& path);
// `path` with its links followed as far as it exists (std::filesystem::weakly_canonical), then
// normal; what it leads to, for judging where a path a user gave really lies.
std::string ResolvedPath(const std::string& path);
// True when `path` is `folder` or lies in it (both normalised first; no links followed).
bool PathWithin(const std::string& path, const std::string& folder);

}  // namespace skiff
