#include "backend/local/probe.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <optional>
#include <thread>

#include "backend/local/spawn.h"

namespace skiff::local {
namespace {

using Clock = std::chrono::steady_clock;

int MillisLeft(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

// A non-blocking socket connected to 127.0.0.1:`port` by `deadline`, or -1.
int Connect(int port, Clock::time_point deadline) {
  if (port <= 0 || port > 65535) return -1;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    if (errno != EINPROGRESS) {
      close(fd);
      return -1;
    }
    pollfd p{fd, POLLOUT, 0};
    int err = 0;
    socklen_t len = sizeof err;
    if (poll(&p, 1, MillisLeft(deadline)) != 1 ||
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
      close(fd);
      return -1;
    }
  }
  return fd;
}

}  // namespace

bool TcpConnects(int port, std::chrono::milliseconds timeout) {
  int fd = Connect(port, Clock::now() + timeout);
  if (fd < 0) return false;
  close(fd);
  return true;
}

bool HttpGetSucceeds(int port, const std::string& path, std::chrono::milliseconds timeout) {
  const Clock::time_point deadline = Clock::now() + timeout;
  int fd = Connect(port, deadline);
  if (fd < 0) return false;
  // The path as given, but nothing that would end the request line early.
  std::string target = path.empty() || path[0] != '/' ? "/" + path : path;
  for (char& c : target) {
    if (c == '\r' || c == '\n' || c == ' ') c = '_';
  }
  const std::string request = "GET " + target +
                              " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                              "\r\nUser-Agent: skiff-probe\r\nConnection: close\r\n\r\n";
  size_t sent = 0;
  std::string head;
  bool ok = false;
  while (MillisLeft(deadline) > 0) {
    pollfd p{fd, static_cast<short>(sent < request.size() ? POLLOUT : POLLIN), 0};
    if (poll(&p, 1, MillisLeft(deadline)) != 1) break;
    if (sent < request.size()) {
      ssize_t n = send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) break;
      sent += static_cast<size_t>(n);
      continue;
    }
    char buf[512];
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    head.append(buf, static_cast<size_t>(n));
    // "HTTP/1.1 200 OK": the status is the three digits after the first space.
    size_t space = head.find(' ');
    if (space != std::string::npos && head.size() >= space + 4) {
      int code = 0;
      for (size_t i = space + 1; i < space + 4; ++i) {
        code = code * 10 + (head[i] >= '0' && head[i] <= '9' ? head[i] - '0' : 1000);
      }
      ok = head.rfind("HTTP/", 0) == 0 && code >= 200 && code < 400;
      break;
    }
    if (head.size() > 4096) break;
  }
  close(fd);
  return ok;
}

bool ExecSucceeds(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                  const std::string& working_dir, std::chrono::milliseconds timeout,
                  const ProbeSandbox& sandbox) {
  if (argv.empty()) return false;
  std::vector<char*> envp;
  std::string path;
  for (const std::string& e : env) {
    envp.push_back(const_cast<char*>(e.c_str()));
    if (e.rfind("PATH=", 0) == 0) path = e.substr(5);
  }
  envp.push_back(nullptr);
  // argv[0] from the container's PATH (posix_spawnp would search the server's).
  std::string exe = argv[0];
  if (exe.find('/') == std::string::npos) {
    for (size_t start = 0; start <= path.size();) {
      size_t end = path.find(':', start);
      if (end == std::string::npos) end = path.size();
      std::string candidate = path.substr(start, end - start) + "/" + argv[0];
      if (end > start && access(candidate.c_str(), X_OK) == 0) {
        exe = candidate;
        break;
      }
      start = end + 1;
    }
  }
  // Sandboxed: the shim enters the container's sandbox and runs it there (spawn.h's arguments).
  std::vector<std::string> command = argv;
  if (!sandbox.plan.empty()) {
    command = {sandbox.shim, sandbox.exit_file, "", "0", sandbox.plan, working_dir, exe};
    command.insert(command.end(), argv.begin(), argv.end());
    exe = sandbox.shim;
    unlink(sandbox.exit_file.c_str());
  }
  std::vector<char*> args;
  for (const std::string& a : command) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  if (!working_dir.empty() && sandbox.plan.empty()) {
    posix_spawn_file_actions_addchdir_np(&actions, working_dir.c_str());
  }
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);  // its own group: killed whole
  posix_spawnattr_setpgroup(&attr, 0);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, exe.c_str(), &actions, &attr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) return false;
  const Clock::time_point deadline = Clock::now() + timeout;
  int status = 0;
  while (true) {
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (r < 0) return false;
    if (Clock::now() >= deadline) {
      kill(-pid, SIGKILL);
      waitpid(pid, &status, 0);
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (!sandbox.plan.empty()) {
    std::optional<ExitRecord> ended = ReadExitFile(sandbox.exit_file);
    return ended && ended->exit_code == 0;
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

}  // namespace skiff::local
