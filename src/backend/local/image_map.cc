#include "backend/local/image_map.h"

#include <fnmatch.h>

#include <fstream>
#include <sstream>

#include "core/resource.h"

namespace skiff::local {

Result<ImageMap> ImageMap::Load(const std::string& path) {
  std::ifstream in(path);
  if (!in) return NotFound("image map file " + path + " cannot be read");
  std::stringstream ss;
  ss << in.rdbuf();
  return Parse(ss.str(), path);
}

Result<ImageMap> ImageMap::Parse(const std::string& text, const std::string& source) {
  ASSIGN_OR_RETURN(Json doc, ParseJsonOrYaml(text, source));
  ImageMap map;
  if (doc.is_null()) return map;
  if (!doc.is_object() || !doc.contains("images") || !doc["images"].is_object()) {
    return InvalidArgument(source + ": expected a mapping with key `images: {<glob>: {...}}`");
  }
  for (const auto& [glob, entry] : doc["images"].items()) {
    std::string where = source + ": images[\"" + glob + "\"]";
    if (!entry.is_object()) return InvalidArgument(where + " must be a mapping");
    ImageRule rule;
    for (const auto& [key, value] : entry.items()) {
      if (key == "python") {
        if (!value.is_boolean()) return InvalidArgument(where + ".python must be true or false");
        rule.python = value.get<bool>();
      } else if (key == "busybox") {
        if (!value.is_boolean()) return InvalidArgument(where + ".busybox must be true or false");
        rule.busybox = value.get<bool>();
      } else if (key == "path_prepend") {
        if (!value.is_array()) return InvalidArgument(where + ".path_prepend must be a list");
        for (const Json& p : value) {
          if (!p.is_string()) return InvalidArgument(where + ".path_prepend must hold strings");
          rule.path_prepend.push_back(p.get<std::string>());
        }
      } else {
        return InvalidArgument(where + ": unknown key `" + key +
                               "` (expected python, busybox, path_prepend)");
      }
    }
    map.rules_[glob] = std::move(rule);
  }
  return map;
}

ImageRule ImageMap::Resolve(const std::string& image) const {
  const ImageRule* best = nullptr;
  size_t best_len = 0;
  for (const auto& [glob, rule] : rules_) {
    if (fnmatch(glob.c_str(), image.c_str(), 0) != 0) continue;
    if (best == nullptr || glob.size() > best_len) {
      best = &rule;
      best_len = glob.size();
    }
  }
  if (best != nullptr) return *best;
  // By default an image is Python when its repository's last path segment says so:
  // "python:3.11", "docker.io/library/python:3.12-slim", "ubi9/python-311".
  ImageRule rule;
  std::string repo = image.substr(0, image.find('@'));
  size_t slash = repo.rfind('/');
  std::string last = slash == std::string::npos ? repo : repo.substr(slash + 1);
  rule.python = last.rfind("python", 0) == 0;
  std::string name = last.substr(0, last.find(':'));
  rule.busybox = name == "busybox" || name == "alpine";
  return rule;
}

}  // namespace skiff::local
