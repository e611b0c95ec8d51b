#include "backend/fake_backend.h"

#include <gtest/gtest.h>

namespace skiff {
namespace {

WorkloadSpec OneContainer(const std::string& id) {
  WorkloadSpec w;
  w.id = id;
  w.containers.push_back({.name = "main", .image = "busybox", .command = {"true"}});
  return w;
}

TEST(FakeBackendTest, LaunchRecordsSpecOnceAndStartsRunning) {
  FakeClock clock;
  FakeBackend backend(clock);
  ASSERT_TRUE(backend.Launch(OneContainer("ns/a")).ok());
  ASSERT_TRUE(backend.Launch(OneContainer("ns/a")).ok());
  ASSERT_EQ(backend.launched().size(), 1u);
  Result<WorkloadStatus> st = backend.Observe("ns/a");
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->phase, WorkloadPhase::kRunning);
  ASSERT_EQ(st->containers.size(), 1u);
  EXPECT_TRUE(st->containers[0].running);
}

TEST(FakeBackendTest, FinishWithNonZeroExitFailsTheWorkload) {
  FakeClock clock;
  FakeBackend backend(clock);
  backend.set_launch_phase(WorkloadPhase::kPending);
  ASSERT_TRUE(backend.Launch(OneContainer("a")).ok());
  EXPECT_EQ(backend.Observe("a")->phase, WorkloadPhase::kPending);
  ASSERT_TRUE(backend.Finish("a", 3).ok());
  WorkloadStatus st = *backend.Observe("a");
  EXPECT_EQ(st.phase, WorkloadPhase::kFailed);
  EXPECT_EQ(st.containers[0].exit_code, 3);
  EXPECT_EQ(st.containers[0].reason, "Error");
  EXPECT_EQ(backend.Finish("missing", 0).code(), StatusCode::kNotFound);
}

TEST(FakeBackendTest, StopIsRecordedAndEndsTheWorkloadAsStopped) {
  FakeClock clock;
  FakeBackend backend(clock);
  ASSERT_TRUE(backend.Launch(OneContainer("a")).ok());
  ASSERT_TRUE(backend.Stop("a", std::chrono::milliseconds(500)).ok());
  ASSERT_EQ(backend.stop_calls().size(), 1u);
  EXPECT_EQ(backend.stop_calls()[0].grace, std::chrono::milliseconds(500));
  WorkloadStatus st = *backend.Observe("a");
  EXPECT_EQ(st.phase, WorkloadPhase::kFailed);
  EXPECT_EQ(st.containers[0].reason, "Stopped");
}

TEST(FakeBackendTest, LogsAreReadFromAnOffsetOfTheFirstContainerByDefault) {
  FakeClock clock;
  FakeBackend backend(clock);
  ASSERT_TRUE(backend.Launch(OneContainer("a")).ok());
  ASSERT_TRUE(backend.SetLogs("a", "main", "hello\n").ok());
  EXPECT_EQ(*backend.ReadLogs("a", "", 0), "hello\n");
  EXPECT_EQ(*backend.ReadLogs("a", "main", 3), "lo\n");
  ASSERT_TRUE(backend.Remove("a").ok());
  EXPECT_FALSE(backend.Has("a"));
  EXPECT_EQ(backend.Observe("a").status().code(), StatusCode::kNotFound);
}

TEST(FakeBackendTest, LaunchErrorIsReturnedUntilCleared) {
  FakeClock clock;
  FakeBackend backend(clock);
  backend.set_launch_error(Unavailable("down"));
  EXPECT_EQ(backend.Launch(OneContainer("a")).code(), StatusCode::kUnavailable);
  backend.set_launch_error(Status::Ok());
  EXPECT_TRUE(backend.Launch(OneContainer("a")).ok());
}

TEST(FakeBackendTest, ReadinessAndEndpointsAreReportedAsTheLocalBackendDoes) {
  FakeClock clock;
  FakeBackend backend(clock);
  WorkloadSpec w;
  w.id = "ns/model";
  w.containers.push_back({.name = "server", .ports = {{"http", 8080}, {"", 9000}}});
  w.containers[0].readiness_probe = Probe{};
  w.containers.push_back({.name = "sidecar"});
  ASSERT_TRUE(backend.Launch(w).ok());
  WorkloadStatus st = *backend.Observe("ns/model");
  EXPECT_EQ(st.endpoints, (std::map<std::string, std::string>{{"http", "127.0.0.1:30000"},
                                                              {"9000", "127.0.0.1:30001"}}));
  EXPECT_FALSE(st.ready);
  EXPECT_FALSE(st.containers[0].ready) << "its probe has not passed";
  EXPECT_TRUE(st.containers[1].ready) << "no probe: ready while running";
  ASSERT_TRUE(backend.SetReady("ns/model", true).ok());
  EXPECT_TRUE(backend.Observe("ns/model")->ready);
  ASSERT_TRUE(backend.Finish("ns/model", 0).ok());
  EXPECT_FALSE(backend.Observe("ns/model")->ready) << "not running: not ready";
  EXPECT_EQ(backend.SetReady("nope", true).code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace skiff
