#include "store/store_common.h"

#include <algorithm>

#include "core/ids.h"
#include "core/text.h"

namespace skiff::store_internal {
namespace {

bool IsDecimal(const std::string& s) {
  return !s.empty() && s.size() <= 18 &&
         std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

std::string ObjectKey(const std::string& type, const std::string& ns, const std::string& name) {
  return type + " " + (ns.empty() ? name : ns + "/" + name);
}

Status CheckWritableObject(const std::string& type, const Json& object, const char* operation) {
  std::string what = std::string(operation) + " " + type;
  if (type.empty()) return InvalidArgument(what + ": resource type is empty");
  if (!object.is_object()) return InvalidArgument(what + ": object must be a JSON object");
  auto meta = object.find("metadata");
  if (meta == object.end() || !meta->is_object()) {
    return InvalidArgument(what + ": object has no metadata object");
  }
  auto name = meta->find("name");
  if (name == meta->end() || !name->is_string() || name->get<std::string>().empty()) {
    return InvalidArgument(what + ": metadata.name must be a non-empty string");
  }
  auto ns = meta->find("namespace");
  if (ns != meta->end() && !ns->is_string() && !ns->is_null()) {
    return InvalidArgument(what + ": metadata.namespace must be a string");
  }
  auto rv = meta->find("resourceVersion");
  if (rv != meta->end() && !rv->is_null()) {
    if (!rv->is_string()) {
      return InvalidArgument(what + ": metadata.resourceVersion must be a string");
    }
    const std::string& text = rv->get_ref<const std::string&>();
    if (!text.empty() && !IsDecimal(text)) {
      return InvalidArgument(what + ": metadata.resourceVersion '" + text +
                             "' is not a decimal integer");
    }
  }
  return Status::Ok();
}

int64_t ExpectedVersion(const Json& object) {
  return std::max<int64_t>(0, MetaResourceVersion(object));
}

Status CheckExpectedVersion(const std::string& key, int64_t expected, int64_t stored) {
  if (expected > 0 && expected != stored) {
    return Conflict(key + ": resourceVersion " + std::to_string(expected) +
                    " is stale, the stored object is at " + std::to_string(stored));
  }
  return Status::Ok();
}

void StampCreated(Json& object, int64_t version, Clock& clock) {
  Json& meta = object["metadata"];
  meta["uid"] = NewUuid();
  meta["creationTimestamp"] = FormatRfc3339(clock.Now());
  meta["resourceVersion"] = std::to_string(version);
  meta["generation"] = 1;
}

void StampUpdated(Json& object, const Json& stored, int64_t version) {
  Json& meta = object["metadata"];
  const Json& old_meta = stored["metadata"];
  for (const char* field : {"uid", "creationTimestamp"}) {
    if (old_meta.contains(field)) meta[field] = old_meta[field];
  }
  int64_t generation = 1;
  if (auto it = old_meta.find("generation"); it != old_meta.end() && it->is_number_integer()) {
    generation = it->get<int64_t>();
  }
  Json no_spec;
  const Json& new_spec = object.contains("spec") ? object["spec"] : no_spec;
  const Json& old_spec = stored.contains("spec") ? stored["spec"] : no_spec;
  if (new_spec != old_spec) ++generation;
  meta["generation"] = generation;
  meta["resourceVersion"] = std::to_string(version);
}

Result<std::string> SerializeObject(const Json& object, const std::string& key) {
  try {
    return object.dump();
  } catch (const Json::exception& e) {
    return InvalidArgument(key + ": object cannot be stored as JSON: " + e.what());
  }
}

std::string LabelsText(const Json& object) {
  Json labels = Json::object();
  for (const auto& [k, v] : MetaLabels(object)) labels[k] = v;
  try {
    return labels.dump();
  } catch (const Json::exception&) {
    return "{}";
  }
}

std::string ChangeMetaText(const Json& object) {
  const Json& meta = At(object, {"metadata"});
  Json out = Json::object();
  for (const char* field : {"uid", "deletionTimestamp"}) {
    if (const Json& v = At(meta, {field});
        v.is_string() && !v.get_ref<const std::string&>().empty())
      out[field] = v;
  }
  if (const Json& finalizers = At(meta, {"finalizers"});
      finalizers.is_array() && !finalizers.empty()) {
    out["finalizers"] = finalizers;
  }
  if (const Json& refs = At(meta, {"ownerReferences"}); refs.is_array()) {
    Json owners = Json::array();
    for (const Json& ref : refs) {
      Json owner = Json::object();
      for (const char* field : {"apiVersion", "kind", "name", "uid"}) {
        if (const Json& v = At(ref, {field}); v.is_string()) owner[field] = v;
      }
      if (owner.contains("uid")) owners.push_back(std::move(owner));
    }
    if (!owners.empty()) out["ownerReferences"] = std::move(owners);
  }
  if (out.empty()) return "";
  try {
    return out.dump();
  } catch (const Json::exception&) {
    return "";  // invalid UTF-8 in a finalizer: the object's write is refused by SerializeObject
  }
}

std::vector<OwnerLink> OwnerLinksOf(const std::string& type, const Json& object) {
  std::vector<OwnerLink> links;
  const Json& refs = At(object, {"metadata", "ownerReferences"});
  if (!refs.is_array()) return links;
  for (const Json& ref : refs) {
    OwnerLink link;
    link.owner_uid = TextAt(ref, {"uid"});
    link.owner_api_version = TextAt(ref, {"apiVersion"});
    link.owner_kind = TextAt(ref, {"kind"});
    link.owner_name = TextAt(ref, {"name"});
    if (link.owner_uid.empty() || link.owner_api_version.empty() || link.owner_kind.empty() ||
        link.owner_name.empty()) {
      continue;
    }
    const bool seen = std::any_of(links.begin(), links.end(), [&](const OwnerLink& l) {
      return l.owner_uid == link.owner_uid;
    });
    if (seen) continue;  // one row per owner, as the index's key is
    link.block_owner_deletion = At(ref, {"blockOwnerDeletion"}) == Json(true);
    link.store_type = type;
    link.namespace_ = MetaNamespace(object);
    link.name = MetaName(object);
    links.push_back(std::move(link));
  }
  return links;
}

std::optional<OwnerLinksChange> OwnerLinksChangeOf(const std::string& type, const Json* before,
                                                   const Json* after) {
  std::vector<OwnerLink> old_links =
      before ? OwnerLinksOf(type, *before) : std::vector<OwnerLink>();
  std::vector<OwnerLink> new_links = after ? OwnerLinksOf(type, *after) : std::vector<OwnerLink>();
  if (old_links == new_links) return std::nullopt;
  return OwnerLinksChange{!old_links.empty(), std::move(new_links)};
}

Result<Json> ParseStoredObject(const std::string& text, const std::string& key) {
  Json parsed = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded() || !parsed.is_object()) {
    return Internal("stored object " + key + " is corrupt: its data is not a JSON object (" +
                    std::to_string(text.size()) + " bytes)");
  }
  return parsed;
}

const char* ChangeObjectColumns(const ChangeFilter& filter) {
  return filter.metadata_only ? "labels, meta" : "data, ''";
}

Result<Json> ChangeObject(const ChangeFilter& filter, const std::string& type,
                          const std::string& ns, const std::string& name, const std::string& text,
                          const std::string& meta_text) {
  const std::string key = ObjectKey(type, ns, name);
  if (!filter.metadata_only) return ParseStoredObject(text, key);
  Json labels = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (labels.is_discarded() || !labels.is_object()) {
    return Internal("change of " + key + " is corrupt: its labels are not a JSON object");
  }
  Json meta = Json::object();
  if (!meta_text.empty()) {
    meta = Json::parse(meta_text, nullptr, /*allow_exceptions=*/false);
    if (meta.is_discarded() || !meta.is_object()) {
      return Internal("change of " + key + " is corrupt: its metadata is not a JSON object");
    }
  }
  meta["name"] = name;
  meta["labels"] = std::move(labels);
  if (!ns.empty()) meta["namespace"] = ns;
  return Json{{"metadata", std::move(meta)}};
}

const char* EventText(WatchEvent::Type type) { return WatchEventTypeName(type); }

Result<WatchEvent::Type> ParseEventText(const std::string& text, int64_t version) {
  if (text == "ADDED") return WatchEvent::Type::kAdded;
  if (text == "MODIFIED") return WatchEvent::Type::kModified;
  if (text == "DELETED") return WatchEvent::Type::kDeleted;
  return Internal("change " + std::to_string(version) + " has unknown event type '" + text + "'");
}

std::string EncodeContinueToken(const std::string& ns, const std::string& name) {
  static const char kHex[] = "0123456789abcdef";
  std::string raw = ns + '\0' + name;
  std::string out;
  out.reserve(raw.size() * 2);
  for (unsigned char c : raw) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

Result<std::pair<std::string, std::string>> DecodeContinueToken(const std::string& token) {
  auto bad = [&] { return InvalidArgument("malformed list continue token '" + token + "'"); };
  if (token.size() % 2 != 0) return bad();
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  std::string raw;
  for (size_t i = 0; i < token.size(); i += 2) {
    int hi = nibble(token[i]), lo = nibble(token[i + 1]);
    if (hi < 0 || lo < 0) return bad();
    raw.push_back(static_cast<char>(hi * 16 + lo));
  }
  auto sep = raw.find('\0');
  if (sep == std::string::npos || raw.find('\0', sep + 1) != std::string::npos) return bad();
  return std::make_pair(raw.substr(0, sep), raw.substr(sep + 1));
}

bool ListCollector::Offer(const std::string& ns, const std::string& name, Json object) {
  if (!selector_.Matches(MetaLabels(object))) return true;
  if (limit_ > 0 && static_cast<int64_t>(result_.items.size()) >= limit_) {
    more_ = true;
    return false;
  }
  result_.items.push_back(std::move(object));
  last_namespace_ = ns;
  last_name_ = name;
  return true;
}

ListResult ListCollector::Finish(int64_t resource_version) && {
  if (more_ && !result_.items.empty()) {
    result_.continue_token = EncodeContinueToken(last_namespace_, last_name_);
  }
  result_.resource_version = resource_version;
  return std::move(result_);
}

void ChangeNotifier::Publish(int64_t version) {
  {
    MutexLock lock(&mu_);
    version_ = std::max(version_, version);
  }
  cv_.SignalAll();
}

int64_t ChangeNotifier::Wait(int64_t after, std::chrono::milliseconds timeout,
                             const std::function<int64_t()>& read_current) {
  int64_t current = read_current();
  if (current > after) return current;
  {
    MutexLock lock(&mu_);
    version_ = std::max(version_, current);
    const uint64_t wakes = wakes_;
    cv_.WaitFor(mu_, timeout, [&] {
      mu_.AssertHeld();
      return version_ > after || wakes_ != wakes;
    });
    current = version_;
  }
  return std::max(current, read_current());
}

void ChangeNotifier::WakeAll() {
  {
    MutexLock lock(&mu_);
    ++wakes_;
  }
  cv_.SignalAll();
}

Status TooOldVersion(int64_t after, int64_t compacted) {
  return Status(StatusCode::kExpired, "too old resource version: " + std::to_string(after) + " (" +
                                          std::to_string(compacted + 1) +
                                          "): the change feed was compacted; list afresh");
}

}  // namespace skiff::store_internal
