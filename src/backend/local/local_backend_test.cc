#include "backend/local/local_backend.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <thread>

#include "backend/local/journal.h"
#include "backend/local/proc.h"
#include "backend/local/spawn.h"
#include "backend/local/workload_record.h"
#include "core/testing/temp_dir.h"
#include "core/thread_annotations.h"

namespace skiff {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

// Real processes need real time: polls `done` every 10 ms for up to `limit`.
bool WaitFor(const std::function<bool()>& done, milliseconds limit = milliseconds(5000)) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(milliseconds(10));
  }
  return done();
}

ContainerSpec Shell(const std::string& name, const std::string& script) {
  return {.name = name, .image = "busybox", .command = {"/bin/sh", "-c", script}};
}

WorkloadSpec OneShell(const std::string& id, const std::string& script) {
  WorkloadSpec w;
  w.id = id;
  w.containers.push_back(Shell("main", script));
  return w;
}

// Dead or a zombie waiting for whoever adopted it (here often a slow-reaping init).
bool Gone(pid_t pid) {
  std::optional<local::ProcStat> st = local::ReadProcStat(pid);
  return !st.has_value() || st->state == 'Z' || st->state == 'X';
}

class LocalBackendTest : public ::testing::Test {
 protected:
  LocalBackend::Options Opts() {
    LocalBackend::Options o;
    o.state_dir = dir_.path() + "/workloads";
    o.log_dir = dir_.path() + "/logs";
    o.env_cache_dir = dir_.path() + "/envs";
    o.total_cpu_millis = 4000;
    o.total_memory_bytes = int64_t{8} << 30;
    o.tick = milliseconds(20);
    o.shutdown_grace = milliseconds(500);
    return o;
  }

  std::unique_ptr<LocalBackend> Make(LocalBackend::Options o) {
    Result<std::unique_ptr<LocalBackend>> b = LocalBackend::Create(std::move(o), clock_);
    EXPECT_TRUE(b.ok()) << b.status().ToString();
    return b.ok() ? std::move(b).value() : nullptr;
  }

  WorkloadStatus WaitFinished(LocalBackend& b, const std::string& id,
                              milliseconds limit = milliseconds(5000)) {
    WorkloadStatus st;
    WaitFor(
        [&] {
          st = *b.Observe(id);
          return st.phase == WorkloadPhase::kSucceeded || st.phase == WorkloadPhase::kFailed;
        },
        limit);
    return st;
  }

  TempDir dir_;
  FakeClock clock_;
};

TEST_F(LocalBackendTest, SucceedingCommandReportsExitCodeZeroAndItsLogs) {
  auto b = Make(Opts());
  ASSERT_TRUE(b->Launch(OneShell("default/hello", "echo hi; echo err >&2")).ok());
  WorkloadStatus st = WaitFinished(*b, "default/hello");
  EXPECT_EQ(st.phase, WorkloadPhase::kSucceeded) << st.message;
  ASSERT_EQ(st.containers.size(), 1u);
  EXPECT_EQ(st.containers[0].exit_code, 0);
  EXPECT_EQ(st.containers[0].reason, "Completed");
  EXPECT_EQ(st.finished_at, clock_.Now());
  EXPECT_EQ(*b->ReadLogs("default/hello", "", 0), "hi\nerr\n");
  EXPECT_EQ(*b->ReadLogs("default/hello", "main", 3), "err\n");
  EXPECT_TRUE(fs::exists(dir_.path() + "/logs/default/hello.main.log"));
  EXPECT_EQ(b->ReadLogs("default/hello", "nope", 0).status().code(), StatusCode::kNotFound);
}

TEST_F(LocalBackendTest, TheListenerHearsOfAWorkloadStartingAndFinishingWithItsLabels) {
  auto b = Make(Opts());
  Mutex mu;
  std::vector<std::string> heard;
  std::string run_label;
  b->SetListener([&](const std::string& id, const std::map<std::string, std::string>& labels) {
    MutexLock lock(&mu);
    heard.push_back(id);
    if (auto it = labels.find("run"); it != labels.end()) run_label = it->second;
  });
  WorkloadSpec w = OneShell("default/told", "sleep 0.3");  // its start and end: two turns
  w.labels["run"] = "r1";
  ASSERT_TRUE(b->Launch(w).ok());
  EXPECT_EQ(WaitFinished(*b, "default/told").phase, WorkloadPhase::kSucceeded);
  // The end is told after the turn that saw it; wait for that call.
  EXPECT_TRUE(WaitFor([&] {
    MutexLock lock(&mu);
    return heard.size() >= 2;
  }));
  MutexLock lock(&mu);
  for (const std::string& id : heard) EXPECT_EQ(id, "default/told");
  EXPECT_EQ(run_label, "r1");
}

TEST_F(LocalBackendTest, AMissingShimIsAClearErrorAtCreation) {
  LocalBackend::Options o = Opts();
  o.shim_path = dir_.path() + "/no-such-shim";
  Result<std::unique_ptr<LocalBackend>> b = LocalBackend::Create(o, clock_);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(b.status().message().find("no-such-shim"), std::string::npos) << b.status().message();
}

TEST_F(LocalBackendTest, FailingCommandReportsItsExitCode) {
  auto b = Make(Opts());
  ASSERT_TRUE(b->Launch(OneShell("fail", "echo hi; exit 3")).ok());
  WorkloadStatus st = WaitFinished(*b, "fail");
  EXPECT_EQ(st.phase, WorkloadPhase::kFailed);
  EXPECT_EQ(st.containers[0].exit_code, 3);
  EXPECT_EQ(st.containers[0].reason, "Error");
  EXPECT_NE(st.message.find("exit code 3"), std::string::npos) << st.message;
}

TEST_F(LocalBackendTest, LaunchIsIdempotentAndRejectsBadSpecs) {
  auto b = Make(Opts());
  ASSERT_TRUE(b->Launch(OneShell("same", "exit 0")).ok());
  ASSERT_TRUE(b->Launch(OneShell("same", "exit 5")).ok());
  EXPECT_EQ(WaitFinished(*b, "same").phase, WorkloadPhase::kSucceeded);
  EXPECT_EQ(b->Launch(OneShell("../escape", "true")).code(), StatusCode::kInvalidArgument);
  WorkloadSpec none;
  none.id = "empty";
  EXPECT_EQ(b->Launch(none).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(b->Observe("missing").status().code(), StatusCode::kNotFound);
}

TEST_F(LocalBackendTest, MissingExecutableFailsWithStartError) {
  auto b = Make(Opts());
  WorkloadSpec w;
  w.id = "noexe";
  w.containers.push_back({.name = "main", .command = {"definitely-not-a-command-xyz"}});
  ASSERT_TRUE(b->Launch(w).ok());
  WorkloadStatus st = WaitFinished(*b, "noexe");
  EXPECT_EQ(st.phase, WorkloadPhase::kFailed);
  EXPECT_EQ(st.containers[0].reason, "StartError");
  EXPECT_NE(st.message.find("definitely-not-a-command-xyz"), std::string::npos) << st.message;
}

TEST_F(LocalBackendTest, EnvAndWorkingDirAreApplied) {
  auto b = Make(Opts());
  std::string wd = dir_.path() + "/wd/nested";
  WorkloadSpec w = OneShell("env", "echo \"$GREETING $(pwd)\"; test -n \"$PATH\"");
  w.containers[0].env = {{"GREETING", "hello"}};
  w.containers[0].working_dir = wd;
  ASSERT_TRUE(b->Launch(w).ok());
  EXPECT_EQ(WaitFinished(*b, "env").phase, WorkloadPhase::kSucceeded);
  EXPECT_EQ(*b->ReadLogs("env", "", 0), "hello " + wd + "\n");
}

TEST_F(LocalBackendTest, EmptyDirVolumeIsSharedByTheContainersOfOneWorkload) {
  auto b = Make(Opts());
  std::string mount = dir_.path() + "/mnt/shared";
  WorkloadSpec w;
  w.id = "vol";
  w.volumes.push_back({.name = "scratch"});
  w.containers.push_back(Shell("writer", "echo data > " + mount + "/f"));
  w.containers.push_back(Shell("reader", "for i in $(seq 100); do test -f " + mount +
                                             "/f && exec cat " + mount +
                                             "/f; sleep 0.05; done; exit 1"));
  for (ContainerSpec& c : w.containers) c.volume_mounts.push_back({"scratch", mount});
  ASSERT_TRUE(b->Launch(w).ok());
  WorkloadStatus st = WaitFinished(*b, "vol");
  EXPECT_EQ(st.phase, WorkloadPhase::kSucceeded) << st.message;
  EXPECT_EQ(*b->ReadLogs("vol", "reader", 0), "data\n");
  EXPECT_FALSE(fs::exists(fs::symlink_status(mount))) << "the mount link goes with the workload";
}

TEST_F(LocalBackendTest, AMountSharedByTwoWorkloadsStaysUntilTheLastOneEnds) {
  auto b = Make(Opts());
  std::string claim = dir_.path() + "/claim";
  std::string mount = dir_.path() + "/mnt/data";
  auto mounting = [&](const std::string& id, const std::string& script) {
    WorkloadSpec w = OneShell(id, script);
    w.volumes.push_back({.name = "pvc", .host_path = claim});
    w.containers[0].volume_mounts.push_back({"pvc", mount});
    return w;
  };
  ASSERT_TRUE(b->Launch(mounting("short", "echo one > " + mount + "/one")).ok());
  ASSERT_TRUE(b->Launch(mounting("long", "sleep 0.5; cat " + mount + "/one")).ok());
  EXPECT_EQ(WaitFinished(*b, "short").phase, WorkloadPhase::kSucceeded);
  WorkloadStatus st = WaitFinished(*b, "long");
  EXPECT_EQ(st.phase, WorkloadPhase::kSucceeded) << st.message << *b->ReadLogs("long", "", 0);
  EXPECT_EQ(*b->ReadLogs("long", "", 0), "one\n");
  EXPECT_FALSE(fs::exists(fs::symlink_status(mount))) << "the last workload takes the link along";
  EXPECT_TRUE(fs::exists(claim + "/one")) << "the claim's data outlives its mounts";
}

TEST_F(LocalBackendTest, AWorkloadWaitsWhileItsMountPathBindsAnotherVolume) {
  auto b = Make(Opts());
  std::string mount = dir_.path() + "/mnt/data";
  auto mounting = [&](const std::string& id, const std::string& claim, const std::string& script) {
    WorkloadSpec w = OneShell(id, script);
    w.volumes.push_back({.name = "pvc", .host_path = dir_.path() + "/" + claim});
    w.containers[0].volume_mounts.push_back({"pvc", mount});
    return w;
  };
  ASSERT_TRUE(b->Launch(mounting("first", "a", "echo a > " + mount + "/f; sleep 0.4")).ok());
  ASSERT_TRUE(WaitFor([&] { return b->Observe("first")->phase == WorkloadPhase::kRunning; }));
  ASSERT_TRUE(b->Launch(mounting("second", "b", "cat " + mount + "/f 2>/dev/null; echo b")).ok());
  WorkloadStatus waiting = *b->Observe("second");
  EXPECT_EQ(waiting.phase, WorkloadPhase::kPending);
  EXPECT_NE(waiting.message.find("waiting for mount path"), std::string::npos) << waiting.message;
  EXPECT_EQ(WaitFinished(*b, "first").phase, WorkloadPhase::kSucceeded);
  WorkloadStatus st = WaitFinished(*b, "second");
  EXPECT_EQ(st.phase, WorkloadPhase::kSucceeded) << st.message;
  EXPECT_EQ(*b->ReadLogs("second", "", 0), "b\n") << "it saw its own volume, not the first's";
}

TEST_F(LocalBackendTest, ShellOfABusyboxImageIsBusyboxAsh) {
  if (!local::ResolveExecutable("busybox", getenv("PATH"), "/").ok()) {
    GTEST_SKIP() << "busybox is not installed (./setup installs it)";
  }
  auto b = Make(Opts());
  // `[[` is ash syntax that a POSIX sh such as dash lacks.
  WorkloadSpec w = OneShell("ash", "[[ \"$0\" == 'one+two' ]] && echo matched");
  w.containers[0].args = {"one+two"};
  w.containers[0].image = "ghcr.io/containerd/busybox";
  ASSERT_TRUE(b->Launch(w).ok());
  WorkloadStatus st = WaitFinished(*b, "ash");
  EXPECT_EQ(st.phase, WorkloadPhase::kSucceeded) << st.message << *b->ReadLogs("ash", "", 0);
  EXPECT_EQ(*b->ReadLogs("ash", "", 0), "matched\n");
}

TEST_F(LocalBackendTest, MountOverAnExistingDirectoryFailsClearly) {
  auto b = Make(Opts());
  std::string mount = dir_.path() + "/taken";
  fs::create_directories(mount);
  WorkloadSpec w = OneShell("taken", "true");
  w.volumes.push_back({.name = "v"});
  w.containers[0].volume_mounts.push_back({"v", mount});
  ASSERT_TRUE(b->Launch(w).ok());
  WorkloadStatus st = WaitFinished(*b, "taken");
  EXPECT_EQ(st.phase, WorkloadPhase::kFailed);
  EXPECT_EQ(st.containers[0].reason, "StartError");
  EXPECT_NE(st.message.find("already exists"), std::string::npos) << st.message;
}

TEST_F(LocalBackendTest, MemoryLimitStopsAHog) {
  auto b = Make(Opts());
  WorkloadSpec w;
  w.id = "hog";
  w.containers.push_back({.name = "main",
                          .command = {"python3", "-c", "b = bytearray(500 * 1024 * 1024)"},
                          .memory_bytes = 100 << 20});
  ASSERT_TRUE(b->Launch(w).ok());
  WorkloadStatus st = WaitFinished(*b, "hog", milliseconds(10000));
  EXPECT_EQ(st.phase, WorkloadPhase::kFailed);
  ASSERT_TRUE(st.containers[0].exit_code.has_value());
  EXPECT_NE(*st.containers[0].exit_code, 0);
  EXPECT_TRUE(st.containers[0].reason == "OOMKilled" || st.containers[0].reason == "Error")
      << st.containers[0].reason;
}

TEST_F(LocalBackendTest, SecondWorkloadWaitsForCpuAndStartsWhenTheFirstEnds) {
  LocalBackend::Options o = Opts();
  o.total_cpu_millis = 1000;
  auto b = Make(o);
  std::string gate = dir_.path() + "/gate";
  WorkloadSpec first = OneShell("first", "while [ ! -f " + gate + " ]; do sleep 0.02; done");
  first.containers[0].cpu_millis = 800;
  WorkloadSpec second = OneShell("second", "echo second");
  second.containers[0].cpu_millis = 500;
  ASSERT_TRUE(b->Launch(first).ok());
  ASSERT_TRUE(b->Launch(second).ok());
  EXPECT_EQ(b->Observe("first")->phase, WorkloadPhase::kRunning);
  WorkloadStatus waiting = *b->Observe("second");
  EXPECT_EQ(waiting.phase, WorkloadPhase::kPending);
  EXPECT_NE(waiting.message.find("waiting for resources: needs 500m cpu, 0 memory"),
            std::string::npos)
      << waiting.message;
  std::ofstream(gate) << "go";
  EXPECT_EQ(WaitFinished(*b, "first").phase, WorkloadPhase::kSucceeded);
  EXPECT_EQ(WaitFinished(*b, "second").phase, WorkloadPhase::kSucceeded);
}

TEST_F(LocalBackendTest, ANamespaceAtItsQuotaWaitsWhileAnotherRuns) {
  auto b = Make(Opts());
  ASSERT_TRUE(b->SetQuota("team-a", {.workloads = 1}).ok());
  std::string gate = dir_.path() + "/gate";
  auto in = [](const std::string& ns, WorkloadSpec w) {
    w.labels[kWorkloadNamespaceLabel] = ns;
    return w;
  };
  ASSERT_TRUE(
      b->Launch(in("team-a", OneShell("a1", "while [ ! -f " + gate + " ]; do sleep 0.02; done")))
          .ok());
  ASSERT_TRUE(b->Launch(in("team-a", OneShell("a2", "echo a2"))).ok());
  ASSERT_TRUE(b->Launch(in("team-b", OneShell("b1", "echo b1"))).ok());
  WorkloadStatus waiting = *b->Observe("a2");
  EXPECT_EQ(waiting.phase, WorkloadPhase::kPending);
  EXPECT_NE(waiting.message.find("waiting for the quota of profile team-a: 1 of 1 workloads"),
            std::string::npos)
      << waiting.message;
  EXPECT_EQ(WaitFinished(*b, "b1").phase, WorkloadPhase::kSucceeded);
  EXPECT_EQ(b->Observe("a2")->phase, WorkloadPhase::kPending);
  std::ofstream(gate) << "go";
  EXPECT_EQ(WaitFinished(*b, "a2").phase, WorkloadPhase::kSucceeded);

  // Under a memory quota, a workload that does not say its memory cannot start.
  ASSERT_TRUE(b->SetQuota("team-a", {.memory_bytes = int64_t{1} << 30}).ok());
  ASSERT_TRUE(b->Launch(in("team-a", OneShell("a3", "true"))).ok());
  WorkloadStatus refused = WaitFinished(*b, "a3");
  EXPECT_EQ(refused.phase, WorkloadPhase::kFailed);
  EXPECT_NE(refused.message.find("must set a memory limit"), std::string::npos) << refused.message;
}

TEST_F(LocalBackendTest, WorkloadBiggerThanTheMachineFailsAtOnce) {
  LocalBackend::Options o = Opts();
  o.total_cpu_millis = 1000;
  auto b = Make(o);
  WorkloadSpec w = OneShell("huge", "true");
  w.containers[0].cpu_millis = 2000;
  ASSERT_TRUE(b->Launch(w).ok());
  WorkloadStatus st = *b->Observe("huge");
  EXPECT_EQ(st.phase, WorkloadPhase::kFailed);
  EXPECT_NE(st.message.find("only 1 cpu"), std::string::npos) << st.message;
}

TEST_F(LocalBackendTest, AGangOfThreeStartsOnlyWhenAllThreeFit) {
  LocalBackend::Options o = Opts();
  o.total_cpu_millis = 3000;
  auto b = Make(o);
  std::string gate = dir_.path() + "/gate";
  WorkloadSpec other = OneShell("other", "while [ ! -f " + gate + " ]; do sleep 0.02; done");
  other.containers[0].cpu_millis = 1000;
  ASSERT_TRUE(b->Launch(other).ok());
  auto member = [&](int i) {
    WorkloadSpec w = OneShell("ns/train-" + std::to_string(i), "echo replica " + std::to_string(i));
    w.containers[0].cpu_millis = 1000;
    w.group = "ns/train";
    w.group_size = 3;
    return w;
  };
  ASSERT_TRUE(b->Launch(member(0)).ok());
  ASSERT_TRUE(b->Launch(member(1)).ok());
  EXPECT_EQ(b->Observe("ns/train-0")->phase, WorkloadPhase::kPending)
      << "two replicas would fit, but the gang has three";
  ASSERT_TRUE(b->Launch(member(2)).ok());
  WorkloadStatus waiting = *b->Observe("ns/train-2");
  EXPECT_EQ(waiting.phase, WorkloadPhase::kPending);
  EXPECT_NE(waiting.message.find("group ns/train needs 3 cpu"), std::string::npos)
      << waiting.message;
  EXPECT_EQ(b->Observe("ns/train-0")->phase, WorkloadPhase::kPending) << "none runs alone";
  std::ofstream(gate) << "go";
  for (int i = 0; i < 3; ++i) {
    WorkloadStatus st = WaitFinished(*b, "ns/train-" + std::to_string(i));
    EXPECT_EQ(st.phase, WorkloadPhase::kSucceeded) << st.message;
  }
}

TEST_F(LocalBackendTest, AHigherPriorityWorkloadPreemptsALowerOne) {
  LocalBackend::Options o = Opts();
  o.total_cpu_millis = 1000;
  o.shutdown_grace = milliseconds(200);
  auto b = Make(o);
  WorkloadSpec low = OneShell("low", "sleep 60");
  low.containers[0].cpu_millis = 800;
  ASSERT_TRUE(b->Launch(low).ok());
  ASSERT_TRUE(WaitFor([&] { return b->Observe("low")->phase == WorkloadPhase::kRunning; }));
  WorkloadSpec high = OneShell("high", "echo urgent");
  high.containers[0].cpu_millis = 800;
  high.priority = 10;
  ASSERT_TRUE(b->Launch(high).ok());
  WorkloadStatus preempted = WaitFinished(*b, "low");
  EXPECT_EQ(preempted.phase, WorkloadPhase::kFailed);
  ASSERT_EQ(preempted.containers.size(), 1u);
  EXPECT_EQ(preempted.containers[0].reason, "Preempted");
  EXPECT_NE(preempted.message.find("preempted: workload high"), std::string::npos)
      << preempted.message;
  WorkloadStatus st = WaitFinished(*b, "high");
  EXPECT_EQ(st.phase, WorkloadPhase::kSucceeded) << st.message;
  EXPECT_EQ(*b->ReadLogs("high", "", 0), "urgent\n");

  // Equal priority waits instead.
  WorkloadSpec peer = OneShell("peer", "sleep 60");
  peer.containers[0].cpu_millis = 800;
  ASSERT_TRUE(b->Launch(peer).ok());
  ASSERT_TRUE(WaitFor([&] { return b->Observe("peer")->phase == WorkloadPhase::kRunning; }));
  WorkloadSpec same = OneShell("same", "true");
  same.containers[0].cpu_millis = 800;
  ASSERT_TRUE(b->Launch(same).ok());
  std::this_thread::sleep_for(milliseconds(200));
  EXPECT_EQ(b->Observe("peer")->phase, WorkloadPhase::kRunning);
  EXPECT_EQ(b->Observe("same")->phase, WorkloadPhase::kPending);
}

TEST_F(LocalBackendTest, OnFailureRestartsAFailingContainerAfterABackoffUntilItSucceeds) {
  LocalBackend::Options o = Opts();
  o.restart_backoff = milliseconds(150);
  auto b = Make(o);
  std::string count = dir_.path() + "/attempts";
  // Fails on its first two attempts, succeeds on the third.
  WorkloadSpec w = OneShell("flaky", "echo attempt >> " + count + "; n=$(wc -l < " + count +
                                         "); echo run $n; [ $n -ge 3 ]");
  w.restart_policy = RestartPolicy::kOnFailure;
  ASSERT_TRUE(b->Launch(w).ok());
  // Between attempts: still running as a workload, the container waiting to start again.
  ASSERT_TRUE(WaitFor([&] {
    WorkloadStatus st = *b->Observe("flaky");
    return st.containers[0].reason == "CrashLoopBackOff";
  }));
  WorkloadStatus backing_off = *b->Observe("flaky");
  EXPECT_EQ(backing_off.phase, WorkloadPhase::kRunning);
  EXPECT_EQ(backing_off.containers[0].exit_code, 1) << "the last exit code stays readable";
  auto started = std::chrono::steady_clock::now();
  WorkloadStatus st = WaitFinished(*b, "flaky");
  // The second restart waits twice the first: at least 150 + 300 ms from the first failure.
  EXPECT_GE(std::chrono::steady_clock::now() - started, milliseconds(300));
  EXPECT_EQ(st.phase, WorkloadPhase::kSucceeded) << st.message;
  EXPECT_EQ(st.containers[0].restart_count, 2);
  EXPECT_EQ(st.containers[0].reason, "Completed");
  EXPECT_EQ(*b->ReadLogs("flaky", "", 0), "run 1\nrun 2\nrun 3\n");
}

TEST_F(LocalBackendTest, AlwaysRestartsEvenASuccessAndAStopEndsIt) {
  LocalBackend::Options o = Opts();
  o.restart_backoff = milliseconds(20);
  o.restart_backoff_max = milliseconds(40);
  auto b = Make(o);
  WorkloadSpec w = OneShell("server", "echo up");
  w.restart_policy = RestartPolicy::kAlways;
  ASSERT_TRUE(b->Launch(w).ok());
  ASSERT_TRUE(WaitFor([&] { return b->Observe("server")->containers[0].restart_count >= 3; }))
      << "the backoff is capped at 40 ms";
  EXPECT_EQ(b->Observe("server")->phase, WorkloadPhase::kRunning) << "never done by itself";
  ASSERT_TRUE(b->Stop("server", milliseconds(500)).ok());
  // Ended: kFailed "Stopped" when the stop caught it running or waiting to restart, kSucceeded
  // when its last run had ended by itself with 0 as the stop came.
  WorkloadStatus st = WaitFinished(*b, "server", milliseconds(2000));
  EXPECT_TRUE((st.phase == WorkloadPhase::kFailed && st.containers[0].reason == "Stopped") ||
              (st.phase == WorkloadPhase::kSucceeded && st.containers[0].reason == "Completed"))
      << WorkloadPhaseName(st.phase) << " " << st.containers[0].reason;
  const int restarts = st.containers[0].restart_count;
  std::this_thread::sleep_for(milliseconds(150));
  EXPECT_EQ(b->Observe("server")->containers[0].restart_count, restarts) << "not after the stop";
}

TEST_F(LocalBackendTest, NeverLeavesAFailedContainerEnded) {
  auto b = Make(Opts());
  ASSERT_TRUE(b->Launch(OneShell("once", "exit 3")).ok());
  WorkloadStatus st = WaitFinished(*b, "once");
  EXPECT_EQ(st.phase, WorkloadPhase::kFailed);
  EXPECT_EQ(st.containers[0].restart_count, 0);
  EXPECT_EQ(st.containers[0].exit_code, 3);
}

// GET / from 127.0.0.1:`port`: the status line, or "" when nothing answers.
std::string HttpGetStatusLine(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return "";
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  std::string got;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    const std::string req = "GET / HTTP/1.0\r\nHost: x\r\n\r\n";
    if (write(fd, req.data(), req.size()) == static_cast<ssize_t>(req.size())) {
      char buf[256];
      ssize_t n = read(fd, buf, sizeof buf);
      if (n > 0) got.assign(buf, static_cast<size_t>(n));
    }
  }
  close(fd);
  return got.substr(0, got.find("\r\n"));
}

TEST_F(LocalBackendTest, APortIsServedAtTheEndpointTheBackendReports) {
  auto b = Make(Opts());
  WorkloadSpec w;
  w.id = "ns/server";
  w.containers.push_back({.name = "web",
                          .image = "busybox",
                          .command = {"python3", "-m", "http.server", "$(SKIFF_PORT_HTTP)",
                                      "--bind", "127.0.0.1", "--directory", dir_.path()},
                          .ports = {{"http", 8080}}});
  w.containers.push_back(Shell("sidecar", "echo port=$PORT http=$SKIFF_PORT_HTTP; sleep 60"));
  w.containers[1].ports = {{"", 9090}};
  ASSERT_TRUE(b->Launch(w).ok());
  WorkloadStatus st = *b->Observe("ns/server");
  ASSERT_EQ(st.endpoints.size(), 2u);
  const std::string http = st.endpoints.at("http");
  ASSERT_EQ(http.rfind("127.0.0.1:", 0), 0u) << http;
  const int port = std::stoi(http.substr(10));
  EXPECT_NE(port, 8080) << "a port of its own, not the container port";
  EXPECT_TRUE(WaitFor([&] { return HttpGetStatusLine(port).find(" 200 ") != std::string::npos; }))
      << "the server listens where the endpoint says";
  const int sidecar = std::stoi(st.endpoints.at("9090").substr(10));
  EXPECT_TRUE(WaitFor([&] {
    return *b->ReadLogs("ns/server", "sidecar", 0) ==
           "port=" + std::to_string(sidecar) + " http=" + std::to_string(port) + "\n";
  })) << *b->ReadLogs("ns/server", "sidecar", 0);
  ASSERT_TRUE(b->Stop("ns/server", milliseconds(500)).ok());
  WaitFinished(*b, "ns/server");

  WorkloadSpec twice = OneShell("twice", "true");
  twice.containers[0].ports = {{"p", 80}, {"p", 81}};
  EXPECT_EQ(b->Launch(twice).code(), StatusCode::kInvalidArgument);
  WorkloadSpec zero = OneShell("zero", "true");
  zero.containers[0].ports = {{"p", 0}};
  EXPECT_EQ(b->Launch(zero).code(), StatusCode::kInvalidArgument);
}

TEST_F(LocalBackendTest, AnHttpReadinessProbeMakesTheWorkloadReadyOnceItServes) {
  auto b = Make(Opts());
  Mutex mu;
  int notified = 0;
  b->SetListener([&](const std::string& id, const std::map<std::string, std::string>&) {
    MutexLock lock(&mu);
    if (id == "ns/model") notified++;
  });
  auto notifications = [&] {
    MutexLock lock(&mu);
    return notified;
  };
  WorkloadSpec w;
  w.id = "ns/model";
  Probe probe;
  probe.kind = Probe::Kind::kHttpGet;
  probe.port = "http";
  probe.period = milliseconds(30);
  w.containers.push_back({.name = "server",
                          .image = "busybox",
                          .command = {"sh", "-c",
                                      "sleep 0.4; exec python3 -m http.server $SKIFF_PORT_HTTP "
                                      "--bind 127.0.0.1 --directory " +
                                          dir_.path()},
                          .ports = {{"http", 8080}},
                          .readiness_probe = probe});
  ASSERT_TRUE(b->Launch(w).ok());
  ASSERT_TRUE(WaitFor([&] { return b->Observe("ns/model")->phase == WorkloadPhase::kRunning; }));
  WorkloadStatus st = *b->Observe("ns/model");
  EXPECT_FALSE(st.ready) << "running, but not serving yet";
  EXPECT_FALSE(st.containers[0].ready);
  const int before = notifications();
  ASSERT_TRUE(WaitFor([&] { return b->Observe("ns/model")->ready; }));
  EXPECT_TRUE(b->Observe("ns/model")->containers[0].ready);
  EXPECT_TRUE(WaitFor([&] { return notifications() > before; }))
      << "the listener hears of the change (nothing else changed meanwhile)";
  ASSERT_TRUE(b->Stop("ns/model", milliseconds(500)).ok());
  EXPECT_FALSE(WaitFinished(*b, "ns/model").ready);
}

TEST_F(LocalBackendTest, AnExecReadinessProbeFollowsItsCommandWithThresholds) {
  auto b = Make(Opts());
  const std::string flag = dir_.path() + "/ready";
  Probe probe;
  probe.kind = Probe::Kind::kExec;
  probe.exec = {"test", "-f", flag};
  probe.period = milliseconds(20);
  probe.failure_threshold = 2;
  WorkloadSpec w = OneShell("worker", "sleep 60");
  w.containers[0].readiness_probe = probe;
  WorkloadSpec plain = OneShell("plain", "sleep 60");
  ASSERT_TRUE(b->Launch(w).ok());
  ASSERT_TRUE(b->Launch(plain).ok());
  EXPECT_TRUE(b->Observe("plain")->ready) << "no probe: ready while it runs";
  std::this_thread::sleep_for(milliseconds(100));
  EXPECT_FALSE(b->Observe("worker")->ready);
  std::ofstream(flag) << "1";
  ASSERT_TRUE(WaitFor([&] { return b->Observe("worker")->ready; }));
  fs::remove(flag);
  ASSERT_TRUE(WaitFor([&] { return !b->Observe("worker")->ready; }));
  EXPECT_EQ(b->Observe("worker")->phase, WorkloadPhase::kRunning) << "not ready is not failed";
}

TEST_F(LocalBackendTest, StopKillsTheWholeProcessGroupQuickly) {
  auto b = Make(Opts());
  std::string pidfile = dir_.path() + "/grandchild.pid";
  // A grandchild that ignores SIGTERM, so only the SIGKILL after the grace ends it.
  ASSERT_TRUE(b->Launch(OneShell("sleepy", "sh -c 'trap \"\" TERM; exec sleep 60' & echo $! > " +
                                               pidfile + "; sleep 60"))
                  .ok());
  ASSERT_TRUE(WaitFor([&] { return fs::exists(pidfile) && fs::file_size(pidfile) > 0; }));
  pid_t grandchild = 0;
  std::ifstream(pidfile) >> grandchild;
  ASSERT_GT(grandchild, 0);
  auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(b->Stop("sleepy", milliseconds(200)).ok());
  WorkloadStatus st = WaitFinished(*b, "sleepy");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
  EXPECT_EQ(st.phase, WorkloadPhase::kFailed);
  EXPECT_EQ(st.containers[0].reason, "Stopped");
  EXPECT_TRUE(WaitFor([&] { return Gone(grandchild); }, milliseconds(2000)))
      << "grandchild " << grandchild << " survived";
  EXPECT_TRUE(b->Stop("sleepy", milliseconds(0)).ok()) << "stopping a finished workload is ok";
}

TEST_F(LocalBackendTest, StoppingAQueuedWorkloadFailsItWithoutRunningIt) {
  LocalBackend::Options o = Opts();
  o.total_cpu_millis = 100;
  auto b = Make(o);
  ASSERT_TRUE(b->Launch(OneShell("busy", "sleep 60")).ok());
  ASSERT_TRUE(b->Launch(OneShell("queued", "echo never")).ok());
  ASSERT_TRUE(b->Stop("queued", milliseconds(100)).ok());
  WorkloadStatus st = *b->Observe("queued");
  EXPECT_EQ(st.phase, WorkloadPhase::kFailed);
  EXPECT_EQ(st.containers[0].reason, "Stopped");
  ASSERT_TRUE(b->Remove("busy").ok());
  EXPECT_EQ(b->Observe("busy").status().code(), StatusCode::kNotFound);
}

TEST_F(LocalBackendTest, ARemovedWorkloadsLogStaysReadable) {
  auto b = Make(Opts());
  ASSERT_TRUE(b->Launch(OneShell("ns/gone", "echo still-here")).ok());
  ASSERT_EQ(WaitFinished(*b, "ns/gone").phase, WorkloadPhase::kSucceeded);
  ASSERT_TRUE(b->Remove("ns/gone").ok());
  EXPECT_EQ(*b->ReadLogs("ns/gone", "", 0), "still-here\n");
  EXPECT_EQ(*b->ReadLogs("ns/gone", "main", 5), "-here\n");
  EXPECT_EQ(b->ReadLogs("ns/gone", "other", 0).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(b->ReadLogs("ns/never", "", 0).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(b->ReadLogs("../ns/gone", "", 0).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(b->ReadLogs("ns/gone", "../main", 0).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(LocalBackendTest, NewBackendReadoptsARunningWorkloadAndSeesItFinish) {
  LocalBackend::Options o = Opts();
  o.stop_on_shutdown = false;  // backend A goes away as if killed: its children keep running
  {
    auto a = Make(o);
    ASSERT_TRUE(a->Launch(OneShell("ns/survivor", "sleep 1; echo done")).ok());
    ASSERT_EQ(a->Observe("ns/survivor")->phase, WorkloadPhase::kRunning);
  }
  o.stop_on_shutdown = true;
  auto b = Make(o);
  WorkloadStatus st = *b->Observe("ns/survivor");
  EXPECT_EQ(st.phase, WorkloadPhase::kRunning);
  st = WaitFinished(*b, "ns/survivor");
  EXPECT_EQ(st.phase, WorkloadPhase::kSucceeded) << st.message;
  EXPECT_EQ(st.containers[0].exit_code, 0);
  EXPECT_EQ(*b->ReadLogs("ns/survivor", "", 0), "done\n");
}

TEST_F(LocalBackendTest, NewBackendRestartsAContainerThatWasWaitingToRestart) {
  LocalBackend::Options o = Opts();
  o.stop_on_shutdown = false;
  o.restart_backoff = milliseconds(300);
  std::string count = dir_.path() + "/attempts";
  WorkloadSpec w =
      OneShell("ns/flaky", "echo x >> " + count + "; [ $(wc -l < " + count + ") -ge 2 ]");
  w.restart_policy = RestartPolicy::kOnFailure;
  {
    auto a = Make(o);
    ASSERT_TRUE(a->Launch(w).ok());
    ASSERT_TRUE(WaitFor(
        [&] { return a->Observe("ns/flaky")->containers[0].reason == "CrashLoopBackOff"; }));
  }
  o.stop_on_shutdown = true;
  auto b = Make(o);
  EXPECT_EQ(b->Observe("ns/flaky")->phase, WorkloadPhase::kRunning);
  WorkloadStatus st = WaitFinished(*b, "ns/flaky");
  EXPECT_EQ(st.phase, WorkloadPhase::kSucceeded) << st.message;
  EXPECT_EQ(st.containers[0].restart_count, 1);
}

TEST_F(LocalBackendTest, NewBackendReportsTheExitCodeOfAWorkloadThatEndedWhileNoneWatched) {
  LocalBackend::Options o = Opts();
  o.stop_on_shutdown = false;
  std::string gate = dir_.path() + "/gate";
  {
    auto a = Make(o);
    ASSERT_TRUE(
        a->Launch(OneShell("gone", "while [ ! -f " + gate + " ]; do sleep 0.02; done; exit 7"))
            .ok());
  }
  std::ofstream(gate) << "go";
  std::string exit_file = o.state_dir + "/gone.main.exit";
  ASSERT_TRUE(WaitFor([&] { return fs::exists(exit_file); }));
  o.stop_on_shutdown = true;
  auto b = Make(o);
  WorkloadStatus st = WaitFinished(*b, "gone");
  EXPECT_EQ(st.phase, WorkloadPhase::kFailed);
  EXPECT_EQ(st.containers[0].exit_code, 7);
}

TEST_F(LocalBackendTest, RecordWhoseProcessVanishedIsFailedLost) {
  LocalBackend::Options o = Opts();
  fs::create_directories(o.state_dir);
  local::WorkloadRecord rec;
  rec.spec = OneShell("lost", "sleep 60");
  rec.phase = WorkloadPhase::kRunning;
  rec.seq = 1;
  local::ContainerRecord c;
  c.status.name = "main";
  c.status.running = true;
  c.pid = 999999;  // above pid_max defaults: no such process
  c.start_ticks = 1;
  rec.containers.push_back(c);
  ASSERT_TRUE(local::Journal(o.state_dir, o.log_dir).Write(rec).ok());
  auto b = Make(o);
  WorkloadStatus st = *b->Observe("lost");
  EXPECT_EQ(st.phase, WorkloadPhase::kFailed);
  EXPECT_EQ(st.containers[0].reason, "Lost");
  EXPECT_NE(st.message.find("lost"), std::string::npos) << st.message;
}

TEST_F(LocalBackendTest, PythonImagesShareOneCachedEnvironment) {
  auto b = Make(Opts());
  for (const char* id : {"py1", "py2"}) {
    WorkloadSpec w;
    w.id = id;
    w.containers.push_back(
        {.name = "main",
         .image = "python:3.11",
         .command = {"python3", "-c", "import os, sys; print(os.environ['VIRTUAL_ENV'])"}});
    ASSERT_TRUE(b->Launch(w).ok());
  }
  WorkloadStatus st1 = WaitFinished(*b, "py1", milliseconds(15000));
  WorkloadStatus st2 = WaitFinished(*b, "py2", milliseconds(15000));
  ASSERT_EQ(st1.phase, WorkloadPhase::kSucceeded) << st1.message << *b->ReadLogs("py1", "", 0);
  ASSERT_EQ(st2.phase, WorkloadPhase::kSucceeded) << st2.message;
  std::string env1 = *b->ReadLogs("py1", "", 0);
  EXPECT_EQ(env1, *b->ReadLogs("py2", "", 0));
  EXPECT_EQ(env1.rfind(dir_.path() + "/envs/", 0), 0u) << env1;
  int envs = 0;
  for (const auto& e : fs::directory_iterator(dir_.path() + "/envs")) envs += e.is_directory();
  EXPECT_EQ(envs, 1);
}

TEST_F(LocalBackendTest, PreloadedPythonModulesRunForkedFromAWarmInterpreter) {
  auto b = Make(Opts());
  std::string work = dir_.path() + "/work";
  fs::create_directories(work);
  std::ofstream(work + "/probe.py")
      << "import os, sys, time\n"
         "print('warm', 'xml.dom.minidom' in sys.modules, sys.argv[1:], os.getcwd(),\n"
         "      os.environ.get('X'), os.environ.get('PRELOAD'), flush=True)\n"
         "if sys.argv[1] == 'sleep': time.sleep(30)\n"
         "sys.exit(int(sys.argv[1]) if sys.argv[1].isdigit() else 0)\n";
  auto spec = [&](const std::string& id, const std::string& arg) {
    WorkloadSpec w;
    w.id = id;
    w.containers.push_back({.name = "main",
                            .image = "python:3.11",
                            .command = {"python3", "-m", "probe", arg},
                            .env = {{"X", id}, {"PRELOAD", "yes"}},
                            .working_dir = work,
                            .python_preload = {"xml.dom.minidom"},
                            .python_preload_env = {{"PRELOAD", "yes"}}});
    return w;
  };
  ASSERT_TRUE(b->Launch(spec("ok", "0")).ok());
  WorkloadStatus ok = WaitFinished(*b, "ok", milliseconds(30000));
  ASSERT_EQ(ok.phase, WorkloadPhase::kSucceeded) << ok.message << *b->ReadLogs("ok", "", 0);
  EXPECT_EQ(*b->ReadLogs("ok", "", 0), "warm True ['0'] " + work + " ok yes\n");
  ASSERT_TRUE(b->Launch(spec("three", "3")).ok());
  WorkloadStatus three = WaitFinished(*b, "three", milliseconds(30000));
  EXPECT_EQ(three.phase, WorkloadPhase::kFailed);
  EXPECT_EQ(three.containers[0].exit_code, 3);
  EXPECT_EQ(three.containers[0].reason, "Error");
  ASSERT_TRUE(b->Launch(spec("sleepy", "sleep")).ok());
  ASSERT_TRUE(WaitFor([&] { return b->ReadLogs("sleepy", "", 0)->find("warm") == 0; }));
  ASSERT_TRUE(b->Stop("sleepy", milliseconds(2000)).ok());
  WorkloadStatus stopped = WaitFinished(*b, "sleepy");
  EXPECT_EQ(stopped.phase, WorkloadPhase::kFailed);
  EXPECT_EQ(stopped.containers[0].reason, "Stopped");
  EXPECT_EQ(stopped.containers[0].exit_code, 128 + SIGTERM);
}

// Warm interpreters (their script is <venv>.zygote.py) started by this test process.
int WarmInterpretersOfThisProcess() {
  int n = 0;
  for (const auto& e : fs::directory_iterator("/proc")) {
    std::string name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream stat(e.path() / "stat");
    std::string line;
    std::getline(stat, line);
    size_t close = line.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(line.substr(close + 2));
    char state = 0;
    pid_t ppid = 0;
    rest >> state >> ppid;
    if (ppid != getpid() || state == 'Z') continue;
    std::ifstream cmd(e.path() / "cmdline");
    std::string cmdline((std::istreambuf_iterator<char>(cmd)), std::istreambuf_iterator<char>());
    if (cmdline.find(".zygote.py") != std::string::npos) ++n;
  }
  return n;
}

TEST_F(LocalBackendTest, TheNextBackendOnTheSameEnvCacheWarmsWhatWasWarmBeforeAnyTask) {
  LocalBackend::Options o = Opts();
  {
    auto b = Make(o);
    WorkloadSpec w;
    w.id = "zen";
    w.containers.push_back({.name = "main",
                            .image = "python:3.11",
                            .command = {"python3", "-m", "this"},
                            .python_preload = {"json"},
                            .python_preload_env = {{"PRELOAD", "yes"}}});
    ASSERT_TRUE(b->Launch(w).ok());
    WorkloadStatus st = WaitFinished(*b, "zen", milliseconds(30000));
    ASSERT_EQ(st.phase, WorkloadPhase::kSucceeded) << st.message;
    b->Shutdown(milliseconds(1000));
  }
  EXPECT_EQ(WarmInterpretersOfThisProcess(), 0) << "shut down with its backend";
  std::ifstream in(o.env_cache_dir + "/warm-python.json");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  Json list = Json::parse(text, nullptr, false);
  ASSERT_TRUE(list.is_array() && list.size() == 1) << text;
  EXPECT_EQ(list[0]["preload"], Json::array({"json"}));
  EXPECT_EQ(list[0]["env"], Json({{"PRELOAD", "yes"}}));
  EXPECT_TRUE(fs::exists(o.env_cache_dir + "/" + list[0]["venv"].get<std::string>()));

  auto next = Make(o);  // no workload at all
  EXPECT_TRUE(WaitFor([] { return WarmInterpretersOfThisProcess() == 1; }, milliseconds(30000)));

  // An unreadable list warms nothing and breaks nothing.
  next.reset();
  std::ofstream(o.env_cache_dir + "/warm-python.json") << "{not json";
  auto third = Make(o);
  std::this_thread::sleep_for(milliseconds(300));
  EXPECT_EQ(WarmInterpretersOfThisProcess(), 0);
}

TEST_F(LocalBackendTest, WithoutWarmPythonThePreloadIsIgnored) {
  LocalBackend::Options o = Opts();
  o.warm_python = false;
  auto b = Make(o);
  std::string work = dir_.path() + "/work";
  fs::create_directories(work);
  std::ofstream(work + "/probe.py") << "import sys\nprint('xml.dom.minidom' in sys.modules)\n";
  WorkloadSpec w;
  w.id = "cold";
  w.containers.push_back({.name = "main",
                          .image = "python:3.11",
                          .command = {"python3", "-m", "probe"},
                          .working_dir = work,
                          .python_preload = {"xml.dom.minidom"}});
  ASSERT_TRUE(b->Launch(w).ok());
  ASSERT_EQ(WaitFinished(*b, "cold", milliseconds(30000)).phase, WorkloadPhase::kSucceeded);
  EXPECT_EQ(*b->ReadLogs("cold", "", 0), "False\n");
  for (const auto& e : fs::directory_iterator(dir_.path() + "/envs")) {
    EXPECT_EQ(e.path().string().find(".zygote"), std::string::npos) << e.path();
  }
}

TEST_F(LocalBackendTest, UsageReportsMemoryOfARunningWorkload) {
  auto b = Make(Opts());
  ASSERT_TRUE(b->Launch(OneShell("busy", "sleep 30")).ok());
  ResourceUsage u;
  EXPECT_TRUE(WaitFor([&] {
    u = *b->Usage("busy");
    return u.memory_bytes > 0;
  }));
  EXPECT_GT(u.memory_bytes, 0);
  EXPECT_EQ(b->Usage("missing").status().code(), StatusCode::kNotFound);
}

TEST_F(LocalBackendTest, UsageCountsTheCpuAndMemoryAWorkloadBurnedAndKeepsItAfterARestart) {
  LocalBackend::Options o = Opts();
  o.usage_period = milliseconds(50);
  o.stop_on_shutdown = false;
  // 0.8 s of CPU in a child of the shell (waited for), with 64 MiB resident for a while.
  const std::string burn =
      "python3 -c 'import time\nb = bytearray(64 << 20)\nfor i in range(0, len(b), 4096): b[i] = "
      "1\nt = time.process_time()\nwhile time.process_time() - t < 0.8: pass'; echo done";
  {
    auto a = Make(o);
    ASSERT_TRUE(a->Launch(OneShell("ns/burn", burn)).ok());
    WorkloadStatus st = WaitFinished(*a, "ns/burn", milliseconds(20000));
    ASSERT_EQ(st.phase, WorkloadPhase::kSucceeded) << st.message;
    ResourceUsage u = *a->Usage("ns/burn");
    EXPECT_GE(u.cpu_seconds, 0.8);
    EXPECT_LE(u.cpu_seconds, 1.6) << "python's start-up is the rest";
    EXPECT_GE(u.peak_memory_bytes, int64_t{64} << 20);
    EXPECT_GT(u.memory_byte_seconds, 0);
    EXPECT_EQ(u.memory_bytes, 0) << "ended";
    EXPECT_GE(u.wall_seconds, 0);
  }
  auto b = Make(o);
  ResourceUsage after = *b->Usage("ns/burn");
  EXPECT_GE(after.cpu_seconds, 0.8) << "kept in the workload's record";
  EXPECT_GE(after.peak_memory_bytes, int64_t{64} << 20);
}

TEST_F(LocalBackendTest, ShutdownLeavesNoChildBehind) {
  auto b = Make(Opts());
  std::string pidfile = dir_.path() + "/pid";
  ASSERT_TRUE(b->Launch(OneShell("a", "sleep 60 & echo $! > " + pidfile + "; wait")).ok());
  ASSERT_TRUE(b->Launch(OneShell("b", "trap '' TERM; sleep 60")).ok());
  ASSERT_TRUE(WaitFor([&] { return fs::exists(pidfile) && fs::file_size(pidfile) > 0; }));
  pid_t sleeper = 0;
  std::ifstream(pidfile) >> sleeper;
  b->Shutdown(milliseconds(200));
  EXPECT_TRUE(WaitFor([&] { return Gone(sleeper); }, milliseconds(1000)));
  EXPECT_EQ(waitpid(-1, nullptr, WNOHANG), -1) << "an unreaped child is left";
  EXPECT_EQ(b->Observe("b")->phase, WorkloadPhase::kFailed);
  EXPECT_EQ(b->Launch(OneShell("late", "true")).code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace skiff

namespace skiff {
namespace {

// The backend's side of the sandbox (sandbox.h is tested through the shim on its own): a
// sandboxed workload's volumes are bound at their mount paths, its exec probes run confined, and
// a user's volume into the platform's folders is refused by name.
TEST_F(LocalBackendTest, ASandboxedWorkloadSeesItsFoldersAndVolumesOnly) {
  const std::string home = dir_.path();  // the state, logs and envs all lie in it
  ASSERT_EQ(chmod(home.c_str(), 0755), 0);
  LocalBackend::Options o = Opts();
  o.sandbox = {.enabled = true, .hidden = {home}, .visible = {home + "/envs"}};
  auto b = Make(o);
  ASSERT_NE(b, nullptr);
  std::ofstream(home + "/secret") << "platform-secret";

  WorkloadSpec w = OneShell("team-a/box", "cat " + home +
                                              "/secret || echo no-secret; echo kept > /tmp/data/f; "
                                              "ls /tmp/data; touch ready; sleep 30");
  w.sandboxed = true;
  w.labels[kWorkloadNamespaceLabel] = "team-a";
  w.volumes.push_back({"data", ""});
  w.containers[0].volume_mounts.push_back({"data", "/tmp/data", false});
  w.containers[0].readiness_probe =
      Probe{.kind = Probe::Kind::kExec,
            .exec = {"sh", "-c", "test -f ready && ! test -e " + home + "/secret"},
            .period = milliseconds(50)};
  ASSERT_TRUE(b->Launch(w).ok());
  EXPECT_TRUE(WaitFor([&] { return b->Observe("team-a/box")->ready; }))
      << "the exec probe runs in the sandbox: it finds the workload's file and not the secret";
  std::string log = *b->ReadLogs("team-a/box", "", 0);
  EXPECT_NE(log.find("no-secret"), std::string::npos) << log;
  EXPECT_EQ(log.find("platform-secret"), std::string::npos) << log;
  EXPECT_NE(log.find("f\n"), std::string::npos) << log;
  std::string volume;
  for (const auto& e : fs::recursive_directory_iterator(o.state_dir)) {
    if (e.path().filename() == "f") volume = e.path().string();
  }
  EXPECT_NE(volume.find("team-a%box.volumes/data/f"), std::string::npos)
      << "the emptyDir is the workload's folder: " << volume;
  ASSERT_TRUE(b->Stop("team-a/box", milliseconds(100)).ok());

  // Straight in, or through a link that leads there.
  TempDir elsewhere;
  fs::create_directory_symlink(home, elsewhere.path() + "/link");
  for (const std::string& path : {home, elsewhere.path() + "/link"}) {
    const std::string id = "team-a/steal-" + std::to_string(path.size());
    WorkloadSpec steal = OneShell(id, "true");
    steal.sandboxed = true;
    steal.volumes.push_back({"home", path});
    steal.containers[0].volume_mounts.push_back({"home", "/tmp/home", false});
    ASSERT_TRUE(b->Launch(steal).ok());
    WorkloadStatus st = WaitFinished(*b, id);
    EXPECT_EQ(st.phase, WorkloadPhase::kFailed) << path;
    EXPECT_NE(st.message.find("volume home"), std::string::npos) << st.message;
    EXPECT_NE(st.message.find("keeps from workloads"), std::string::npos) << st.message;
  }
}

}  // namespace
}  // namespace skiff
