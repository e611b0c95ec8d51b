// Kubernetes resource quantities: "500m" CPU, "128Mi" memory, "1e3", "2".
//
//   ASSIGN_OR_RETURN(int64_t milli, ParseCpuMillis("500m"));    // 500
//   ASSIGN_OR_RETURN(int64_t bytes, ParseMemoryBytes("1Gi"));   // 1073741824
//
// Thread-safe (pure functions).
#pragma once

#include <cstdint>
#include <string>

#include "core/resource.h"
#include "core/status.h"

namespace skiff {

// Accepts a JSON string or number. Errors name `field`.
Result<int64_t> ParseCpuMillis(const Json& value, const std::string& field);
Result<int64_t> ParseMemoryBytes(const Json& value, const std::string& field);

}  // namespace skiff
