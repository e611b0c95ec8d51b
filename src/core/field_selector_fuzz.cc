// Fuzz target: field selectors (core/field_selector.h).
//
// The input is a selector, then optionally a newline and a JSON object to judge. For any input,
// FieldSelector::Parse returns a selector or an error (never crashes, throws or hangs), and a
// selector that parsed judges any JSON value without failing. Invariants: an empty selector
// selects everything, and a selector joined to itself ("S,S") parses and selects what S does.
//
//   build/fuzz/field_selector_fuzz build/fuzz/field_selector/corpus \
//       src/core/fuzz_corpus/field_selector
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/field_selector.h"
#include "core/testing/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  const size_t newline = input.find('\n');
  const std::string text = input.substr(0, newline);
  const skiff::Json obj = newline == std::string::npos
                              ? skiff::Json::object()
                              : skiff::Json::parse(input.substr(newline + 1), nullptr, false);
  // Every field a kind may name, so that terms reach the matcher.
  const std::vector<std::string> fields = {"status.phase", "spec.nodeName", "type", "a", "a.b.c"};

  skiff::Result<skiff::FieldSelector> selector = skiff::FieldSelector::Parse(text, fields);
  if (!selector.ok()) return 0;
  const bool selected = selector->Matches(obj);
  if (selector->empty()) {
    skiff::FuzzCheck("field_selector_fuzz", selected, "an empty selector refused an object", text);
    return 0;
  }
  skiff::Result<skiff::FieldSelector> twice =
      skiff::FieldSelector::Parse(text + "," + text, fields);
  skiff::FuzzCheck("field_selector_fuzz", twice.ok(), "S parses but S,S does not", text);
  skiff::FuzzCheck("field_selector_fuzz", twice->Matches(obj) == selected,
                   "S,S and S select differently", text);
  return 0;
}
