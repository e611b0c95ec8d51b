// Fuzz target: resource quantities (core/quantity.h), "500m", "1.5Gi", "1e3".
//
// The input is a quantity as a string, and also read as a JSON number when it is one. For any
// input ParseCpuMillis and ParseMemoryBytes return a value or an error; they never crash, throw,
// hang or overflow (UBSan checks the conversions), and what they return is not negative. A
// quantity given as a string and as the same JSON number parses to the same value.
//
//   build/fuzz/quantity_fuzz build/fuzz/quantity/corpus src/core/fuzz_corpus/quantity
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/quantity.h"
#include "core/testing/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const skiff::Json as_string = text;
  skiff::Result<int64_t> cpu = skiff::ParseCpuMillis(as_string, "cpu");
  skiff::Result<int64_t> memory = skiff::ParseMemoryBytes(as_string, "memory");
  if (cpu.ok()) skiff::FuzzCheck("quantity_fuzz", *cpu >= 0, "negative millicores", text);
  if (memory.ok()) skiff::FuzzCheck("quantity_fuzz", *memory >= 0, "negative bytes", text);

  skiff::Json number = skiff::Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (number.is_number()) {
    skiff::Result<int64_t> cpu_n = skiff::ParseCpuMillis(number, "cpu");
    skiff::Result<int64_t> memory_n = skiff::ParseMemoryBytes(number, "memory");
    if (cpu_n.ok()) skiff::FuzzCheck("quantity_fuzz", *cpu_n >= 0, "negative millicores", text);
    if (memory_n.ok()) skiff::FuzzCheck("quantity_fuzz", *memory_n >= 0, "negative bytes", text);
    if (cpu.ok() && cpu_n.ok())
      skiff::FuzzCheck("quantity_fuzz", *cpu == *cpu_n, "string and number differ (cpu)", text);
    if (memory.ok() && memory_n.ok()) {
      skiff::FuzzCheck("quantity_fuzz", *memory == *memory_n, "string and number differ (memory)",
                       text);
    }
  }
  return 0;
}
