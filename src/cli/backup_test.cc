#include "cli/backup.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <vector>

#include "core/clock.h"
#include "core/files.h"
#include "core/testing/temp_dir.h"
#include "store/store.h"

namespace skiff::cli {
namespace {

namespace fs = std::filesystem;

class BackupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    home_ = dir_.path() + "/home";
    fs::create_directories(home_ + "/artifacts/run-1");
    fs::create_directories(home_ + "/volumes/claim");
    fs::create_directories(home_ + "/workloads");
    std::ofstream(home_ + "/artifacts/run-1/model") << "weights";
    std::ofstream(home_ + "/workloads/w.json") << "{}";
    ASSERT_TRUE(WriteFileAtomically(home_ + "/secrets.key", "key\n").ok());
    fs::create_symlink("/etc/passwd", home_ + "/volumes/claim/link");
    auto store = OpenStore("sqlite://" + home_ + "/skiff.db", clock_);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    for (int i = 0; i < 3; ++i) {
      Json run = {{"apiVersion", "pipelines.kubeflow.org/v1"},
                  {"kind", "PipelineRun"},
                  {"metadata", {{"name", "run-" + std::to_string(i)}, {"namespace", "team-a"}}},
                  {"status", {{"artifact", "file://" + home_ + "/artifacts/run-1/model"}}}};
      ASSERT_TRUE((*store)->Create("pipelineruns.pipelines.kubeflow.org", run).ok());
    }
  }

  Result<BackupManifest> Backup(const std::string& to) {
    return BackupHome({.home = home_, .dir = to},
                      [this](const std::string& l) { lines_.push_back(l); });
  }

  TempDir dir_;
  SystemClock& clock_ = SystemClock::Instance();
  std::string home_;
  std::vector<std::string> lines_;
};

TEST_F(BackupTest, ARestoredHomeHoldsEveryObjectAndFileWithTheArtifactsPathsMoved) {
  const std::string backup = dir_.path() + "/backup";
  auto manifest = Backup(backup);
  ASSERT_TRUE(manifest.ok()) << manifest.status().ToString();
  EXPECT_EQ((*manifest)["store"]["objects"], 3);
  EXPECT_EQ((*manifest)["folders"]["artifacts"]["files"], 1);
  EXPECT_EQ(fs::status(backup).permissions() & fs::perms::all, fs::perms::owner_all);
  EXPECT_FALSE(fs::exists(backup + "/workloads")) << "the machine's processes are not kept";
  ASSERT_FALSE(lines_.empty());
  EXPECT_EQ(lines_[0], "store: 3 objects as of resourceVersion 3 (0.0 MB)");

  const std::string restored = dir_.path() + "/elsewhere/home";
  lines_.clear();
  auto back = RestoreHome(backup, restored, [this](const std::string& l) { lines_.push_back(l); });
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*ReadFile(restored + "/artifacts/run-1/model"), "weights");
  EXPECT_EQ(*ReadFile(restored + "/secrets.key"), "key\n");
  EXPECT_EQ(fs::status(restored + "/secrets.key").permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_TRUE(fs::is_symlink(restored + "/volumes/claim/link")) << "a link stays a link";
  EXPECT_EQ(fs::read_symlink(restored + "/volumes/claim/link"), "/etc/passwd");

  auto store = OpenStore("sqlite://" + restored + "/skiff.db", clock_);
  ASSERT_TRUE(store.ok());
  auto runs = (*store)->List("pipelineruns.pipelines.kubeflow.org", "team-a", {});
  ASSERT_EQ(runs->items.size(), 3u);
  EXPECT_EQ(runs->items[0]["status"]["artifact"], "file://" + restored + "/artifacts/run-1/model");
  EXPECT_EQ((*store)->CurrentVersion(), 3);
}

TEST_F(BackupTest, NeitherOverwritesAnythingAndAFolderThatIsNoBackupIsSaidToBeNone) {
  const std::string backup = dir_.path() + "/backup";
  ASSERT_TRUE(Backup(backup).ok());
  EXPECT_EQ(Backup(backup).status().code(), StatusCode::kAlreadyExists);
  // The home itself holds files: a restore into it is refused, and nothing of it changes.
  auto into_home = RestoreHome(backup, home_, [](const std::string&) {});
  EXPECT_EQ(into_home.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(*ReadFile(home_ + "/artifacts/run-1/model"), "weights");
  EXPECT_EQ(RestoreHome(home_, dir_.path() + "/new", [](const std::string&) {}).status().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(BackupHome({.home = dir_.path() + "/none", .dir = dir_.path() + "/b2"},
                       [](const std::string&) {})
                .status()
                .code(),
            StatusCode::kNotFound);
}

TEST_F(BackupTest, AManifestOfTheWrongShapeIsRefusedNamingWhatIsWrong) {
  const std::string backup = dir_.path() + "/backup";
  ASSERT_TRUE(Backup(backup).ok());
  Json manifest = Json::parse(*ReadFile(backup + "/backup.json"));
  for (auto [key, value] : {std::pair<const char*, Json>{"objects", "3"},
                            std::pair<const char*, Json>{"resourceVersion", Json::array()}}) {
    Json wrong = manifest;
    wrong["store"][key] = value;
    ASSERT_TRUE(WriteFileAtomically(backup + "/backup.json", wrong.dump()).ok());
    auto restored = RestoreHome(backup, dir_.path() + "/new", [](const std::string&) {});
    EXPECT_EQ(restored.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(restored.status().message().find(std::string("store.") + key), std::string::npos)
        << restored.status().message();
  }
  Json wrong = manifest;
  wrong["home"] = 7;
  ASSERT_TRUE(WriteFileAtomically(backup + "/backup.json", wrong.dump()).ok());
  EXPECT_EQ(RestoreHome(backup, dir_.path() + "/new", [](const std::string&) {}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_FALSE(fs::exists(dir_.path() + "/new")) << "refused before anything is written";
}

}  // namespace
}  // namespace skiff::cli
