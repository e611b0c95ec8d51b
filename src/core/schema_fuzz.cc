// Fuzz target: the schema checker (core/schema.h, Schema).
//
// The input is a JSON or YAML document. When it is an object with the two keys `schema` and
// `value`, `schema` is compiled (Schema::FromOpenApi) and `value` checked against it; otherwise
// the whole document is checked against a fixed kind schema that uses every keyword Schema knows.
// For any input nothing crashes, throws or hangs, and:
//   - Check does not change its value and reports what Validate reports;
//   - a value Validate accepts (defaults applied, unknown fields pruned) passes Check with no
//     error and no unknown field, and a second Validate changes nothing (Validate is idempotent).
//
//   build/fuzz/schema_fuzz -dict=src/core/fuzz_corpus/schema.dict build/fuzz/schema/corpus \
//       src/core/fuzz_corpus/schema
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/resource.h"
#include "core/schema.h"
#include "core/testing/fuzz_check.h"

namespace {

using skiff::Json;

std::string Text(const Json& doc) {
  return doc.dump(-1, ' ', false, Json::error_handler_t::replace);
}

// A kind with every keyword: nested objects, maps, arrays, enums, bounds, defaults, nullable,
// int-or-string, preserved subtrees.
const skiff::Schema& FixedSchema() {
  using namespace skiff::openapi;
  static const skiff::Schema* schema = [] {
    Json port = Object({{"name", String()}, {"containerPort", Int32(1)}}, {"containerPort"});
    Json limited = String();
    limited["minLength"] = 1;
    limited["maxLength"] = 8;
    Json few = Array(Integer(0, 10));
    few["minItems"] = 1;
    few["maxItems"] = 3;
    Json labels = StringMap();
    labels["maxProperties"] = 4;
    Json defaulted = Integer(1);
    defaulted["default"] = 6;
    Json nullable = String();
    nullable["nullable"] = true;
    Json spec = Object({{"replicas", defaulted},
                        {"ports", Array(port)},
                        {"mode", Enum({"Always", "Never"})},
                        {"short", limited},
                        {"few", few},
                        {"labels", labels},
                        {"ratio", Number()},
                        {"enabled", Boolean()},
                        {"port", IntOrString()},
                        {"note", nullable},
                        {"config", Any()},
                        {"open", OpenObject({{"n", Integer()}})},
                        {"deep", Map(Map(Array(Object({{"x", String()}}))))}},
                       {"mode"});
    auto compiled = skiff::Schema::FromOpenApi(skiff::KindOpenApi(
        {{"spec", spec}, {"status", OpenObject({{"phase", String()}})}}, {"spec"}));
    skiff::FuzzCheck("schema_fuzz", compiled.ok(), "the fixed schema does not compile",
                     compiled.ok() ? "" : compiled.status().ToString());
    return new skiff::Schema(*compiled);
  }();
  return *schema;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  skiff::Result<Json> doc = skiff::ParseJsonOrYaml(text, "fuzz.yaml");
  if (!doc.ok()) return 0;

  skiff::Schema schema = FixedSchema();
  Json value = *doc;
  if (doc->is_object() && doc->size() == 2 && doc->contains("schema") && doc->contains("value")) {
    skiff::Result<skiff::Schema> compiled = skiff::Schema::FromOpenApi((*doc)["schema"]);
    if (!compiled.ok()) return 0;
    schema = *compiled;
    value = (*doc)["value"];
  }

  const std::string before = Text(value);
  skiff::SchemaReport checked = schema.Check(value);
  skiff::FuzzCheck("schema_fuzz", Text(value) == before, "Check changed its value");
  skiff::SchemaReport validated = schema.Validate(value);
  skiff::FuzzCheck("schema_fuzz", checked.errors.empty() || !validated.errors.empty(),
                   "Check found errors that Validate did not", before);
  (void)validated.ToStatus("fuzzed");
  if (!validated.errors.empty()) return 0;

  const std::string after = Text(value);
  skiff::SchemaReport again = schema.Check(value);
  skiff::FuzzCheck("schema_fuzz", again.errors.empty(), "a value Validate accepted fails Check",
                   after + "\n" + again.ToStatus("it").ToString());
  skiff::FuzzCheck("schema_fuzz", again.unknown.empty(),
                   "a value Validate pruned still has unknown fields",
                   after + "\n" + (again.unknown.empty() ? "" : again.unknown.front()));
  Json twice = value;
  skiff::SchemaReport second = schema.Validate(twice);
  skiff::FuzzCheck("schema_fuzz", second.errors.empty() && Text(twice) == after,
                   "a second Validate changed the value", after + "\nbecame\n" + Text(twice));
  return 0;
}
