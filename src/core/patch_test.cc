#include "core/patch.h"

#include <gtest/gtest.h>

#include "core/schema.h"

namespace skiff {
namespace {

TEST(JsonPatchTest, AppliesEveryOperation) {
  Json doc = Json::parse(R"({"a": {"b": [1, 2]}, "c": "x"})");
  Json ops = Json::parse(R"([
    {"op": "add", "path": "/a/b/1", "value": 9},
    {"op": "add", "path": "/a/b/-", "value": 3},
    {"op": "replace", "path": "/c", "value": "y"},
    {"op": "copy", "from": "/c", "path": "/d"},
    {"op": "move", "from": "/d", "path": "/a/e"},
    {"op": "remove", "path": "/a/b/0"},
    {"op": "test", "path": "/a/e", "value": "y"},
    {"op": "add", "path": "/a~1b", "value": true}
  ])");
  ASSERT_TRUE(ApplyJsonPatch(doc, ops).ok());
  EXPECT_EQ(doc, Json::parse(R"({"a": {"b": [9, 2, 3], "e": "y"}, "c": "y", "a/b": true})"));
}

TEST(JsonPatchTest, AFailingOperationLeavesTheObjectAsItWasAndIsNamed) {
  const Json before = Json::parse(R"({"a": [1], "s": "x"})");
  for (
      const char* ops :
      {R"([{"op": "replace", "path": "/s", "value": "y"}, {"op": "test", "path": "/s", "value": "x"}])",
       R"([{"op": "remove", "path": "/nothing"}])",
       R"([{"op": "add", "path": "/a/5", "value": 1}])",
       R"([{"op": "add", "path": "/a/01", "value": 1}])",
       R"([{"op": "add", "path": "/missing/x", "value": 1}])", R"([{"op": "add", "path": "/x"}])",
       R"([{"op": "copy", "path": "/x"}])", R"([{"op": "move", "from": "/a", "path": "/a/0"}])",
       R"([{"op": "frobnicate", "path": "/x"}])", R"([{"path": "/x"}])",
       R"([{"op": "add", "path": "no-slash", "value": 1}])", R"([{"op": "remove", "path": ""}])",
       R"({"op": "add"})"}) {
    Json doc = before;
    Status st = ApplyJsonPatch(doc, Json::parse(ops));
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << ops;
    EXPECT_EQ(doc, before) << ops;
  }
}

TEST(JsonPatchTest, ACopyBombOrANestingBombIsRefused) {
  Json doc = {{"a", Json::array({1, 2, 3, 4, 5, 6, 7, 8})}};
  Json doubling = Json::array();
  for (int i = 0; i < 40; ++i) {
    doubling.push_back({{"op", "copy"}, {"from", "/a"}, {"path", "/a/-"}});
  }
  Status st = ApplyJsonPatch(doc, doubling);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("larger than"), std::string::npos) << st.message();
  Json nesting = Json::array();
  for (int i = 0; i < 200; ++i) nesting.push_back({{"op", "copy"}, {"from", ""}, {"path", "/x"}});
  Json small = {{"x", 1}};
  st = ApplyJsonPatch(small, nesting);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("deeper than"), std::string::npos) << st.message();
}

// A pod-like schema: containers merge by name, ports by containerPort, finalizers as a set.
Json PodSchema() {
  using namespace openapi;
  Json ports =
      MergeList(Object({{"containerPort", Integer()}, {"name", String()}}), "containerPort");
  Json container = Object(
      {{"name", String()}, {"image", String()}, {"ports", ports}, {"args", Array(String())}});
  return Object(
      {{"metadata", Object({{"finalizers", MergeSet(String())}, {"labels", StringMap()}})},
       {"spec",
        Object({{"containers", MergeList(container, "name")}, {"nodeSelector", StringMap()}})}});
}

Json Pod() {
  return Json::parse(R"({
    "metadata": {"finalizers": ["a"], "labels": {"app": "web", "tier": "front"}},
    "spec": {"containers": [
      {"name": "main", "image": "v1", "ports": [{"containerPort": 80}], "args": ["x"]},
      {"name": "side", "image": "s1"}
    ], "nodeSelector": {"disk": "ssd"}}
  })");
}

Json Patched(const char* patch) {
  Json pod = Pod();
  Status st = StrategicMergePatch(pod, Json::parse(patch), PodSchema());
  EXPECT_TRUE(st.ok()) << patch << ": " << st.ToString();
  return pod;
}

TEST(StrategicMergePatchTest, ListsWithAMergeKeyMergeElementByElement) {
  Json pod = Patched(R"({"spec": {"containers": [
      {"name": "main", "image": "v2", "ports": [{"containerPort": 443}]},
      {"name": "new", "image": "n1"}]}})");
  const Json& containers = pod["spec"]["containers"];
  ASSERT_EQ(containers.size(), 3u);
  EXPECT_EQ(containers[0]["image"], "v2");
  EXPECT_EQ(containers[0]["ports"].size(), 2u);  // merged by containerPort
  EXPECT_EQ(containers[0]["args"], Json::array({"x"}));
  EXPECT_EQ(containers[1]["name"], "side");
  EXPECT_EQ(containers[2]["name"], "new");
  // Lists without a strategy are replaced, as in a merge patch.
  EXPECT_EQ(
      Patched(
          R"({"spec": {"containers": [{"name": "main", "args": ["y"]}]}})")["spec"]["containers"][0]
                                                                           ["args"],
      Json::array({"y"}));
  // Sets of primitives are added to.
  EXPECT_EQ(Patched(R"({"metadata": {"finalizers": ["b", "a"]}})")["metadata"]["finalizers"],
            Json::array({"a", "b"}));
}

TEST(StrategicMergePatchTest, Directives) {
  Json pod = Patched(R"({"spec": {"containers": [{"name": "side", "$patch": "delete"}]}})");
  ASSERT_EQ(pod["spec"]["containers"].size(), 1u);
  EXPECT_EQ(pod["spec"]["containers"][0]["name"], "main");

  pod = Patched(
      R"({"spec": {"containers": [{"$patch": "replace"}, {"name": "only", "image": "o"}]}})");
  EXPECT_EQ(pod["spec"]["containers"], Json::parse(R"([{"name": "only", "image": "o"}])"));

  pod = Patched(R"({"spec": {"nodeSelector": {"$patch": "replace", "zone": "a"}}})");
  EXPECT_EQ(pod["spec"]["nodeSelector"], Json::parse(R"({"zone": "a"})"));

  pod = Patched(R"({"metadata": {"labels": {"$retainKeys": ["app"], "new": "1"}}})");
  EXPECT_EQ(pod["metadata"]["labels"], Json::parse(R"({"app": "web", "new": "1"})"));

  pod =
      Patched(R"({"spec": {"$setElementOrder/containers": [{"name": "side"}, {"name": "main"}]}})");
  EXPECT_EQ(pod["spec"]["containers"][0]["name"], "side");

  pod = Patched(R"({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}})");
  EXPECT_EQ(pod["metadata"]["finalizers"], Json::array());

  pod = Patched(
      R"({"spec": {"nodeSelector": {"$patch": "delete"}}, "metadata": {"labels": {"tier": null}}})");
  EXPECT_FALSE(pod["spec"].contains("nodeSelector"));
  EXPECT_EQ(pod["metadata"]["labels"], Json::parse(R"({"app": "web"})"));
}

TEST(StrategicMergePatchTest, MalformedPatchesAreRefusedAndChangeNothing) {
  for (const char* bad : {R"({"spec": {"containers": [{"image": "no-name"}]}})",
                          R"({"spec": {"nodeSelector": {"$patch": "explode"}}})",
                          R"({"metadata": {"labels": {"$retainKeys": "app"}}})",
                          R"({"metadata": {"$deleteFromPrimitiveList/finalizers": "a"}})",
                          R"({"$patch": "delete"})", R"([1])"}) {
    Json pod = Pod();
    Status st = StrategicMergePatch(pod, Json::parse(bad), PodSchema());
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(pod, Pod()) << bad;
  }
}

}  // namespace
}  // namespace skiff
