#include "backend/local/warm_pool.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/testing/temp_dir.h"

namespace skiff::local {
namespace {

ContainerSpec Preloading(std::vector<std::string> modules) {
  ContainerSpec c;
  c.name = "main";
  c.python_preload = std::move(modules);
  return c;
}

TEST(WarmPool, ForksOnlyPythonDashMOfAContainerThatPreloads) {
  const ContainerSpec kfp = Preloading({"kfp"});
  EXPECT_TRUE(WarmPool::Eligible(kfp, {"python3", "-m", "kfp.dsl.executor_main"}));
  EXPECT_TRUE(WarmPool::Eligible(kfp, {"/venv/bin/python", "-m", "m", "--x"}));
  EXPECT_FALSE(WarmPool::Eligible(kfp, {"python3", "script.py", "x"})) << "not -m";
  EXPECT_FALSE(WarmPool::Eligible(kfp, {"sh", "-m", "x"})) << "not python";
  EXPECT_FALSE(WarmPool::Eligible(kfp, {"python3", "-m"})) << "no module";
  EXPECT_FALSE(WarmPool::Eligible(Preloading({}), {"python3", "-m", "m"})) << "nothing preloaded";
}

TEST(WarmPool, AnInterpreterThatCannotStartIsSettledAndForksNothing) {
  TempDir cache;
  WarmPool pool(cache.path());
  const std::string venv = cache.path() + "/no-such-env";
  const ContainerSpec c = Preloading({"json"});
  EXPECT_FALSE(pool.Settled(venv, c)) << "not tried yet: a workload would wait for it";
  pool.Ensure({{venv, c}}, /*remember=*/true);
  EXPECT_TRUE(pool.Settled(venv, c)) << "failed: nothing to wait for, it starts afresh";
  EXPECT_FALSE(pool.Fork(venv, c, SpawnRequest{}, "w").has_value());
  EXPECT_FALSE(std::filesystem::exists(cache.path() + "/warm-python.json"))
      << "a failure is not remembered for the next start";
}

TEST(WarmPool, RemembersOnlyEnvironmentsOfItsOwnCacheThatAreReady) {
  TempDir cache;
  std::filesystem::create_directories(cache.path() + "/ready");
  std::ofstream(cache.path() + "/ready/.skiff-ready").put('\n');
  std::filesystem::create_directories(cache.path() + "/half-made");
  std::ofstream(cache.path() + "/warm-python.json") << R"([
    {"venv": "ready", "preload": ["kfp"], "env": {"A": "1"}},
    {"venv": "half-made", "preload": ["kfp"], "env": {}},
    {"venv": "../ready", "preload": ["kfp"], "env": {}},
    {"venv": "..", "preload": ["kfp"], "env": {}},
    {"venv": "ready", "preload": [], "env": {}},
    {"venv": 7, "preload": ["kfp"], "env": {}},
    "junk"])";
  WarmPool pool(cache.path());
  WarmPool::Wanted wanted = pool.Remembered();
  ASSERT_EQ(wanted.size(), 1u);
  EXPECT_EQ(wanted[0].first, cache.path() + "/ready");
  EXPECT_EQ(wanted[0].second.python_preload, std::vector<std::string>{"kfp"});
  ASSERT_EQ(wanted[0].second.python_preload_env.size(), 1u);
  EXPECT_EQ(wanted[0].second.python_preload_env[0].name, "A");

  std::ofstream(cache.path() + "/warm-python.json") << "{not json";
  EXPECT_TRUE(pool.Remembered().empty()) << "an unreadable list warms nothing";
}

}  // namespace
}  // namespace skiff::local
