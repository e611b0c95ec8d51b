// The core group's kinds that belong to no controller: Secret and ConfigMap. Their values are
// read by the Job controller (env valueFrom) and the pipeline launcher (kfp-kubernetes).
#include "core/resource.h"
#include "core/schema.h"

namespace skiff {

void RegisterCoreKinds(TypeRegistry& registry) {
  using namespace openapi;
  ResourceType secret{"", "v1", "Secret", "secrets", true, {"secret"}};
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
  registry.Add(std::move(secret));

  ResourceType config_map{"", "v1", "ConfigMap", "configmaps", true, {"cm", "configmap"}};
  config_map.schema =
      KindSchema({{"immutable", Boolean()}, {"data", StringMap()}, {"binaryData", StringMap()}});
  config_map.columns = {{"DATA", [](const Json& obj, auto) {
                           size_t n = 0;
                           for (const char* f : {"data", "binaryData"}) {
                             if (obj.contains(f) && obj[f].is_object()) n += obj[f].size();
                           }
                           return std::to_string(n);
                         }}};
  registry.Add(std::move(config_map));
}

}  // namespace skiff
