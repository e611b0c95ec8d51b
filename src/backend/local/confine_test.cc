#include "backend/local/confine.h"

#include <gtest/gtest.h>

namespace skiff::local {
namespace {

SandboxLayout Layout() {
  return {.hidden = {"/root", "/root/.skiff"}, .visible = {"/root/.skiff/envs", "/opt/envs"}};
}

ContainerFolders Folders() {
  ContainerFolders f;
  f.profile = "team-a";
  f.own_dir = "/root/.skiff/workloads/team-a%pi.d";
  f.tmp_dir = "/root/.skiff/workloads/team-a%pi.tmp";
  return f;
}

TEST(Confine, HidesThePlatformAndBindsBackOnlyWhatTheWorkloadIsGiven) {
  ContainerFolders f = Folders();
  f.working_dir = "/app";
  f.mounts = {{"data", "/root/.skiff/volumes/team-a/data", "/app/data", false, true},
              {"scratch", "/srv/scratch", "/scratch", true, false}};
  f.exposed = {{"/root/.skiff/artifacts/run-1/in", true}};
  auto plan = PlanSandbox(Layout(), f);
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_EQ(plan->hide, std::vector<std::string>{"/root"}) << "the home holds SKIFF_HOME";
  std::vector<std::string> binds;
  for (const SandboxBind& b : plan->binds) {
    binds.push_back(b.source + " -> " + b.target + (b.read_only ? " ro" : " rw"));
  }
  EXPECT_EQ(binds, (std::vector<std::string>{
                       "/root/.skiff/workloads/team-a%pi.d -> /app rw",
                       "/srv/scratch -> /scratch ro",
                       "/opt/envs -> /opt/envs ro",
                       "/root/.skiff/volumes/team-a/data -> /app/data rw",
                       "/root/.skiff/envs -> /root/.skiff/envs ro",
                       "/root/.skiff/artifacts/run-1/in -> /root/.skiff/artifacts/run-1/in ro",
                   }))
      << "outer folders first; the environments read-only wherever they lie";
  EXPECT_EQ(plan->tmp, f.tmp_dir);
  EXPECT_FALSE(plan->uid.has_value()) << "not root: the server's own identity";

  SandboxLayout as_root = Layout();
  as_root.profile_identity = true;
  plan = PlanSandbox(as_root, f);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->uid, ProfileUid("team-a"));
  EXPECT_EQ(plan->gid, ProfileUid("team-a"));
}

TEST(Confine, AUsersVolumeMayNotReachIntoThePlatformsFolders) {
  for (const std::string& source : std::vector<std::string>{
           "/root/.skiff", "/root/.skiff/skiff.db", "/root", "/root/.skiff/../.skiff/envs"}) {
    ContainerFolders f = Folders();
    f.mounts = {{"steal", source, "/mnt", false, false}};
    auto plan = PlanSandbox(Layout(), f);
    ASSERT_FALSE(plan.ok()) << source;
    EXPECT_EQ(plan.status().code(), StatusCode::kPermissionDenied);
    EXPECT_NE(plan.status().message().find("volume steal"), std::string::npos);
  }
  ContainerFolders f = Folders();
  f.mounts = {{"v", "relative/dir", "/mnt", false, false}};
  EXPECT_EQ(PlanSandbox(Layout(), f).status().code(), StatusCode::kInvalidArgument);
  f.mounts = {{"v", "/srv/a\nb", "/mnt", false, false}};
  EXPECT_EQ(PlanSandbox(Layout(), f).status().code(), StatusCode::kInvalidArgument);
}

TEST(Confine, ProfilesGetIdentitiesOfTheirOwnAwayFromTheMachinesUsers) {
  EXPECT_EQ(ProfileUid("team-a"), ProfileUid("team-a"));
  EXPECT_NE(ProfileUid("team-a"), ProfileUid("team-b"));
  for (const char* p : {"", "default", "team-a", "a-very-long-profile-name-of-sixty-three-chars"}) {
    EXPECT_GE(ProfileUid(p), 1u << 24);
    EXPECT_LT(ProfileUid(p), 1u << 25);
  }
}

}  // namespace
}  // namespace skiff::local
