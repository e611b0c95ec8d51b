#include "core/quantity.h"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <string>
#include <string_view>

namespace skiff {
namespace {

// The largest value a quantity may have once scaled (bytes, or millicores for CPU): what an
// int64 holds, as Kubernetes' resource.Quantity refuses what does not fit its int64 form.
constexpr double kMaxScaled = 9.2e18;

struct Suffix {
  std::string_view name;
  double scale;
};
constexpr Suffix kSuffixes[] = {{"m", 1e-3},
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

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// The length of Kubernetes' <signedNumber> at the start of `s` ([+-] then digits, digits.digits,
// digits. or .digits), or 0 when there is none.
size_t SignedNumberLength(std::string_view s) {
  size_t i = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  size_t digits = 0;
  while (i < s.size() && IsDigit(s[i])) ++i, ++digits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && IsDigit(s[i])) ++i, ++digits;
  }
  return digits == 0 ? 0 : i;
}

// A quantity's value scaled by its suffix: Kubernetes' grammar, <signedNumber> then one of a
// binary suffix (Ki..Ei), a decimal suffix (m, k, M..E) or an exponent (e or E and a signed
// integer). Never throws; a value past kMaxScaled (after `unit`, the caller's own scale) is
// refused rather than overflowing what it is converted to.
Result<double> ParseQuantity(const Json& value, const std::string& field, double unit) {
  const auto invalid = [&](const std::string& why) { return InvalidArgument(field + ": " + why); };
  double number = 0;
  if (value.is_number()) {
    number = value.get<double>();
  } else if (value.is_string()) {
    std::string_view s = value.get_ref<const std::string&>();
    const auto quoted = [&] {
      std::string shown(s.substr(0, 64));
      return "\"" + shown + (s.size() > 64 ? "...\"" : "\"");
    };
    const std::string not_quantity =
        quoted() + " is not a valid quantity (such as \"500m\", \"2\", \"1.5Gi\" or \"1e3\")";
    size_t n = SignedNumberLength(s);
    if (n == 0) return invalid(not_quantity);
    std::string_view digits = s.substr(s[0] == '+' ? 1 : 0, n - (s[0] == '+' ? 1 : 0));
    std::string_view suffix = s.substr(n);
    int exponent = 0;
    double scale = 1;
    const Suffix* named = nullptr;
    for (const Suffix& known : kSuffixes) {
      if (suffix == known.name) named = &known;
    }
    if (named != nullptr) {
      scale = named->scale;
    } else if (suffix.size() > 1 && (suffix[0] == 'e' || suffix[0] == 'E')) {
      std::string_view e = suffix.substr(1);
      if (SignedNumberLength(e) != e.size() || e.find('.') != std::string_view::npos) {
        return invalid(not_quantity);
      }
      if (e[0] == '+') e.remove_prefix(1);
      auto [end, ec] = std::from_chars(e.data(), e.data() + e.size(), exponent);
      if (ec != std::errc() || end != e.data() + e.size() || exponent > 400 || exponent < -400) {
        return invalid(quoted() + " has an exponent out of range");
      }
    } else if (!suffix.empty()) {
      return invalid(not_quantity);
    }
    // Mantissa and exponent are read together, so that "1.1e1" is exactly what 11 is. The text
    // is only digits, a point and an exponent by now; past a double's range strtod gives
    // HUGE_VAL (refused below) or a value next to 0 (harmless).
    std::string text(digits);
    if (exponent != 0) text += "e" + std::to_string(exponent);
    number = std::strtod(text.c_str(), nullptr) * scale;
  } else {
    return invalid("must be a quantity string such as \"500m\" or \"1Gi\"");
  }
  if (std::isnan(number)) return invalid("is not a number");
  if (number < 0) return invalid("must not be negative");
  if (!(number * unit <= kMaxScaled)) return invalid("is too large");
  return number;
}

}  // namespace

Result<int64_t> ParseCpuMillis(const Json& value, const std::string& field) {
  ASSIGN_OR_RETURN(double cores, ParseQuantity(value, field, 1000.0));
  return static_cast<int64_t>(std::ceil(cores * 1000.0 - 1e-9));
}

Result<int64_t> ParseMemoryBytes(const Json& value, const std::string& field) {
  ASSIGN_OR_RETURN(double bytes, ParseQuantity(value, field, 1.0));
  return static_cast<int64_t>(std::ceil(bytes));
}

}  // namespace skiff
