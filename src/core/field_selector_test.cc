#include "core/field_selector.h"

#include <gtest/gtest.h>

namespace skiff {
namespace {

const Json kPod = Json::parse(R"({
  "metadata": {"name": "pi-1", "namespace": "team-a"},
  "spec": {"restartPolicy": "Never"},
  "status": {"phase": "Running", "podIP": "10.0.0.1", "restarts": 2}
})");

bool Selects(const std::string& text, const std::vector<std::string>& fields = {}) {
  auto s = FieldSelector::Parse(text, fields);
  EXPECT_TRUE(s.ok()) << text << ": " << s.status().ToString();
  return s.ok() && s->Matches(kPod);
}

TEST(FieldSelectorTest, NameAndNamespaceForEveryKind) {
  EXPECT_TRUE(Selects(""));
  EXPECT_TRUE(Selects("metadata.name=pi-1"));
  EXPECT_TRUE(Selects("metadata.name==pi-1,metadata.namespace=team-a"));
  EXPECT_FALSE(Selects("metadata.name=pi-1,metadata.namespace!=team-a"));
  EXPECT_TRUE(Selects("metadata.name!=other"));
}

TEST(FieldSelectorTest, AKindsOwnFieldsAbsentOnesReadAsEmptyAndOthersAreRefused) {
  const std::vector<std::string> fields = {"status.phase", "spec.nodeName", "status.restarts"};
  EXPECT_TRUE(Selects("status.phase=Running", fields));
  EXPECT_FALSE(Selects("status.phase=Succeeded", fields));
  EXPECT_TRUE(Selects("spec.nodeName=", fields));  // on no node
  EXPECT_TRUE(Selects("status.restarts=2", fields));
  auto refused = FieldSelector::Parse("status.phase=Running");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("field label not supported: status.phase"),
            std::string::npos);
}

TEST(FieldSelectorTest, EscapesAndMalformedTerms) {
  Json obj = {{"metadata", {{"name", "a,b=c"}}}};
  auto s = FieldSelector::Parse(R"(metadata.name=a\,b\=c)");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_TRUE(s->Matches(obj));
  for (const char* bad :
       {"metadata.name", "=x", "metadata.name=a=b", R"(metadata.name=a\)", "metadata.name=x,,"}) {
    EXPECT_FALSE(FieldSelector::Parse(bad).ok()) << bad;
  }
}

TEST(FieldSelectorTest, AnyObjectIsJudgedWithoutThrowing) {
  auto s = FieldSelector::Parse("metadata.name=x");
  ASSERT_TRUE(s.ok());
  for (const Json& odd : {Json(), Json(3), Json::array(), Json{{"metadata", "text"}},
                          Json{{"metadata", {{"name", 7}}}}}) {
    EXPECT_FALSE(s->Matches(odd)) << odd.dump();
  }
}

}  // namespace
}  // namespace skiff
