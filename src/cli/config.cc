#include "cli/config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "core/text.h"

namespace skiff::cli {

std::string SkiffHome() {
  if (const char* h = std::getenv("SKIFF_HOME"); h && *h) return h;
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : ".") + "/.skiff";
}

Status WriteServerFile(const std::string& home, const ServerFile& server) {
  Json j = {{"url", server.url},
            {"https_url", server.https_url},
            {"ca_file", server.ca_file},
            {"pid", getpid()},
            {"token_file", server.token_file}};
  return WriteFileAtomically(home + "/server.json", j.dump(2) + "\n", {.mode = 0644, .sync = true});
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
    cfg.https_url = TextAt(j, {"https_url"});
    cfg.ca_file = TextAt(j, {"ca_file"});
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
