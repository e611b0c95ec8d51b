// The resource object model: every object a user creates is a JSON document
// `{apiVersion, kind, metadata, spec, status}` exactly as in Kubernetes/Kubeflow YAML.
//
//   ASSIGN_OR_RETURN(std::vector<Json> docs, ParseYamlDocuments(text, "job.yaml"));
//   std::string name = MetaName(docs[0]);
//
// Also: YAML <-> JSON conversion (multi-document aware) and the registry of known resource types
// (group/version/kind/plural). Free functions are thread-safe; TypeRegistry is immutable after
// construction and therefore thread-safe for reads.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"

namespace skiff {

using Json = nlohmann::json;

// --- metadata accessors (return "" / 0 when absent) ---
std::string MetaName(const Json& obj);
std::string MetaNamespace(const Json& obj);
std::string MetaUid(const Json& obj);
int64_t MetaResourceVersion(const Json& obj);  // stored as a decimal string, as in Kubernetes
std::map<std::string, std::string> MetaLabels(const Json& obj);
// Splits "group/version" (or "v1") into its parts.
void SplitApiVersion(const std::string& api_version, std::string* group, std::string* version);

// --- YAML/JSON ---
// Parses one or more YAML documents (a JSON document is valid YAML). Empty documents are skipped.
// Errors name `source` and the line/column.
Result<std::vector<Json>> ParseYamlDocuments(const std::string& text, const std::string& source);
// Parses a single JSON or YAML document.
Result<Json> ParseJsonOrYaml(const std::string& text, const std::string& source);
std::string ToYaml(const Json& value);

// Deep merge per RFC 7386 (JSON merge patch): null deletes a key, objects merge, others replace.
void MergePatch(Json& target, const Json& patch);

// Kubernetes-style names: DNS-1123 subdomain (lowercase alnum, '-', '.'), 1..253 chars.
Status ValidateName(const std::string& name, const std::string& field);

// --- label selectors ("a=b,c!=d,e in (x,y),f,!g") ---
class LabelSelector {
 public:
  static Result<LabelSelector> Parse(const std::string& text);
  bool Matches(const std::map<std::string, std::string>& labels) const;
  bool empty() const { return terms_.empty(); }

 private:
  struct Term {
    enum Op { kEq, kNotEq, kIn, kNotIn, kExists, kNotExists } op;
    std::string key;
    std::vector<std::string> values;
  };
  std::vector<Term> terms_;
};

// --- resource types ---
struct ResourceType {
  std::string group;    // "" for the core group, e.g. "batch"
  std::string version;  // "v1"
  std::string kind;     // "Job"
  std::string plural;   // "jobs"
  bool namespaced = true;
  std::vector<std::string> short_names;

  std::string ApiVersion() const { return group.empty() ? version : group + "/" + version; }
  // The key the store files objects of this type under: "jobs.batch" ("profiles.skiff.dev").
  std::string StoreType() const { return group.empty() ? plural : plural + "." + group; }
};

class TypeRegistry {
 public:
  // The registry of every kind Skiff serves.
  static const TypeRegistry& Builtin();

  void Add(ResourceType type);
  const ResourceType* ByKind(const std::string& api_version, const std::string& kind) const;
  const ResourceType* ByPlural(const std::string& group, const std::string& plural) const;
  // Resolves what a CLI user types: "job", "jobs", "Job", "jobs.batch", a short name.
  const ResourceType* Lookup(const std::string& name) const;
  const std::vector<ResourceType>& All() const { return types_; }

 private:
  std::vector<ResourceType> types_;
};

}  // namespace skiff
