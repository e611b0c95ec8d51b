#include "core/quantity.h"

#include <cmath>
#include <regex>

namespace skiff {
namespace {

// Splits a quantity into its number and suffix; returns the value scaled by the suffix.
Result<double> ParseQuantity(const Json& value, const std::string& field) {
  if (value.is_number()) return value.get<double>();
  if (!value.is_string()) {
    return InvalidArgument(field + ": must be a quantity string such as \"500m\" or \"1Gi\"");
  }
  static const std::regex kRe(
      "([+-]?[0-9]+(?:\\.[0-9]*)?|[+-]?\\.[0-9]+)(e[+-]?[0-9]+|E[+-]?[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|"
      "Gi|Ti|Pi|Ei)?");
  const std::string& s = value.get_ref<const std::string&>();
  std::smatch m;
  if (!std::regex_match(s, m, kRe)) {
    return InvalidArgument(field + ": \"" + s + "\" is not a valid quantity");
  }
  double number = std::stod(m[1].str() + m[2].str());
  std::string suffix = m[3];
  static const std::pair<const char*, double> kSuffixes[] = {{"m", 1e-3},
                                                             {"k", 1e3},
                                                             {"M", 1e6},
                                                             {"G", 1e9},
                                                             {"T", 1e12},
                                                             {"P", 1e15},
                                                             {"E", 1e18},
                                                             {"Ki", 1024.0},
                                                             {"Mi", 1048576.0},
                                                             {"Gi", 1073741824.0},
                                                             {"Ti", 1099511627776.0},
                                                             {"Pi", 1125899906842624.0},
                                                             {"Ei", 1152921504606846976.0}};
  for (const auto& [name, scale] : kSuffixes) {
    if (suffix == name) return number * scale;
  }
  return number;
}

}  // namespace

Result<int64_t> ParseCpuMillis(const Json& value, const std::string& field) {
  ASSIGN_OR_RETURN(double cores, ParseQuantity(value, field));
  if (cores < 0) return InvalidArgument(field + ": must not be negative");
  return static_cast<int64_t>(std::ceil(cores * 1000.0 - 1e-9));
}

Result<int64_t> ParseMemoryBytes(const Json& value, const std::string& field) {
  ASSIGN_OR_RETURN(double bytes, ParseQuantity(value, field));
  if (bytes < 0) return InvalidArgument(field + ": must not be negative");
  return static_cast<int64_t>(std::ceil(bytes));
}

}  // namespace skiff
