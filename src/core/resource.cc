#include "core/resource.h"

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/mark.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace skiff {
namespace {

std::string MetaString(const Json& obj, const char* field) {
  if (!obj.is_object()) return "";
  auto meta = obj.find("metadata");
  if (meta == obj.end() || !meta->is_object()) return "";
  auto it = meta->find(field);
  if (it == meta->end() || !it->is_string()) return "";
  return it->get<std::string>();
}

// A document the readers refuse for what it holds rather than its syntax.
struct DocumentError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A number the document spells out; one a double cannot hold is refused, as JSON's 1e400 is.
double ParseFinite(const std::string& s) {
  errno = 0;
  double d = std::strtod(s.c_str(), nullptr);
  if (errno == ERANGE && std::isinf(d)) throw DocumentError("number out of range: " + s);
  return d;
}

int64_t ParseRadix(const std::string& digits, int base, const std::string& s) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v, base);
  if (ec != std::errc() || end != digits.data() + digits.size()) {
    throw DocumentError("number out of range: " + s);
  }
  return v;
}

// YAML 1.2 core schema resolution for plain (unquoted) scalars.
Json ResolvePlainScalar(const std::string& s) {
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  static const std::regex kInt("[-+]?[0-9]+");
  static const std::regex kOct("0o[0-7]+");
  static const std::regex kHex("0x[0-9a-fA-F]+");
  static const std::regex kFloat("[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?");
  if (std::regex_match(s, kInt)) {
    int64_t v = 0;
    const char* begin = s.data() + (s[0] == '+' ? 1 : 0);
    auto [end, ec] = std::from_chars(begin, s.data() + s.size(), v);
    if (ec == std::errc() && end == s.data() + s.size()) return v;
    return ParseFinite(s);  // out of int64 range
  }
  if (std::regex_match(s, kOct)) return ParseRadix(s.substr(2), 8, s);
  if (std::regex_match(s, kHex)) return ParseRadix(s.substr(2), 16, s);
  if (std::regex_match(s, kFloat)) return ParseFinite(s);
  // JSON has no infinities or NaN (they would be written out as null): refused, as Kubernetes'
  // YAML-to-JSON conversion refuses them.
  static const std::regex kNonFinite("[-+]?\\.(inf|Inf|INF)|\\.(nan|NaN|NAN)");
  if (std::regex_match(s, kNonFinite))
    throw DocumentError("number not representable in JSON: " + s);
  return s;
}

// Builds JSON documents from the YAML parser's events. Used instead of YAML::LoadAll, which
// (yaml-cpp 0.7) loops for ever, growing, on some malformed input such as a flow mapping followed
// by a comma (found by fuzzing): a document whose root is a null at the same place as the
// previous one's ends the stream as malformed. Aliases are copies of what their anchor holds; the
// values they add are counted, so that an alias bomb ("billion laughs") is refused instead of
// filling memory. Plain scalars are resolved as YAML 1.2's core schema does (ResolvePlainScalar);
// quoted ones, and those with an explicit tag, are strings. Map keys must be scalars.
Status CheckYamlText(const std::string& text, const std::string& source, bool allow_controls);

class JsonBuilder : public YAML::EventHandler {
 public:
  explicit JsonBuilder(size_t max_values) : max_values_(max_values) {}

  // The documents read so far; a document that is empty or null is left out.
  std::vector<Json>& documents() { return docs_; }
  // True when the last document's root was a null at the same place as the one before it.
  bool stuck() const { return stuck_; }

  void OnDocumentStart(const YAML::Mark&) override {
    stack_.clear();
    root_ = Json();
    root_set_ = false;
  }
  void OnDocumentEnd() override {
    if (root_set_ && !root_.is_null()) docs_.push_back(std::move(root_));
  }
  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    if (stack_.empty()) {
      stuck_ = last_null_root_ && last_null_root_->pos == mark.pos;
      last_null_root_ = mark;
    }
    Add(nullptr, anchor, 1);
  }
  void OnAlias(const YAML::Mark&, YAML::anchor_t anchor) override {
    auto it = anchors_.find(anchor);
    if (it == anchors_.end()) throw DocumentError("an alias to an unknown anchor");
    Add(it->second.value, YAML::NullAnchor, it->second.size);
  }
  void OnScalar(const YAML::Mark&, const std::string& tag, YAML::anchor_t anchor,
                const std::string& value) override {
    // yaml-cpp turns the escapes \N and \_ into single Latin-1 bytes, which are no UTF-8 (found
    // by fuzzing): refused, as any string that is not UTF-8 once its escapes are read. Plain
    // scalars have no escapes: their text was checked with the document's.
    if (Status utf8 =
            tag == "?" ? Status::Ok() : CheckYamlText(value, "a string", /*allow_controls=*/true);
        !utf8.ok()) {
      throw DocumentError(utf8.message() + "; write \\u0085 or \\u00a0 for \\N or \\_");
    }
    if (ExpectingKey()) {
      stack_.back().key = value;
      stack_.back().has_key = true;
      if (anchor != YAML::NullAnchor) anchors_[anchor] = {value, 1};
      return;
    }
    // Quoted scalars carry the non-specific tag "!" and are always strings.
    Add(tag == "?" ? ResolvePlainScalar(value) : Json(value), anchor, 1);
  }
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    Open(Json::array(), anchor);
  }
  void OnSequenceEnd() override { Close(); }
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    Open(Json::object(), anchor);
  }
  void OnMapEnd() override { Close(); }

 private:
  struct Frame {
    Json value;  // the array or object being filled
    YAML::anchor_t anchor = YAML::NullAnchor;
    size_t values = 1;  // how many values it holds, itself included
    std::string key;    // objects: the key whose value comes next
    bool has_key = false;
  };
  struct Anchored {
    Json value;
    size_t size = 1;
  };

  bool ExpectingKey() const {
    return !stack_.empty() && stack_.back().value.is_object() && !stack_.back().has_key;
  }

  void Count(size_t n) {
    total_ += n;
    if (total_ > max_values_) {
      throw DocumentError("more than " + std::to_string(max_values_) +
                          " values (aliases included)");
    }
  }

  void Open(Json container, YAML::anchor_t anchor) {
    if (ExpectingKey()) throw DocumentError("a mapping key must be a scalar");
    if (static_cast<int>(stack_.size()) + 1 > kMaxDepth) {
      throw DocumentError("nested deeper than " + std::to_string(kMaxDepth) + " levels");
    }
    Count(1);
    stack_.push_back({std::move(container), anchor});
  }

  void Close() {
    Frame done = std::move(stack_.back());
    stack_.pop_back();
    Place(std::move(done.value), done.anchor, done.values);
  }

  void Add(Json value, YAML::anchor_t anchor, size_t size) {
    if (ExpectingKey()) {  // an alias (or a null) as a key: its scalar's text, as YAML has it
      if (value.is_null() || value.is_structured()) {
        throw DocumentError("a mapping key must be a scalar");
      }
      stack_.back().key = value.is_string() ? value.get<std::string>() : value.dump();
      stack_.back().has_key = true;
      return;
    }
    Count(size);
    Place(std::move(value), anchor, size);
  }

  // Puts a finished value where it belongs: the next item, the value of the pending key, or the
  // document's root.
  void Place(Json value, YAML::anchor_t anchor, size_t size) {
    if (anchor != YAML::NullAnchor) anchors_[anchor] = {value, size};
    if (stack_.empty()) {
      root_ = std::move(value);
      root_set_ = true;
      return;
    }
    Frame& parent = stack_.back();
    parent.values += size;
    if (parent.value.is_array()) {
      parent.value.push_back(std::move(value));
    } else {
      parent.value[parent.key] = std::move(value);
      parent.has_key = false;
    }
  }

  const size_t max_values_;
  size_t total_ = 0;
  std::vector<Frame> stack_;
  Json root_;
  bool root_set_ = false;
  std::map<YAML::anchor_t, Anchored> anchors_;
  std::vector<Json> docs_;
  std::optional<YAML::Mark> last_null_root_;
  bool stuck_ = false;
};

// Whether `s` written as a plain scalar reads back as the same string: not when a YAML reader
// would take it for another type (5, true, null, .inf), and not when it holds control characters
// or begins or ends with white space, which plain scalars lose, and not when it begins like a
// document marker (found by fuzzing: "a\r" came back as "a", "..." as no document).
bool PlainReadsBack(const std::string& s) {
  if (s.empty() || s.front() == ' ' || s.back() == ' ') return false;
  if (s.rfind("---", 0) == 0 || s.rfind("...", 0) == 0) return false;  // document markers
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7F) return false;
  }
  try {
    return ResolvePlainScalar(s).is_string();
  } catch (const DocumentError&) {  // .inf, .nan: not JSON numbers, but not strings either
    return false;
  }
}

// Whether `s` holds a character a YAML reader may take for a line break or drop even inside
// quotes: C1 controls (NEL, U+0085, among them), U+2028, U+2029 and U+FEFF. Such strings are
// written with every non-ASCII character escaped (found by fuzzing: "\N", a NEL, came back as a
// line break).
bool HasBreakLikeCharacter(const std::string& s) {
  for (size_t i = 0; i + 1 < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    const auto d = static_cast<unsigned char>(s[i + 1]);
    if (c == 0xC2 && d >= 0x80 && d <= 0x9F) return true;
    if (i + 2 < s.size()) {
      const auto e = static_cast<unsigned char>(s[i + 2]);
      if (c == 0xE2 && d == 0x80 && (e == 0xA8 || e == 0xA9)) return true;
      if (c == 0xEF && d == 0xBB && e == 0xBF) return true;
    }
  }
  return false;
}

// Writes a string (a value or a key) so that it reads back as itself.
void EmitString(YAML::Emitter& out, const std::string& s) {
  if (HasBreakLikeCharacter(s)) {
    out << YAML::EscapeNonAscii << YAML::DoubleQuoted << s << YAML::EmitNonAscii;
  } else if (PlainReadsBack(s)) {
    out << s;
  } else {
    out << YAML::DoubleQuoted << s;
  }
}

void EmitJson(YAML::Emitter& out, const Json& v) {
  switch (v.type()) {
    case Json::value_t::object:
      out << YAML::BeginMap;
      for (auto it = v.begin(); it != v.end(); ++it) {
        out << YAML::Key;
        EmitString(out, it.key());  // found by fuzzing: a key "--- x" began a new document
        out << YAML::Value;
        EmitJson(out, it.value());
      }
      out << YAML::EndMap;
      break;
    case Json::value_t::array:
      out << YAML::BeginSeq;
      for (const auto& item : v) EmitJson(out, item);
      out << YAML::EndSeq;
      break;
    case Json::value_t::string: {
      EmitString(out, v.get_ref<const std::string&>());
      break;
    }
    case Json::value_t::boolean:
      out << (v.get<bool>() ? "true" : "false");
      break;
    case Json::value_t::null:
      out << YAML::Null;
      break;
    default:
      out << v.dump();
      break;
  }
}

}  // namespace

std::string MetaName(const Json& obj) { return MetaString(obj, "name"); }
std::string MetaNamespace(const Json& obj) { return MetaString(obj, "namespace"); }
std::string MetaUid(const Json& obj) { return MetaString(obj, "uid"); }

int64_t MetaResourceVersion(const Json& obj) {
  std::string rv = MetaString(obj, "resourceVersion");
  if (rv.empty()) return 0;
  try {
    return std::stoll(rv);
  } catch (...) {
    return -1;
  }
}

std::map<std::string, std::string> MetaLabels(const Json& obj) {
  std::map<std::string, std::string> labels;
  if (!obj.is_object() || !obj.contains("metadata") || !obj["metadata"].is_object()) return labels;
  auto it = obj["metadata"].find("labels");
  if (it == obj["metadata"].end() || !it->is_object()) return labels;
  for (auto l = it->begin(); l != it->end(); ++l) {
    if (l.value().is_string()) labels[l.key()] = l.value().get<std::string>();
  }
  return labels;
}

PrinterColumn FieldColumn(std::string name, std::string json_path) {
  std::vector<std::string> steps;
  for (size_t start = 1; start <= json_path.size();) {  // after the leading '.'
    size_t dot = json_path.find('.', start);
    if (dot == std::string::npos) dot = json_path.size();
    steps.push_back(json_path.substr(start, dot - start));
    start = dot + 1;
  }
  auto value = [steps](const Json& obj, std::chrono::system_clock::time_point) {
    const Json* v = &obj;
    for (const std::string& step : steps) {
      if (!v->is_object()) return std::string();
      auto it = v->find(step);
      if (it == v->end()) return std::string();
      v = &*it;
    }
    if (v->is_string()) return v->get<std::string>();
    if (v->is_null()) return std::string();
    return v->dump(-1, ' ', false, Json::error_handler_t::replace);
  };
  return {std::move(name), std::move(value), std::move(json_path)};
}

std::string ColumnTitle(const std::string& name) {
  std::string title = name;
  for (size_t i = 1; i < title.size(); ++i) {
    if (title[i - 1] != ' ') title[i] = static_cast<char>(std::tolower(title[i]));
  }
  return title;
}

void SplitApiVersion(const std::string& api_version, std::string* group, std::string* version) {
  auto slash = api_version.find('/');
  if (slash == std::string::npos) {
    group->clear();
    *version = api_version;
  } else {
    *group = api_version.substr(0, slash);
    *version = api_version.substr(slash + 1);
  }
}

namespace {

// YAML is read as UTF-8 text (Kubernetes reads nothing else): invalid UTF-8, and control
// characters YAML does not allow (all below U+0020 except tab, LF and CR, and DEL), are refused
// with where they are. Found by fuzzing: a NUL byte made yaml-cpp read the text as UTF-16 (another
// document than the one sent) or loop for seconds, and invalid UTF-8 reached strings that the
// JSON writer then threw on.
Status CheckYamlText(const std::string& text, const std::string& source, bool allow_controls) {
  const auto bad = [&](size_t at, const char* what) {
    char byte[8];
    std::snprintf(byte, sizeof byte, "0x%02X", static_cast<unsigned char>(text[at]));
    return InvalidArgument(source + ": " + what + " (byte " + byte + " at offset " +
                           std::to_string(at) + ")");
  };
  for (size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      if (!allow_controls && ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7F)) {
        return bad(i, "a control character is not allowed in YAML");
      }
      ++i;
      continue;
    }
    // A multi-byte sequence: its length from the lead byte, the shortest form only, no
    // surrogates, nothing past U+10FFFF.
    size_t len = 0;
    uint32_t cp = 0;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2, cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3, cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4, cp = c & 0x07;
    } else {
      return bad(i, "not UTF-8");
    }
    if (i + len > text.size()) return bad(i, "not UTF-8");
    for (size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(text[i + k]);
      if ((cc & 0xC0) != 0x80) return bad(i, "not UTF-8");
      cp = (cp << 6) | (cc & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
      return bad(i, "not UTF-8");
    }
    i += len;
  }
  return Status::Ok();
}

}  // namespace

Result<std::vector<Json>> ParseYamlDocuments(const std::string& text, const std::string& source) {
  if (Status text_ok = CheckYamlText(text, source, /*allow_controls=*/false); !text_ok.ok()) {
    return text_ok;
  }
  // Every value takes at least two bytes of text, so only aliases can pass this.
  JsonBuilder builder(text.size() / 2 + 1000);
  try {
    std::istringstream stream(text);
    YAML::Parser parser(stream);
    while (parser.HandleNextDocument(builder)) {
      if (builder.stuck()) throw DocumentError("malformed YAML (the parser made no progress)");
    }
  } catch (const YAML::DeepRecursion& e) {  // the parser's own guard, far past kMaxDepth
    return InvalidArgument(source + ": nested deeper than " + std::to_string(kMaxDepth) +
                           " levels at line " + std::to_string(e.mark.line + 1));
  } catch (const YAML::Exception& e) {
    std::ostringstream msg;
    msg << source << ": malformed YAML";
    if (!e.mark.is_null())
      msg << " at line " << e.mark.line + 1 << ", column " << e.mark.column + 1;
    msg << ": " << e.msg;
    return InvalidArgument(msg.str());
  } catch (const DocumentError& e) {
    return InvalidArgument(source + ": " + e.what());
  }
  return std::move(builder.documents());
}

Result<Json> ParseJson(const std::string& text, const std::string& source) {
  // Nesting is counted before parsing: the parser itself is iterative, but copying, printing and
  // walking a parsed document recurse.
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxDepth) {
        return InvalidArgument(source + ": nested deeper than " + std::to_string(kMaxDepth) +
                               " levels at byte " + std::to_string(i));
      }
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  try {
    return Json::parse(text);
  } catch (const Json::exception& e) {
    // parse_error names the byte; out_of_range (406) the number that overflowed.
    return InvalidArgument(source + ": malformed JSON: " + e.what());
  }
}

Result<Json> ParseJsonOrYaml(const std::string& text, const std::string& source) {
  ASSIGN_OR_RETURN(std::vector<Json> docs, ParseYamlDocuments(text, source));
  if (docs.empty()) return InvalidArgument(source + ": empty document");
  if (docs.size() > 1)
    return InvalidArgument(source + ": expected one document, found " +
                           std::to_string(docs.size()));
  return std::move(docs[0]);
}

std::string ToYaml(const Json& value) {
  YAML::Emitter out;
  EmitJson(out, value);
  return std::string(out.c_str()) + "\n";
}

void MergePatch(Json& target, const Json& patch) {
  if (!patch.is_object()) {
    target = patch;
    return;
  }
  if (!target.is_object()) target = Json::object();
  for (auto it = patch.begin(); it != patch.end(); ++it) {
    if (it.value().is_null()) {
      target.erase(it.key());
    } else {
      MergePatch(target[it.key()], it.value());
    }
  }
}

Status ValidateName(const std::string& name, const std::string& field) {
  static const std::regex kName("[a-z0-9]([-a-z0-9.]*[a-z0-9])?");
  if (name.empty()) return InvalidArgument(field + ": required");
  if (name.size() > 253) return InvalidArgument(field + ": longer than 253 characters");
  if (!std::regex_match(name, kName)) {
    return InvalidArgument(field + ": \"" + name +
                           "\" is not a valid name (lowercase letters, digits, '-' and '.', "
                           "starting and ending with a letter or digit)");
  }
  return Status::Ok();
}

// --- LabelSelector ---

namespace {
std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t");
  return s.substr(b, e - b + 1);
}

bool LabelChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.';
}

bool Alnum(char c) { return LabelChar(c) && c != '-' && c != '_' && c != '.'; }

// A label value: empty, or at most 63 of [A-Za-z0-9-_.] starting and ending alphanumeric.
bool ValidLabelValue(const std::string& v) {
  if (v.empty()) return true;
  if (v.size() > 63 || !Alnum(v.front()) || !Alnum(v.back())) return false;
  return std::all_of(v.begin(), v.end(), LabelChar);
}

// A label key: [prefix/]name, a DNS-subdomain prefix of at most 253 and a name as a value but
// not empty.
bool ValidLabelKey(const std::string& k) {
  size_t slash = k.find('/');
  std::string name = slash == std::string::npos ? k : k.substr(slash + 1);
  if (name.empty() || !ValidLabelValue(name)) return false;
  if (slash == std::string::npos) return true;
  std::string prefix = k.substr(0, slash);
  if (prefix.empty() || prefix.size() > 253 || !Alnum(prefix.front()) || !Alnum(prefix.back())) {
    return false;
  }
  return std::all_of(prefix.begin(), prefix.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
  });
}
}  // namespace

Result<LabelSelector> LabelSelector::Parse(const std::string& text) {
  LabelSelector sel;
  // Split on commas outside parentheses.
  std::vector<std::string> parts;
  int depth = 0;
  std::string cur;
  for (char c : text) {
    if (c == '(') depth++;
    if (c == ')') depth--;
    if (depth < 0 || depth > 1) {
      return InvalidArgument("label selector \"" + text + "\": unbalanced parentheses");
    }
    if (c == ',' && depth == 0) {
      parts.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (depth != 0) return InvalidArgument("label selector \"" + text + "\": unbalanced parentheses");
  if (!Trim(cur).empty() || !parts.empty()) parts.push_back(cur);
  static const std::regex kSet("\\s*([^\\s!=]+)\\s+(in|notin)\\s*\\(([^)]*)\\)\\s*");
  for (const std::string& raw : parts) {
    std::string p = Trim(raw);
    if (p.empty()) return InvalidArgument("label selector \"" + text + "\": empty term");
    Term term;
    std::smatch m;
    if (std::regex_match(p, m, kSet)) {
      term.key = m[1];
      term.op = m[2] == "in" ? Term::kIn : Term::kNotIn;
      std::stringstream vs(m[3].str());
      std::string v;
      while (std::getline(vs, v, ',')) term.values.push_back(Trim(v));
    } else if (auto ne = p.find("!="); ne != std::string::npos) {
      term.op = Term::kNotEq;
      term.key = Trim(p.substr(0, ne));
      term.values = {Trim(p.substr(ne + 2))};
    } else if (auto eq = p.find('='); eq != std::string::npos) {
      term.op = Term::kEq;
      term.key = Trim(p.substr(0, eq));
      size_t vstart = (eq + 1 < p.size() && p[eq + 1] == '=') ? eq + 2 : eq + 1;
      term.values = {Trim(p.substr(vstart))};
    } else if (p[0] == '!') {
      term.op = Term::kNotExists;
      term.key = Trim(p.substr(1));
    } else {
      term.op = Term::kExists;
      term.key = p;
    }
    if (!ValidLabelKey(term.key) ||
        !std::all_of(term.values.begin(), term.values.end(), ValidLabelValue)) {
      return InvalidArgument("label selector \"" + text + "\": bad term \"" + p +
                             "\" (keys are [prefix/]name, names and values at most 63 of "
                             "[A-Za-z0-9-_.] starting and ending with a letter or digit)");
    }
    sel.terms_.push_back(std::move(term));
  }
  return sel;
}

bool LabelSelector::Matches(const std::map<std::string, std::string>& labels) const {
  for (const Term& t : terms_) {
    auto it = labels.find(t.key);
    bool has = it != labels.end();
    bool in_values =
        has && std::find(t.values.begin(), t.values.end(), it->second) != t.values.end();
    switch (t.op) {
      case Term::kEq:
      case Term::kIn:
        if (!in_values) return false;
        break;
      case Term::kNotEq:
      case Term::kNotIn:
        if (in_values) return false;
        break;
      case Term::kExists:
        if (!has) return false;
        break;
      case Term::kNotExists:
        if (has) return false;
        break;
    }
  }
  return true;
}

// --- TypeRegistry ---

Status TypeRegistry::TryAdd(ResourceType type) {
  ResourceType* same = nullptr;
  for (ResourceType& t : types_) {
    const bool same_plural = t.StoreType() == type.StoreType();
    const bool same_kind = t.ApiVersion() == type.ApiVersion() && t.kind == type.kind;
    if (same_plural && same_kind) {
      same = &t;
    } else if (same_plural || same_kind) {
      return AlreadyExists("kind " + type.ApiVersion() + " " + type.kind + " (" + type.StoreType() +
                           ") collides with the registered kind " + t.ApiVersion() + " " + t.kind +
                           " (" + t.StoreType() + ")");
    }
  }
  if (same != nullptr) {
    *same = std::move(type);
  } else {
    types_.push_back(std::move(type));
  }
  return Status::Ok();
}

void TypeRegistry::Add(ResourceType type) {
  Status added = TryAdd(std::move(type));
  if (!added.ok()) {
    std::fprintf(stderr, "registering kinds: %s\n", added.message().c_str());
    std::abort();
  }
}

const ResourceType* TypeRegistry::ByKind(const std::string& api_version,
                                         const std::string& kind) const {
  for (const auto& t : types_) {
    if (t.kind == kind && t.ApiVersion() == api_version) return &t;
  }
  return nullptr;
}

const ResourceType* TypeRegistry::ByPlural(const std::string& group,
                                           const std::string& plural) const {
  for (const auto& t : types_) {
    if (t.group == group && t.plural == plural) return &t;
  }
  return nullptr;
}

const ResourceType* TypeRegistry::ByStoreType(const std::string& store_type) const {
  for (const auto& t : types_) {
    if (t.StoreType() == store_type) return &t;
  }
  return nullptr;
}

Result<const ResourceType*> TypeRegistry::Resolve(const std::string& name) const {
  std::string lower = name;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  std::vector<const ResourceType*> matches;
  for (const auto& t : types_) {
    std::string kind_lower = t.kind;
    std::transform(kind_lower.begin(), kind_lower.end(), kind_lower.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    const std::string dot_group = t.group.empty() ? "" : "." + t.group;
    // Qualified names name one type: take it even when an unqualified name would be ambiguous.
    if (!dot_group.empty() && (lower == t.plural + dot_group || lower == kind_lower + dot_group)) {
      return &t;
    }
    bool named = lower == kind_lower || lower == t.plural;
    for (const auto& s : t.short_names) named = named || lower == s;
    if (named) matches.push_back(&t);
  }
  if (matches.empty()) return NotFound("unknown resource type \"" + name + "\"");
  if (matches.size() > 1) {
    std::string candidates;
    for (const ResourceType* t : matches) {
      candidates += (candidates.empty() ? "" : ", ") + t->StoreType();
    }
    return InvalidArgument("resource type \"" + name +
                           "\" is ambiguous: qualify it with its group (" + candidates + ")");
  }
  return matches.front();
}

const ResourceType* TypeRegistry::Lookup(const std::string& name) const {
  Result<const ResourceType*> t = Resolve(name);
  return t.ok() ? *t : nullptr;
}

TypeRegistry& TypeRegistry::Global() {
  static TypeRegistry* registry = new TypeRegistry();
  return *registry;
}

}  // namespace skiff
