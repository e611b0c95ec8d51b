#include "core/managed_fields.h"

#include <gtest/gtest.h>

#include "core/schema.h"

namespace skiff {
namespace {

// A Job-like kind: containers keyed by name, finalizers a set, args one value.
const Json& JobSchema() {
  using namespace openapi;
  static const Json schema =
      KindOpenApi({{"spec", Object({{"parallelism", Integer()},
                                    {"backoffLimit", Integer()},
                                    {"containers", MergeList(Object({{"name", String()},
                                                                     {"image", String()},
                                                                     {"args", Array(String())}}),
                                                             "name")}})},
                   {"status", OpenObject({})}});
  return schema;
}

FieldManager Manager(const std::string& name, const std::string& time = "2026-12-07T10:00:00Z") {
  return {.manager = name, .api_version = "batch/v1", .subresource = "", .time = time};
}

Json JobConfig(const std::string& body) {
  Json config = Json::parse(
      R"({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "pi", "namespace": "ns"}})");
  MergePatch(config, Json::parse(body));
  return config;
}

Json Apply(const Json* live, const Json& config, const std::string& manager, bool force = false) {
  auto applied = ServerSideApply(live, config, Manager(manager), force, JobSchema());
  EXPECT_TRUE(applied.ok()) << applied.status().ToString();
  return applied.ok() ? *applied : Json();
}

TEST(FieldSetTest, ReadsAnObjectAsTheApiServerWritesFieldsV1) {
  const Json object = Json::parse(R"({
    "metadata": {"labels": {"app": "pi"}, "finalizers": ["a", "b"]},
    "spec": {"parallelism": 2, "containers": [{"name": "main", "image": "busybox",
                                                "args": ["x", "y"]}]}})");
  const FieldSet set = FieldSet::Of(object, JobSchema());
  EXPECT_EQ(set.ToFieldsV1(), Json::parse(R"({
    "f:metadata": {"f:labels": {".": {}, "f:app": {}},
                   "f:finalizers": {"v:\"a\"": {}, "v:\"b\"": {}}},
    "f:spec": {"f:parallelism": {},
               "f:containers": {"k:{\"name\":\"main\"}": {".": {}, "f:name": {}, "f:image": {},
                                                          "f:args": {}}}}})"));
  EXPECT_EQ(FieldSet::FromFieldsV1(set.ToFieldsV1()), set);
  const std::vector<std::string> paths = set.Paths();
  EXPECT_NE(std::find(paths.begin(), paths.end(), R"(.spec.containers[name="main"].image)"),
            paths.end());
  EXPECT_NE(std::find(paths.begin(), paths.end(), R"(.metadata.finalizers[="a"])"), paths.end());
}

TEST(FieldSetTest, SetOperationsWorkPathByPath) {
  const FieldSet a =
      FieldSet::Of(Json::parse(R"({"spec": {"parallelism": 1, "backoffLimit": 2}})"), JobSchema());
  const FieldSet b = FieldSet::Of(Json::parse(R"({"spec": {"parallelism": 5}})"), JobSchema());
  EXPECT_EQ(a.Intersection(b), b);
  EXPECT_EQ(a.Difference(b).Paths(), std::vector<std::string>{".spec.backoffLimit"});
  EXPECT_EQ(b.Union(a), a);
  EXPECT_TRUE(b.Difference(a).empty());
  EXPECT_TRUE(FieldSet::FromFieldsV1(Json("not fields")).empty());
}

TEST(FieldSetTest, ChangedNamesWhatDiffersElementByElement) {
  const Json before = Json::parse(R"({"spec": {"parallelism": 1, "containers": [
      {"name": "main", "image": "a"}, {"name": "side", "image": "s"}]}})");
  const Json after = Json::parse(R"({"spec": {"parallelism": 1, "containers": [
      {"name": "side", "image": "s"}, {"name": "main", "image": "b"}]}})");
  EXPECT_EQ(FieldSet::Changed(before, after, JobSchema()).Paths(),
            std::vector<std::string>{R"(.spec.containers[name="main"].image)"});
  EXPECT_TRUE(FieldSet::Changed(before, before, JobSchema()).empty());
}

TEST(ServerSideApplyTest, CreatesTheObjectOwningWhatItApplied) {
  const Json config = JobConfig(R"({"spec": {"parallelism": 2}})");
  const Json created = Apply(nullptr, config, "kubectl");
  EXPECT_EQ(created["spec"]["parallelism"], 2);
  const Json& entries = created["metadata"]["managedFields"];
  ASSERT_EQ(entries.size(), 1u) << created.dump();
  EXPECT_EQ(entries[0]["manager"], "kubectl");
  EXPECT_EQ(entries[0]["operation"], "Apply");
  EXPECT_EQ(entries[0]["apiVersion"], "batch/v1");
  EXPECT_EQ(entries[0]["fieldsType"], "FieldsV1");
  EXPECT_EQ(entries[0]["fieldsV1"], Json::parse(R"({"f:spec": {"f:parallelism": {}}})"));
}

TEST(ServerSideApplyTest, TheSameApplyTwiceChangesNothing) {
  const Json config = JobConfig(R"({"spec": {"parallelism": 2}})");
  Json live = Apply(nullptr, config, "kubectl");
  live["metadata"]["resourceVersion"] = "7";
  live["spec"]["backoffLimit"] = 6;  // a default
  auto again = ServerSideApply(&live, config, Manager("kubectl", "2026-12-07T11:00:00Z"), false,
                               JobSchema());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, live) << "the time of an unchanged manager stays, so the object is the same";
}

TEST(ServerSideApplyTest, AFieldNoLongerAppliedIsRemovedUnlessAnotherManagerHasIt) {
  Json live =
      Apply(nullptr, JobConfig(R"({"spec": {"parallelism": 2, "backoffLimit": 3}})"), "kubectl");
  Json shared = Apply(&live, JobConfig(R"({"spec": {"backoffLimit": 3}})"), "other");
  const Json next = Apply(&shared, JobConfig(R"({"spec": {}})"), "kubectl");
  EXPECT_FALSE(next["spec"].contains("parallelism")) << next.dump();
  EXPECT_EQ(next["spec"]["backoffLimit"], 3) << "the other manager still applies it";
}

TEST(ServerSideApplyTest, ChangingAnotherManagersFieldIsAConflictNamingIt) {
  Json live = Apply(nullptr, JobConfig(R"({"spec": {"parallelism": 2}})"), "kubectl");
  Json edited = live;
  edited["spec"]["parallelism"] = 4;
  RecordUpdate(&live, edited, Manager("kubectl-edit"), JobSchema());

  auto refused = ServerSideApply(&edited, JobConfig(R"({"spec": {"parallelism": 2}})"),
                                 Manager("kubectl"), false, JobSchema());
  ASSERT_EQ(refused.status().code(), StatusCode::kConflict);
  EXPECT_EQ(refused.status().message(),
            R"(Apply failed with 1 conflict: conflict with "kubectl-edit" using batch/v1: )"
            ".spec.parallelism");
  ASSERT_EQ(refused.status().causes().size(), 1u);
  EXPECT_EQ(refused.status().causes()[0].field, ".spec.parallelism");
  EXPECT_EQ(refused.status().causes()[0].reason, "FieldManagerConflict");

  // The same value is no conflict: the two share the field.
  const Json shared = Apply(&edited, JobConfig(R"({"spec": {"parallelism": 4}})"), "kubectl");
  EXPECT_EQ(shared["metadata"]["managedFields"].size(), 2u);

  // Forced, the field changes hands.
  const Json forced = Apply(&edited, JobConfig(R"({"spec": {"parallelism": 2}})"), "kubectl", true);
  EXPECT_EQ(forced["spec"]["parallelism"], 2);
  ASSERT_EQ(forced["metadata"]["managedFields"].size(), 1u) << forced.dump();
  EXPECT_EQ(forced["metadata"]["managedFields"][0]["manager"], "kubectl");
}

TEST(ServerSideApplyTest, KeyedListsMergeElementByElement) {
  Json live =
      Apply(nullptr, JobConfig(R"({"spec": {"containers": [{"name": "main", "image": "a"}]}})"),
            "kubectl");
  live = Apply(&live, JobConfig(R"({"spec": {"containers": [{"name": "side", "image": "s"}]}})"),
               "injector");
  const Json next = Apply(
      &live,
      JobConfig(R"({"spec": {"containers": [{"name": "main", "image": "b", "args": ["x"]}]}})"),
      "kubectl");
  EXPECT_EQ(next["spec"]["containers"], Json::parse(R"([{"name": "main", "image": "b",
      "args": ["x"]}, {"name": "side", "image": "s"}])"));
  // Dropping the container removes it; the other manager's stays.
  const Json dropped = Apply(&next, JobConfig(R"({"spec": {"containers": []}})"), "kubectl");
  EXPECT_EQ(dropped["spec"]["containers"], Json::parse(R"([{"name": "side", "image": "s"}])"));
}

TEST(ServerSideApplyTest, AnObjectNobodyAppliedBelongsToBeforeFirstApply) {
  const Json live = JobConfig(R"({"spec": {"parallelism": 1}, "status": {"active": 1}})");
  auto refused = ServerSideApply(&live, JobConfig(R"({"spec": {"parallelism": 3}})"),
                                 Manager("kubectl"), false, JobSchema());
  ASSERT_EQ(refused.status().code(), StatusCode::kConflict);
  EXPECT_NE(refused.status().message().find("before-first-apply"), std::string::npos);
}

TEST(ServerSideApplyTest, StatusIsLeftToTheControllerAndTheConfigMustNotCarryManagedFields) {
  Json live = JobConfig(R"({"spec": {"parallelism": 1}, "status": {"active": 1}})");
  RecordUpdate(nullptr, live, Manager("kubectl-create"), JobSchema());
  const Json next =
      Apply(&live, JobConfig(R"({"spec": {"parallelism": 1}, "status": {"active": 9}})"), "k");
  EXPECT_EQ(next["status"]["active"], 1);
  Json bad = JobConfig(R"({"metadata": {"managedFields": [{"manager": "x"}]}})");
  EXPECT_EQ(ServerSideApply(&live, bad, Manager("k"), false, JobSchema()).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(RecordUpdateTest, AWriteTakesTheFieldsItChanged) {
  Json created = JobConfig(R"({"spec": {"parallelism": 1, "backoffLimit": 6}})");
  RecordUpdate(nullptr, created, Manager("kubectl-create"), JobSchema());
  ASSERT_EQ(created["metadata"]["managedFields"].size(), 1u);
  EXPECT_EQ(created["metadata"]["managedFields"][0]["operation"], "Update");
  EXPECT_EQ(created["metadata"]["managedFields"][0]["fieldsV1"],
            Json::parse(R"({"f:spec": {"f:parallelism": {}, "f:backoffLimit": {}}})"));

  Json patched = created;
  patched["spec"]["parallelism"] = 3;
  RecordUpdate(&created, patched, Manager("kubectl-patch"), JobSchema());
  const Json& entries = patched["metadata"]["managedFields"];
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0]["fieldsV1"], Json::parse(R"({"f:spec": {"f:backoffLimit": {}}})"));
  EXPECT_EQ(entries[1]["manager"], "kubectl-patch");
  EXPECT_EQ(entries[1]["fieldsV1"], Json::parse(R"({"f:spec": {"f:parallelism": {}}})"));

  // A write that changes nothing leaves the record as it was.
  Json same = patched;
  RecordUpdate(&patched, same, Manager("someone"), JobSchema());
  EXPECT_EQ(same, patched);
}

TEST(FieldManagerTest, ComesFromTheUserAgentAndIsPrintable) {
  EXPECT_EQ(DefaultFieldManager("kubectl/v1.37.2 (linux/amd64) kubernetes/abc"), "kubectl");
  EXPECT_EQ(DefaultFieldManager(""), "unknown");
  EXPECT_EQ(DefaultFieldManager(std::string(300, 'a')).size(), 128u);
  EXPECT_TRUE(ValidateFieldManager("kubectl-client-side-apply").ok());
  EXPECT_FALSE(ValidateFieldManager(std::string(129, 'a')).ok());
  EXPECT_FALSE(ValidateFieldManager("a\nb").ok());
}

}  // namespace
}  // namespace skiff
