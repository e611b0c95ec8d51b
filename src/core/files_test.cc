#include "core/files.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "core/testing/temp_dir.h"

namespace skiff {
namespace {

mode_t ModeOf(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? (st.st_mode & 0777) : 0;
}

TEST(Files, AReplacedFileHasItsNewContentsAndTheModeAskedFor) {
  TempDir dir;
  const std::string path = dir.path() + "/token";
  ASSERT_TRUE(WriteFileAtomically(path, "one", {.mode = 0644}).ok());
  EXPECT_EQ(ModeOf(path), 0644u);
  ASSERT_TRUE(WriteFileAtomically(path, "two", {.sync = true}).ok());
  EXPECT_EQ(ModeOf(path), 0600u) << "the default, whatever the old file had";
  EXPECT_EQ(ReadFile(path).value_or("?"), "two");
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()), {}), 1)
      << "no temporary left behind";
}

TEST(Files, ErrorsNameThePath) {
  TempDir dir;
  Result<std::string> missing = ReadFile(dir.path() + "/nothing");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("nothing"), std::string::npos);
  EXPECT_EQ(ReadFile(dir.path() + "/nothing").value_or("fallback"), "fallback");
  Status st = WriteFileAtomically(dir.path() + "/no/such/dir/file", "x");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("no/such/dir/file"), std::string::npos) << st.message();
}

TEST(Files, PathsAreComparedByComponentAndResolvedThroughTheirLinks) {
  EXPECT_TRUE(PathWithin("/a/b", "/a"));
  EXPECT_TRUE(PathWithin("/a/", "/a"));
  EXPECT_FALSE(PathWithin("/ab", "/a"));
  EXPECT_TRUE(PathWithin("/a/../a/b", "/a"));
  EXPECT_FALSE(PathWithin("/a/../b", "/a"));
  EXPECT_TRUE(PathWithin("/anything", "/"));
  EXPECT_EQ(NormalPath("/a/./b/"), "/a/b");
  EXPECT_EQ(AbsolutePath("/x/y/../z/"), "/x/z");
  EXPECT_EQ(AbsolutePath("rel").front(), '/');
  TempDir dir;
  std::filesystem::create_directories(dir.path() + "/real");
  std::filesystem::create_symlink(dir.path() + "/real", dir.path() + "/link");
  EXPECT_EQ(ResolvedPath(dir.path() + "/link/not-yet"),
            ResolvedPath(dir.path() + "/real") + "/not-yet");
}

}  // namespace
}  // namespace skiff
