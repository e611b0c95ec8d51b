// Fuzz target: the YAML/JSON resource reader (core/resource.h).
//
// For any bytes, ParseYamlDocuments and ParseJsonOrYaml return documents or an error; they never
// crash, throw or hang, and they agree (ParseJsonOrYaml succeeds exactly when there is one
// document). What they return survives what the API does next with a document: serialised as
// JSON (the store's form), written back as YAML (`skiff get -o yaml`) and read again to the same
// value, and merge-patched (RFC 7386) onto the document before it.
//
//   cmake -S . -B build/fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++-14 -DSKIFF_FUZZ=ON
//   cmake --build build/fuzz --target resource_fuzz && build/fuzz/resource_fuzz \
//       -dict=src/core/fuzz_corpus/resource.dict build/fuzz/resource/corpus \
//       src/core/fuzz_corpus/resource
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/resource.h"
#include "core/testing/fuzz_check.h"

namespace {

// The JSON text of `doc` with invalid UTF-8 replaced (the store refuses such strings with an
// error; here they only need to compare).
std::string Text(const skiff::Json& doc) {
  return doc.dump(-1, ' ', false, skiff::Json::error_handler_t::replace);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  skiff::Result<std::vector<skiff::Json>> docs = skiff::ParseYamlDocuments(text, "fuzz.yaml");
  skiff::Result<skiff::Json> one = skiff::ParseJsonOrYaml(text, "fuzz.yaml");
  skiff::FuzzCheck("resource_fuzz", one.ok() == (docs.ok() && docs->size() == 1),
                   "ParseJsonOrYaml and ParseYamlDocuments disagree",
                   one.ok() ? "" : one.status().ToString());
  if (!docs.ok()) return 0;

  skiff::Json merged = skiff::Json::object();
  for (const skiff::Json& doc : *docs) {
    const std::string json = Text(doc);
    const std::string yaml = skiff::ToYaml(doc);
    skiff::Result<skiff::Json> again = skiff::ParseJsonOrYaml(yaml, "fuzz.yaml written back");
    skiff::FuzzCheck("resource_fuzz", again.ok(), "ToYaml wrote YAML that does not read back",
                     yaml + "\n" + (again.ok() ? "" : again.status().ToString()));
    skiff::FuzzCheck("resource_fuzz", Text(*again) == json,
                     "ToYaml then ParseJsonOrYaml changed the document",
                     json + "\nbecame\n" + Text(*again));
    skiff::MergePatch(merged, doc);
    (void)skiff::MetaName(doc);
    (void)skiff::MetaResourceVersion(doc);
    (void)skiff::MetaLabels(doc);
  }
  return 0;
}
