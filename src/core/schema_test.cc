#include "core/schema.h"

#include <gtest/gtest.h>

#include <string>

namespace skiff {
namespace {

using namespace openapi;  // NOLINT(google-build-using-namespace): the builders read as a schema

Schema Compile(const Json& doc) {
  auto schema = Schema::FromOpenApi(doc);
  EXPECT_TRUE(schema.ok()) << schema.status().ToString();
  return schema.ok() ? *schema : Schema();
}

// The fields of `report`'s errors, each with its reason: "spec.n FieldValueTypeInvalid".
std::vector<std::string> Errors(const SchemaReport& report) {
  std::vector<std::string> out;
  for (const FieldError& e : report.errors) out.push_back(e.field + " " + e.reason);
  return out;
}

TEST(Schema, RefusesWrongTypesNamingEachField) {
  Schema schema = Compile(Object({{"name", String()},
                                  {"n", Integer()},
                                  {"ratio", Number()},
                                  {"on", Boolean()},
                                  {"list", Array(String())},
                                  {"labels", StringMap()}}));
  Json v = {{"name", 5},   {"n", "x"},         {"ratio", "half"},
            {"on", "yes"}, {"list", {1, "a"}}, {"labels", {{"a", true}}}};
  EXPECT_EQ(
      Errors(schema.Check(v)),
      (std::vector<std::string>{"labels.a FieldValueTypeInvalid", "list[0] FieldValueTypeInvalid",
                                "n FieldValueTypeInvalid", "name FieldValueTypeInvalid",
                                "on FieldValueTypeInvalid", "ratio FieldValueTypeInvalid"}));
  EXPECT_TRUE(
      schema.Check({{"name", "a"}, {"n", 3}, {"ratio", 2}, {"list", Json::array()}}).errors.empty())
      << "an integer is a number";
  EXPECT_EQ(Errors(schema.Check({{"n", 1.5}})),
            (std::vector<std::string>{"n FieldValueTypeInvalid"}));
}

TEST(Schema, ValidateAppliesDefaultsAndPrunesUnknownFieldsCheckOnlyReports) {
  Json defaulted = Integer(1);
  defaulted["default"] = 6;
  Schema schema =
      Compile(Object({{"replicas", defaulted}, {"open", OpenObject({{"n", Integer()}})}}));
  Json v = {{"stray", 1}, {"open", {{"n", 1}, {"kept", true}}}};
  SchemaReport checked = schema.Check(v);
  EXPECT_TRUE(checked.errors.empty());
  EXPECT_EQ(checked.unknown, (std::vector<std::string>{"stray"}));
  EXPECT_TRUE(v.contains("stray")) << "Check changes nothing";
  SchemaReport validated = schema.Validate(v);
  EXPECT_TRUE(validated.errors.empty());
  EXPECT_EQ(validated.unknown, (std::vector<std::string>{"stray"}));
  EXPECT_EQ(v, (Json{{"replicas", 6}, {"open", {{"n", 1}, {"kept", true}}}}));
  Json again = v;
  EXPECT_TRUE(schema.Validate(again).unknown.empty());
  EXPECT_EQ(again, v) << "Validate is idempotent";
}

TEST(Schema, RequiredFieldsNullsAndNullable) {
  Json note = String();
  note["nullable"] = true;
  Schema schema = Compile(Object({{"name", String()}, {"note", note}}, {"name"}));
  EXPECT_EQ(Errors(schema.Check(Json::object())),
            (std::vector<std::string>{"name FieldValueRequired"}));
  Json v = {{"name", "a"}, {"note", nullptr}};
  EXPECT_TRUE(schema.Validate(v).errors.empty());
  EXPECT_TRUE(v["note"].is_null()) << "a nullable field keeps its null";
  Json w = {{"name", nullptr}};
  EXPECT_EQ(Errors(schema.Validate(w)), (std::vector<std::string>{"name FieldValueRequired"}))
      << "a null for a field that is not nullable counts as absent";
}

TEST(Schema, EnumsBoundsLengthsAndCounts) {
  Json shortish = String();
  shortish["minLength"] = 1;
  shortish["maxLength"] = 3;
  Json few = Array(Integer(0, 10));
  few["minItems"] = 1;
  few["maxItems"] = 2;
  Json labels = StringMap();
  labels["maxProperties"] = 1;
  Schema schema = Compile(Object({{"mode", Enum({"Always", "Never"})},
                                  {"s", shortish},
                                  {"few", few},
                                  {"port", Int32(1)},
                                  {"labels", labels}}));
  EXPECT_EQ(Errors(schema.Check({{"mode", "Sometimes"},
                                 {"s", "abcd"},
                                 {"few", {1, 2, 3}},
                                 {"port", 0},
                                 {"labels", {{"a", "b"}, {"c", "d"}}}})),
            (std::vector<std::string>{"few FieldValueTooMany", "labels FieldValueTooMany",
                                      "mode FieldValueNotSupported", "port FieldValueInvalid",
                                      "s FieldValueTooLong"}));
  EXPECT_EQ(Errors(schema.Check({{"s", ""}, {"few", {11}}, {"port", 4294967296}})),
            (std::vector<std::string>{"few[0] FieldValueInvalid", "port FieldValueInvalid",
                                      "s FieldValueInvalid"}));
  EXPECT_TRUE(schema.Check({{"mode", "Never"}, {"s", "abc"}, {"few", {0, 10}}, {"port", 65535}})
                  .errors.empty());
}

TEST(Schema, IntOrStringAndPreservedSubtrees) {
  Schema schema = Compile(Object({{"port", IntOrString()}, {"config", Any()}}));
  EXPECT_TRUE(
      schema.Check({{"port", 8080}, {"config", {{"x", {1, {{"y", nullptr}}}}}}}).errors.empty());
  EXPECT_TRUE(schema.Check({{"port", "http"}, {"config", "anything"}}).errors.empty());
  EXPECT_EQ(Errors(schema.Check({{"port", 1.5}})),
            (std::vector<std::string>{"port FieldValueTypeInvalid"}));
  EXPECT_EQ(Errors(schema.Check({{"port", true}})),
            (std::vector<std::string>{"port FieldValueTypeInvalid"}));
}

TEST(Schema, MessagesPrintValuesThatAreNotUtf8) {
  // Found by fuzzing: an enum error quoted the value with a dump() that threw on invalid UTF-8.
  Schema schema = Compile(Object({{"mode", Enum({"Always"})}}));
  SchemaReport report = schema.Check({{"mode", std::string("\xff\xfe", 2)}});
  ASSERT_EQ(report.errors.size(), 1u);
  EXPECT_NE(report.ToStatus("Widget \"w\"").ToString().find("mode"), std::string::npos);
}

TEST(Schema, FromOpenApiNamesWhatItCannotCompile) {
  for (const auto& [doc, where] : std::vector<std::pair<Json, std::string>>{
           {{{"type", "strnig"}}, "type"},
           {{{"type", "object"}, {"properties", {{"a", {{"pattern", "x"}}}}}}, "properties.a"},
           {{{"type", "object"}, {"properties", 5}}, "properties"},
           {{{"nullable", "yes"}}, "nullable"},
           {{{"maxLength", -1}}, "maxLength"},
           // Found by fuzzing: a default its own schema refuses.
           {{{"type", "object"},
             {"properties", {{"a", {{"type", "integer"}, {"minimum", 5}, {"default", 0}}}}}},
            "properties.a.default"},
           {{{"type", "string"}, {"enum", {"x"}}, {"default", "y"}}, "default"},
           {Json::array(), ""}}) {
    auto schema = Schema::FromOpenApi(doc);
    ASSERT_FALSE(schema.ok()) << doc.dump();
    EXPECT_NE(schema.status().message().find(where), std::string::npos)
        << schema.status().message();
  }
  EXPECT_TRUE(Schema().accepts_anything());
  EXPECT_FALSE(Compile(Object({{"a", String()}})).accepts_anything());
}

TEST(Schema, KindSchemaWrapsFieldsWithIdentityAndMetadata) {
  auto schema = KindSchema({{"spec", Object({{"size", Integer(1)}})}}, {"spec"});
  Json good = {{"apiVersion", "example.dev/v1"},
               {"kind", "Widget"},
               {"metadata", {{"name", "w"}, {"labels", {{"a", "b"}}}}},
               {"spec", {{"size", 1}}}};
  EXPECT_TRUE(schema->Check(good).errors.empty());
  Json bad = good;
  bad.erase("spec");
  bad["metadata"]["labels"]["a"] = 1;
  EXPECT_EQ(Errors(schema->Check(bad)),
            (std::vector<std::string>{"metadata.labels.a FieldValueTypeInvalid",
                                      "spec FieldValueRequired"}));
  SchemaReport report = schema->Check(bad);
  Status status = report.ToStatus("Widget \"w\"");
  EXPECT_EQ(status.code(), StatusCode::kInvalid);  // a 422 with one cause per field
  EXPECT_NE(status.message().find("Widget \"w\" is invalid"), std::string::npos)
      << status.message();
}

}  // namespace
}  // namespace skiff
