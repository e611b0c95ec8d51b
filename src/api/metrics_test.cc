#include "api/metrics.h"

#include <gtest/gtest.h>

#include "auth/testing/auth_testing.h"

namespace skiff {
namespace {

TEST(MetricsTest, RendersHttpCountersAndHistogram) {
  Metrics metrics;
  metrics.RecordHttpRequest("GET", "/healthz", 200, 0.002);
  metrics.RecordHttpRequest("GET", "/healthz", 200, 0.003);
  std::string text = metrics.Render();
  EXPECT_NE(
      text.find("skiff_http_requests_total{code=\"200\",method=\"GET\",route=\"/healthz\"} 2"),
      std::string::npos)
      << text;
  EXPECT_NE(
      text.find("skiff_http_request_duration_seconds_count{method=\"GET\",route=\"/healthz\"} 2"),
      std::string::npos)
      << text;
}

TEST(MetricsTest, CollectHooksRefreshGaugesBeforeEachScrape) {
  Metrics metrics;
  int running = 3;
  auto& phases = metrics.GaugeFamily("skiff_workloads", "Workloads by phase");
  EXPECT_EQ(&phases, &metrics.GaugeFamily("skiff_workloads", "again"));
  metrics.AddCollectHook([&] { phases.Add({{"phase", "Running"}}).Set(running); });
  EXPECT_NE(metrics.Render().find("skiff_workloads{phase=\"Running\"} 3"), std::string::npos);
  running = 5;
  EXPECT_NE(metrics.Render().find("skiff_workloads{phase=\"Running\"} 5"), std::string::npos);
}

TEST(MetricsTest, MeteredStoreCountsOperationsByResult) {
  TempDir dir;
  FakeClock clock;
  std::unique_ptr<Store> store = OpenTestStore(dir, clock);
  ASSERT_NE(store, nullptr);
  Metrics metrics;
  MeteredStore metered(*store, metrics);
  Json cm = {{"apiVersion", "v1"},
             {"kind", "ConfigMap"},
             {"metadata", {{"name", "c"}, {"namespace", "a"}}}};
  ASSERT_TRUE(metered.Create("configmaps", cm).ok());
  EXPECT_FALSE(metered.Create("configmaps", cm).ok());
  EXPECT_FALSE(metered.Get("configmaps", "a", "missing").ok());
  std::string text = metrics.Render();
  EXPECT_NE(text.find("skiff_store_operations_total{op=\"create\",result=\"ok\"} 1"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("skiff_store_operations_total{op=\"create\",result=\"AlreadyExists\"} 1"),
            std::string::npos);
  EXPECT_NE(text.find("skiff_store_operations_total{op=\"get\",result=\"NotFound\"} 1"),
            std::string::npos);
}

}  // namespace
}  // namespace skiff
