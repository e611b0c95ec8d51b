#include "pipelines/artifact_paths.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/testing/temp_dir.h"

namespace skiff::pipelines {
namespace {

namespace fs = std::filesystem;

TEST(ArtifactPaths, ARunReachesItsProfilesArtifactsOnly) {
  TempDir dir;
  const std::string root = dir.path() + "/artifacts";
  const std::string mine = NamespaceArtifactRoot(root, "team-a");
  EXPECT_EQ(mine, root + "/namespaces/team-a");
  auto check = [&](const std::string& path) {
    return CheckArtifactAccess(path, root, "team-a", "uid-1", "input artifact").code();
  };
  EXPECT_EQ(check(mine + "/uid-2/root/train/model"), StatusCode::kOk) << "an earlier run's";
  EXPECT_EQ(check(root + "/uid-1/root/train/model"), StatusCode::kOk) << "its own, older layout";
  EXPECT_EQ(check("/data/shared/model"), StatusCode::kOk) << "outside the platform's artifacts";
  EXPECT_EQ(check(root + "/namespaces/team-b/uid-3/model"), StatusCode::kPermissionDenied);
  EXPECT_EQ(check(root + "/uid-3/root/model"), StatusCode::kPermissionDenied);
  EXPECT_EQ(check(mine + "/../team-b/uid-3/model"), StatusCode::kPermissionDenied);
  EXPECT_EQ(check(root), StatusCode::kPermissionDenied);
  EXPECT_EQ(check(root + "/namespaces"), StatusCode::kPermissionDenied);
  Status refused =
      CheckArtifactAccess(root + "/uid-3/m", root, "team-a", "uid-1", "input artifact");
  EXPECT_EQ(refused.message(),
            "input artifact " + root + "/uid-3/m belongs to another profile's runs");
}

TEST(ArtifactPaths, ALinkIsJudgedByWhereItLeads) {
  TempDir dir;
  const std::string root = dir.path() + "/artifacts";
  fs::create_directories(root + "/namespaces/team-b/uid-3");
  fs::create_directories(root + "/namespaces/team-a/uid-1");
  std::ofstream(root + "/namespaces/team-b/uid-3/secret") << "theirs";
  fs::create_symlink(root + "/namespaces/team-b/uid-3/secret",
                     root + "/namespaces/team-a/uid-1/out");
  EXPECT_EQ(CheckArtifactAccess(root + "/namespaces/team-a/uid-1/out", root, "team-a", "uid-1",
                                "artifact")
                .code(),
            StatusCode::kPermissionDenied);
}

}  // namespace
}  // namespace skiff::pipelines
