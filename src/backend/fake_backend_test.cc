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

}  // namespace
}  // namespace skiff
