#include "core/managed_fields.h"

#include <algorithm>
#include <optional>
#include <set>
#include <unordered_map>

#include "core/text.h"

namespace skiff {

namespace {

const Json& EmptySchema() {
  static const Json* empty = new Json(Json::object());
  return *empty;
}

// JSON text of a value, any invalid UTF-8 in its strings replaced (YAML and protobuf bodies may
// carry some).
std::string Text(const Json& value) {
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

// The schema of an object's field `key`: its property's, else the map's value schema.
const Json& PropertySchema(const Json& schema, const std::string& key) {
  if (!schema.is_object()) return EmptySchema();
  if (auto p = schema.find("properties"); p != schema.end() && p->is_object()) {
    if (auto q = p->find(key); q != p->end() && q->is_object()) return *q;
  }
  if (auto a = schema.find("additionalProperties"); a != schema.end() && a->is_object()) return *a;
  return EmptySchema();
}

const Json& ItemSchema(const Json& schema) {
  if (!schema.is_object()) return EmptySchema();
  auto items = schema.find("items");
  return items != schema.end() && items->is_object() ? *items : EmptySchema();
}

// A map (labels, annotations): a node of its own as well as the keys in it.
bool IsMapSchema(const Json& schema) {
  return schema.is_object() && schema.contains("additionalProperties") &&
         !schema.contains("properties");
}

struct ListShape {
  enum class Kind { kAtomic, kMap, kSet } kind = Kind::kAtomic;
  std::vector<std::string> keys;  // kMap: the fields naming an element
};

ListShape ShapeOf(const Json& schema) {
  ListShape shape;
  const std::string type = TextAt(schema, {"x-kubernetes-list-type"});
  if (type == "map") {
    for (const Json& key : At(schema, {"x-kubernetes-list-map-keys"})) {
      if (key.is_string()) shape.keys.push_back(key.get<std::string>());
    }
    if (!shape.keys.empty()) shape.kind = ListShape::Kind::kMap;
  } else if (type == "set") {
    shape.kind = ListShape::Kind::kSet;
  } else if (type.empty() &&
             TextAt(schema, {"x-kubernetes-patch-strategy"}).find("merge") != std::string::npos) {
    // Kubernetes' own kinds say it with their strategic merge patch strategy.
    const std::string key = TextAt(schema, {"x-kubernetes-patch-merge-key"});
    shape.kind = key.empty() ? ListShape::Kind::kSet : ListShape::Kind::kMap;
    if (!key.empty()) shape.keys = {key};
  }
  return shape;
}

// "k:{\"name\":\"main\"}": an element of a keyed list by the key fields it has; "" when it has
// none, or one is not a plain value.
std::string KeyName(const Json& element, const std::vector<std::string>& keys) {
  if (!element.is_object()) return "";
  Json named = Json::object();
  for (const std::string& key : keys) {
    auto it = element.find(key);
    if (it == element.end()) continue;
    if (it->is_structured()) return "";
    named[key] = *it;
  }
  return named.empty() ? "" : "k:" + Text(named);
}

// The elements of a list read as keyed or as a set: each one's name, and where each name is (a
// hash lookup: lists are as long as a request body allows).
struct Elements {
  std::vector<std::string> names;
  std::unordered_map<std::string, size_t> index;

  std::optional<size_t> Find(const std::string& name) const {
    auto it = index.find(name);
    return it == index.end() ? std::nullopt : std::optional<size_t>(it->second);
  }
};

// The elements of `list` read as `shape`; none when the list is one value (atomic, or an element
// without a key, or two elements with the same one).
std::optional<Elements> ElementNames(const Json& list, const ListShape& shape) {
  if (shape.kind == ListShape::Kind::kAtomic || !list.is_array()) return std::nullopt;
  Elements elements;
  for (const Json& element : list) {
    std::string name =
        shape.kind == ListShape::Kind::kMap ? KeyName(element, shape.keys) : "v:" + Text(element);
    if (name.empty() || !elements.index.emplace(name, elements.names.size()).second) {
      return std::nullopt;
    }
    elements.names.push_back(std::move(name));
  }
  return elements;
}

// What field sets leave out: apiVersion, kind, the metadata the server sets and, outside the
// status subresource, status (inside it, everything but status).
Json Tracked(const Json& object, const std::string& subresource) {
  Json out = Json::object();
  if (!object.is_object()) return out;
  if (subresource == "status") {
    if (auto status = object.find("status"); status != object.end()) out["status"] = *status;
    return out;
  }
  static const std::set<std::string> kServerMetadata = {"name",
                                                        "namespace",
                                                        "uid",
                                                        "resourceVersion",
                                                        "generation",
                                                        "selfLink",
                                                        "managedFields",
                                                        "creationTimestamp",
                                                        "deletionTimestamp",
                                                        "deletionGracePeriodSeconds"};
  for (auto it = object.begin(); it != object.end(); ++it) {
    const std::string& key = it.key();
    if (key == "apiVersion" || key == "kind" || key == "status") continue;
    if (key != "metadata" || !it->is_object()) {
      out[key] = *it;
      continue;
    }
    Json meta = Json::object();
    for (auto m = it->begin(); m != it->end(); ++m) {
      if (!kServerMetadata.contains(m.key())) meta[m.key()] = *m;
    }
    if (!meta.empty()) out["metadata"] = std::move(meta);
  }
  return out;
}

// An apply configuration's nulls are fields it leaves unset.
void DropNulls(Json& value) {
  if (value.is_object()) {
    for (auto it = value.begin(); it != value.end();) {
      if (it->is_null()) {
        it = value.erase(it);
      } else {
        DropNulls(*it);
        ++it;
      }
    }
  } else if (value.is_array()) {
    for (Json& element : value) DropNulls(element);
  }
}

// `config` merged into `live` as apply merges: objects field by field, keyed lists element by
// element, sets by value, anything else replaced.
Json MergeApplied(const Json& live, const Json& config, const Json& schema) {
  if (live.is_object() && config.is_object()) {
    Json out = live;
    for (auto it = config.begin(); it != config.end(); ++it) {
      auto existing = out.find(it.key());
      out[it.key()] = existing == out.end()
                          ? *it
                          : MergeApplied(*existing, *it, PropertySchema(schema, it.key()));
    }
    return out;
  }
  if (live.is_array() && config.is_array()) {
    const ListShape shape = ShapeOf(schema);
    auto live_names = ElementNames(live, shape);
    auto config_names = ElementNames(config, shape);
    if (!live_names || !config_names) return config;
    Json out = live;
    for (size_t i = 0; i < config.size(); ++i) {
      if (auto j = live_names->Find(config_names->names[i])) {
        out[*j] = shape.kind == ListShape::Kind::kMap
                      ? MergeApplied(live[*j], config[i], ItemSchema(schema))
                      : config[i];
      } else {
        out.push_back(config[i]);
      }
    }
    return out;
  }
  return config;
}

struct Entry {
  std::string manager;
  std::string operation;  // "Apply" or "Update"
  std::string api_version;
  std::string subresource;
  std::string time;
  FieldSet fields;

  bool Is(const std::string& m, const std::string& op, const std::string& sub) const {
    return manager == m && operation == op && subresource == sub;
  }
};

std::vector<Entry> ReadEntries(const Json& object) {
  std::vector<Entry> entries;
  for (const Json& e : At(object, {"metadata", "managedFields"})) {
    if (!e.is_object()) continue;
    entries.push_back({TextAt(e, {"manager"}), TextAt(e, {"operation"}), TextAt(e, {"apiVersion"}),
                       TextAt(e, {"subresource"}), TextAt(e, {"time"}),
                       FieldSet::FromFieldsV1(At(e, {"fieldsV1"}))});
  }
  return entries;
}

void WriteEntries(const std::vector<Entry>& entries, Json& object) {
  Json out = Json::array();
  for (const Entry& e : entries) {
    if (e.fields.empty()) continue;
    Json entry = {{"manager", e.manager},        {"operation", e.operation},
                  {"apiVersion", e.api_version}, {"time", e.time},
                  {"fieldsType", "FieldsV1"},    {"fieldsV1", e.fields.ToFieldsV1()}};
    if (!e.subresource.empty()) entry["subresource"] = e.subresource;
    out.push_back(std::move(entry));
  }
  if (!object["metadata"].is_object()) object["metadata"] = Json::object();
  if (out.empty()) {
    object["metadata"].erase("managedFields");
  } else {
    object["metadata"]["managedFields"] = std::move(out);
  }
}

// Sets `entry`'s fields, and its time when they change (an apply that changes nothing leaves the
// object as it was).
void SetFields(Entry& entry, FieldSet fields, const std::string& time) {
  if (entry.time.empty() || !(entry.fields == fields)) entry.time = time;
  entry.fields = std::move(fields);
}

std::string Describe(const Entry& e) {
  std::string text = "conflict with " + Quote(e.manager);
  if (e.operation == "Update") text += " using " + e.api_version;
  return text;
}

}  // namespace

// The walks over a set and an object together.
struct FieldSetAccess {
  static FieldSet Of(const Json& value, const Json& schema) {
    FieldSet s;
    if (value.is_object() && !value.empty()) {
      s.member_ = IsMapSchema(schema);
      for (auto it = value.begin(); it != value.end(); ++it) {
        s.children_["f:" + it.key()] = Of(*it, PropertySchema(schema, it.key()));
      }
      return s;
    }
    const ListShape shape = ShapeOf(schema);
    auto names = ElementNames(value, shape);
    s.member_ = true;
    if (!names || value.empty()) return s;
    s.member_ = false;
    for (size_t i = 0; i < value.size(); ++i) {
      FieldSet element =
          shape.kind == ListShape::Kind::kMap ? Of(value[i], ItemSchema(schema)) : FieldSet();
      element.member_ = true;
      s.children_[names->names[i]] = std::move(element);
    }
    return s;
  }

  static FieldSet Changed(const Json* before, const Json* after, const Json& schema) {
    if (before == nullptr && after == nullptr) return {};
    if (before == nullptr) return Of(*after, schema);
    if (after == nullptr) return Of(*before, schema);
    if (*before == *after) return {};
    FieldSet s;
    if (before->is_object() && after->is_object() && !before->empty() && !after->empty()) {
      auto child = [&](const std::string& key) {
        auto b = before->find(key);
        auto a = after->find(key);
        FieldSet c = Changed(b == before->end() ? nullptr : &*b, a == after->end() ? nullptr : &*a,
                             PropertySchema(schema, key));
        if (!c.empty()) s.children_["f:" + key] = std::move(c);
      };
      for (auto it = before->begin(); it != before->end(); ++it) child(it.key());
      for (auto it = after->begin(); it != after->end(); ++it) {
        if (!before->contains(it.key())) child(it.key());
      }
      return s;
    }
    const ListShape shape = ShapeOf(schema);
    auto before_names = ElementNames(*before, shape);
    auto after_names = ElementNames(*after, shape);
    if (before_names && after_names && !before->empty() && !after->empty()) {
      const Json& items = ItemSchema(schema);
      auto element = [&](const std::string& name) {
        auto b = before_names->Find(name);
        auto a = after_names->Find(name);
        FieldSet c;
        if (a && b) {
          if (shape.kind == ListShape::Kind::kMap)
            c = Changed(&(*before)[*b], &(*after)[*a], items);
        } else {
          c = Of(a ? (*after)[*a] : (*before)[*b],
                 shape.kind == ListShape::Kind::kMap ? items : EmptySchema());
          c.member_ = true;
          if (shape.kind == ListShape::Kind::kSet) c.children_.clear();
        }
        if (!c.empty()) s.children_[name] = std::move(c);
      };
      for (const std::string& name : before_names->names) element(name);
      for (const std::string& name : after_names->names) {
        if (!before_names->Find(name)) element(name);
      }
      return s;
    }
    // A value replaced whole, or changed shape: every path of both.
    return Of(*before, schema).Union(Of(*after, schema));
  }

  // Removes from `value` each member of `remove` that `others` has nothing of.
  static void Prune(Json& value, const FieldSet& remove, const FieldSet* others,
                    const Json& schema) {
    // A list's elements are found by name once, and the ones to go erased last, from the end.
    const std::optional<Elements> elements = ElementNames(value, ShapeOf(schema));
    std::vector<size_t> erased;
    for (const auto& [name, child] : remove.children_) {
      const FieldSet* other = nullptr;
      if (others != nullptr) {
        auto it = others->children_.find(name);
        if (it != others->children_.end()) other = &it->second;
      }
      if (name.starts_with("f:") && value.is_object()) {
        const std::string key = name.substr(2);
        auto it = value.find(key);
        if (it == value.end()) continue;
        if (child.member_ && other == nullptr) {
          value.erase(it);
        } else {
          Prune(*it, child, other, PropertySchema(schema, key));
        }
      } else if (elements) {
        auto index = elements->Find(name);
        if (!index) continue;
        if (child.member_ && other == nullptr) {
          erased.push_back(*index);
        } else {
          Prune(value[*index], child, other, ItemSchema(schema));
        }
      }
    }
    std::sort(erased.rbegin(), erased.rend());
    for (size_t index : erased) value.erase(index);
  }

  static FieldSet Read(const Json& fields) {
    FieldSet s;
    if (!fields.is_object()) return s;
    s.member_ = fields.empty();
    for (auto it = fields.begin(); it != fields.end(); ++it) {
      if (it.key() == ".") {
        s.member_ = true;
      } else if (it->is_object()) {
        s.children_[it.key()] = Read(*it);
      }
    }
    return s;
  }
};

FieldSet FieldSet::Of(const Json& object, const Json& schema) {
  return FieldSetAccess::Of(object, schema);
}

FieldSet FieldSet::Changed(const Json& before, const Json& after, const Json& schema) {
  return FieldSetAccess::Changed(&before, &after, schema);
}

FieldSet FieldSet::FromFieldsV1(const Json& fields) {
  FieldSet s = FieldSetAccess::Read(fields);
  s.member_ = false;  // the object itself is never a field
  return s;
}

Json FieldSet::ToFieldsV1() const {
  Json out = Json::object();
  if (member_ && !children_.empty()) out["."] = Json::object();
  for (const auto& [name, child] : children_) out[name] = child.ToFieldsV1();
  return out;
}

FieldSet FieldSet::Union(const FieldSet& other) const {
  FieldSet out = *this;
  out.member_ = member_ || other.member_;
  for (const auto& [name, child] : other.children_) {
    auto it = out.children_.find(name);
    if (it == out.children_.end()) {
      out.children_.emplace(name, child);
    } else {
      it->second = it->second.Union(child);
    }
  }
  return out;
}

FieldSet FieldSet::Intersection(const FieldSet& other) const {
  FieldSet out;
  out.member_ = member_ && other.member_;
  for (const auto& [name, child] : children_) {
    auto it = other.children_.find(name);
    if (it == other.children_.end()) continue;
    FieldSet both = child.Intersection(it->second);
    if (!both.empty()) out.children_.emplace(name, std::move(both));
  }
  return out;
}

FieldSet FieldSet::Difference(const FieldSet& other) const {
  FieldSet out;
  out.member_ = member_ && !other.member_;
  for (const auto& [name, child] : children_) {
    auto it = other.children_.find(name);
    if (it == other.children_.end()) {
      out.children_.emplace(name, child);
      continue;
    }
    FieldSet rest = child.Difference(it->second);
    if (!rest.empty()) out.children_.emplace(name, std::move(rest));
  }
  return out;
}

std::vector<std::string> FieldSet::Paths() const {
  std::vector<std::string> out;
  CollectPaths("", out);
  return out;
}

void FieldSet::CollectPaths(const std::string& prefix, std::vector<std::string>& out) const {
  if (member_) out.push_back(prefix);
  for (const auto& [name, child] : children_) {
    std::string step;
    const std::string rest = name.size() > 2 ? name.substr(2) : "";
    if (name.starts_with("f:")) {
      step = "." + rest;
    } else if (name.starts_with("k:")) {
      auto keys = ParseJson(rest, "key");
      if (keys.ok() && keys->is_object()) {
        for (auto it = keys->begin(); it != keys->end(); ++it) {
          step += (step.empty() ? "" : ",") + it.key() + "=" + Text(*it);
        }
      }
      step = "[" + step + "]";
    } else if (name.starts_with("v:")) {
      step = "[=" + rest + "]";
    } else {
      step = "[" + rest + "]";
    }
    child.CollectPaths(prefix + step, out);
  }
}

Result<Json> ServerSideApply(const Json* live, const Json& config, const FieldManager& manager,
                             bool force, const Json& schema) {
  if (!config.is_object())
    return InvalidArgument("request body: an apply configuration is an object");
  if (const Json& fields = At(config, {"metadata", "managedFields"});
      !fields.is_null() && !(fields.is_array() && fields.empty())) {
    return InvalidArgument("metadata.managedFields: must be nil in an apply configuration");
  }
  Json applied = config;
  DropNulls(applied);
  // Outside the status subresource an apply leaves status to the controller, and in it, the rest.
  if (manager.subresource == "status") {
    for (auto it = applied.begin(); it != applied.end();) {
      const std::string& key = it.key();
      const bool kept =
          key == "apiVersion" || key == "kind" || key == "metadata" || key == "status";
      it = kept ? std::next(it) : applied.erase(it);
    }
  } else {
    applied.erase("status");
  }
  const FieldSet config_set = FieldSet::Of(Tracked(applied, manager.subresource), schema);

  std::vector<Entry> entries;
  Json merged = applied;
  if (live != nullptr) {
    entries = ReadEntries(*live);
    if (entries.empty()) {  // written before anyone applied: its fields are someone's
      FieldSet before = FieldSet::Of(Tracked(*live, ""), schema);
      if (!before.empty()) {
        entries.push_back({"before-first-apply", "Update", manager.api_version, "", manager.time,
                           std::move(before)});
      }
    }
    merged = MergeApplied(*live, applied, schema);
    const FieldSet changed = FieldSet::Changed(Tracked(*live, manager.subresource),
                                               Tracked(merged, manager.subresource), schema);
    std::vector<StatusCause> causes;
    for (Entry& e : entries) {
      if (e.Is(manager.manager, "Apply", manager.subresource)) continue;
      const FieldSet held = e.fields.Intersection(changed);
      if (held.empty()) continue;
      if (force) {
        e.fields = e.fields.Difference(held);
        continue;
      }
      for (const std::string& path : held.Paths()) {
        causes.push_back({path, Describe(e), "FieldManagerConflict"});
      }
    }
    if (!causes.empty()) {
      std::string message = "Apply failed with " + std::to_string(causes.size()) +
                            (causes.size() == 1 ? " conflict: " : " conflicts: ");
      for (size_t i = 0; i < causes.size(); ++i) {
        message += (i == 0 ? "" : "; ") + causes[i].message + ": " + causes[i].field;
      }
      return Status(StatusCode::kConflict, message, std::move(causes));
    }
  }

  // Fields this manager applied before and no longer names go, unless another manager has them.
  FieldSet others;
  Entry* mine = nullptr;
  for (Entry& e : entries) {
    if (e.Is(manager.manager, "Apply", manager.subresource)) {
      mine = &e;
    } else {
      others = others.Union(e.fields);
    }
  }
  if (mine != nullptr) {
    const FieldSet dropped = mine->fields.Difference(config_set).Difference(others);
    FieldSetAccess::Prune(merged, dropped, &others, schema);
  } else {
    entries.push_back(
        {manager.manager, "Apply", manager.api_version, manager.subresource, "", FieldSet()});
    mine = &entries.back();
  }
  mine->api_version = manager.api_version;
  SetFields(*mine, config_set, manager.time);
  WriteEntries(entries, merged);
  return merged;
}

void RecordUpdate(const Json* before, Json& after, const FieldManager& manager,
                  const Json& schema) {
  const Json tracked_after = Tracked(after, manager.subresource);
  std::vector<Entry> entries;
  FieldSet changed;
  if (before == nullptr) {
    changed = FieldSet::Of(tracked_after, schema);
  } else {
    entries = ReadEntries(*before);
    changed = FieldSet::Changed(Tracked(*before, manager.subresource), tracked_after, schema);
  }
  Entry* mine = nullptr;
  for (Entry& e : entries) {
    if (e.Is(manager.manager, "Update", manager.subresource)) {
      mine = &e;
    } else {
      e.fields = e.fields.Difference(changed);
    }
  }
  if (!changed.empty()) {
    if (mine == nullptr) {
      entries.push_back(
          {manager.manager, "Update", manager.api_version, manager.subresource, "", FieldSet()});
      mine = &entries.back();
    }
    mine->api_version = manager.api_version;
    SetFields(*mine, mine->fields.Union(changed).Intersection(FieldSet::Of(tracked_after, schema)),
              manager.time);
  }
  WriteEntries(entries, after);
}

std::string DefaultFieldManager(const std::string& user_agent) {
  std::string manager = user_agent.substr(0, user_agent.find('/'));
  std::string printable;
  for (char c : manager) {
    if (c >= 0x20 && c < 0x7f) printable += c;
  }
  if (printable.empty()) return "unknown";
  return printable.substr(0, 128);
}

Status ValidateFieldManager(const std::string& manager) {
  if (manager.size() > 128) {
    return InvalidArgument("fieldManager: may not be longer than 128 characters");
  }
  for (char c : manager) {
    if (c < 0x20 || c >= 0x7f) {
      return InvalidArgument("fieldManager: must consist of printable characters");
    }
  }
  return Status::Ok();
}

}  // namespace skiff
