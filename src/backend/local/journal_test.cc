#include "backend/local/journal.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "core/testing/temp_dir.h"

namespace skiff::local {
namespace {

namespace fs = std::filesystem;

WorkloadRecord Record(const std::string& id) {
  WorkloadRecord rec;
  rec.spec.id = id;
  rec.spec.containers.push_back({.name = "main", .command = {"true"}});
  rec.containers.push_back({});
  rec.containers[0].status.name = "main";
  rec.seq = 3;
  return rec;
}

TEST(Journal, KeepsEachWorkloadsRecordForTheServersUserOnly) {
  TempDir dir;
  Journal journal(dir.path(), dir.path() + "/logs");
  WorkloadRecord rec = Record("team-a/pi");
  rec.spec.containers[0].env.push_back({"PASSWORD", "from a secret"});
  ASSERT_TRUE(journal.Write(rec).ok());
  EXPECT_EQ(journal.RecordPath("team-a/pi"), dir.path() + "/team-a%pi.json") << "one folder";
  struct stat st {};
  ASSERT_EQ(::stat(journal.RecordPath("team-a/pi").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u) << "a spec holds its Secrets' values";

  std::ofstream(dir.path() + "/torn.json") << "{\"spec\": ";
  std::vector<WorkloadRecord> loaded = journal.Load();
  ASSERT_EQ(loaded.size(), 1u) << "an unreadable record is skipped";
  EXPECT_EQ(loaded[0].spec.id, "team-a/pi");
  EXPECT_EQ(loaded[0].seq, 3u);
  EXPECT_EQ(loaded[0].spec.containers[0].env[0].value, "from a secret");
}

TEST(Journal, EraseRemovesAllButTheLogs) {
  TempDir dir;
  Journal journal(dir.path(), dir.path() + "/logs");
  WorkloadRecord rec = Record("team-a/pi");
  ASSERT_TRUE(journal.Write(rec).ok());
  fs::create_directories(journal.WorkloadDir("team-a/pi") + "/sub");
  fs::create_directories(journal.VolumesDir("team-a/pi") + "/scratch");
  std::ofstream(journal.ExitPath("team-a/pi", "main")) << "0";
  fs::create_directories(dir.path() + "/logs/team-a");
  std::ofstream(journal.LogPath("team-a/pi", "main")) << "hello";
  journal.Erase(rec);
  EXPECT_FALSE(fs::exists(journal.RecordPath("team-a/pi")));
  EXPECT_FALSE(fs::exists(journal.WorkloadDir("team-a/pi")));
  EXPECT_FALSE(fs::exists(journal.VolumesDir("team-a/pi")));
  EXPECT_FALSE(fs::exists(journal.ExitPath("team-a/pi", "main")));
  EXPECT_TRUE(fs::exists(journal.LogPath("team-a/pi", "main")));
  EXPECT_TRUE(journal.Load().empty());
}

}  // namespace
}  // namespace skiff::local
