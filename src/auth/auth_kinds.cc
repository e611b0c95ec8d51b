// The kinds of users, tokens, profiles and role bindings, with their schemas and columns.
#include "auth/auth.h"
#include "auth/profile_quota.h"
#include "core/schema.h"

namespace skiff {
namespace {

std::string SpecString(const Json& obj, const char* a, const char* b = nullptr) {
  if (!obj.contains("spec") || !obj["spec"].is_object()) return "";
  const Json* v = obj["spec"].contains(a) ? &obj["spec"][a] : nullptr;
  if (v && b) v = v->is_object() && v->contains(b) ? &(*v)[b] : nullptr;
  if (v == nullptr || v->is_null()) return "";
  return v->is_string() ? v->get<std::string>() : v->dump();
}

}  // namespace

void RegisterAuthKinds(TypeRegistry& registry) {
  using namespace openapi;
  ResourceType user{"skiff.dev", "v1", "User", "users", false, {"user"}};
  user.schema = KindSchema({{"spec", Object({{"admin", Boolean()}})}});
  user.columns = {{"ADMIN", [](const Json& o, auto) {
                     std::string admin = SpecString(o, "admin");
                     return admin.empty() ? std::string("false") : admin;
                   }}};
  registry.Add(std::move(user));

  ResourceType token{"skiff.dev", "v1", "ApiToken", "apitokens", false, {"token", "tokens"}};
  token.schema = KindSchema({{"spec", Object({{"user", String()},
                                              {"sha256", String()},
                                              {"created", String()},
                                              {"expires", String()}},
                                             {"user"})}},
                            {"spec"});
  token.columns = {FieldColumn("USER", ".spec.user"), {"EXPIRES", [](const Json& o, auto) {
                                                         std::string e = SpecString(o, "expires");
                                                         return e.empty() ? std::string("<never>")
                                                                          : e;
                                                       }}};
  registry.Add(std::move(token));

  // A Kubeflow Profile: its name is a namespace; the owner holds the admin role there.
  ResourceType profile{"kubeflow.org", "v1", "Profile", "profiles", false, {"profile"}};
  profile.schema =
      KindSchema({{"spec", Object({{"owner", Object({{"kind", String()},
                                                     {"name", String()},
                                                     {"apiGroup", String()},
                                                     {"namespace", String()}})},
                                   // A Kubernetes ResourceQuotaSpec (profile_quota.h)
                                   {"resourceQuotaSpec", Object({{"hard", Map(IntOrString())},
                                                                 {"scopes", Array(String())},
                                                                 {"scopeSelector", Any()}})},
                                   {"plugins", Array(Any())}})},
                  {"status", OpenObject({{"conditions", Conditions()}})}});
  profile.validate = [](Json& obj, bool) { return ParseProfileQuota(obj).status(); };
  profile.columns = {FieldColumn("OWNER", ".spec.owner.name")};
  registry.Add(std::move(profile));

  ResourceType binding{"skiff.dev", "v1", "RoleBinding", "rolebindings", true, {"rolebinding"}};
  binding.schema = KindSchema(
      {{"spec",
        Object({{"user", String()}, {"role", Enum({"admin", "edit", "view"})}}, {"user", "role"})}},
      {"spec"});
  binding.columns = {FieldColumn("USER", ".spec.user"), FieldColumn("ROLE", ".spec.role")};
  registry.Add(std::move(binding));
}

}  // namespace skiff
