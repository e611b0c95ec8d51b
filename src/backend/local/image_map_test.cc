#include "backend/local/image_map.h"

#include <gtest/gtest.h>

#include "backend/local/python_env.h"

namespace skiff::local {
namespace {

TEST(ImageMapTest, PythonImagesUseLocalPythonByDefault) {
  ImageMap map;
  EXPECT_TRUE(map.Resolve("python:3.11").python);
  EXPECT_TRUE(map.Resolve("python-slim").python);
  EXPECT_FALSE(map.Resolve("busybox").python);
  EXPECT_TRUE(map.Resolve("public.ecr.aws/docker/library/python:3.12").python);
  EXPECT_FALSE(map.Resolve("ghcr.io/python-tools/busybox:1").python);
}

TEST(ImageMapTest, BusyboxAndAlpineImagesUseBusyboxByDefault) {
  ImageMap map;
  EXPECT_TRUE(map.Resolve("busybox").busybox);
  EXPECT_TRUE(map.Resolve("ghcr.io/containerd/busybox").busybox);
  EXPECT_TRUE(map.Resolve("alpine:latest").busybox);
  EXPECT_FALSE(map.Resolve("python:alpine3.9").busybox);
  EXPECT_FALSE(map.Resolve("library/bash").busybox);
  Result<ImageMap> custom = ImageMap::Parse("images:\n  \"my/*\": {busybox: true}\n", "m.yaml");
  ASSERT_TRUE(custom.ok()) << custom.status().ToString();
  EXPECT_TRUE(custom->Resolve("my/shell").busybox);
  EXPECT_FALSE(ImageMap::Parse("images:\n  a: {busybox: 1}\n", "m.yaml").ok());
}

TEST(ImageMapTest, LongestMatchingGlobWins) {
  Result<ImageMap> map = ImageMap::Parse(R"(
images:
  "ghcr.io/*": {python: false, path_prepend: ["/opt/a/bin"]}
  "ghcr.io/acme/trainer*": {python: true}
  "python:*": {python: false}
)",
                                         "images.yaml");
  ASSERT_TRUE(map.ok()) << map.status().ToString();
  EXPECT_TRUE(map->Resolve("ghcr.io/acme/trainer:1").python);
  ImageRule other = map->Resolve("ghcr.io/other:2");
  EXPECT_FALSE(other.python);
  EXPECT_EQ(other.path_prepend, std::vector<std::string>{"/opt/a/bin"});
  EXPECT_FALSE(map->Resolve("python:3.11").python);
}

TEST(ImageMapTest, BadEntriesAreNamedInTheError) {
  Result<ImageMap> map = ImageMap::Parse("images:\n  \"x*\": {python: maybe}\n", "m.yaml");
  ASSERT_FALSE(map.ok());
  EXPECT_NE(map.status().message().find("m.yaml: images[\"x*\"].python"), std::string::npos)
      << map.status().message();
  EXPECT_FALSE(ImageMap::Parse("images: [1]", "m.yaml").ok());
  EXPECT_FALSE(ImageMap::Parse("images:\n  a: {pythn: true}\n", "m.yaml").ok());
}

TEST(PythonEnvCacheTest, KeyIgnoresPackageOrderButNotIndexOrder) {
  EXPECT_EQ(PythonEnvCache::Key({"a", "b"}, {}), PythonEnvCache::Key({"b", "a"}, {}));
  EXPECT_NE(PythonEnvCache::Key({"a"}, {}), PythonEnvCache::Key({"a", "b"}, {}));
  EXPECT_NE(PythonEnvCache::Key({}, {"u1", "u2"}), PythonEnvCache::Key({}, {"u2", "u1"}));
}

}  // namespace
}  // namespace skiff::local
