// Fuzz target: label selectors (core/resource.h, LabelSelector).
//
// The input is a selector, then optionally a newline and labels, one `key=value` a line. For any
// input, LabelSelector::Parse returns a selector or an error (never crashes, throws or hangs),
// and a selector that parsed matches any labels without failing. Invariants of the grammar
// ("a=b,c!=d,e in (x,y),f,!g", every term must hold): an empty selector matches everything, and
// a non-empty selector joined to itself ("S,S") parses and matches the same labels as S.
//
//   build/fuzz/label_selector_fuzz build/fuzz/label_selector/corpus \
//       src/core/fuzz_corpus/label_selector
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <sstream>
#include <string>

#include "core/resource.h"
#include "core/testing/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  const size_t newline = input.find('\n');
  const std::string selector_text = input.substr(0, newline);
  std::map<std::string, std::string> labels;
  if (newline != std::string::npos) {
    std::istringstream lines(input.substr(newline + 1));
    std::string line;
    while (std::getline(lines, line)) {
      const size_t eq = line.find('=');
      labels[line.substr(0, eq)] = eq == std::string::npos ? "" : line.substr(eq + 1);
    }
  }

  skiff::Result<skiff::LabelSelector> selector = skiff::LabelSelector::Parse(selector_text);
  if (!selector.ok()) return 0;
  const bool matches = selector->Matches(labels);
  if (selector->empty()) {
    skiff::FuzzCheck("label_selector_fuzz", matches, "an empty selector refused labels",
                     selector_text);
  } else {
    skiff::Result<skiff::LabelSelector> twice =
        skiff::LabelSelector::Parse(selector_text + "," + selector_text);
    skiff::FuzzCheck("label_selector_fuzz", twice.ok(), "S parses but S,S does not",
                     selector_text + "\n" + (twice.ok() ? "" : twice.status().ToString()));
    skiff::FuzzCheck("label_selector_fuzz", twice->Matches(labels) == matches,
                     "S,S and S match different labels", selector_text);
  }
  (void)selector->Matches({});
  return 0;
}
