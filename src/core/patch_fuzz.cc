// Fuzz target: JSON patch and strategic merge patch (core/patch.h).
//
// The input is a JSON document, a newline, and a patch: a list is applied as a JSON patch, an
// object as a strategic merge patch under a schema with merging lists (as a pod's containers).
// For any input, a patch applies or fails with InvalidArgument (never crashes, throws or hangs);
// a failed patch leaves the document as it was, and a patched document nests no deeper than
// kMaxDepth.
//
//   build/fuzz/patch_fuzz build/fuzz/patch/corpus src/core/fuzz_corpus/patch
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/patch.h"
#include "core/schema.h"
#include "core/testing/fuzz_check.h"
#include "core/testing/fuzz_input.h"

namespace {

int Depth(const skiff::Json& v) {
  int deepest = 0;
  if (v.is_structured()) {
    for (const skiff::Json& child : v) deepest = std::max(deepest, Depth(child));
  }
  return deepest + 1;
}

const skiff::Json& MergingSchema() {
  using namespace skiff::openapi;
  static const skiff::Json schema =
      Object({{"metadata", Object({{"finalizers", MergeSet(String())}, {"labels", StringMap()}})},
              {"spec",
               Object({{"containers",
                        MergeList(Object({{"name", String()}, {"ports", MergeList(Any(), "port")}}),
                                  "name")}})}});
  return schema;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  auto docs = skiff::TwoJsonDocuments(data, size);
  if (!docs) return 0;
  skiff::Json* doc = &docs->first;
  const skiff::Json* patch = &docs->second;
  const skiff::Json before = *doc;
  skiff::Status st = patch->is_array() ? skiff::ApplyJsonPatch(*doc, *patch)
                                       : skiff::StrategicMergePatch(*doc, *patch, MergingSchema());
  if (!st.ok()) {
    skiff::FuzzCheck("patch_fuzz", st.code() == skiff::StatusCode::kInvalidArgument,
                     "a patch failed with a code other than InvalidArgument", st.ToString());
    skiff::FuzzCheck("patch_fuzz", *doc == before, "a failed patch changed the document", input);
    return 0;
  }
  skiff::FuzzCheck("patch_fuzz", Depth(*doc) <= skiff::kMaxDepth + 1,
                   "a patch nested the document past kMaxDepth", input);
  return 0;
}
