#include "core/field_selector.h"

#include <algorithm>

#include "core/text.h"

namespace skiff {
namespace {

// Splits at unescaped commas, keeping escapes (the value's unescaping comes later).
std::vector<std::string> SplitTerms(const std::string& text) {
  std::vector<std::string> terms;
  std::string current;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 1 < text.size()) {
      current += text[i];
      current += text[++i];
    } else if (text[i] == ',') {
      terms.push_back(current);
      current.clear();
    } else {
      current += text[i];
    }
  }
  terms.push_back(current);
  return terms;
}

std::vector<std::string> SplitPath(const std::string& field) {
  std::vector<std::string> path;
  size_t start = 0;
  while (true) {
    const size_t dot = field.find('.', start);
    path.push_back(field.substr(start, dot - start));
    if (dot == std::string::npos) return path;
    start = dot + 1;
  }
}

// The value at `path` as text: "" when absent or null, a string as it is, anything else as JSON.
std::string ValueAt(const Json& obj, const std::vector<std::string>& path) {
  const Json* at = &obj;
  for (const std::string& step : path) {
    if (!at->is_object()) return "";
    auto it = at->find(step);
    if (it == at->end()) return "";
    at = &*it;
  }
  if (at->is_null()) return "";
  if (at->is_string()) return at->get<std::string>();
  return at->dump();
}

}  // namespace

Result<FieldSelector> FieldSelector::Parse(const std::string& text,
                                           const std::vector<std::string>& fields) {
  FieldSelector selector;
  if (text.empty()) return selector;
  for (const std::string& raw : SplitTerms(text)) {
    // The operator: the first unescaped "!=", "==" or "=".
    size_t op = std::string::npos;
    size_t op_len = 0;
    bool equal = true;
    for (size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '\\') {
        ++i;
        continue;
      }
      if (raw[i] == '!' && i + 1 < raw.size() && raw[i + 1] == '=') {
        op = i, op_len = 2, equal = false;
        break;
      }
      if (raw[i] == '=') {
        op = i, op_len = (i + 1 < raw.size() && raw[i + 1] == '=') ? 2 : 1;
        break;
      }
    }
    if (op == std::string::npos) {
      return InvalidArgument("fieldSelector: " + Quote(raw) +
                             " is not field=value, field==value or field!=value");
    }
    const std::string field = raw.substr(0, op);
    if (field != "metadata.name" && field != "metadata.namespace" &&
        std::find(fields.begin(), fields.end(), field) == fields.end()) {
      return InvalidArgument("fieldSelector: field label not supported: " + field);
    }
    std::string value;
    const std::string escaped = raw.substr(op + op_len);
    for (size_t i = 0; i < escaped.size(); ++i) {
      if (escaped[i] == '\\') {
        if (i + 1 == escaped.size()) {
          return InvalidArgument("fieldSelector: " + Quote(raw) + " ends in an escape");
        }
        ++i;
      } else if (escaped[i] == '=' || escaped[i] == '!') {
        return InvalidArgument("fieldSelector: " + Quote(raw) + ": an '" + escaped[i] +
                               "' in a value must be escaped ('\\" + escaped[i] + "')");
      }
      value += escaped[i];
    }
    selector.terms_.push_back({SplitPath(field), equal, std::move(value)});
  }
  return selector;
}

bool FieldSelector::Matches(const Json& obj) const {
  return std::all_of(terms_.begin(), terms_.end(), [&obj](const Term& t) {
    return (ValueAt(obj, t.path) == t.value) == t.equal;
  });
}

}  // namespace skiff
