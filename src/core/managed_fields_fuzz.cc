// Fuzz target: server-side apply and field ownership (core/managed_fields.h).
//
// The input is a live object (or null), a newline, and an apply configuration, both JSON, read
// under a schema with a keyed list and a set. For any input, an apply succeeds or fails with
// InvalidArgument or Conflict (never crashes, throws or hangs); a forced apply never conflicts;
// what an apply returns, applied again with the same configuration, comes back unchanged (an
// apply is idempotent, so kubectl's second apply writes nothing); and recording an update from
// the live object to the result never throws.
//
//   build/fuzz/managed_fields_fuzz build/fuzz/managed_fields/corpus \
//       src/core/fuzz_corpus/managed_fields
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/managed_fields.h"
#include "core/schema.h"
#include "core/testing/fuzz_check.h"
#include "core/testing/fuzz_input.h"

namespace {

const skiff::Json& KeyedSchema() {
  using namespace skiff::openapi;
  static const skiff::Json schema = skiff::KindOpenApi(
      {{"spec",
        Object({{"parallelism", Integer()},
                {"containers",
                 MergeList(OpenObject({{"name", String()}, {"args", Array(String())}}), "name")},
                {"ports", Any()}})}});
  return schema;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  auto docs = skiff::TwoJsonDocuments(data, size);
  if (!docs) return 0;
  const skiff::Json* live_object = docs->first.is_object() ? &docs->first : nullptr;
  const skiff::Json* config = &docs->second;
  const skiff::FieldManager manager{.manager = "fuzz",
                                    .api_version = "batch/v1",
                                    .subresource = "",
                                    .time = "2026-12-07T00:00:00Z"};
  auto applied = skiff::ServerSideApply(live_object, *config, manager, false, KeyedSchema());
  if (!applied.ok()) {
    const skiff::StatusCode code = applied.status().code();
    skiff::FuzzCheck(
        "managed_fields_fuzz",
        code == skiff::StatusCode::kInvalidArgument || code == skiff::StatusCode::kConflict,
        "an apply failed with a code other than InvalidArgument or Conflict",
        applied.status().ToString());
    if (code != skiff::StatusCode::kConflict) return 0;
    applied = skiff::ServerSideApply(live_object, *config, manager, true, KeyedSchema());
    skiff::FuzzCheck("managed_fields_fuzz", applied.ok(), "a forced apply failed",
                     applied.status().ToString());
    if (!applied.ok()) return 0;
  }
  auto again = skiff::ServerSideApply(&*applied, *config, manager, false, KeyedSchema());
  skiff::FuzzCheck("managed_fields_fuzz", again.ok() && *again == *applied,
                   "applying the same configuration again changed the object", input);
  skiff::Json updated = *applied;
  skiff::RecordUpdate(live_object, updated, manager, KeyedSchema());
  return 0;
}
