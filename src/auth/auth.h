// Auth: who is calling (Authenticator, API tokens) and what they may do (Authorizer, roles).
//
//   Authenticator authn(store, clock);
//   Authorizer authz(store);
//   ASSIGN_OR_RETURN(Principal who, authn.Authenticate(req.Header("authorization")));
//   RETURN_IF_ERROR(authz.Check(who, {.store_type = "jobs.batch", .namespace_ = "team-a",
//                                     .verb = Verb::kCreate}));
//
// Objects (all in the Store; their kinds and schemas are registered by RegisterAuthKinds):
// - users.skiff.dev (cluster): name = user name, spec {admin: bool} (cluster admin).
// - apitokens.skiff.dev (cluster): name = token id, spec {user, sha256, created, expires?}. The
//   token a client sends is "skf_<id>_<secret>"; only sha256(secret) is stored, so the secret is
//   seen exactly once, when minted.
// - profiles.kubeflow.org (cluster): a Kubeflow Profile; its name is a namespace and
//   spec.owner {kind: User, name} holds the admin role there.
// - rolebindings.skiff.dev (namespaced): spec {user, role: admin|edit|view}.
//
// Roles in a namespace: admin (every verb, including role bindings), edit (every verb on
// everything but role bindings), view (get/list/watch, not Secrets or role bindings). A cluster
// admin may do everything.
// Cluster-scoped kinds need cluster admin, except that users may create tokens for themselves and
// get the profiles they have a role in. Denials never reveal whether an object exists.
//
// Thread-safety: Authenticator and Authorizer are thread-safe; the free functions are thread-safe
// given a thread-safe Store.
#pragma once

#include <chrono>
#include <cstddef>
#include <list>
#include <optional>
#include <string>
#include <unordered_map>

#include "core/clock.h"
#include "core/resource.h"
#include "core/status.h"
#include "core/thread_annotations.h"
#include "store/store.h"

namespace skiff {

inline constexpr char kUserType[] = "users.skiff.dev";
inline constexpr char kApiTokenType[] = "apitokens.skiff.dev";
inline constexpr char kProfileType[] = "profiles.kubeflow.org";
inline constexpr char kRoleBindingType[] = "rolebindings.skiff.dev";
inline constexpr char kAdminUser[] = "admin";

// Registers User, ApiToken, Profile and RoleBinding (auth/auth_kinds.cc).
void RegisterAuthKinds(TypeRegistry& registry);

struct Principal {
  std::string user;  // empty: not authenticated
  bool is_admin = false;
};

enum class Verb { kGet, kList, kWatch, kCreate, kUpdate, kPatch, kDelete };
const char* VerbName(Verb verb);  // "get", "list", ...
std::optional<Verb> ParseVerb(const std::string& name);

enum class Role { kNone, kView, kEdit, kAdmin };
const char* RoleName(Role role);  // "", "view", "edit", "admin"
std::optional<Role> ParseRole(const std::string& name);

// --- users and tokens ---

// Creates the user object; AlreadyExists if present. Names are validated (DNS-1123).
Result<Json> CreateUser(Store& store, const std::string& user, bool cluster_admin);

struct MintedToken {
  std::string id;     // the ApiToken object's name
  std::string token;  // "skf_<id>_<secret>": shown once, never stored
};
// Mints a token for an existing user (NotFound naming the user otherwise). `expires` empty = never.
Result<MintedToken> MintToken(Store& store, Clock& clock, const std::string& user,
                              std::optional<TimePoint> expires = std::nullopt);

// Splits "skf_<id>_<secret>"; InvalidArgument when the shape is wrong.
Status ParseToken(const std::string& token, std::string* id, std::string* secret);

// Verifies bearer tokens against the store, keeping verified tokens in a small in-memory cache
// for `cache_ttl` so the hot path does not read the store on every request. A token deleted
// through another process stops working within cache_ttl; Invalidate() makes it immediate.
class Authenticator {
 public:
  struct Options {
    std::chrono::milliseconds cache_ttl{2000};
    size_t cache_capacity = 1024;
  };
  Authenticator(Store& store, Clock& clock) : Authenticator(store, clock, Options{}) {}
  Authenticator(Store& store, Clock& clock, Options options);

  // `authorization` is the Authorization header value: "Bearer skf_...". Unauthenticated with a
  // reason (missing header, malformed, unknown or wrong token, expired, user gone) otherwise.
  Result<Principal> Authenticate(const std::string& authorization);
  // Verifies a bare token ("skf_...").
  Result<Principal> VerifyToken(const std::string& token);
  // Forgets the cached verification of token `id` (call after deleting it).
  void Invalidate(const std::string& id);
  // Forgets every cached verification for `user` (call after deleting or demoting the user).
  void InvalidateUser(const std::string& user);

 private:
  struct CacheEntry {
    std::string id;
    std::string secret_hash;
    Principal principal;
    TimePoint verified_at;
    std::optional<TimePoint> expires;
  };
  Result<Principal> VerifyUncached(const std::string& id, const std::string& secret,
                                   CacheEntry* entry);

  Store& store_;
  Clock& clock_;
  const Options options_;
  Mutex mu_;
  // Most recently used first; index_ points into it by token id.
  std::list<CacheEntry> lru_ GUARDED_BY(mu_);
  std::unordered_map<std::string, std::list<CacheEntry>::iterator> index_ GUARDED_BY(mu_);
};

// First start: creates the cluster admin "admin" and a token for it, written to
// `<home_dir>/admin-token` (mode 0600). Later starts keep the file when its token still verifies;
// if the file is missing or stale, a new token is minted and written. Returns the file's path.
Result<std::string> Bootstrap(Store& store, Clock& clock, const std::string& home_dir);

// --- authorization ---

struct AccessRequest {
  std::string store_type;  // "jobs.batch"; cluster-scoped kinds have an empty namespace_
  std::string namespace_;  // empty: cluster scope (cluster-scoped kinds, or all namespaces)
  Verb verb = Verb::kGet;
  std::string name;              // the object's name when known (get/update/patch/delete)
  const Json* object = nullptr;  // the request body for create/update, when there is one
  bool cluster_scoped = false;   // the kind itself is cluster-scoped
};

class Authorizer {
 public:
  explicit Authorizer(Store& store) : store_(store) {}

  // Ok or PermissionDenied with a message naming the user, verb and namespace (never whether
  // the object exists). Errors reading the store come back as they are.
  Status Check(const Principal& who, const AccessRequest& request);
  // Shorthand for an ordinary namespaced resource.
  Status Check(const Principal& who, const std::string& ns, Verb verb);

  // The user's role in namespace `ns`: profile owner -> admin, else the best role binding.
  Result<Role> RoleIn(const std::string& user, const std::string& ns);
  // Whether `role` in a namespace allows `verb` on the namespaced kind filed under `store_type`.
  static bool RoleAllows(Role role, Verb verb, const std::string& store_type);

 private:
  Store& store_;
};

}  // namespace skiff
