#include "controller/reconcile_loop.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "core/schema.h"
#include "core/thread_annotations.h"

namespace skiff {
namespace {

using std::chrono::milliseconds;

class ReconcileLoopTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("reconcile-loop-test-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    store_ = OpenStore("sqlite://" + (dir_ / "t.db").string(), clock_).value();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  Json Object(const std::string& kind, const std::string& name, Json labels = Json::object()) {
    return {{"apiVersion", "v1"},
            {"kind", kind},
            {"metadata", {{"name", name}, {"namespace", "ns"}, {"labels", labels}}},
            {"spec", Json::object()}};
  }

  std::filesystem::path dir_;
  FakeClock clock_;
  std::unique_ptr<Store> store_;
};

TEST_F(ReconcileLoopTest, ReconcilesEachChangedObjectOnce) {
  std::vector<std::string> calls;
  ReconcileLoop loop("t", *store_, "widgets", [&](const std::string& ns, const std::string& n) {
    calls.push_back(ns + "/" + n);
    return Result<std::optional<milliseconds>>(std::optional<milliseconds>());
  });
  ASSERT_TRUE(store_->Create("widgets", Object("Widget", "a")).ok());
  ASSERT_TRUE(store_->Create("widgets", Object("Widget", "b")).ok());
  ASSERT_TRUE(store_->Create("gadgets", Object("Gadget", "c")).ok());
  EXPECT_EQ(loop.RunOnce(), 2);
  EXPECT_EQ(calls, (std::vector<std::string>{"ns/a", "ns/b"}));
  EXPECT_EQ(loop.RunOnce(), 0) << "nothing changed, nothing to do";
}

TEST_F(ReconcileLoopTest, RequeuesWhenAskedAndAfterErrors) {
  int calls = 0;
  ReconcileLoop::Options options;
  options.error_backoff = milliseconds(0);
  ReconcileLoop loop(
      "t", *store_, "widgets",
      [&](const std::string&, const std::string&) -> Result<std::optional<milliseconds>> {
        ++calls;
        if (calls == 1) return std::optional<milliseconds>(milliseconds(0));
        if (calls == 2) return Internal("transient");
        return std::optional<milliseconds>();
      },
      options);
  ASSERT_TRUE(store_->Create("widgets", Object("Widget", "a")).ok());
  loop.RunOnce();  // asks to be looked at again at once
  loop.RunOnce();  // fails: retried after the error back-off
  loop.RunOnce();  // succeeds for good
  EXPECT_EQ(loop.RunOnce(), 0);
  EXPECT_EQ(calls, 3);
}

TEST_F(ReconcileLoopTest, MapsChangesOfOtherTypesToTheirOwner) {
  std::vector<std::string> calls;
  ReconcileLoop loop("t", *store_, "jobs", [&](const std::string&, const std::string& n) {
    calls.push_back(n);
    return Result<std::optional<milliseconds>>(std::optional<milliseconds>());
  });
  loop.AlsoWatch("pods", [](const WatchEvent& ev) -> std::vector<ReconcileLoop::Key> {
    auto labels = MetaLabels(ev.object);
    if (!labels.count("job-name")) return {};
    return {ReconcileLoop::Key{ev.namespace_, labels["job-name"]}};
  });
  EXPECT_EQ(loop.RunOnce(), 0);  // nothing stored yet
  ASSERT_TRUE(store_->Create("pods", Object("Pod", "p1", {{"job-name", "pi"}})).ok());
  ASSERT_TRUE(store_->Create("pods", Object("Pod", "p2")).ok());
  loop.RunOnce();
  EXPECT_EQ(calls, (std::vector<std::string>{"pi"}));
}

TEST_F(ReconcileLoopTest, AChangeMayWakeSeveralKeysAndListKeysNamesWhatIsLookedAtFirst) {
  std::vector<std::string> calls;
  ReconcileLoop::Options options;
  options.list_keys = []() -> Result<std::vector<ReconcileLoop::Key>> {
    return std::vector<ReconcileLoop::Key>{{"", "listed"}};
  };
  ReconcileLoop loop(
      "t", *store_, "owners.internal",
      [&](const std::string& ns, const std::string& n) {
        calls.push_back(ns + "/" + n);
        return Result<std::optional<milliseconds>>(std::optional<milliseconds>());
      },
      options);
  // Each pod wakes one key per label value.
  loop.AlsoWatch("pods", [](const WatchEvent& ev) {
    std::vector<ReconcileLoop::Key> keys;
    for (const auto& [k, v] : MetaLabels(ev.object)) keys.push_back({ev.namespace_, v});
    return keys;
  });
  ASSERT_TRUE(store_->Create("owners.internal", Object("Owner", "stored")).ok());
  EXPECT_EQ(loop.RunOnce(), 1);  // what list_keys names, not what the store holds
  ASSERT_TRUE(store_->Create("pods", Object("Pod", "p", {{"a", "x"}, {"b", "y"}})).ok());
  EXPECT_EQ(loop.RunOnce(), 2);
  EXPECT_EQ(calls, (std::vector<std::string>{"/listed", "ns/x", "ns/y"}));
}

TEST_F(ReconcileLoopTest, StartReconcilesEverythingAlreadyStoredAndStopJoins) {
  ASSERT_TRUE(store_->Create("widgets", Object("Widget", "old")).ok());
  std::atomic<int> calls{0};
  ReconcileLoop loop("t", *store_, "widgets", [&](const std::string&, const std::string&) {
    ++calls;
    return Result<std::optional<milliseconds>>(std::optional<milliseconds>());
  });
  loop.Start();
  for (int i = 0; i < 200 && calls.load() == 0; ++i) std::this_thread::sleep_for(milliseconds(10));
  loop.Stop();
  EXPECT_EQ(calls.load(), 1);
}

TEST_F(ReconcileLoopTest, AStartedLoopReconcilesEnqueuedKeysAndNewChanges) {
  Mutex mu;
  std::vector<std::string> calls;
  ReconcileLoop loop("t", *store_, "widgets", [&](const std::string& ns, const std::string& n) {
    MutexLock lock(&mu);
    calls.push_back(ns + "/" + n);
    return Result<std::optional<milliseconds>>(std::optional<milliseconds>());
  });
  auto count = [&] {
    MutexLock lock(&mu);
    return calls.size();
  };
  loop.Start();
  loop.Enqueue({"ns", "poked"});  // not in the store: only the Enqueue brings it
  for (int i = 0; i < 500 && count() < 1; ++i) std::this_thread::sleep_for(milliseconds(10));
  ASSERT_TRUE(store_->Create("widgets", Object("Widget", "new")).ok());
  for (int i = 0; i < 500 && count() < 2; ++i) std::this_thread::sleep_for(milliseconds(10));
  loop.Stop();
  MutexLock lock(&mu);
  EXPECT_EQ(calls, (std::vector<std::string>{"ns/poked", "ns/new"}));
}

const Json* ConditionOf(const Json& obj, const std::string& type) {
  if (!obj.contains("status") || !obj["status"].contains("conditions")) return nullptr;
  for (const Json& c : obj["status"]["conditions"]) {
    if (c.value("type", "") == type) return &c;
  }
  return nullptr;
}

TEST_F(ReconcileLoopTest, AnExceptionIsCaughtRecordedOnTheObjectAndRetriedLater) {
  std::vector<std::string> calls;
  ReconcileLoop::Options options;
  options.error_backoff = std::chrono::hours(1);
  ReconcileLoop loop(
      "t", *store_, "widgets",
      [&](const std::string&, const std::string& n) -> Result<std::optional<milliseconds>> {
        calls.push_back(n);
        if (n == "poison") {
          bool enabled = Json("x").get<bool>();  // throws, as a careless read of user JSON does
          (void)enabled;
        }
        return std::optional<milliseconds>();
      },
      options);
  ASSERT_TRUE(store_->Create("widgets", Object("Widget", "poison")).ok());
  ASSERT_TRUE(store_->Create("widgets", Object("Widget", "fine")).ok());
  EXPECT_EQ(loop.RunOnce(), 2);
  EXPECT_EQ(calls, (std::vector<std::string>{"fine", "poison"}));
  Json poison = store_->Get("widgets", "ns", "poison").value();
  const Json* c = ConditionOf(poison, "ReconcileError");
  ASSERT_NE(c, nullptr) << poison.dump();
  EXPECT_EQ((*c)["status"], "True");
  EXPECT_NE((*c)["message"].get<std::string>().find("type must be boolean"), std::string::npos)
      << (*c)["message"];
  EXPECT_EQ(loop.GetStats().exceptions, 1);
  EXPECT_EQ(loop.GetStats().reconciles, 2);
  // Backed off: the condition's own write does not bring it back before error_backoff.
  calls.clear();
  loop.RunOnce();
  EXPECT_EQ(calls, std::vector<std::string>{});
}

TEST_F(ReconcileLoopTest, AnObjectItsSchemaRefusesIsReportedAndNotReconciledUntilFixed) {
  std::vector<std::string> calls;
  ReconcileLoop::Options options;
  options.kind = "Widget";
  options.schema = KindSchema({{"spec", openapi::Object({{"enabled", openapi::Boolean()}})}});
  ReconcileLoop loop(
      "t", *store_, "widgets",
      [&](const std::string&, const std::string& n) -> Result<std::optional<milliseconds>> {
        calls.push_back(n);
        return std::optional<milliseconds>();
      },
      options);
  Json bad = Object("Widget", "bad");
  bad["spec"]["enabled"] = "yes";
  ASSERT_TRUE(store_->Create("widgets", bad).ok());
  ASSERT_TRUE(store_->Create("widgets", Object("Widget", "good")).ok());
  EXPECT_EQ(loop.RunOnce(), 1);
  EXPECT_EQ(calls, std::vector<std::string>{"good"});
  Json stored = store_->Get("widgets", "ns", "bad").value();
  const Json* c = ConditionOf(stored, "Invalid");
  ASSERT_NE(c, nullptr) << stored.dump();
  EXPECT_EQ((*c)["reason"], "SchemaViolation");
  EXPECT_NE((*c)["message"].get<std::string>().find("spec.enabled: expected boolean, got string"),
            std::string::npos)
      << (*c)["message"];
  EXPECT_EQ(loop.GetStats().invalid, 1);
  // Its own condition write changes nothing more.
  const int64_t version = MetaResourceVersion(stored);
  loop.RunOnce();
  EXPECT_EQ(MetaResourceVersion(store_->Get("widgets", "ns", "bad").value()), version);
  // Fixed: reconciled.
  stored["spec"]["enabled"] = true;
  ASSERT_TRUE(store_->Update("widgets", stored).ok());
  calls.clear();
  EXPECT_EQ(loop.RunOnce(), 1);
  EXPECT_EQ(calls, std::vector<std::string>{"bad"});
  EXPECT_EQ(loop.GetStats().invalid, 0);
}

TEST_F(ReconcileLoopTest, AnObjectIsCheckedAgainstItsSchemaOncePerVersion) {
  int calls = 0;
  ReconcileLoop::Options options;
  options.kind = "Widget";
  options.schema = KindSchema({{"spec", openapi::Object({{"enabled", openapi::Boolean()}})}});
  ReconcileLoop loop(
      "t", *store_, "widgets",
      [&](const std::string&, const std::string&) -> Result<std::optional<milliseconds>> {
        ++calls;
        return std::optional<milliseconds>(milliseconds(0));  // wake again at once
      },
      options);
  ASSERT_TRUE(store_->Create("widgets", Object("Widget", "a")).ok());
  for (int i = 0; i < 3; ++i) loop.RunOnce();
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(loop.GetStats().schema_checks, 1) << "an unchanged object is not re-read";
  Json changed = store_->Get("widgets", "ns", "a").value();
  changed["spec"]["enabled"] = "yes";
  ASSERT_TRUE(store_->Update("widgets", changed).ok());
  loop.RunOnce();
  loop.RunOnce();
  EXPECT_EQ(calls, 3) << "the new version is refused";
  EXPECT_EQ(loop.GetStats().invalid, 1);
}

}  // namespace
}  // namespace skiff
