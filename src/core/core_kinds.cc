// The core group's kinds that belong to no controller: Secret and ConfigMap. Their values are
// read by the Job controller (env valueFrom) and the pipeline launcher (kfp-kubernetes).
#include <set>

#include "core/resource.h"
#include "core/schema.h"

namespace skiff {
namespace {

// Kubernetes' rule for Secrets and ConfigMaps marked `immutable: true`: from then on only their
// metadata may change (or they are deleted), so that what workloads read stays what it was.
// Compared after admission (defaults applied), field by field, metadata and status aside.
Status CheckImmutable(const Json& stored, const Json& obj) {
  if (stored.value("immutable", Json(false)) != Json(true)) return Status::Ok();
  std::set<std::string> fields;
  for (const Json* o : {&stored, &obj}) {
    for (auto it = o->begin(); it != o->end(); ++it) fields.insert(it.key());
  }
  for (const std::string& field : fields) {
    if (field == "metadata" || field == "status" || field == "apiVersion" || field == "kind") {
      continue;
    }
    if (stored.value(field, Json()) != obj.value(field, Json())) {
      const std::string message = "field is immutable when `immutable` is set";
      return Invalid(MetaName(stored) + " is invalid: " + field + ": " + message,
                     {{field, message, "FieldValueForbidden"}});
    }
  }
  return Status::Ok();
}

}  // namespace

void RegisterCoreKinds(TypeRegistry& registry) {
  using namespace openapi;
  ResourceType secret{"", "v1", "Secret", "secrets", true, {"secret"}};
  secret.strategic_merge_patch = true;
  secret.field_selectors = {"type"};
  secret.schema = KindSchema({{"type", String()},
                              {"immutable", Boolean()},
                              {"data", StringMap()},  // base64 values
                              {"stringData", StringMap()}});
  secret.columns = {{"TYPE",
                     [](const Json& obj, auto) {
                       return obj.contains("type") && obj["type"].is_string()
                                  ? obj["type"].get<std::string>()
                                  : std::string("Opaque");
                     }},
                    {"DATA", [](const Json& obj, auto) {
                       size_t n = 0;
                       for (const char* f : {"data", "stringData"}) {
                         if (obj.contains(f) && obj[f].is_object()) n += obj[f].size();
                       }
                       return std::to_string(n);
                     }}};
  secret.validate_update = &CheckImmutable;
  registry.Add(std::move(secret));

  ResourceType config_map{"", "v1", "ConfigMap", "configmaps", true, {"cm", "configmap"}};
  config_map.strategic_merge_patch = true;
  config_map.schema =
      KindSchema({{"immutable", Boolean()}, {"data", StringMap()}, {"binaryData", StringMap()}});
  config_map.columns = {{"DATA", [](const Json& obj, auto) {
                           size_t n = 0;
                           for (const char* f : {"data", "binaryData"}) {
                             if (obj.contains(f) && obj[f].is_object()) n += obj[f].size();
                           }
                           return std::to_string(n);
                         }}};
  config_map.validate_update = &CheckImmutable;
  registry.Add(std::move(config_map));
}

}  // namespace skiff
