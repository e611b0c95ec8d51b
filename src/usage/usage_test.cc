#include "usage/usage.h"

#include <gtest/gtest.h>

#include <fstream>

#include "backend/fake_backend.h"
#include "core/clock.h"
#include "core/testing/temp_dir.h"

namespace skiff::usage {
namespace {

using std::chrono::milliseconds;

class UsageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = OpenStore("sqlite://:memory:", clock_);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    store_ = std::move(opened).value();
    Register(modules_);
    ControllerContext ctx{*store_, backend_, clock_, "", nullptr, {}};
    ctx.types = &types_;
    ctx.metrics = &metrics_;
    auto made = modules_.controllers().at(0).second(ctx);
    ASSERT_TRUE(made.ok()) << made.status().ToString();
    controller_ = std::move(made).value();
  }

  void Launch(const std::string& id, const std::string& ns, const std::string& kind,
              const std::string& owner) {
    WorkloadSpec w;
    w.id = id;
    w.labels = {{kWorkloadNamespaceLabel, ns},
                {kWorkloadOwnerKindLabel, kind},
                {kWorkloadOwnerNameLabel, owner}};
    w.containers.push_back({.name = "main"});
    ASSERT_TRUE(backend_.Launch(w).ok());
  }

  Json Record(const std::string& ns, const std::string& name) {
    auto got = store_->Get(kUsageRecordType, ns, name);
    EXPECT_TRUE(got.ok()) << got.status().ToString();
    return got.ok() ? *got : Json();
  }

  double Metric(const std::string& name, const std::string& owner) {
    for (const auto& s : metrics_.Snapshot()) {
      if (s.name == name && s.labels.at("name") == owner) return s.value;
    }
    return -1;
  }

  FakeClock clock_;
  FakeBackend backend_{clock_};
  TypeRegistry types_;
  ModuleRegistry modules_{types_};
  ControllerMetrics metrics_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Controller> controller_;
};

TEST_F(UsageTest, ARecordPerOwnerSumsItsWorkloadsAndKeepsWhatTheBackendForgot) {
  Launch("team-a/pi-1", "team-a", "Job", "pi");
  Launch("team-a/pi-2", "team-a", "Job", "pi");
  Launch("team-a/other", "team-a", "Job", "other");
  ASSERT_TRUE(backend_
                  .SetUsage("team-a/pi-1", {.cpu_seconds = 2.0,
                                            .peak_memory_bytes = 100,
                                            .memory_byte_seconds = 400,
                                            .wall_seconds = 4})
                  .ok());
  ASSERT_TRUE(backend_
                  .SetUsage("team-a/pi-2", {.cpu_seconds = 1.5,
                                            .peak_memory_bytes = 300,
                                            .memory_byte_seconds = 600,
                                            .wall_seconds = 6})
                  .ok());
  EXPECT_EQ(*controller_->KeyForWorkload(backend_.Observe("team-a/pi-1")->labels),
            (Controller::Key{"team-a", "job.pi"}));

  auto next = controller_->Reconcile("team-a", "job.pi");
  ASSERT_TRUE(next.ok()) << next.status().ToString();
  EXPECT_EQ(*next, milliseconds(5000)) << "sampled again while its workloads run";
  Json r = Record("team-a", "job.pi");
  EXPECT_EQ(r["spec"]["owner"], (Json{{"kind", "Job"}, {"name", "pi"}}));
  EXPECT_DOUBLE_EQ(r["status"]["cpuSeconds"].get<double>(), 3.5);
  EXPECT_EQ(r["status"]["peakMemoryBytes"], 300) << "the largest of one workload";
  EXPECT_EQ(r["status"]["averageMemoryBytes"], 100) << "1000 byte-seconds over 10 s";
  EXPECT_EQ(r["status"]["workloads"], 2);
  EXPECT_EQ(r["status"]["running"], 2);
  EXPECT_DOUBLE_EQ(Metric("skiff_usage_cpu_seconds_total", "pi"), 3.5);

  EXPECT_EQ(*controller_->Reconcile("team-a", "job.pi"), milliseconds(2001))
      << "looked again at once: put off, at most one look per 2 s";
  EXPECT_FALSE(controller_->KeyForWorkload(backend_.Observe("team-a/pi-1")->labels).has_value())
      << "a look is due: a workload's change needs no wake-up of its own";

  // Both end; one is removed with its pod before the next look: its last figures stay.
  ASSERT_TRUE(backend_.Finish("team-a/pi-1", 0).ok());
  ASSERT_TRUE(backend_.Finish("team-a/pi-2", 0).ok());
  ASSERT_TRUE(backend_.Remove("team-a/pi-1").ok());
  clock_.Advance(std::chrono::seconds(3));
  next = controller_->Reconcile("team-a", "job.pi");
  ASSERT_TRUE(next.ok());
  EXPECT_FALSE(next->has_value()) << "nothing runs: woken by the next change only";
  r = Record("team-a", "job.pi");
  EXPECT_DOUBLE_EQ(r["status"]["cpuSeconds"].get<double>(), 3.5);
  EXPECT_EQ(r["status"]["ended"]["workloads"], 2);
  EXPECT_TRUE(r["status"]["live"].empty()) << "ended workloads are folded: the record stays small";
  EXPECT_EQ(r["status"]["running"], 0);

  // Looking again, and after the other is removed too, counts nothing twice.
  for (int i = 0; i < 2; ++i) {
    if (i == 1) {
      ASSERT_TRUE(backend_.Remove("team-a/pi-2").ok());
    }
    clock_.Advance(std::chrono::seconds(3));
    ASSERT_TRUE(controller_->Reconcile("team-a", "job.pi").ok());
    r = Record("team-a", "job.pi");
    EXPECT_DOUBLE_EQ(r["status"]["cpuSeconds"].get<double>(), 3.5);
    EXPECT_EQ(r["status"]["workloads"], 2);
  }
  EXPECT_DOUBLE_EQ(Metric("skiff_usage_cpu_seconds_total", "pi"), 3.5) << "counted once";
}

TEST_F(UsageTest, NothingIsRecordedForAnOwnerWithoutWorkloadsOrInAnotherNamespace) {
  Launch("team-b/pi-1", "team-b", "Job", "pi");
  ASSERT_TRUE(controller_->Reconcile("team-a", "job.pi").ok());
  EXPECT_EQ(store_->Get(kUsageRecordType, "team-a", "job.pi").status().code(),
            StatusCode::kNotFound)
      << "team-b's pi is not team-a's";
  WorkloadSpec unlabeled;
  unlabeled.id = "x";
  unlabeled.containers.push_back({.name = "main"});
  EXPECT_FALSE(controller_->KeyForWorkload(unlabeled.labels).has_value());
}

void WriteFile(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

TEST(Prices, AreOptionalAndCheckedFieldByField) {
  TempDir home;
  auto none = LoadPrices(home.path());
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_FALSE(none->has_value()) << "no table: no cost";

  WriteFile(home.path() + "/prices.yaml", "currency: EUR\ncpuHour: 0.036\nmemoryGiBHour: 0.0072\n");
  auto prices = LoadPrices(home.path());
  ASSERT_TRUE(prices.ok() && prices->has_value()) << prices.status().ToString();
  EXPECT_EQ((*prices)->currency, "EUR");
  // 100 CPU-seconds (0.036/h) and 2 GiB for 1,000 s (0.0072 per GiB-hour).
  const Figures f{.cpu_seconds = 100, .memory_byte_seconds = 2.0 * (1 << 30) * 1000};
  EXPECT_NEAR((*prices)->Cost(f), 0.001 + 0.004, 1e-12);
  WriteFile(home.path() + "/prices.yaml", "currency: EUR\ncpuHour: null\n");
  auto null_price = LoadPrices(home.path());
  ASSERT_TRUE(null_price.ok() && null_price->has_value()) << null_price.status().ToString();
  EXPECT_EQ((*null_price)->cpu_hour, 0) << "a null price is no price";

  for (const auto& [text, named] : std::vector<std::pair<std::string, std::string>>{
           {"currency: EUR\ncpuHour: -1\n", "cpuHour"},
           {"currency: EUR\ncpuHour: cheap\n", "cpuHour"},
           {"cpuHour: 1\n", "currency"},
           {"currency: EUR\ngpuHour: 2\n", "gpuHour"},
           {"- a list\n", "expected object"},
           {"currency: [\n", "prices.yaml"}}) {
    WriteFile(home.path() + "/prices.yaml", text);
    auto bad = LoadPrices(home.path());
    ASSERT_FALSE(bad.ok()) << text;
    EXPECT_NE(bad.status().message().find(named), std::string::npos)
        << text << " -> " << bad.status().message();
  }
}

TEST_F(UsageTest, APriceTableTurnsARecordIntoCost) {
  TempDir home;
  WriteFile(home.path() + "/prices.yaml", "currency: USD\ncpuHour: 3.6\n");
  ControllerContext ctx{*store_, backend_, clock_, home.path(), nullptr, {}};
  ctx.types = &types_;
  ctx.metrics = &metrics_;
  auto priced = modules_.controllers().at(0).second(ctx);
  ASSERT_TRUE(priced.ok()) << priced.status().ToString();
  Launch("team-a/pi-1", "team-a", "Job", "pi");
  ASSERT_TRUE(backend_.SetUsage("team-a/pi-1", {.cpu_seconds = 10}).ok());
  ASSERT_TRUE((*priced)->Reconcile("team-a", "job.pi").ok());
  Json r = Record("team-a", "job.pi");
  EXPECT_NEAR(r["status"]["cost"].get<double>(), 0.01, 1e-12) << "10 s at 3.6 an hour";
  EXPECT_EQ(r["status"]["currency"], "USD");

  WriteFile(home.path() + "/prices.yaml", "currency: USD\ncpuHour: free\n");
  auto refused = modules_.controllers().at(0).second(ctx);
  ASSERT_FALSE(refused.ok()) << "a wrong table stops the start, it is not ignored";
  EXPECT_NE(refused.status().message().find("cpuHour"), std::string::npos);
}

TEST(RecordName, IsAStoreNameForAnyOwner) {
  EXPECT_EQ(RecordName("PipelineRun", "run-1"), "pipelinerun.run-1");
  std::string longest = RecordName("Job", std::string(250, 'a'));
  EXPECT_LE(longest.size(), 253u);
  EXPECT_NE(longest, RecordName("Job", std::string(251, 'a'))) << "the hash keeps them apart";
  std::string dotted = RecordName("Job", std::string(232, 'a') + "." + std::string(30, 'b'));
  EXPECT_EQ(dotted.find(".-"), std::string::npos) << dotted;
}

}  // namespace
}  // namespace skiff::usage
