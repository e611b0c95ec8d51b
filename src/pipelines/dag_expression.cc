#include "pipelines/dag_expression.h"

#include <cctype>
#include <cmath>
#include <vector>

#include "core/resource.h"

namespace skiff::pipelines {
namespace {

struct Token {
  enum Kind { kEnd, kIdent, kInt, kDouble, kString, kOp } kind = kEnd;
  std::string text;
  size_t pos = 0;
};

Result<std::vector<Token>> Tokenize(const std::string& s) {
  std::vector<Token> out;
  size_t i = 0;
  while (i < s.size()) {
    char c = s[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
      continue;
    }
    Token t;
    t.pos = i;
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      size_t j = i;
      while (j < s.size() && (std::isalnum(static_cast<unsigned char>(s[j])) || s[j] == '_')) ++j;
      t.kind = Token::kIdent;
      t.text = s.substr(i, j - i);
      i = j;
    } else if (std::isdigit(static_cast<unsigned char>(c))) {
      size_t j = i;
      bool dbl = false;
      while (j < s.size() && (std::isdigit(static_cast<unsigned char>(s[j])) || s[j] == '.' ||
                              s[j] == 'e' || s[j] == 'E')) {
        if (!std::isdigit(static_cast<unsigned char>(s[j]))) dbl = true;
        ++j;
      }
      t.kind = dbl ? Token::kDouble : Token::kInt;
      t.text = s.substr(i, j - i);
      i = j;
    } else if (c == '\'' || c == '"') {
      size_t j = i + 1;
      std::string text;
      while (j < s.size() && s[j] != c) {
        if (s[j] == '\\' && j + 1 < s.size()) {
          char e = s[j + 1];
          text += e == 'n' ? '\n' : e == 't' ? '\t' : e;
          j += 2;
        } else {
          text += s[j++];
        }
      }
      if (j >= s.size()) {
        return InvalidArgument("unterminated string at offset " + std::to_string(i));
      }
      t.kind = Token::kString;
      t.text = text;
      i = j + 1;
    } else {
      static const char* kOps[] = {"==", "!=", "<=", ">=", "&&", "||", "<", ">",
                                   "!",  "(",  ")",  "[",  "]",  ".",  ",", "-"};
      bool found = false;
      for (const char* op : kOps) {
        size_t n = std::char_traits<char>::length(op);
        if (s.compare(i, n, op) == 0) {
          t.kind = Token::kOp;
          t.text = op;
          i += n;
          found = true;
          break;
        }
      }
      if (!found) {
        return InvalidArgument("unexpected character '" + std::string(1, c) + "' at offset " +
                               std::to_string(i));
      }
    }
    out.push_back(std::move(t));
  }
  Token end;
  end.pos = s.size();
  out.push_back(end);
  return out;
}

std::string TypeName(const Json& v) {
  switch (v.type()) {
    case Json::value_t::null:
      return "null";
    case Json::value_t::boolean:
      return "bool";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
      return "int";
    case Json::value_t::number_float:
      return "double";
    case Json::value_t::string:
      return "string";
    case Json::value_t::array:
      return "list";
    default:
      return "map";
  }
}

class Parser {
 public:
  Parser(std::vector<Token> tokens, const Json& env) : tokens_(std::move(tokens)), env_(env) {}

  Result<Json> Run() {
    ASSIGN_OR_RETURN(Json v, Or());
    if (Peek().kind != Token::kEnd) return Error("unexpected '" + Peek().text + "'");
    return v;
  }

 private:
  const Token& Peek() const { return tokens_[pos_]; }
  bool Accept(const std::string& op) {
    if (Peek().kind == Token::kOp && Peek().text == op) {
      ++pos_;
      return true;
    }
    return false;
  }
  Status Expect(const std::string& op) {
    if (!Accept(op)) return Error("expected '" + op + "'");
    return Status::Ok();
  }
  Status Error(const std::string& what) const {
    return InvalidArgument(what + " at offset " + std::to_string(Peek().pos));
  }

  Result<bool> AsBool(const Json& v, const char* op) const {
    if (!v.is_boolean()) return Error(std::string("operand of ") + op + " is " + TypeName(v));
    return v.get<bool>();
  }

  // Both sides are evaluated (no short-circuit errors are hidden: the compiler only emits
  // well-typed expressions, and evaluation has no side effects).
  Result<Json> Or() {
    ASSIGN_OR_RETURN(Json left, And());
    while (Accept("||")) {
      ASSIGN_OR_RETURN(Json right, And());
      ASSIGN_OR_RETURN(bool a, AsBool(left, "||"));
      ASSIGN_OR_RETURN(bool b, AsBool(right, "||"));
      left = a || b;
    }
    return left;
  }

  Result<Json> And() {
    ASSIGN_OR_RETURN(Json left, Relation());
    while (Accept("&&")) {
      ASSIGN_OR_RETURN(Json right, Relation());
      ASSIGN_OR_RETURN(bool a, AsBool(left, "&&"));
      ASSIGN_OR_RETURN(bool b, AsBool(right, "&&"));
      left = a && b;
    }
    return left;
  }

  static bool Equal(const Json& a, const Json& b) {
    if (a.is_number() && b.is_number()) return a.get<double>() == b.get<double>();
    return a == b;
  }

  Result<Json> Relation() {
    ASSIGN_OR_RETURN(Json left, Unary());
    while (true) {
      std::string op;
      if (Peek().kind == Token::kOp &&
          (Peek().text == "==" || Peek().text == "!=" || Peek().text == "<" ||
           Peek().text == "<=" || Peek().text == ">" || Peek().text == ">=")) {
        op = Peek().text;
      } else if (Peek().kind == Token::kIdent && Peek().text == "in") {
        op = "in";
      } else {
        return left;
      }
      ++pos_;
      ASSIGN_OR_RETURN(Json right, Unary());
      if (op == "==") {
        left = Equal(left, right);
      } else if (op == "!=") {
        left = !Equal(left, right);
      } else if (op == "in") {
        if (right.is_array()) {
          bool found = false;
          for (const Json& e : right) found = found || Equal(e, left);
          left = found;
        } else if (right.is_object() && left.is_string()) {
          left = right.contains(left.get<std::string>());
        } else {
          return Error("'in' needs a list or map, got " + TypeName(right));
        }
      } else {
        int cmp = 0;
        if (left.is_number() && right.is_number()) {
          double a = left.get<double>(), b = right.get<double>();
          cmp = a < b ? -1 : a > b ? 1 : 0;
        } else if (left.is_string() && right.is_string()) {
          cmp = left.get<std::string>().compare(right.get<std::string>());
        } else if (left.is_boolean() && right.is_boolean()) {
          cmp = static_cast<int>(left.get<bool>()) - static_cast<int>(right.get<bool>());
        } else {
          return Error("cannot compare " + TypeName(left) + " " + op + " " + TypeName(right));
        }
        left = op == "<" ? cmp < 0 : op == "<=" ? cmp <= 0 : op == ">" ? cmp > 0 : cmp >= 0;
      }
    }
  }

  Result<Json> Unary() {
    if (Accept("!")) {
      ASSIGN_OR_RETURN(Json v, Unary());
      ASSIGN_OR_RETURN(bool b, AsBool(v, "!"));
      return Json(!b);
    }
    if (Accept("-")) {
      ASSIGN_OR_RETURN(Json v, Unary());
      if (v.is_number_integer()) return Json(-v.get<int64_t>());
      if (v.is_number()) return Json(-v.get<double>());
      return Error("cannot negate " + TypeName(v));
    }
    return Postfix();
  }

  Result<Json> Postfix() {
    ASSIGN_OR_RETURN(Json v, Primary());
    while (true) {
      if (Accept("[")) {
        ASSIGN_OR_RETURN(Json index, Or());
        RETURN_IF_ERROR(Expect("]"));
        ASSIGN_OR_RETURN(v, Index(v, index));
      } else if (Accept(".")) {
        if (Peek().kind != Token::kIdent) return Error("expected a field name");
        std::string field = tokens_[pos_++].text;
        ASSIGN_OR_RETURN(v, Index(v, Json(field)));
      } else {
        return v;
      }
    }
  }

  Result<Json> Index(const Json& v, const Json& index) {
    if (v.is_object() && index.is_string()) {
      auto it = v.find(index.get<std::string>());
      if (it == v.end()) return Error("no such key '" + index.get<std::string>() + "'");
      return *it;
    }
    if (v.is_array() && index.is_number_integer()) {
      int64_t i = index.get<int64_t>();
      if (i < 0 || i >= static_cast<int64_t>(v.size())) {
        return Error("index " + std::to_string(i) + " out of range");
      }
      return v[static_cast<size_t>(i)];
    }
    return Error("cannot index " + TypeName(v) + " with " + TypeName(index));
  }

  Result<Json> Call(const std::string& fn, const Json& arg) {
    if (fn == "int") {
      if (arg.is_number_integer()) return arg;
      if (arg.is_number_float()) return Json(static_cast<int64_t>(std::trunc(arg.get<double>())));
      if (arg.is_boolean()) return Json(arg.get<bool>() ? 1 : 0);
      if (arg.is_string()) {
        const std::string& s = arg.get_ref<const std::string&>();
        try {
          size_t used = 0;
          int64_t n = std::stoll(s, &used);
          if (used == s.size()) return Json(n);
        } catch (const std::exception&) {
        }
        return Error("int('" + s + "'): not an integer");
      }
    } else if (fn == "double") {
      if (arg.is_number()) return Json(arg.get<double>());
      if (arg.is_string()) {
        const std::string& s = arg.get_ref<const std::string&>();
        try {
          size_t used = 0;
          double d = std::stod(s, &used);
          if (used == s.size()) return Json(d);
        } catch (const std::exception&) {
        }
        return Error("double('" + s + "'): not a number");
      }
    } else if (fn == "string") {
      return Json(ParameterValueText(arg));
    } else if (fn == "bool") {
      if (arg.is_boolean()) return arg;
      if (arg.is_string()) {
        if (arg == "true" || arg == "True") return Json(true);
        if (arg == "false" || arg == "False") return Json(false);
      }
    } else if (fn == "size") {
      if (arg.is_string())
        return Json(static_cast<int64_t>(arg.get_ref<const std::string&>().size()));
      if (arg.is_array() || arg.is_object()) return Json(static_cast<int64_t>(arg.size()));
    } else if (fn == "parseJson") {
      if (arg.is_string()) {
        auto parsed = ParseJson(arg.get<std::string>(), "parseJson");
        if (!parsed.ok()) return Error(parsed.status().message());
        return std::move(parsed).value();
      }
    } else {
      return Error("unknown function '" + fn + "'");
    }
    return Error(fn + "() does not take " + TypeName(arg));
  }

  Result<Json> Primary() {
    const Token t = Peek();
    switch (t.kind) {
      case Token::kInt:
        ++pos_;
        try {
          return Json(std::stoll(t.text));
        } catch (const std::exception&) {
          return Error("bad integer '" + t.text + "'");
        }
      case Token::kDouble:
        ++pos_;
        try {
          return Json(std::stod(t.text));
        } catch (const std::exception&) {
          return Error("bad number '" + t.text + "'");
        }
      case Token::kString:
        ++pos_;
        return Json(t.text);
      case Token::kIdent: {
        ++pos_;
        if (t.text == "true") return Json(true);
        if (t.text == "false") return Json(false);
        if (t.text == "null") return Json(nullptr);
        if (Accept("(")) {
          ASSIGN_OR_RETURN(Json arg, Or());
          RETURN_IF_ERROR(Expect(")"));
          return Call(t.text, arg);
        }
        if (!env_.contains(t.text)) return Error("unknown name '" + t.text + "'");
        return env_[t.text];
      }
      case Token::kOp:
        if (Accept("(")) {
          ASSIGN_OR_RETURN(Json v, Or());
          RETURN_IF_ERROR(Expect(")"));
          return v;
        }
        if (Accept("[")) {
          Json list = Json::array();
          if (!Accept("]")) {
            do {
              ASSIGN_OR_RETURN(Json e, Or());
              list.push_back(std::move(e));
            } while (Accept(","));
            RETURN_IF_ERROR(Expect("]"));
          }
          return list;
        }
        return Error("unexpected '" + t.text + "'");
      case Token::kEnd:
        return Error("unexpected end of expression");
    }
    return Error("unexpected token");
  }

  std::vector<Token> tokens_;
  size_t pos_ = 0;
  const Json& env_;
};

Result<Json> Evaluate(const std::string& expression, const Json& env) {
  ASSIGN_OR_RETURN(std::vector<Token> tokens, Tokenize(expression));
  Parser parser(std::move(tokens), env);
  Result<Json> r = parser.Run();
  if (!r.ok()) return r.status().WithContext("expression \"" + expression + "\"");
  return r;
}

}  // namespace

std::string ParameterValueText(const Json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_number_float()) {
    double d = value.get<double>();
    if (std::isfinite(d) && d == std::trunc(d) && std::fabs(d) < 1e15) {
      return std::to_string(static_cast<int64_t>(d));
    }
  }
  return value.dump();
}

Result<bool> EvaluateCondition(const std::string& expression,
                               const std::map<std::string, Json>& parameter_values) {
  Json values = Json::object();
  Json legacy = Json::object();
  for (const auto& [name, value] : parameter_values) {
    values[name] = value;
    legacy[name] = {{"string_value", ParameterValueText(value)}};
  }
  Json env = {{"inputs", {{"parameter_values", values}, {"parameters", legacy}}}};
  ASSIGN_OR_RETURN(Json v, Evaluate(expression, env));
  if (!v.is_boolean()) {
    return InvalidArgument("condition \"" + expression + "\" yields " + TypeName(v) + ", not bool");
  }
  return v.get<bool>();
}

Result<Json> EvaluateSelector(const std::string& expression, const Json& value) {
  Json env = {{"string_value", ParameterValueText(value)}};
  return Evaluate(expression, env);
}

}  // namespace skiff::pipelines
