#include "core/schema.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <map>
#include <optional>

namespace skiff {

struct Schema::Node {
  enum class Type { kAny, kObject, kArray, kString, kInteger, kNumber, kBoolean };
  Type type = Type::kAny;
  Json doc;  // the OpenAPI document of this node
  std::map<std::string, std::shared_ptr<const Node>> properties;
  std::vector<std::string> required;
  std::shared_ptr<const Node> additional;  // map values
  std::shared_ptr<const Node> items;
  std::vector<Json> enum_values;
  std::optional<double> minimum, maximum;
  std::optional<int64_t> min_length, max_length, min_items, max_items, max_properties;
  std::optional<Json> default_value;
  bool nullable = false;
  bool preserve_unknown = false;
  bool int_or_string = false;
};

namespace {

using Node = Schema::Node;

constexpr size_t kMaxErrors = 50;

const char* TypeName(Node::Type t) {
  switch (t) {
    case Node::Type::kAny:
      return "any";
    case Node::Type::kObject:
      return "object";
    case Node::Type::kArray:
      return "array";
    case Node::Type::kString:
      return "string";
    case Node::Type::kInteger:
      return "integer";
    case Node::Type::kNumber:
      return "number";
    case Node::Type::kBoolean:
      return "boolean";
  }
  return "any";
}

std::string JsonTypeName(const Json& v) {
  switch (v.type()) {
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
      return "integer";
    case Json::value_t::number_float:
      return "number";
    default:
      return v.type_name();
  }
}

std::string Join(const std::string& path, const std::string& field) {
  return path.empty() ? field : path + "." + field;
}

std::string Short(const Json& v) {
  // Invalid UTF-8 is replaced rather than thrown on: messages never fail to print.
  std::string s = v.dump(-1, ' ', false, Json::error_handler_t::replace);
  if (s.size() > 64) s = s.substr(0, 61) + "...";
  return s;
}

Result<int64_t> NonNegative(const Json& doc, const char* key, const std::string& where) {
  const Json& v = doc[key];
  if (!v.is_number_integer() || v.get<int64_t>() < 0) {
    return InvalidArgument(where + "." + key + ": must be a non-negative integer");
  }
  return v.get<int64_t>();
}

Result<std::shared_ptr<const Node>> Compile(const Json& doc, const std::string& where, int depth) {
  if (depth > 64) return InvalidArgument(where + ": schema nested too deeply");
  if (!doc.is_object()) return InvalidArgument(where + ": a schema must be an object");
  auto node = std::make_shared<Node>();
  node->doc = doc;
  static const std::map<std::string, Node::Type> kTypes = {
      {"object", Node::Type::kObject}, {"array", Node::Type::kArray},
      {"string", Node::Type::kString}, {"integer", Node::Type::kInteger},
      {"number", Node::Type::kNumber}, {"boolean", Node::Type::kBoolean}};
  static const std::vector<std::string> kKnown = {
      "type", "properties", "required", "additionalProperties", "items", "enum", "minimum",
      "maximum", "minLength", "maxLength", "minItems", "maxItems", "maxProperties", "format",
      "default", "nullable", "description", "x-kubernetes-preserve-unknown-fields",
      "x-kubernetes-int-or-string", "x-kubernetes-embedded-resource",
      // How patches and applies merge a list (core/patch.h,
      // core/managed_fields.h); no meaning for validation.
      "x-kubernetes-patch-strategy", "x-kubernetes-patch-merge-key", "x-kubernetes-list-type",
      "x-kubernetes-list-map-keys"};
  for (auto it = doc.begin(); it != doc.end(); ++it) {
    if (std::find(kKnown.begin(), kKnown.end(), it.key()) == kKnown.end()) {
      return InvalidArgument(where + ": unsupported schema keyword \"" + it.key() + "\"");
    }
  }
  if (doc.contains("type")) {
    auto t = doc["type"].is_string() ? kTypes.find(doc["type"].get<std::string>()) : kTypes.end();
    if (t == kTypes.end())
      return InvalidArgument(where + ".type: unknown type " + Short(doc["type"]));
    node->type = t->second;
  }
  auto flag = [&](const char* key) -> Result<bool> {
    if (!doc.contains(key)) return false;
    if (!doc[key].is_boolean()) return InvalidArgument(where + "." + key + ": must be a boolean");
    return doc[key].get<bool>();
  };
  ASSIGN_OR_RETURN(node->nullable, flag("nullable"));
  ASSIGN_OR_RETURN(node->preserve_unknown, flag("x-kubernetes-preserve-unknown-fields"));
  ASSIGN_OR_RETURN(node->int_or_string, flag("x-kubernetes-int-or-string"));
  if (doc.contains("properties")) {
    if (!doc["properties"].is_object())
      return InvalidArgument(where + ".properties: not an object");
    for (auto it = doc["properties"].begin(); it != doc["properties"].end(); ++it) {
      ASSIGN_OR_RETURN(node->properties[it.key()],
                       Compile(it.value(), where + ".properties." + it.key(), depth + 1));
    }
  }
  if (doc.contains("required")) {
    if (!doc["required"].is_array()) return InvalidArgument(where + ".required: not an array");
    for (const Json& r : doc["required"]) {
      if (!r.is_string() || !node->properties.count(r.get<std::string>())) {
        return InvalidArgument(where + ".required: " + Short(r) + " is not a property");
      }
      node->required.push_back(r.get<std::string>());
    }
  }
  if (doc.contains("additionalProperties") && !doc["additionalProperties"].is_boolean()) {
    ASSIGN_OR_RETURN(node->additional, Compile(doc["additionalProperties"],
                                               where + ".additionalProperties", depth + 1));
  } else if (doc.value("additionalProperties", false)) {
    node->additional = std::make_shared<Node>();
  }
  if (doc.contains("items")) {
    ASSIGN_OR_RETURN(node->items, Compile(doc["items"], where + ".items", depth + 1));
  }
  if (doc.contains("enum")) {
    if (!doc["enum"].is_array()) return InvalidArgument(where + ".enum: not an array");
    node->enum_values.assign(doc["enum"].begin(), doc["enum"].end());
  }
  for (const char* key : {"minimum", "maximum"}) {
    if (!doc.contains(key)) continue;
    if (!doc[key].is_number()) return InvalidArgument(where + "." + key + ": not a number");
    (std::string(key) == "minimum" ? node->minimum : node->maximum) = doc[key].get<double>();
  }
  std::string format = doc.value("format", "");
  if (node->type == Node::Type::kInteger) {
    // Every integer is an int64 at most; int32 narrows the range (a bound given explicitly wins).
    const bool i32 = format == "int32";
    double lo = i32 ? std::numeric_limits<int32_t>::min() : -9223372036854775808.0;
    double hi = i32 ? std::numeric_limits<int32_t>::max() : 9223372036854775807.0;
    if (!node->minimum) node->minimum = lo;
    if (!node->maximum) node->maximum = hi;
  }
  struct Count {
    const char* key;
    std::optional<int64_t>* slot;
  };
  for (Count c : {Count{"minLength", &node->min_length}, Count{"maxLength", &node->max_length},
                  Count{"minItems", &node->min_items}, Count{"maxItems", &node->max_items},
                  Count{"maxProperties", &node->max_properties}}) {
    if (!doc.contains(c.key)) continue;
    ASSIGN_OR_RETURN(*c.slot, NonNegative(doc, c.key, where));
  }
  if (doc.contains("default")) node->default_value = doc["default"];
  return std::shared_ptr<const Node>(std::move(node));
}

class Checker {
 public:
  Checker(bool mutate, SchemaReport* report) : mutate_(mutate), report_(report) {}

  void Walk(const Node& node, Json& value, const std::string& path, int depth) {
    if (depth > kMaxDepth)
      return Error(path, "nested more than " + std::to_string(kMaxDepth) + " levels deep",
                   "FieldValueInvalid");
    if (value.is_null()) {
      if (node.nullable || node.type == Node::Type::kAny) return;
      return Error(path, std::string("expected ") + TypeName(node.type) + ", got null",
                   "FieldValueTypeInvalid");
    }
    if (value.is_number_float() && !std::isfinite(value.get<double>())) {
      return Error(path, "must be a finite number", "FieldValueInvalid");
    }
    if (node.int_or_string) {
      if (!value.is_string() && !value.is_number_integer()) {
        return Error(path, "expected integer or string, got " + JsonTypeName(value),
                     "FieldValueTypeInvalid");
      }
    } else if (!TypeMatches(node.type, value)) {
      return Error(path,
                   std::string("expected ") + TypeName(node.type) + ", got " + JsonTypeName(value),
                   "FieldValueTypeInvalid");
    }
    if (!node.enum_values.empty() && std::find(node.enum_values.begin(), node.enum_values.end(),
                                               value) == node.enum_values.end()) {
      std::string allowed;
      for (const Json& e : node.enum_values) allowed += (allowed.empty() ? "" : ", ") + e.dump();
      return Error(path, "unsupported value " + Short(value) + ": supported values: " + allowed,
                   "FieldValueNotSupported");
    }
    switch (value.type()) {
      case Json::value_t::number_integer:
      case Json::value_t::number_unsigned:
      case Json::value_t::number_float:
        CheckRange(node, value, path);
        break;
      case Json::value_t::string: {
        int64_t n = static_cast<int64_t>(value.get_ref<const std::string&>().size());
        if (node.max_length && n > *node.max_length) {
          Error(path, "may not be longer than " + std::to_string(*node.max_length) + " bytes",
                "FieldValueTooLong");
        }
        if (node.min_length && n < *node.min_length) {
          Error(path, "must be at least " + std::to_string(*node.min_length) + " bytes long",
                "FieldValueInvalid");
        }
        break;
      }
      case Json::value_t::array:
        WalkArray(node, value, path, depth);
        break;
      case Json::value_t::object:
        WalkObject(node, value, path, depth);
        break;
      default:
        break;
    }
  }

 private:
  static bool TypeMatches(Node::Type type, const Json& v) {
    switch (type) {
      case Node::Type::kAny:
        return true;
      case Node::Type::kObject:
        return v.is_object();
      case Node::Type::kArray:
        return v.is_array();
      case Node::Type::kString:
        return v.is_string();
      case Node::Type::kInteger:
        return v.is_number_integer();
      case Node::Type::kNumber:
        return v.is_number();
      case Node::Type::kBoolean:
        return v.is_boolean();
    }
    return false;
  }

  void CheckRange(const Node& node, const Json& value, const std::string& path) {
    // Unsigned values above int64 (nlohmann keeps them exactly) are compared as doubles, which
    // is enough to refuse them against any int64 bound.
    double v = value.get<double>();
    auto show = [](double bound) {
      if (bound == std::floor(bound) && std::fabs(bound) < 1e19) {
        if (bound >= 9223372036854775807.0) return std::string("9223372036854775807");
        return std::to_string(static_cast<int64_t>(bound));
      }
      return std::to_string(bound);
    };
    if (node.minimum && v < *node.minimum) {
      Error(path, Short(value) + " is out of range: must be >= " + show(*node.minimum),
            "FieldValueInvalid");
    } else if (node.maximum && (v > *node.maximum ||
                                (value.is_number_unsigned() && value.get<uint64_t>() > INT64_MAX &&
                                 *node.maximum <= 9223372036854775807.0))) {
      Error(path, Short(value) + " is out of range: must be <= " + show(*node.maximum),
            "FieldValueInvalid");
    }
  }

  void WalkArray(const Node& node, Json& value, const std::string& path, int depth) {
    int64_t n = static_cast<int64_t>(value.size());
    if (node.max_items && n > *node.max_items) {
      return Error(path, "must have at most " + std::to_string(*node.max_items) + " items",
                   "FieldValueTooMany");
    }
    if (node.min_items && n < *node.min_items) {
      Error(path, "must have at least " + std::to_string(*node.min_items) + " items",
            "FieldValueInvalid");
    }
    static const Node kAnything;
    const Node& item = node.items ? *node.items : kAnything;
    for (size_t i = 0; i < value.size() && !Full(); ++i) {
      Walk(item, value[i], path + "[" + std::to_string(i) + "]", depth + 1);
    }
  }

  void WalkObject(const Node& node, Json& value, const std::string& path, int depth) {
    if (node.max_properties && static_cast<int64_t>(value.size()) > *node.max_properties) {
      return Error(path, "must have at most " + std::to_string(*node.max_properties) + " fields",
                   "FieldValueTooMany");
    }
    const bool typed = !node.properties.empty() || node.additional;
    std::vector<std::string> drop;
    for (auto it = value.begin(); it != value.end() && !Full(); ++it) {
      const std::string field = Join(path, it.key());
      auto prop = node.properties.find(it.key());
      const Node* child = prop != node.properties.end() ? prop->second.get()
                          : node.additional             ? node.additional.get()
                                                        : nullptr;
      if (child == nullptr) {
        if (node.preserve_unknown || !typed) {
          CheckDepth(it.value(), field, depth + 1);
          continue;
        }
        report_->unknown.push_back(field);
        drop.push_back(it.key());
        continue;
      }
      if (it.value().is_null() && !child->nullable && child->type != Node::Type::kAny) {
        drop.push_back(it.key());  // null means absent, as in Kubernetes
        continue;
      }
      Walk(*child, it.value(), field, depth + 1);
    }
    if (mutate_) {
      for (const std::string& key : drop) value.erase(key);
    }
    for (const auto& [name, child] : node.properties) {
      if (value.contains(name) && !value[name].is_null()) continue;
      if (child->default_value && mutate_) {
        value[name] = *child->default_value;
      } else if (std::find(node.required.begin(), node.required.end(), name) !=
                 node.required.end()) {
        Error(Join(path, name), "required", "FieldValueRequired");
      }
    }
  }

  // Bounds what a preserved (unchecked) subtree may hold.
  void CheckDepth(const Json& value, const std::string& path, int depth) {
    if (!value.is_structured()) {
      if (value.is_number_float() && !std::isfinite(value.get<double>())) {
        Error(path, "must be a finite number", "FieldValueInvalid");
      }
      return;
    }
    if (depth > kMaxDepth) {
      return Error(path, "nested more than " + std::to_string(kMaxDepth) + " levels deep",
                   "FieldValueInvalid");
    }
    for (const Json& child : value) {
      if (Full()) return;
      CheckDepth(child, path, depth + 1);
    }
  }

  bool Full() const { return report_->errors.size() >= kMaxErrors; }
  void Error(const std::string& path, std::string message, const char* reason) {
    if (Full()) return;
    report_->errors.push_back({path.empty() ? "<root>" : path, std::move(message), reason});
  }

  bool mutate_;
  SchemaReport* report_;
};

}  // namespace

Status SchemaReport::ToStatus(const std::string& what) const {
  if (errors.empty()) return Status::Ok();
  std::string message = what + " is invalid: ";
  std::vector<StatusCause> causes;
  for (size_t i = 0; i < errors.size(); ++i) {
    if (i > 0) message += "; ";
    message += errors[i].field + ": " + errors[i].message;
    causes.push_back({errors[i].field, errors[i].message, errors[i].reason});
  }
  if (errors.size() >= kMaxErrors) message += "; (further errors not shown)";
  return Invalid(std::move(message), std::move(causes));
}

Schema::Schema() : root_(std::make_shared<Node>()) {}

namespace {

// A default must pass its own node's checks, as Kubernetes requires of a CRD's defaults; found by
// fuzzing: {"type": "integer", "minimum": 5, "default": 0} put a value Validate accepted and Check
// refused into every object that left the field out.
Status CheckDefaults(const Node& node, const std::string& where) {
  if (node.default_value) {
    SchemaReport report;
    Json value = *node.default_value;
    Checker(/*mutate=*/false, &report).Walk(node, value, "", 0);
    if (!report.errors.empty()) {
      return InvalidArgument(where + ".default: " + report.errors.front().message);
    }
  }
  for (const auto& [name, child] : node.properties) {
    RETURN_IF_ERROR(CheckDefaults(*child, where + ".properties." + name));
  }
  if (node.items) RETURN_IF_ERROR(CheckDefaults(*node.items, where + ".items"));
  if (node.additional) {
    RETURN_IF_ERROR(CheckDefaults(*node.additional, where + ".additionalProperties"));
  }
  return Status::Ok();
}

}  // namespace

Result<Schema> Schema::FromOpenApi(const Json& doc) {
  ASSIGN_OR_RETURN(auto root, Compile(doc, "schema", 0));
  RETURN_IF_ERROR(CheckDefaults(*root, "schema"));
  return Schema(std::move(root));
}

SchemaReport Schema::Validate(Json& value, const std::string& path) const {
  SchemaReport report;
  Checker(/*mutate=*/true, &report).Walk(*root_, value, path, 0);
  return report;
}

SchemaReport Schema::Check(const Json& value, const std::string& path) const {
  SchemaReport report;
  Json copy = value;  // Walk does not change it without mutate; the copy keeps the API const
  Checker(/*mutate=*/false, &report).Walk(*root_, copy, path, 0);
  return report;
}

const Json& Schema::openapi() const { return root_->doc; }

bool Schema::accepts_anything() const {
  return root_->type == Node::Type::kAny && root_->properties.empty() && !root_->additional;
}

const Json& ObjectMetaOpenApi() {
  static const Json* meta = [] {
    const Json string_map = {{"type", "object"}, {"additionalProperties", {{"type", "string"}}}};
    const Json str = {{"type", "string"}, {"maxLength", 253}};
    auto* m = new Json({
        {"type", "object"},
        {"properties",
         {{"name", str},
          {"generateName", str},
          {"namespace", {{"type", "string"}, {"maxLength", 63}}},
          {"uid", {{"type", "string"}}},
          {"resourceVersion", {{"type", "string"}}},
          {"generation", {{"type", "integer"}, {"format", "int64"}}},
          {"creationTimestamp", {{"type", "string"}}},
          {"deletionTimestamp", {{"type", "string"}}},
          {"labels", string_map},
          {"annotations", string_map},
          {"finalizers", openapi::MergeSet(openapi::String())},
          {"ownerReferences",
           {{"type", "array"},
            {"x-kubernetes-patch-strategy", "merge"},
            {"x-kubernetes-patch-merge-key", "uid"},
            {"items",
             {{"type", "object"},
              {"x-kubernetes-preserve-unknown-fields", true},
              {"properties",
               {{"apiVersion", {{"type", "string"}}},
                {"kind", {{"type", "string"}}},
                {"name", {{"type", "string"}}},
                {"uid", {{"type", "string"}}},
                {"controller", {{"type", "boolean"}}},
                {"blockOwnerDeletion", {{"type", "boolean"}}}}}}}}},
          {"managedFields",
           {{"type", "array"},
            {"items", {{"type", "object"}, {"x-kubernetes-preserve-unknown-fields", true}}}}}}},
    });
    return m;
  }();
  return *meta;
}

Json KindOpenApi(Json fields, const std::vector<std::string>& required) {
  Json properties = {{"apiVersion", {{"type", "string"}}},
                     {"kind", {{"type", "string"}}},
                     {"metadata", ObjectMetaOpenApi()}};
  for (auto it = fields.begin(); it != fields.end(); ++it) properties[it.key()] = it.value();
  Json out = {{"type", "object"}, {"properties", properties}};
  if (!required.empty()) out["required"] = required;
  return out;
}

std::shared_ptr<const Schema> KindSchema(Json fields, const std::vector<std::string>& required) {
  auto schema = Schema::FromOpenApi(KindOpenApi(std::move(fields), required));
  if (!schema.ok()) {
    std::fprintf(stderr, "skiff: a kind's schema does not compile: %s\n",
                 schema.status().ToString().c_str());
    std::abort();
  }
  return std::make_shared<const Schema>(std::move(schema).value());
}

}  // namespace skiff
