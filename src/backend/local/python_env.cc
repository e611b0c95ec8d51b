#include "backend/local/python_env.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "backend/local/spawn.h"
#include "core/ids.h"

namespace skiff::local {

namespace fs = std::filesystem;

namespace {

std::string Tail(const std::string& path, size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  if (text.size() > max_bytes) text = "..." + text.substr(text.size() - max_bytes);
  return text;
}

// Holds an exclusive flock for its lifetime.
class FileLock {
 public:
  explicit FileLock(const std::string& path) {
    fd_ = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ >= 0) {
      while (flock(fd_, LOCK_EX) != 0 && errno == EINTR) {
      }
    }
  }
  ~FileLock() {
    if (fd_ >= 0) close(fd_);
  }
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  bool ok() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

}  // namespace

PythonEnvCache::PythonEnvCache(std::string cache_dir, std::string python, std::string shim_path)
    : cache_dir_(std::move(cache_dir)),
      python_(std::move(python)),
      shim_path_(std::move(shim_path)) {}

std::string PythonEnvCache::Key(std::vector<std::string> packages,
                                const std::vector<std::string>& index_urls) {
  std::sort(packages.begin(), packages.end());
  std::string text = "packages:";
  for (const std::string& p : packages) text += p + "\n";
  text += "index:";
  for (const std::string& u : index_urls) text += u + "\n";  // order matters: first is --index-url
  return Sha256Hex(text).substr(0, 32);
}

void PythonEnvCache::Cancel() { cancelled_ = true; }

Result<std::string> PythonEnvCache::Ensure(const std::vector<std::string>& packages,
                                           const std::vector<std::string>& index_urls) {
  std::string key = Key(packages, index_urls);
  std::string dir = cache_dir_ + "/" + key;
  std::string marker = dir + "/.skiff-ready";
  {
    MutexLock lock(&mu_);
    cv_.Wait(mu_, [&] {
      mu_.AssertHeld();
      return in_progress_.count(key) == 0 || cancelled_;
    });
    if (cancelled_) return Unavailable("python environment creation cancelled");
    if (fs::exists(marker)) {
      ready_.insert(key);
      return dir;
    }
    in_progress_.insert(key);
  }
  Status st;
  {
    std::error_code ec;
    fs::create_directories(cache_dir_, ec);
    if (ec) {
      st = Internal("cannot create " + cache_dir_ + ": " + ec.message());
    } else {
      FileLock flock(cache_dir_ + "/" + key + ".lock");
      if (!flock.ok()) {
        st = Internal("cannot lock " + cache_dir_ + "/" + key + ".lock: " + strerror(errno));
      } else if (!fs::exists(marker)) {
        st = Create(dir, cache_dir_ + "/" + key + ".log", packages, index_urls);
      }
    }
  }
  {
    MutexLock lock(&mu_);
    in_progress_.erase(key);
    if (st.ok()) ready_.insert(key);
  }
  cv_.SignalAll();
  if (!st.ok()) return st;
  return dir;
}

std::optional<std::string> PythonEnvCache::ReadyDir(const std::vector<std::string>& packages,
                                                    const std::vector<std::string>& index_urls) {
  std::string key = Key(packages, index_urls);
  MutexLock lock(&mu_);
  if (ready_.count(key) == 0) return std::nullopt;
  return cache_dir_ + "/" + key;
}

Status PythonEnvCache::Create(const std::string& dir, const std::string& log,
                              const std::vector<std::string>& packages,
                              const std::vector<std::string>& index_urls) {
  std::error_code ec;
  fs::remove_all(dir, ec);  // a half-made env from an interrupted attempt
  std::vector<std::string> venv = {python_, "-m", "venv", "--system-site-packages"};
  if (packages.empty()) venv.push_back("--without-pip");
  venv.push_back(dir);
  RETURN_IF_ERROR(Run(venv, log).WithContext("creating python environment " + dir));
  if (!packages.empty()) {
    std::vector<std::string> pip = {dir + "/bin/python",           "-m",        "pip", "install",
                                    "--disable-pip-version-check", "--no-input"};
    for (size_t i = 0; i < index_urls.size(); ++i) {
      pip.push_back(i == 0 ? "--index-url" : "--extra-index-url");
      pip.push_back(index_urls[i]);
    }
    pip.insert(pip.end(), packages.begin(), packages.end());
    Status st = Run(pip, log);
    if (!st.ok()) {
      fs::remove_all(dir, ec);
      return st.WithContext("installing python packages into " + dir);
    }
  }
  std::ofstream(dir + "/.skiff-ready") << "ok\n";
  return Status::Ok();
}

Status PythonEnvCache::Run(const std::vector<std::string>& argv, const std::string& log) {
  SpawnRequest req;
  req.executable = argv[0];
  req.argv = argv;
  for (const char* name : {"PATH", "HOME", "LANG", "PIP_CACHE_DIR", "PIP_CONFIG_FILE"}) {
    if (const char* v = getenv(name)) req.env.push_back(std::string(name) + "=" + v);
  }
  req.working_dir = cache_dir_;
  req.log_path = log;
  req.exit_file = log + ".exit";
  req.shim_path = shim_path_;
  ASSIGN_OR_RETURN(pid_t pid, Spawn(req));
  int status = 0;
  bool killed = false;
  while (true) {
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid || (r < 0 && errno != EINTR)) break;
    if (cancelled_ && !killed) {
      kill(-pid, SIGKILL);
      killed = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::optional<ExitRecord> rec = ReadExitFile(req.exit_file);
  unlink(req.exit_file.c_str());
  if (killed) return Unavailable("python environment creation cancelled");
  if (!rec.has_value() || rec->exit_code != 0) {
    std::string how = rec ? "exit code " + std::to_string(rec->exit_code) : "no exit record";
    return Internal("`" + argv[0] + " " + (argv.size() > 1 ? argv[1] + " " + argv[2] : "") +
                    "` failed (" + how + "); output:\n" + Tail(log, 2000));
  }
  return Status::Ok();
}

}  // namespace skiff::local
