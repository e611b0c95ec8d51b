#include "core/admission.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/ids.h"
#include "core/schema.h"

namespace skiff {
namespace {

using namespace openapi;  // NOLINT(google-build-using-namespace): the builders read as a schema

// A throwaway kind: spec {size: integer >= 0, mode: enum, nested: {depth: integer}}, a rule that
// refuses size 13, and an update rule that keeps `mode` once set.
ResourceType Widget() {
  ResourceType t{"test.skiff.dev", "v1", "Widget", "widgets", true, {}};
  t.schema = KindSchema({{"spec", Object({{"size", Integer(0)},
                                          {"mode", Enum({"fast", "slow"})},
                                          {"nested", Object({{"depth", Integer()}})}})},
                         {"status", Object({{"phase", String()}})}},
                        {"spec"});
  t.validate = [](Json& obj, bool) {
    if (obj["spec"].value("size", 0) == 13) return InvalidArgument("spec.size: unlucky");
    return Status::Ok();
  };
  t.validate_update = [](const Json& stored, const Json& obj) {
    if (stored["spec"].contains("mode") &&
        stored["spec"]["mode"] != obj["spec"].value("mode", Json())) {
      return InvalidArgument("spec.mode: may not change once set");
    }
    return Status::Ok();
  };
  return t;
}

Json NewWidget(Json spec = Json::object()) {
  return {{"metadata", {{"name", "w"}, {"namespace", "team-a"}}}, {"spec", std::move(spec)}};
}

// The stored form of `obj`, as the store stamps it.
Json Stored(Json obj) {
  obj["apiVersion"] = "test.skiff.dev/v1";
  obj["kind"] = "Widget";
  obj["metadata"]["uid"] = "uid-1";
  obj["metadata"]["creationTimestamp"] = "2026-01-01T00:00:00Z";
  obj["metadata"]["generation"] = 1;
  obj["metadata"]["resourceVersion"] = "7";
  obj["status"] = {{"phase", "Running"}};
  return obj;
}

std::vector<std::string> CauseFields(const Status& st) {
  std::vector<std::string> out;
  for (const StatusCause& c : st.causes()) out.push_back(c.field);
  return out;
}

TEST(Admit, CreateFillsTheTypeAndDropsWhatThePlatformSets) {
  Json obj = NewWidget({{"size", 1}});
  obj["metadata"]["uid"] = "mine";
  obj["metadata"]["creationTimestamp"] = "1999-01-01T00:00:00Z";
  obj["metadata"]["deletionTimestamp"] = "1999-01-01T00:00:00Z";
  obj["metadata"]["generation"] = 40;
  obj["metadata"]["resourceVersion"] = "3";
  obj["status"] = {{"phase", "Done"}};
  ASSERT_TRUE(Admit(Widget(), {}, obj, nullptr).ok());
  EXPECT_EQ(obj["apiVersion"], "test.skiff.dev/v1");
  EXPECT_EQ(obj["kind"], "Widget");
  EXPECT_EQ(obj["metadata"], (Json{{"name", "w"}, {"namespace", "team-a"}}));
  EXPECT_FALSE(obj.contains("status"));
}

TEST(Admit, GenerateNameLeavesRoomForItsSuffixAndBadNamesAre400) {
  Json obj = NewWidget();
  obj["metadata"].erase("name");
  obj["metadata"]["generateName"] = std::string(70, 'a') + "-";
  ASSERT_TRUE(Admit(Widget(), {}, obj, nullptr).ok());
  const std::string name = MetaName(obj);
  EXPECT_EQ(name.size(), kMaxGenerateNamePrefix + 5) << name;
  EXPECT_TRUE(ValidateName(name, "name").ok());

  for (const Json& bad_name :
       {Json("../x"), Json("UPPER"), Json(""), Json(std::string(254, 'a'))}) {
    Json o = NewWidget();
    o["metadata"]["name"] = bad_name;
    EXPECT_EQ(Admit(Widget(), {}, o, nullptr).code(), StatusCode::kInvalidArgument) << bad_name;
  }
  Json o = NewWidget();
  o["metadata"]["namespace"] = "../other";
  EXPECT_EQ(Admit(Widget(), {}, o, nullptr).code(), StatusCode::kInvalidArgument);
  o = NewWidget();
  o["kind"] = "Gadget";
  EXPECT_EQ(Admit(Widget(), {}, o, nullptr).code(), StatusCode::kInvalidArgument);
}

TEST(Admit, WrongTypesAndRulesAre422NamingTheField) {
  Json obj = NewWidget({{"size", "big"}, {"mode", "warp"}});
  Status st = Admit(Widget(), {}, obj, nullptr);
  EXPECT_EQ(st.code(), StatusCode::kInvalid);
  EXPECT_EQ(CauseFields(st), (std::vector<std::string>{"spec.mode", "spec.size"}));
  obj = NewWidget({{"size", 13}});
  st = Admit(Widget(), {}, obj, nullptr);
  EXPECT_EQ(st.code(), StatusCode::kInvalid);
  EXPECT_EQ(CauseFields(st), (std::vector<std::string>{"spec.size"}));
}

TEST(Admit, OwnerReferencesNameTheirOwnerFullyAndOneControllerAtMost) {
  Json owner = {{"apiVersion", "batch/v1"}, {"kind", "Job"}, {"name", "pi"}, {"uid", "u-1"}};
  Json obj = NewWidget();
  obj["metadata"]["ownerReferences"] = {owner, {{"kind", "Job"}, {"name", "pi"}}};
  Status st = Admit(Widget(), {}, obj, nullptr);
  EXPECT_EQ(st.code(), StatusCode::kInvalid);
  EXPECT_EQ(CauseFields(st), (std::vector<std::string>{"metadata.ownerReferences[1].apiVersion",
                                                       "metadata.ownerReferences[1].uid"}));
  Json controller = owner;
  controller["controller"] = true;
  Json other = controller;
  other["uid"] = "u-2";
  obj = NewWidget();
  obj["metadata"]["ownerReferences"] = {controller, other};
  st = Admit(Widget(), {}, obj, nullptr);
  EXPECT_EQ(CauseFields(st), (std::vector<std::string>{"metadata.ownerReferences"}));
  EXPECT_NE(st.message().find("only one reference can have controller set to true"),
            std::string::npos)
      << st.message();
  obj = NewWidget();
  obj["metadata"]["ownerReferences"] = {controller, owner};
  EXPECT_TRUE(Admit(Widget(), {}, obj, nullptr).ok());
}

TEST(Admit, UnknownFieldsAtAnyDepthAreWarnedIgnoredOrRefused) {
  Json obj = NewWidget({{"nested", {{"depth", 1}, {"stray", true}}}});
  std::vector<std::string> warnings;
  ASSERT_TRUE(Admit(Widget(), {}, obj, &warnings).ok());
  EXPECT_EQ(warnings, (std::vector<std::string>{"unknown field \"spec.nested.stray\""}));
  EXPECT_FALSE(obj["spec"]["nested"].contains("stray"));

  obj = NewWidget({{"nested", {{"stray", true}}}});
  warnings.clear();
  ASSERT_TRUE(Admit(Widget(), {.field_validation = FieldValidation::kIgnore}, obj, &warnings).ok());
  EXPECT_TRUE(warnings.empty());

  obj = NewWidget({{"nested", {{"stray", true}}}});
  Status st = Admit(Widget(), {.field_validation = FieldValidation::kStrict}, obj, &warnings);
  EXPECT_EQ(st.code(), StatusCode::kInvalid);
  EXPECT_EQ(CauseFields(st), (std::vector<std::string>{"spec.nested.stray"}));
}

TEST(Admit, UpdateKeepsThePlatformFieldsAndStatusButTheWritersPrecondition) {
  const Json stored = Stored(NewWidget({{"size", 1}}));
  Json obj = NewWidget({{"size", 2}});
  obj["metadata"]["uid"] = "forged";
  obj["metadata"]["creationTimestamp"] = "1999-01-01T00:00:00Z";
  obj["metadata"]["deletionTimestamp"] = "1999-01-01T00:00:00Z";
  obj["metadata"]["generation"] = 99;
  obj["metadata"]["resourceVersion"] = "6";
  obj["status"] = {{"phase", "Forged"}};
  ASSERT_TRUE(Admit(Widget(), {.op = WriteOp::kUpdate, .stored = &stored}, obj, nullptr).ok());
  EXPECT_EQ(obj["metadata"]["uid"], "uid-1");
  EXPECT_EQ(obj["metadata"]["creationTimestamp"], "2026-01-01T00:00:00Z");
  EXPECT_EQ(obj["metadata"]["generation"], 1);
  EXPECT_FALSE(obj["metadata"].contains("deletionTimestamp"));
  EXPECT_EQ(obj["metadata"]["resourceVersion"], "6") << "the writer's precondition stays";
  EXPECT_EQ(obj["status"], stored["status"]);
  EXPECT_EQ(obj["spec"]["size"], 2);

  Json other = NewWidget();
  other["metadata"]["name"] = "v";
  EXPECT_EQ(Admit(Widget(), {.op = WriteOp::kUpdate, .stored = &stored}, other, nullptr).code(),
            StatusCode::kInvalidArgument);
}

TEST(Admit, TheUpdateRuleSeesTheStoredObject) {
  const Json stored = Stored(NewWidget({{"mode", "fast"}}));
  Json obj = NewWidget({{"mode", "slow"}});
  Status st = Admit(Widget(), {.op = WriteOp::kUpdate, .stored = &stored}, obj, nullptr);
  EXPECT_EQ(st.code(), StatusCode::kInvalid);
  EXPECT_EQ(CauseFields(st), (std::vector<std::string>{"spec.mode"}));
  obj = NewWidget({{"mode", "slow"}});
  EXPECT_TRUE(Admit(Widget(), {}, obj, nullptr).ok()) << "a create has nothing to compare";
}

TEST(Admit, StatusWriteTakesOnlyTheStatusAndIsSchemaChecked) {
  const Json stored = Stored(NewWidget({{"size", 1}}));
  Json obj = NewWidget({{"size", 5}});
  obj["status"] = {{"phase", "Done"}};
  obj["metadata"]["resourceVersion"] = "7";
  obj["metadata"]["labels"] = {{"sneaked", "in"}};
  ASSERT_TRUE(
      Admit(Widget(), {.op = WriteOp::kUpdateStatus, .stored = &stored}, obj, nullptr).ok());
  Json want = stored;
  want["status"] = {{"phase", "Done"}};
  EXPECT_EQ(obj, want);

  obj = NewWidget();
  obj["status"] = {{"phase", 3}};
  Status st = Admit(Widget(), {.op = WriteOp::kUpdateStatus, .stored = &stored}, obj, nullptr);
  EXPECT_EQ(st.code(), StatusCode::kInvalid);
  EXPECT_EQ(CauseFields(st), (std::vector<std::string>{"status.phase"}));
}

TEST(Admit, ClusterScopedKindsHaveNoNamespace) {
  ResourceType t = Widget();
  t.namespaced = false;
  Json obj = NewWidget();
  EXPECT_EQ(Admit(t, {}, obj, nullptr).code(), StatusCode::kInvalidArgument);
  obj["metadata"].erase("namespace");
  EXPECT_TRUE(Admit(t, {}, obj, nullptr).ok());
}

TEST(ParseFieldValidation, KnowsKubernetesThreeModes) {
  EXPECT_EQ(*ParseFieldValidation(""), FieldValidation::kWarn);
  EXPECT_EQ(*ParseFieldValidation("Strict"), FieldValidation::kStrict);
  EXPECT_EQ(*ParseFieldValidation("Ignore"), FieldValidation::kIgnore);
  EXPECT_FALSE(ParseFieldValidation("strict").ok());
}

}  // namespace
}  // namespace skiff

namespace skiff {
namespace {

TEST(AsInvalid, NamesTheFieldARuleNamesWithAnIndexOrAMapKey) {
  Status st = AsInvalid(InvalidArgument("spec.containers[2].image: required"), "Job \"a\"");
  ASSERT_EQ(st.code(), StatusCode::kInvalid);
  ASSERT_EQ(st.causes().size(), 1u);
  EXPECT_EQ(st.causes()[0].field, "spec.containers[2].image");
  st = AsInvalid(InvalidArgument("spec.resourceQuotaSpec.hard[requests.cpu]: not a quantity"),
                 "Profile \"p\"");
  EXPECT_EQ(st.causes()[0].field, "spec.resourceQuotaSpec.hard[requests.cpu]");
  EXPECT_EQ(AsInvalid(NotFound("x"), "y").code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace skiff
