#include "core/patch.h"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/text.h"

namespace skiff {
namespace {

constexpr char kPatch[] = "$patch";
constexpr char kRetainKeys[] = "$retainKeys";
constexpr char kSetElementOrder[] = "$setElementOrder/";
constexpr char kDeleteFromPrimitiveList[] = "$deleteFromPrimitiveList/";

const Json& NullJson() {
  static const Json null;
  return null;
}

// The schema of field `key` of an object whose schema is `schema` (null when not described).
const Json& FieldSchema(const Json& schema, const std::string& key) {
  if (!schema.is_object()) return NullJson();
  if (auto p = schema.find("properties"); p != schema.end() && p->is_object()) {
    if (auto f = p->find(key); f != p->end()) return *f;
  }
  if (auto a = schema.find("additionalProperties"); a != schema.end() && a->is_object()) {
    return *a;
  }
  return NullJson();
}

const Json& ItemsSchema(const Json& schema) {
  if (!schema.is_object()) return NullJson();
  auto it = schema.find("items");
  return it == schema.end() ? NullJson() : *it;
}

bool MergesList(const Json& schema) {
  if (!schema.is_object()) return false;
  auto it = schema.find("x-kubernetes-patch-strategy");
  return it != schema.end() && it->is_string() &&
         it->get<std::string>().find("merge") != std::string::npos;
}

std::string MergeKey(const Json& schema) {
  return TextAt(schema, {"x-kubernetes-patch-merge-key"});
}

constexpr size_t kMaxPatchedNodes = 1'000'000;

// The values in `v` (every object, array and scalar), counting no further than `cap`.
size_t CountNodes(const Json& v, size_t cap) {
  size_t count = 1;
  if (v.is_structured()) {
    for (const Json& child : v) {
      count += CountNodes(child, cap - std::min(cap, count));
      if (count > cap) break;
    }
  }
  return count;
}

// How deep `v` nests (a scalar: 1), looking no deeper than `cap`.
int Depth(const Json& v, int cap) {
  if (!v.is_structured() || cap <= 1) return 1;
  int deepest = 0;
  for (const Json& child : v) deepest = std::max(deepest, Depth(child, cap - 1));
  return deepest + 1;
}

// An array index as RFC 6901 writes one (digits, no leading zero), at most `max`.
size_t ArrayIndex(const std::string& token, size_t max) {
  if (token.empty() || token.size() > 9 || (token.size() > 1 && token[0] == '0') ||
      !std::all_of(token.begin(), token.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    throw std::invalid_argument(Quote(token) + " is not an array index");
  }
  const size_t index = std::stoul(token);
  if (index > max) throw std::out_of_range("index " + token + " is past the end of the array");
  return index;
}

// RFC 6902 "add": into an object sets the member; into an array inserts before the index
// ("-": appends); the whole document when the path is empty.
void Add(Json& doc, const Json::json_pointer& path, const Json& value) {
  if (path.empty()) {
    doc = value;
    return;
  }
  Json& parent = doc.at(path.parent_pointer());
  const std::string& last = path.back();
  if (parent.is_array()) {
    if (last == "-") {
      parent.push_back(value);
      return;
    }
    const size_t index = ArrayIndex(last, parent.size());
    parent.insert(parent.begin() + static_cast<std::ptrdiff_t>(index), value);
  } else if (parent.is_object()) {
    parent[last] = value;
  } else {
    throw std::invalid_argument("the parent of " + Quote(path.to_string()) +
                                " is neither an object nor an array");
  }
}

void Remove(Json& doc, const Json::json_pointer& path) {
  if (path.empty()) throw std::invalid_argument("cannot remove the whole document");
  Json& parent = doc.at(path.parent_pointer());
  const std::string& last = path.back();
  if (parent.is_array()) {
    if (parent.empty()) throw std::out_of_range("the array is empty");
    const size_t index = ArrayIndex(last, parent.size() - 1);
    parent.erase(index);
  } else if (parent.is_object() && parent.contains(last)) {
    parent.erase(last);
  } else {
    throw std::out_of_range("nothing at " + Quote(path.to_string()));
  }
}

class Merger {
 public:
  // Merges `patch` (an object) into `target` (made an object). False with error_ set on a bad
  // directive. Sets `deleted` when the patch says {"$patch": "delete"}.
  bool MergeObject(Json& target, const Json& patch, const Json& schema, const std::string& path,
                   bool* deleted) {
    if (!target.is_object()) target = Json::object();
    if (auto d = patch.find(kPatch); d != patch.end()) {
      const std::string directive = d->is_string() ? d->get<std::string>() : "";
      if (directive == "delete") {
        *deleted = true;
        return true;
      }
      if (directive == "replace") {
        Json fresh = Json::object();
        Json rest = patch;
        rest.erase(kPatch);
        bool ignored = false;
        if (!MergeObject(fresh, rest, schema, path, &ignored)) return false;
        target = std::move(fresh);
        return true;
      }
      if (directive != "merge") {
        return Fail(path + "." + kPatch + ": " + Quote(d->dump()) +
                    " is not one of replace, delete, merge");
      }
    }
    if (auto r = patch.find(kRetainKeys); r != patch.end()) {
      if (!r->is_array()) return Fail(path + "." + kRetainKeys + ": must be a list of keys");
      for (auto it = target.begin(); it != target.end();) {
        if (std::find(r->begin(), r->end(), Json(it.key())) == r->end()) {
          it = target.erase(it);
        } else {
          ++it;
        }
      }
    }
    for (auto it = patch.begin(); it != patch.end(); ++it) {
      const std::string& key = it.key();
      if (key == kPatch || key == kRetainKeys || key.rfind(kSetElementOrder, 0) == 0) continue;
      const std::string where = path.empty() ? key : path + "." + key;
      if (key.rfind(kDeleteFromPrimitiveList, 0) == 0) {
        const std::string field = key.substr(sizeof(kDeleteFromPrimitiveList) - 1);
        if (!it->is_array()) return Fail(where + ": must be a list of values");
        if (auto list = target.find(field); list != target.end() && list->is_array()) {
          Json kept = Json::array();
          for (const Json& v : *list) {
            if (std::find(it->begin(), it->end(), v) == it->end()) kept.push_back(v);
          }
          *list = std::move(kept);
        }
        continue;
      }
      const Json& field_schema = FieldSchema(schema, key);
      if (it->is_null()) {
        target.erase(key);
      } else if (it->is_object()) {
        bool gone = false;
        if (!MergeObject(target[key], *it, field_schema, where, &gone)) return false;
        if (gone) target.erase(key);
      } else if (it->is_array() && MergesList(field_schema)) {
        if (!MergeList(target[key], *it, field_schema, where)) return false;
      } else {
        target[key] = *it;
      }
    }
    // Orders last: the merged lists are complete by now.
    for (auto it = patch.begin(); it != patch.end(); ++it) {
      if (it.key().rfind(kSetElementOrder, 0) != 0) continue;
      const std::string field = it.key().substr(sizeof(kSetElementOrder) - 1);
      if (!it->is_array()) return Fail(path + "." + it.key() + ": must be a list");
      if (auto list = target.find(field); list != target.end() && list->is_array()) {
        Order(*list, *it, MergeKey(FieldSchema(schema, field)));
      }
    }
    return true;
  }

  const std::string& error() const { return error_; }

 private:
  bool Fail(std::string message) {
    error_ = std::move(message);
    return false;
  }

  // Merges the elements of `patch` into the list `target`, as its schema's strategy says.
  bool MergeList(Json& target, const Json& patch, const Json& schema, const std::string& path) {
    if (!target.is_array()) target = Json::array();
    const std::string key = MergeKey(schema);
    const Json& items = ItemsSchema(schema);
    // {"$patch": "replace"} among the elements: the list becomes the other elements.
    for (const Json& e : patch) {
      if (e.is_object() && e.size() == 1 && e.value(kPatch, Json()) == "replace") {
        Json fresh = Json::array();
        for (const Json& other : patch) {
          if (&other == &e) continue;
          Json made = Json::object();
          bool ignored = false;
          if (other.is_object()) {
            if (!MergeObject(made, other, items, path, &ignored)) return false;
            fresh.push_back(std::move(made));
          } else {
            fresh.push_back(other);
          }
        }
        target = std::move(fresh);
        return true;
      }
    }
    for (size_t i = 0; i < patch.size(); ++i) {
      const Json& e = patch[i];
      const std::string where = path + "[" + std::to_string(i) + "]";
      if (!e.is_object()) {  // a set of primitives
        if (std::find(target.begin(), target.end(), e) == target.end()) target.push_back(e);
        continue;
      }
      if (key.empty()) {
        target.push_back(e);
        continue;
      }
      auto k = e.find(key);
      if (k == e.end()) return Fail(where + ": the merge key " + Quote(key) + " is missing");
      auto match = std::find_if(target.begin(), target.end(), [&](const Json& t) {
        return t.is_object() && t.contains(key) && t[key] == *k;
      });
      if (match == target.end()) {
        if (e.value(kPatch, Json()) == "delete") continue;  // nothing to delete
        Json made = Json::object();
        bool gone = false;
        if (!MergeObject(made, e, items, where, &gone)) return false;
        if (!gone) target.push_back(std::move(made));
        continue;
      }
      bool gone = false;
      if (!MergeObject(*match, e, items, where, &gone)) return false;
      if (gone) target.erase(match);
    }
    return true;
  }

  // Orders `list` as `order` (elements, or objects holding their merge key) names its elements;
  // those it does not name keep their relative order, after.
  static void Order(Json& list, const Json& order, const std::string& key) {
    auto id = [&key](const Json& e) -> Json {
      return !key.empty() && e.is_object() ? e.value(key, Json()) : e;
    };
    Json ordered = Json::array();
    std::vector<bool> placed(list.size(), false);
    for (const Json& want : order) {
      for (size_t i = 0; i < list.size(); ++i) {
        if (!placed[i] && id(list[i]) == id(want)) {
          ordered.push_back(list[i]);
          placed[i] = true;
          break;
        }
      }
    }
    for (size_t i = 0; i < list.size(); ++i) {
      if (!placed[i]) ordered.push_back(list[i]);
    }
    list = std::move(ordered);
  }

  std::string error_;
};

}  // namespace

std::vector<std::string> PatchTypesOf(const ResourceType& type) {
  std::vector<std::string> types = {"application/merge-patch+json", "application/json-patch+json"};
  if (type.strategic_merge_patch) types.emplace_back("application/strategic-merge-patch+json");
  types.emplace_back("application/apply-patch+yaml");  // server-side apply (core/managed_fields.h)
  return types;
}

Status ApplyJsonPatch(Json& target, const Json& operations) {
  if (!operations.is_array()) {
    return InvalidArgument("a JSON patch must be a list of operations");
  }
  Json patched = target;
  // What a patch may add: `copy` doubles a document at each step, and copying a document into
  // itself nests it a level deeper each time.
  size_t nodes = CountNodes(patched, kMaxPatchedNodes);
  for (size_t i = 0; i < operations.size(); ++i) {
    const Json& op = operations[i];
    const std::string where = "operation " + std::to_string(i);
    const std::string name = TextAt(op, {"op"});
    if (!op.is_object() || !op.contains("path") || !op["path"].is_string()) {
      return InvalidArgument(where + ": needs \"op\" and \"path\" strings");
    }
    try {
      const Json::json_pointer path(op["path"].get<std::string>());
      auto value = [&]() -> const Json& {
        if (!op.contains("value")) throw std::invalid_argument("\"value\" is missing");
        return op["value"];
      };
      auto from = [&]() -> Json::json_pointer {
        if (!op.contains("from") || !op["from"].is_string()) {
          throw std::invalid_argument("\"from\" is missing");
        }
        return Json::json_pointer(op["from"].get<std::string>());
      };
      if (name == "add") {
        nodes += CountNodes(value(), kMaxPatchedNodes);
        Add(patched, path, value());
      } else if (name == "remove") {
        Remove(patched, path);
      } else if (name == "replace") {
        nodes += CountNodes(value(), kMaxPatchedNodes);
        patched.at(path) = value();
      } else if (name == "move") {
        const Json::json_pointer source = from();
        if (path.to_string().rfind(source.to_string() + "/", 0) == 0) {
          throw std::invalid_argument("cannot move a value into itself");
        }
        Json moved = patched.at(source);
        Remove(patched, source);
        Add(patched, path, moved);
      } else if (name == "copy") {
        Json copied = patched.at(from());
        nodes += CountNodes(copied, kMaxPatchedNodes);
        if (nodes <= kMaxPatchedNodes) Add(patched, path, copied);
      } else if (name == "test") {
        if (patched.at(path) != value()) {
          return InvalidArgument(where + ": the test failed: the value at " +
                                 Quote(path.to_string()) + " is not " + value().dump());
        }
      } else {
        return InvalidArgument(where + ": " + Quote(name) +
                               " is not one of add, remove, replace, move, copy, test");
      }
    } catch (const std::exception& e) {
      // nlohmann's messages start with "[json.exception.<kind>.<id>] ".
      std::string message = e.what();
      if (auto end = message.find("] ");
          message.rfind("[json.exception", 0) == 0 && end != std::string::npos) {
        message = message.substr(end + 2);
      }
      return InvalidArgument(where + " (" + name + " " + TextAt(op, {"path"}) +
                             ") does not apply: " + message);
    }
    if (nodes > kMaxPatchedNodes) {
      return InvalidArgument(where + ": the JSON patch makes the object larger than " +
                             std::to_string(kMaxPatchedNodes) + " values");
    }
  }
  if (Depth(patched, kMaxDepth + 1) > kMaxDepth) {
    return InvalidArgument("the JSON patch nests the object deeper than " +
                           std::to_string(kMaxDepth) + " levels");
  }
  target = std::move(patched);
  return Status::Ok();
}

Status StrategicMergePatch(Json& target, const Json& patch, const Json& schema) {
  if (!patch.is_object()) return InvalidArgument("a strategic merge patch must be an object");
  Json patched = target;
  Merger merger;
  bool deleted = false;
  if (!merger.MergeObject(patched, patch, schema, "", &deleted)) {
    return InvalidArgument("the strategic merge patch does not apply: " + merger.error());
  }
  if (deleted) return InvalidArgument("a strategic merge patch may not delete the whole object");
  target = std::move(patched);
  return Status::Ok();
}

}  // namespace skiff
