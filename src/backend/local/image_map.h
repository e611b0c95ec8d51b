// ImageMap: how the local backend runs a container image. By default an image whose name starts
// with "python" (python:3.11, python-slim, ...) runs with the local Python in a cached virtual
// environment; a busybox or alpine image, whose shell is busybox's ash, runs `sh` with the host's
// busybox when there is one (so `[[ ]]` and other ash syntax work as in the image); any other
// image runs its command as given on the host. A YAML file overrides:
//
//   images:
//     "pytorch/*":        {python: true}
//     "ghcr.io/acme/*":   {python: false, path_prepend: ["/opt/acme/bin"]}
//     "my/tiny-shell":    {busybox: true}
//
// Patterns are fnmatch globs; when several match, the longest pattern wins.
//
//   ASSIGN_OR_RETURN(ImageMap map, ImageMap::Load("/home/me/.skiff/images.yaml"));
//   ImageRule rule = map.Resolve("python:3.11");
//
// Thread-compatible (immutable after Load).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/status.h"

namespace skiff::local {

struct ImageRule {
  bool python = false;
  bool busybox = false;  // `sh`/`ash` (also as /bin/sh) run as busybox's ash
  std::vector<std::string> path_prepend;
};

class ImageMap {
 public:
  ImageMap() = default;
  // Parses `path`; errors name the file and the offending entry.
  static Result<ImageMap> Load(const std::string& path);
  static Result<ImageMap> Parse(const std::string& text, const std::string& source);

  ImageRule Resolve(const std::string& image) const;

 private:
  std::map<std::string, ImageRule> rules_;  // glob -> rule
};

}  // namespace skiff::local
