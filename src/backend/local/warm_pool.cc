#include "backend/local/warm_pool.h"

#include <algorithm>
#include <chrono>
#include <filesystem>

#include "backend/local/container_env.h"
#include "core/files.h"
#include "core/log.h"

namespace skiff::local {

namespace fs = std::filesystem;

bool WarmPool::Eligible(const ContainerSpec& c, const std::vector<std::string>& argv) {
  if (c.python_preload.empty() || argv.size() < 3) return false;
  std::string prog = fs::path(argv[0]).filename().string();
  return (prog == "python" || prog.rfind("python3", 0) == 0) && argv[1] == "-m";
}

std::string WarmPool::Key(const std::string& venv, const ContainerSpec& c) {
  std::string key = venv;
  for (const std::string& m : c.python_preload) key += "\n" + m;
  for (const EnvVar& e : c.python_preload_env) key += "\n" + e.name + "=" + e.value;
  return key;
}

bool WarmPool::Settled(const std::string& venv, const ContainerSpec& c) const {
  const std::string key = Key(venv, c);
  MutexLock lock(&mu_);
  return zygotes_.count(key) > 0 || failures_.count(key) > 0;
}

void WarmPool::Ensure(const Wanted& wanted, bool remember) {
  for (const auto& [venv, c] : wanted) {
    const std::string key = Key(venv, c);
    {
      MutexLock lock(&mu_);
      if (stopped_ || zygotes_.count(key) > 0 || failures_.count(key) > 0) continue;
    }
    std::map<std::string, std::string> env = BaseEnv(ImageRule{.python = true}, venv);
    for (const EnvVar& e : c.python_preload_env) env[e.name] = e.value;
    std::vector<std::string> env_list;
    for (const auto& [k, v] : env) env_list.push_back(k + "=" + v);
    auto z = PythonZygote::Start(venv + "/bin/python", c.python_preload, env_list,
                                 venv + ".zygote.py", venv + ".zygote.log");
    Status st = z.ok() ? (*z)->WaitReady(std::chrono::seconds(120)) : z.status();
    MutexLock lock(&mu_);
    if (!st.ok()) {
      LogWarn("no warm python process; python tasks start afresh",
              {{"environment", venv}, {"error", st.ToString()}});
      failures_.insert(key);
      continue;
    }
    if (stopped_) return;
    if (remember) RememberLocked(venv, c);
    if (zygotes_.size() >= kMaxInterpreters) {
      // Each holds its imports in memory: the one least recently used makes room.
      auto lru =
          std::min_element(zygotes_.begin(), zygotes_.end(), [](const auto& a, const auto& b) {
            return a.second->last_used() < b.second->last_used();
          });
      zygotes_.erase(lru);
    }
    zygotes_.emplace(key, std::move(*z));
  }
}

void WarmPool::RememberLocked(const std::string& venv, const ContainerSpec& c) {
  Json env = Json::object();
  for (const EnvVar& e : c.python_preload_env) env[e.name] = e.value;
  // By its name in the cache: the cache may be reached through another path next time.
  Json entry = {
      {"venv", fs::path(venv).filename().string()}, {"preload", c.python_preload}, {"env", env}};
  Json list = Json::array({entry});
  for (const Json& old : list_) {
    if (old != entry && list.size() < kMaxRemembered) list.push_back(old);
  }
  if (list == list_) return;
  list_ = list;
  Status st = WriteFileAtomically(ListPath(), list.dump());
  if (!st.ok()) LogWarn("cannot remember warm python processes", {{"error", st.ToString()}});
}

WarmPool::Wanted WarmPool::Remembered() {
  Json list = Json::parse(ReadFile(ListPath()).value_or(""), nullptr, /*allow_exceptions=*/false);
  if (!list.is_array()) return {};  // unreadable: nothing is warmed, tasks warm as they come
  Wanted out;
  for (const Json& e : list) {
    if (!e.is_object() || !e.value("venv", Json()).is_string() ||
        !e.value("preload", Json()).is_array() || !e.value("env", Json()).is_object()) {
      continue;
    }
    std::string name = e["venv"].get<std::string>();
    if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..")
      continue;
    std::string venv = env_cache_dir_ + "/" + name;
    std::error_code ec;
    if (!fs::exists(venv + "/.skiff-ready", ec)) continue;  // removed or half-made since
    ContainerSpec c;
    for (const Json& m : e["preload"]) {
      if (m.is_string()) c.python_preload.push_back(m.get<std::string>());
    }
    for (auto it = e["env"].begin(); it != e["env"].end(); ++it) {
      if (it->is_string()) c.python_preload_env.push_back({it.key(), it->get<std::string>()});
    }
    if (c.python_preload.empty()) continue;
    out.emplace_back(venv, std::move(c));
  }
  MutexLock lock(&mu_);
  list_ = list;
  return out;
}

std::optional<pid_t> WarmPool::Fork(const std::string& venv, const ContainerSpec& c,
                                    const SpawnRequest& request, const std::string& workload_id) {
  MutexLock lock(&mu_);
  auto z = zygotes_.find(Key(venv, c));
  if (z == zygotes_.end() || !z->second->ready()) return std::nullopt;
  Result<pid_t> forked = z->second->Fork(request, std::chrono::seconds(10));
  if (forked.ok()) return *forked;
  LogWarn("warm python process failed; starting python afresh",
          {{"workload", workload_id}, {"error", forked.status().ToString()}});
  zygotes_.erase(z);
  return std::nullopt;
}

void WarmPool::Stop() {
  MutexLock lock(&mu_);
  stopped_ = true;
  zygotes_.clear();
}

}  // namespace skiff::local
