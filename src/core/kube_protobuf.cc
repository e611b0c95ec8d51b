#include "core/kube_protobuf.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <vector>

#include "core/clock.h"
#include "core/ids.h"

namespace skiff {
namespace {

// How a field of a message is read into JSON.
enum class As {
  kString,
  kBool,
  kInt,        // varint (int32/int64)
  kTime,       // metav1.Time {seconds, nanos} -> RFC 3339
  kMessage,    // a nested message
  kStringMap,  // map<string, string>
  kBytesMap,   // map<string, bytes>
  kStrings,    // repeated string
  kMessages,   // repeated message
};

struct Message;
struct Field {
  int number;
  const char* name;
  As as;
  const Message* message = nullptr;
};
struct Message {
  std::vector<Field> fields;
};

// The messages of k8s.io/api (generated.proto) these bodies hold, with their field numbers.
const Message kOwnerReference{{{1, "kind", As::kString},
                               {3, "name", As::kString},
                               {4, "uid", As::kString},
                               {5, "apiVersion", As::kString},
                               {6, "controller", As::kBool},
                               {7, "blockOwnerDeletion", As::kBool}}};
const Message kObjectMeta{{{1, "name", As::kString},
                           {2, "generateName", As::kString},
                           {3, "namespace", As::kString},
                           {5, "uid", As::kString},
                           {6, "resourceVersion", As::kString},
                           {7, "generation", As::kInt},
                           {8, "creationTimestamp", As::kTime},
                           {11, "labels", As::kStringMap},
                           {12, "annotations", As::kStringMap},
                           {13, "ownerReferences", As::kMessages, &kOwnerReference},
                           {14, "finalizers", As::kStrings}}};
const Message kResourceAttributes{{{1, "namespace", As::kString},
                                   {2, "verb", As::kString},
                                   {3, "group", As::kString},
                                   {4, "version", As::kString},
                                   {5, "resource", As::kString},
                                   {6, "subresource", As::kString},
                                   {7, "name", As::kString}}};
const Message kNonResourceAttributes{{{1, "path", As::kString}, {2, "verb", As::kString}}};
const Message kAccessReviewSpec{
    {{1, "resourceAttributes", As::kMessage, &kResourceAttributes},
     {2, "nonResourceAttributes", As::kMessage, &kNonResourceAttributes}}};
const Message kAccessReview{
    {{1, "metadata", As::kMessage, &kObjectMeta}, {2, "spec", As::kMessage, &kAccessReviewSpec}}};
const Message kRulesReviewSpec{{{1, "namespace", As::kString}}};
const Message kRulesReview{
    {{1, "metadata", As::kMessage, &kObjectMeta}, {2, "spec", As::kMessage, &kRulesReviewSpec}}};
const Message kConfigMap{{{1, "metadata", As::kMessage, &kObjectMeta},
                          {2, "data", As::kStringMap},
                          {3, "binaryData", As::kBytesMap},
                          {4, "immutable", As::kBool}}};
const Message kSecret{{{1, "metadata", As::kMessage, &kObjectMeta},
                       {2, "data", As::kBytesMap},
                       {3, "type", As::kString},
                       {4, "stringData", As::kStringMap},
                       {5, "immutable", As::kBool}}};
const Message kPreconditions{{{1, "uid", As::kString}, {2, "resourceVersion", As::kString}}};
const Message kDeleteOptions{{{1, "gracePeriodSeconds", As::kInt},
                              {2, "preconditions", As::kMessage, &kPreconditions},
                              {3, "orphanDependents", As::kBool},
                              {4, "propagationPolicy", As::kString},
                              {5, "dryRun", As::kStrings}}};
const Message kTime{{{1, "seconds", As::kInt}, {2, "nanos", As::kInt}}};

const Message* MessageOf(const std::string& api_version, const std::string& kind) {
  static const std::map<std::pair<std::string, std::string>, const Message*> kinds = {
      {{"authorization.k8s.io/v1", "SelfSubjectAccessReview"}, &kAccessReview},
      {{"authorization.k8s.io/v1", "SelfSubjectRulesReview"}, &kRulesReview},
      {{"v1", "ConfigMap"}, &kConfigMap},
      {{"v1", "Secret"}, &kSecret}};
  // A typed client's delete sends its options under its own group version.
  if (kind == "DeleteOptions") return &kDeleteOptions;
  auto it = kinds.find({api_version, kind});
  return it == kinds.end() ? nullptr : it->second;
}

// Reads the protobuf wire format: one field at a time.
class Reader {
 public:
  explicit Reader(std::string_view bytes) : in_(bytes) {}
  bool done() const { return pos_ >= in_.size(); }

  bool Varint(uint64_t* out) {
    uint64_t value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= in_.size()) return false;
      const auto byte = static_cast<uint8_t>(in_[pos_++]);
      value |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) {
        *out = value;
        return true;
      }
    }
    return false;
  }
  bool Bytes(std::string_view* out) {
    uint64_t size = 0;
    if (!Varint(&size) || size > in_.size() - pos_) return false;
    *out = in_.substr(pos_, size);
    pos_ += size;
    return true;
  }
  // Skips a field of `wire` type.
  bool Skip(uint64_t wire) {
    uint64_t ignored = 0;
    std::string_view bytes;
    switch (wire) {
      case 0:
        return Varint(&ignored);
      case 1:
        return Advance(8);
      case 2:
        return Bytes(&bytes);
      case 5:
        return Advance(4);
      default:
        return false;  // groups (3, 4) are not used by Kubernetes
    }
  }

 private:
  bool Advance(size_t n) {
    if (n > in_.size() - pos_) return false;
    pos_ += n;
    return true;
  }
  std::string_view in_;
  size_t pos_ = 0;
};

Status Malformed(const std::string& where) {
  return InvalidArgument("request body: not a Kubernetes protobuf message (at " + where + ")");
}

Result<Json> Decode(std::string_view bytes, const Message& message, const std::string& where);

// A map entry: {1: key, 2: value}.
Status DecodeEntry(std::string_view bytes, bool value_bytes, Json& map, const std::string& where) {
  Reader r(bytes);
  std::string key, value;
  while (!r.done()) {
    uint64_t tag = 0;
    std::string_view field;
    if (!r.Varint(&tag)) return Malformed(where);
    if ((tag & 7) != 2) {
      if (!r.Skip(tag & 7)) return Malformed(where);
      continue;
    }
    if (!r.Bytes(&field)) return Malformed(where);
    if ((tag >> 3) == 1) key = field;
    if ((tag >> 3) == 2) value = field;
  }
  map[key] = value_bytes ? EncodeBase64(value) : value;
  return Status::Ok();
}

Status DecodeField(Reader& r, uint64_t wire, const Field& f, Json& out, const std::string& where) {
  const std::string at = where + "." + f.name;
  if (f.as == As::kBool || f.as == As::kInt) {
    uint64_t v = 0;
    if (wire != 0 || !r.Varint(&v)) return Malformed(at);
    if (f.as == As::kBool) {
      out[f.name] = v != 0;
    } else {
      out[f.name] = static_cast<int64_t>(v);
    }
    return Status::Ok();
  }
  std::string_view bytes;
  if (wire != 2 || !r.Bytes(&bytes)) return Malformed(at);
  switch (f.as) {
    case As::kString:
      out[f.name] = std::string(bytes);
      break;
    case As::kStrings:
      if (!out.contains(f.name)) out[f.name] = Json::array();
      out[f.name].push_back(std::string(bytes));
      break;
    case As::kStringMap:
    case As::kBytesMap:
      if (!out.contains(f.name)) out[f.name] = Json::object();
      RETURN_IF_ERROR(DecodeEntry(bytes, f.as == As::kBytesMap, out[f.name], at));
      break;
    case As::kTime: {
      ASSIGN_OR_RETURN(Json t, Decode(bytes, kTime, at));
      // Years 1970 to 9999, as RFC 3339 writes them (and no overflow converting).
      const auto seconds = std::chrono::seconds(
          std::clamp<int64_t>(t.value("seconds", int64_t{0}), 0, 253402300799));
      out[f.name] =
          FormatRfc3339(TimePoint(std::chrono::duration_cast<TimePoint::duration>(seconds)));
      break;
    }
    case As::kMessage: {
      ASSIGN_OR_RETURN(out[f.name], Decode(bytes, *f.message, at));
      break;
    }
    case As::kMessages: {
      if (!out.contains(f.name)) out[f.name] = Json::array();
      ASSIGN_OR_RETURN(Json item, Decode(bytes, *f.message, at));
      out[f.name].push_back(std::move(item));
      break;
    }
    default:
      return Malformed(at);
  }
  return Status::Ok();
}

Result<Json> Decode(std::string_view bytes, const Message& message, const std::string& where) {
  Json out = Json::object();
  Reader r(bytes);
  while (!r.done()) {
    uint64_t tag = 0;
    if (!r.Varint(&tag)) return Malformed(where);
    const uint64_t number = tag >> 3;
    const Field* field = nullptr;
    for (const Field& f : message.fields) {
      if (static_cast<uint64_t>(f.number) == number) field = &f;
    }
    if (field == nullptr) {
      if (!r.Skip(tag & 7)) return Malformed(where);
      continue;
    }
    RETURN_IF_ERROR(DecodeField(r, tag & 7, *field, out, where));
  }
  return out;
}

}  // namespace

Result<Json> DecodeKubeProtobuf(std::string_view body) {
  static constexpr std::string_view kMagic("k8s\0", 4);
  if (body.substr(0, 4) != kMagic) return Malformed("its start: no \"k8s\\0\" prefix");
  // runtime.Unknown {1: typeMeta {1: apiVersion, 2: kind}, 2: raw}
  static const Message kTypeMeta{{{1, "apiVersion", As::kString}, {2, "kind", As::kString}}};
  Reader r(body.substr(4));
  std::string api_version, kind;
  std::string_view raw;
  while (!r.done()) {
    uint64_t tag = 0;
    std::string_view field;
    if (!r.Varint(&tag)) return Malformed("the envelope");
    if ((tag & 7) != 2) {
      if (!r.Skip(tag & 7)) return Malformed("the envelope");
      continue;
    }
    if (!r.Bytes(&field)) return Malformed("the envelope");
    if ((tag >> 3) == 1) {
      ASSIGN_OR_RETURN(Json type_meta, Decode(field, kTypeMeta, "typeMeta"));
      api_version = type_meta.value("apiVersion", "");
      kind = type_meta.value("kind", "");
    } else if ((tag >> 3) == 2) {
      raw = field;
    }
  }
  const Message* message = MessageOf(api_version, kind);
  if (message == nullptr) {
    return InvalidArgument("request body: " + (kind.empty() ? std::string("this kind") : kind) +
                           " (" + api_version + ") is not read in protobuf here: send it as " +
                           "application/json");
  }
  ASSIGN_OR_RETURN(Json obj, Decode(raw, *message, kind));
  obj["apiVersion"] = api_version;
  obj["kind"] = kind;
  return obj;
}

}  // namespace skiff
