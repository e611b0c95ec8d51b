// The resource object model: every object a user creates is a JSON document
// `{apiVersion, kind, metadata, spec, status}` exactly as in Kubernetes/Kubeflow YAML.
//
//   ASSIGN_OR_RETURN(std::vector<Json> docs, ParseYamlDocuments(text, "job.yaml"));
//   std::string name = MetaName(docs[0]);
//
// Also: YAML <-> JSON conversion (multi-document aware, depth-limited) and the registry of known
// resource types (group/version/kind/plural, and what each kind's module registers with it: its
// schema, rules and printer columns). Free functions are thread-safe; the TypeRegistry is filled
// before any thread starts (main, a test's setup) and only read afterwards.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
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
// The finalizers a delete with propagationPolicy Orphan or Foreground puts on the object, which
// the garbage collector (gc/) acts on.
inline constexpr char kOrphanFinalizer[] = "orphan";
inline constexpr char kForegroundFinalizer[] = "foregroundDeletion";
// Splits "group/version" (or "v1") into its parts.
void SplitApiVersion(const std::string& api_version, std::string* group, std::string* version);

// --- YAML/JSON ---
// How deeply documents may nest (objects and arrays); the readers below refuse deeper ones, so
// nothing that recurses over a parsed document can run out of stack.
inline constexpr int kMaxDepth = 128;

// Parses one or more YAML documents (a JSON document is valid YAML). Empty documents are skipped.
// Errors (InvalidArgument) name `source` and the line/column; a document nested deeper than
// kMaxDepth or a number out of range is an error too.
Result<std::vector<Json>> ParseYamlDocuments(const std::string& text, const std::string& source);
// Parses a single JSON or YAML document.
Result<Json> ParseJsonOrYaml(const std::string& text, const std::string& source);
// Parses strict JSON (RFC 8259): errors name `source` and the byte offset; deeper than kMaxDepth
// or a number that does not fit a double (1e400) is an error.
Result<Json> ParseJson(const std::string& text, const std::string& source);
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
class Schema;  // core/schema.h

// One column of `skiff get` (a CRD's additionalPrinterColumns): its header and how a row's cell
// is computed from the object. `value` must accept any object the schema admits.
struct PrinterColumn {
  std::string name;  // "STATUS"
  std::function<std::string(const Json& obj, std::chrono::system_clock::time_point now)> value;
  // The field the column shows as it is, as a JSONPath (".spec.owner.name"): listed in the
  // kind's CustomResourceDefinition (additionalPrinterColumns) for clients that print the
  // objects they read. Empty for a value computed here, which only the server's tables show.
  std::string json_path = "";
};
// A column showing the field at `json_path` (".spec.owner.name": object keys only) as it is: a
// string as it is, absent as "", anything else as JSON.
PrinterColumn FieldColumn(std::string name, std::string json_path);
// A column's name as Kubernetes writes it ("COMPLETIONS" -> "Completions", "DISPLAY NAME" ->
// "Display Name"); kubectl upper-cases it again when it prints.
std::string ColumnTitle(const std::string& name);

struct ResourceType {
  std::string group;    // "" for the core group, e.g. "batch"
  std::string version;  // "v1"
  std::string kind;     // "Job"
  std::string plural;   // "jobs"
  bool namespaced = true;
  std::vector<std::string> short_names;

  // What the kind's module registers (all optional):
  // The schema every stored object satisfies (checked at the API edge and before reconciles).
  std::shared_ptr<const Schema> schema;
  // Rules beyond the schema (cross-field checks, defaults that depend on other fields), run at
  // the API edge after the schema. An error names the field ("spec.parallelism: ...").
  std::function<Status(Json& obj, bool is_create)> validate;
  // Rules about a change (fields that may not change once set), run on update after `validate`,
  // seeing the object as stored. An error names the field.
  std::function<Status(const Json& stored, const Json& obj)> validate_update;
  // `skiff get` columns between NAME and AGE.
  std::vector<PrinterColumn> columns;
  // `skiff describe` body after the common header; `related` are the objects selected by
  // `related_selector` (a label selector with {uid} for the object's uid) in `related_type`.
  std::function<std::string(const Json& obj, const std::vector<Json>& related,
                            std::chrono::system_clock::time_point now)>
      describe;
  std::string related_type;      // e.g. "pods"
  std::string related_selector;  // e.g. "controller-uid={uid}"
  // Objects only the platform writes (usage records): the API serves reads to whoever may read
  // them; a create, change or delete through it is refused to everyone but a cluster admin.
  bool platform_written = false;
  // Kubernetes' own kinds (Pod, Job, Secret, ...) take strategic merge patches, following the
  // list strategies in their schema (core/patch.h); custom kinds, as CRDs, do not.
  bool strategic_merge_patch = false;
  // Fields a `fieldSelector` may name beyond metadata.name and metadata.namespace
  // (core/field_selector.h), as the API server has them for the kind: "status.phase", ...
  std::vector<std::string> field_selectors;

  std::string ApiVersion() const { return group.empty() ? version : group + "/" + version; }
  // The key the store files objects of this type under: "jobs.batch" ("profiles.skiff.dev").
  std::string StoreType() const { return group.empty() ? plural : plural + "." + group; }
};

class TypeRegistry {
 public:
  // The registry of every kind Skiff serves, filled by each module's registration call
  // (cli/modules.cc) before any thread starts.
  static TypeRegistry& Global();

  // Adds a kind, or replaces the registration of the same kind (registering twice is harmless).
  // AlreadyExists when another kind has its group and plural (the store would file both under one
  // type) or its apiVersion and kind already has another plural. Pointers handed out stay valid.
  Status TryAdd(ResourceType type);
  // TryAdd for a module's own kinds at startup: a collision is a programming error, and aborts
  // with TryAdd's message.
  void Add(ResourceType type);
  const ResourceType* ByKind(const std::string& api_version, const std::string& kind) const;
  const ResourceType* ByPlural(const std::string& group, const std::string& plural) const;
  // The kind the store files under `store_type` ("jobs.batch"), or null.
  const ResourceType* ByStoreType(const std::string& store_type) const;
  // Resolves what a CLI user types, as kubectl does: "job", "jobs", "Job", a short name, or
  // qualified by group: "jobs.batch", "job.batch". A name two groups share resolves only when
  // qualified: InvalidArgument naming the candidates; NotFound when nothing matches.
  Result<const ResourceType*> Resolve(const std::string& name) const;
  // Resolve's type, or null when it has none (unknown or ambiguous).
  const ResourceType* Lookup(const std::string& name) const;
  const std::deque<ResourceType>& All() const { return types_; }

 private:
  std::deque<ResourceType> types_;
};

// Registers the core group's own kinds: Secret and ConfigMap (core/core_kinds.cc).
void RegisterCoreKinds(TypeRegistry& registry);

}  // namespace skiff
