#include "cli/config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace skiff::cli {

std::string SkiffHome() {
  if (const char* h = std::getenv("SKIFF_HOME"); h && *h) return h;
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : ".") + "/.skiff";
}

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound(path + ": " + std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Status WriteFileAtomic(const std::string& path, const std::string& content, int mode) {
  std::string tmp = path + ".tmp." + std::to_string(getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return Internal(tmp + ": " + std::strerror(errno));
  ::fchmod(fd, mode);
  size_t off = 0;
  while (off < content.size()) {
    ssize_t n = ::write(fd, content.data() + off, content.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return Internal(tmp + ": " + std::strerror(err));
    }
    off += static_cast<size_t>(n);
  }
  ::fsync(fd);
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return Internal(path + ": " + std::strerror(err));
  }
  return Status::Ok();
}

Status WriteServerFile(const std::string& home, const std::string& url,
                       const std::string& token_file) {
  Json j = {{"url", url}, {"pid", getpid()}, {"token_file", token_file}};
  return WriteFileAtomic(home + "/server.json", j.dump(2) + "\n", 0644);
}

void RemoveServerFile(const std::string& home) { ::unlink((home + "/server.json").c_str()); }

Result<ClientConfig> LoadClientConfig(const ConfigFlags& flags) {
  ClientConfig cfg;
  const std::string home = SkiffHome();
  std::string token_file = home + "/admin-token";
  if (!flags.server.empty()) {
    cfg.url = flags.server;
    cfg.source = "--server";
  } else if (const char* s = std::getenv("SKIFF_SERVER"); s && *s) {
    cfg.url = s;
    cfg.source = "SKIFF_SERVER";
  } else {
    auto text = ReadFile(home + "/server.json");
    if (!text.ok()) {
      return Unavailable("no server found: " + home +
                         "/server.json does not exist (start one with `skiff up`, or set "
                         "SKIFF_SERVER / --server)");
    }
    Json j = Json::parse(*text, nullptr, false);
    if (j.is_discarded() || !j.contains("url") || !j["url"].is_string()) {
      return InvalidArgument(home + "/server.json: malformed (expected {\"url\": ...})");
    }
    cfg.url = j["url"].get<std::string>();
    cfg.source = home + "/server.json";
    if (j.contains("token_file") && j["token_file"].is_string()) {
      token_file = j["token_file"].get<std::string>();
    }
  }
  while (!cfg.url.empty() && cfg.url.back() == '/') cfg.url.pop_back();
  if (!flags.token.empty()) {
    cfg.token = flags.token;
  } else if (const char* t = std::getenv("SKIFF_TOKEN"); t && *t) {
    cfg.token = t;
  } else {
    auto text = ReadFile(token_file);
    if (text.ok()) {
      cfg.token = *text;
      while (!cfg.token.empty() && std::isspace(static_cast<unsigned char>(cfg.token.back()))) {
        cfg.token.pop_back();
      }
      cfg.token_file = token_file;
    }
  }
  return cfg;
}

}  // namespace skiff::cli
