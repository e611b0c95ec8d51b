// FuzzCheck: how a fuzz target (src/**/*_fuzz.cc) states an invariant. When it does not hold, the
// target's name, what failed and the input's detail (bytes outside printable ASCII as \xNN, so a
// NUL does not cut the report short) go to stderr and the process aborts, which libFuzzer keeps
// as a crash file.
//
//   FuzzCheck("resource_fuzz", again.ok(), "ToYaml wrote YAML that does not read back", yaml);
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>

namespace skiff {

inline void FuzzCheck(const char* target, bool ok, const char* what,
                      const std::string& detail = "") {
  if (ok) return;
  std::string shown;
  for (unsigned char c : detail) {
    if ((c >= 0x20 && c < 0x7f) || c == '\n') {
      shown += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      shown += buf;
    }
  }
  std::fprintf(stderr, "%s: %s\n%s\n", target, what, shown.c_str());
  std::abort();
}

}  // namespace skiff
