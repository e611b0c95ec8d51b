#include "backend/local/sandbox.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "backend/local/spawn.h"
#include "core/files.h"
#include "core/testing/temp_dir.h"

namespace skiff::local {
namespace {

namespace fs = std::filesystem;

TEST(SandboxPlan, TravelsAsTextAndRefusesWhatItCannotCarry) {
  SandboxPlan plan{.uid = 70001,
                   .gid = 70001,
                   .hide = {"/home/me/.skiff"},
                   .binds = {{"/home/me/.skiff/envs", "/home/me/.skiff/envs", true},
                             {"/data/a b", "/data/a b", false}},
                   .tmp = "/home/me/.skiff/workloads/x.tmp"};
  std::optional<std::string> text = EncodeSandboxPlan(plan);
  ASSERT_TRUE(text.has_value());
  std::optional<SandboxPlan> back = DecodeSandboxPlan(*text);
  ASSERT_TRUE(back.has_value()) << *text;
  EXPECT_EQ(back->uid, 70001u);
  EXPECT_EQ(back->hide, plan.hide);
  ASSERT_EQ(back->binds.size(), 2u);
  EXPECT_EQ(back->binds[1].source, "/data/a b") << "spaces are fine";
  EXPECT_FALSE(back->binds[1].read_only);
  EXPECT_EQ(back->tmp, plan.tmp);

  for (const std::string& bad :
       {std::string("/a\tb"), std::string("/a\nb"), std::string("rel"), std::string("/a\0b", 4)}) {
    SandboxPlan p;
    p.binds.push_back({bad, "/x", true});
    EXPECT_FALSE(EncodeSandboxPlan(p).has_value()) << bad;
  }
  for (const char* bad : {"uid\t1\n", "uid\t-1\ngid\t1\n", "uid\t4294967295\ngid\t1\n", "ro\t/a\n",
                          "hide\trelative\n", "mount\t/a\t/b\n"}) {
    EXPECT_FALSE(DecodeSandboxPlan(bad).has_value()) << bad;
  }
}

// Runs `script` through the real shim in `plan`; returns its exit record and its log.
struct Ran {
  std::optional<ExitRecord> exit;
  std::string log;
};

class SandboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    home_ = dir_.path() + "/home";
    work_ = home_ + "/workloads/w.d";
    fs::create_directories(work_);
    fs::create_directories(home_ + "/envs");
    fs::create_directories(dir_.path() + "/tmp");
    ASSERT_TRUE(WriteFileAtomically(home_ + "/admin-token", "skf_secret\n").ok());
    ASSERT_TRUE(WriteFileAtomically(home_ + "/envs/tool", "a tool\n", {.mode = 0644}).ok());
    plan_.hide = {home_};
    plan_.binds = {{home_ + "/envs", home_ + "/envs", true}, {work_, work_, false}};
    plan_.tmp = dir_.path() + "/tmp";
    if (geteuid() == 0) {
      // As root, the workload runs as another identity: what it writes must be its own.
      plan_.uid = 70001;
      plan_.gid = 70001;
      ASSERT_EQ(chown(work_.c_str(), 70001, 70001), 0);
      ASSERT_EQ(chown(plan_.tmp.c_str(), 70001, 70001), 0);
      ASSERT_EQ(chmod(dir_.path().c_str(), 0755), 0);
    }
  }

  Ran Run(const std::string& script, const std::vector<std::string>& env = {},
          std::function<void(pid_t)> meanwhile = nullptr) {
    SpawnRequest req;
    req.executable = "/bin/sh";
    req.argv = {"sh", "-c", script};
    req.env = env;
    req.env.push_back("PATH=/usr/bin:/bin");
    req.working_dir = work_;
    req.log_path = dir_.path() + "/log";
    req.exit_file = dir_.path() + "/exit";
    req.sandbox = *EncodeSandboxPlan(plan_);
    fs::remove(req.log_path);
    Result<pid_t> pid = Spawn(req);
    EXPECT_TRUE(pid.ok()) << pid.status().ToString();
    if (!pid.ok()) return {};
    if (meanwhile) meanwhile(*pid);
    int status = 0;
    waitpid(*pid, &status, 0);
    return {ReadExitFile(req.exit_file), ReadFile(req.log_path).value_or("")};
  }

  TempDir dir_;
  std::string home_, work_;
  SandboxPlan plan_;
};

TEST_F(SandboxTest, AWorkloadSeesOnlyWhatItsPlanGivesIt) {
  pid_t outsider = fork();
  if (outsider == 0) {
    execl("/bin/sleep", "sleep", "30", nullptr);
    _exit(127);
  }
  Ran r =
      Run("cat $HOME_DIR/admin-token || echo no-token; "
          "ls $HOME_DIR; "
          "cat $HOME_DIR/envs/tool; "
          "echo x > $HOME_DIR/envs/new 2>/dev/null || echo envs-read-only; "
          "echo written > out.txt && echo wrote-work; "
          "echo t > /tmp/t && echo tmp-ok; "
          "kill -0 $OUTSIDER 2>/dev/null || echo cannot-signal; "
          "echo processes $(ls /proc | grep -c '^[0-9]'); "
          "echo uid $(id -u)",
          {"HOME_DIR=" + home_, "OUTSIDER=" + std::to_string(outsider)});
  kill(outsider, SIGKILL);
  waitpid(outsider, nullptr, 0);
  ASSERT_TRUE(r.exit.has_value()) << r.log;
  EXPECT_EQ(r.exit->exit_code, 0) << r.log;
  EXPECT_EQ(r.log.find("skf_secret"), std::string::npos) << r.log;
  EXPECT_NE(r.log.find("no-token"), std::string::npos) << r.log;
  EXPECT_NE(r.log.find("a tool"), std::string::npos) << "bound back read-only: " << r.log;
  EXPECT_NE(r.log.find("envs-read-only"), std::string::npos) << r.log;
  EXPECT_NE(r.log.find("wrote-work"), std::string::npos) << r.log;
  EXPECT_EQ(ReadFile(work_ + "/out.txt").value_or(""), "written\n") << "the machine's folder";
  EXPECT_NE(r.log.find("tmp-ok"), std::string::npos) << r.log;
  EXPECT_TRUE(fs::exists(dir_.path() + "/tmp/t")) << "/tmp is the plan's folder";
  EXPECT_NE(r.log.find("cannot-signal"), std::string::npos) << r.log;
  EXPECT_NE(r.log.find("processes "), std::string::npos) << r.log;
  const int processes = std::atoi(r.log.substr(r.log.find("processes ") + 10).c_str());
  EXPECT_LE(processes, 5) << "its own: init, sh, a subshell, ls, grep: " << r.log;
  if (geteuid() == 0) {
    EXPECT_NE(r.log.find("uid 70001"), std::string::npos) << r.log;
  }
}

TEST_F(SandboxTest, TheContainerHoldsNoCapabilityToUndoItsSandbox) {
  // As root the container runs as another identity; either way (a user namespace of its own, as
  // for a server that is not root) it keeps no capability, exec or not.
  for (bool own_user_namespace : {false, true}) {
    if (own_user_namespace) {
      plan_.uid.reset();
      plan_.gid.reset();
    }
    Ran r =
        Run("grep -E '^Cap(Eff|Prm|Bnd|Amb)' /proc/self/status; "
            "umount -l $HOME_DIR 2>/dev/null && echo LEAK-umount || echo no-umount; "
            "cat $HOME_DIR/admin-token 2>/dev/null || echo no-token",
            {"HOME_DIR=" + home_});
    ASSERT_TRUE(r.exit.has_value()) << r.log;
    EXPECT_NE(r.log.find("CapEff:\t0000000000000000"), std::string::npos) << r.log;
    EXPECT_NE(r.log.find("CapPrm:\t0000000000000000"), std::string::npos) << r.log;
    EXPECT_NE(r.log.find("CapBnd:\t0000000000000000"), std::string::npos) << r.log;
    EXPECT_NE(r.log.find("no-umount"), std::string::npos) << r.log;
    EXPECT_NE(r.log.find("no-token"), std::string::npos) << r.log;
  }
}

TEST_F(SandboxTest, ItEndsAsTheContainerEnds) {
  Ran exited = Run("exit 7");
  ASSERT_TRUE(exited.exit.has_value()) << exited.log;
  EXPECT_EQ(exited.exit->exit_code, 7);
  EXPECT_EQ(exited.exit->signal, 0);

  Ran killed = Run("kill -KILL $$");
  ASSERT_TRUE(killed.exit.has_value()) << killed.log;
  EXPECT_EQ(killed.exit->signal, SIGKILL);

  // A SIGTERM to the group (how the backend stops a workload) reaches the container.
  Ran stopped = Run("echo started; exec sleep 30", {}, [](pid_t group) {
    usleep(300 * 1000);
    killpg(group, SIGTERM);
  });
  ASSERT_TRUE(stopped.exit.has_value()) << stopped.log;
  EXPECT_EQ(stopped.exit->signal, SIGTERM) << stopped.log;
}

// The warm interpreters' way in: the sandbox prepared in the process that forks the container
// (which stays outside, as a shim does), the container forked once as pid 2.
TEST_F(SandboxTest, APreparedSandboxIsTheSameSandboxWithOneFork) {
  if (geteuid() != 0) GTEST_SKIP() << "a prepared sandbox needs the profile's identity (root)";
  const std::string out = dir_.path() + "/tmp/out";  // the container's /tmp
  pid_t shim = fork();  // stands for the interpreter's shim: its mounts change
  if (shim == 0) {
    pid_t init = -1;
    std::string error;
    if (!PrepareSandbox(plan_, DefaultShimPath(), &init, &error)) {
      std::fprintf(stderr, "%s\n", error.c_str());
      _exit(3);
    }
    pid_t container = fork();
    if (container == 0) {
      if (!EnterPreparedSandbox(plan_, &error)) _exit(4);
      execl("/bin/sh", "sh", "-c",
            ("{ echo pid $$; id -u; cat " + home_ +
             "/admin-token || echo no-token; "
             "grep CapEff /proc/self/status; } > /tmp/out 2>&1")
                .c_str(),
            nullptr);
      _exit(5);
    }
    int status = 0;
    waitpid(container, &status, 0);
    kill(init, SIGKILL);
    waitpid(init, nullptr, 0);
    _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 6);
  }
  int status = 0;
  waitpid(shim, &status, 0);
  ASSERT_TRUE(WIFEXITED(status)) << status;
  ASSERT_EQ(WEXITSTATUS(status), 0);
  const std::string got = ReadFile(out).value_or("");
  EXPECT_NE(got.find("pid 2\n"), std::string::npos) << got;
  EXPECT_NE(got.find("70001"), std::string::npos) << got;
  EXPECT_NE(got.find("no-token"), std::string::npos) << got;
  EXPECT_NE(got.find("CapEff:\t0000000000000000"), std::string::npos) << got;
}

TEST_F(SandboxTest, ASourceThatIsALinkWhenEnteredIsRefused) {
  // Planned sources are where their links led (confine.h): a link found there now was swapped
  // in after the plan, and is not followed into whatever it points at.
  fs::create_directory_symlink(home_, dir_.path() + "/swapped");
  plan_.binds.push_back({dir_.path() + "/swapped", "/tmp/peek", true});
  Ran r = Run("ls /tmp/peek; echo should-not-run");
  ASSERT_TRUE(r.exit.has_value());
  EXPECT_EQ(r.exit->exit_code, 127);
  EXPECT_NE(r.log.find("cannot open " + dir_.path() + "/swapped"), std::string::npos) << r.log;
  EXPECT_EQ(r.log.find("should-not-run"), std::string::npos);
}

TEST_F(SandboxTest, AFailureToEnterIsReportedInTheLog) {
  plan_.binds.push_back({dir_.path() + "/missing", dir_.path() + "/missing", true});
  Ran r = Run("echo should-not-run");
  ASSERT_TRUE(r.exit.has_value());
  EXPECT_EQ(r.exit->exit_code, 127);
  EXPECT_NE(r.log.find("cannot open " + dir_.path() + "/missing"), std::string::npos) << r.log;
  EXPECT_EQ(r.log.find("should-not-run"), std::string::npos);
}

}  // namespace
}  // namespace skiff::local
