#include "backend/local/container_env.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace skiff::local {

std::string ExpandVarRefs(const std::string& text, const std::map<std::string, std::string>& env) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '$' || i + 1 >= text.size()) {
      out += text[i];
      continue;
    }
    if (text[i + 1] == '$') {  // "$$": an escaped '$'
      out += '$';
      ++i;
      continue;
    }
    if (text[i + 1] == '(') {
      size_t close = text.find(')', i + 2);
      if (close != std::string::npos) {
        auto it = env.find(text.substr(i + 2, close - i - 2));
        if (it != env.end()) {
          out += it->second;
          i = close;
          continue;
        }
      }
    }
    out += text[i];
  }
  return out;
}

std::string PortEnvName(const std::string& port_name) {
  std::string env = "SKIFF_PORT_";
  for (char c : port_name) {
    unsigned char u = static_cast<unsigned char>(c);
    env += std::isalnum(u) ? static_cast<char>(std::toupper(u)) : '_';
  }
  return env;
}

Result<int> FreeLoopbackPort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Internal(std::string("socket: ") + strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    int err = errno;
    close(fd);
    return Internal(std::string("choosing a free port: ") + strerror(err));
  }
  close(fd);
  return static_cast<int>(ntohs(addr.sin_port));
}

std::map<std::string, std::string> BaseEnv(const ImageRule& rule, const std::string& venv,
                                           bool sandboxed) {
  std::map<std::string, std::string> env;
  const char* path = getenv("PATH");
  env["PATH"] = path != nullptr && !sandboxed ? path
                                              : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:"
                                                "/sbin:/bin";
  for (const char* name : {"HOME", "LANG"}) {
    if (const char* v = getenv(name)) env[name] = v;
  }
  if (sandboxed) env["HOME"] = "/tmp";
  for (auto it = rule.path_prepend.rbegin(); it != rule.path_prepend.rend(); ++it) {
    env["PATH"] = *it + ":" + env["PATH"];
  }
  if (rule.python && !venv.empty()) {
    env["PATH"] = venv + "/bin:" + env["PATH"];
    env["VIRTUAL_ENV"] = venv;
  }
  return env;
}

}  // namespace skiff::local
