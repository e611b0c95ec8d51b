#include "core/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace skiff {

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound(path + ": " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

Status WriteFileAtomically(const std::string& path, const std::string& contents,
                           WriteOptions options) {
  // Per process: two processes replacing the same file (two CLIs) do not share a temporary.
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, options.mode);
  if (fd < 0) return Internal("cannot write " + tmp + ": " + std::strerror(errno));
  bool ok = ::fchmod(fd, static_cast<mode_t>(options.mode)) == 0;
  size_t written = 0;
  while (ok && written < contents.size()) {
    ssize_t n = ::write(fd, contents.data() + written, contents.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ok = false;
      break;
    }
    written += static_cast<size_t>(n);
  }
  if (ok && options.sync) ok = ::fsync(fd) == 0;
  int err = errno;
  ::close(fd);
  if (ok && ::rename(tmp.c_str(), path.c_str()) != 0) {
    ok = false;
    err = errno;
  }
  if (!ok) {
    ::unlink(tmp.c_str());
    return Internal("cannot write " + path + ": " + std::strerror(err));
  }
  return Status::Ok();
}

std::string NormalPath(const std::string& path) {
  std::string n = std::filesystem::path(path).lexically_normal().string();
  while (n.size() > 1 && n.back() == '/') n.pop_back();
  return n;
}

std::string AbsolutePath(const std::string& path) {
  std::error_code ec;
  std::filesystem::path absolute = std::filesystem::absolute(path, ec);
  return NormalPath(ec ? path : absolute.string());
}

std::string ResolvedPath(const std::string& path) {
  std::error_code ec;
  std::string r = std::filesystem::weakly_canonical(path, ec).string();
  return ec || r.empty() ? NormalPath(path) : NormalPath(r);
}

bool PathWithin(const std::string& path, const std::string& folder) {
  const std::string p = NormalPath(path), f = NormalPath(folder);
  if (f == "/") return true;
  return p == f || (p.size() > f.size() && p.compare(0, f.size(), f) == 0 && p[f.size()] == '/');
}

}  // namespace skiff
