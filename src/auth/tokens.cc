// Users, API tokens, the Authenticator and the first-start bootstrap (see auth.h).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "auth/auth.h"
#include "core/files.h"
#include "core/ids.h"
#include "core/log.h"

namespace skiff {

namespace {

constexpr char kTokenPrefix[] = "skf_";

// Compares two strings in time independent of where they differ.
bool ConstantTimeEquals(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

std::string SpecString(const Json& obj, const char* field) {
  auto spec = obj.find("spec");
  if (spec == obj.end() || !spec->is_object()) return "";
  auto it = spec->find(field);
  if (it == spec->end() || !it->is_string()) return "";
  return it->get<std::string>();
}

bool IsAdminUser(const Json& user) {
  auto spec = user.find("spec");
  if (spec == user.end() || !spec->is_object()) return false;
  auto it = spec->find("admin");
  return it != spec->end() && it->is_boolean() && it->get<bool>();
}

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

}  // namespace

Result<Json> CreateUser(Store& store, const std::string& user, bool cluster_admin) {
  RETURN_IF_ERROR(ValidateName(user, "metadata.name"));
  Json obj = {{"apiVersion", "skiff.dev/v1"},
              {"kind", "User"},
              {"metadata", {{"name", user}}},
              {"spec", {{"admin", cluster_admin}}}};
  return store.Create(kUserType, std::move(obj));
}

Result<MintedToken> MintToken(Store& store, Clock& clock, const std::string& user,
                              std::optional<TimePoint> expires) {
  auto existing = store.Get(kUserType, "", user);
  if (!existing.ok()) {
    if (existing.status().code() == StatusCode::kNotFound) {
      return NotFound("user \"" + user + "\" not found");
    }
    return existing.status().WithContext("minting a token for user \"" + user + "\"");
  }
  MintedToken minted;
  minted.id = RandomHex(8);
  std::string secret = RandomHex(24);
  Json spec = {
      {"user", user}, {"sha256", Sha256Hex(secret)}, {"created", FormatRfc3339(clock.Now())}};
  if (expires) spec["expires"] = FormatRfc3339(*expires);
  Json obj = {{"apiVersion", "skiff.dev/v1"},
              {"kind", "ApiToken"},
              {"metadata", {{"name", minted.id}, {"labels", {{"skiff.dev/user", user}}}}},
              {"spec", std::move(spec)}};
  auto created = store.Create(kApiTokenType, std::move(obj));
  if (!created.ok())
    return created.status().WithContext("minting a token for user \"" + user + "\"");
  minted.token = kTokenPrefix + minted.id + "_" + secret;
  return minted;
}

Status ParseToken(const std::string& token, std::string* id, std::string* secret) {
  const size_t prefix_len = sizeof(kTokenPrefix) - 1;
  if (token.compare(0, prefix_len, kTokenPrefix) != 0) {
    return InvalidArgument("token does not start with \"skf_\"");
  }
  size_t sep = token.find('_', prefix_len);
  if (sep == std::string::npos || sep == prefix_len || sep + 1 == token.size()) {
    return InvalidArgument("token is not of the form skf_<id>_<secret>");
  }
  *id = token.substr(prefix_len, sep - prefix_len);
  *secret = token.substr(sep + 1);
  for (char c : *id) {
    if (!std::isxdigit(static_cast<unsigned char>(c)) ||
        std::isupper(static_cast<unsigned char>(c))) {
      return InvalidArgument("token id is not lowercase hex");
    }
  }
  return Status::Ok();
}

// --- Authenticator ---

Authenticator::Authenticator(Store& store, Clock& clock, Options options)
    : store_(store), clock_(clock), options_(options) {}

Result<Principal> Authenticator::Authenticate(const std::string& authorization) {
  std::string header = Trim(authorization);
  if (header.empty()) {
    return Unauthenticated("missing Authorization header (want \"Bearer skf_...\")");
  }
  const std::string scheme = "bearer ";
  std::string lower = header.substr(0, scheme.size());
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower != scheme) {
    return Unauthenticated("Authorization header is not a bearer token (want \"Bearer skf_...\")");
  }
  return VerifyToken(Trim(header.substr(scheme.size())));
}

Result<Principal> Authenticator::VerifyToken(const std::string& token) {
  std::string id;
  std::string secret;
  Status parsed = ParseToken(token, &id, &secret);
  if (!parsed.ok()) return Unauthenticated("malformed token: " + parsed.message());
  std::string secret_hash = Sha256Hex(secret);
  TimePoint now = clock_.Now();
  {
    MutexLock lock(&mu_);
    auto it = index_.find(id);
    if (it != index_.end()) {
      CacheEntry& entry = *it->second;
      bool fresh = now - entry.verified_at < options_.cache_ttl;
      bool expired = entry.expires && now >= *entry.expires;
      if (fresh && !expired && ConstantTimeEquals(entry.secret_hash, secret_hash)) {
        lru_.splice(lru_.begin(), lru_, it->second);
        return entry.principal;
      }
      lru_.erase(it->second);
      index_.erase(it);
    }
  }
  CacheEntry entry;
  ASSIGN_OR_RETURN(Principal principal, VerifyUncached(id, secret_hash, &entry));
  entry.verified_at = now;
  MutexLock lock(&mu_);
  auto it = index_.find(id);
  if (it != index_.end()) {
    lru_.erase(it->second);
    index_.erase(it);
  }
  lru_.push_front(std::move(entry));
  index_[id] = lru_.begin();
  while (lru_.size() > options_.cache_capacity && !lru_.empty()) {
    index_.erase(lru_.back().id);
    lru_.pop_back();
  }
  return principal;
}

Result<Principal> Authenticator::VerifyUncached(const std::string& id,
                                                const std::string& secret_hash, CacheEntry* entry) {
  static const char kInvalid[] = "invalid or revoked token";
  auto token = store_.Get(kApiTokenType, "", id);
  if (!token.ok()) {
    if (token.status().code() == StatusCode::kNotFound) return Unauthenticated(kInvalid);
    return token.status().WithContext("verifying token");
  }
  if (!ConstantTimeEquals(SpecString(*token, "sha256"), secret_hash)) {
    return Unauthenticated(kInvalid);
  }
  std::string expires = SpecString(*token, "expires");
  if (!expires.empty()) {
    TimePoint when;
    if (!ParseRfc3339(expires, &when)) return Unauthenticated("token has a malformed expiry");
    if (clock_.Now() >= when) return Unauthenticated("token expired at " + expires);
    entry->expires = when;
  }
  std::string user = SpecString(*token, "user");
  auto user_obj = store_.Get(kUserType, "", user);
  if (!user_obj.ok()) {
    if (user_obj.status().code() == StatusCode::kNotFound) {
      return Unauthenticated("the token's user no longer exists");
    }
    return user_obj.status().WithContext("verifying token");
  }
  Principal principal{user, IsAdminUser(*user_obj)};
  entry->id = id;
  entry->secret_hash = secret_hash;
  entry->principal = principal;
  return principal;
}

void Authenticator::Invalidate(const std::string& id) {
  MutexLock lock(&mu_);
  auto it = index_.find(id);
  if (it == index_.end()) return;
  lru_.erase(it->second);
  index_.erase(it);
}

void Authenticator::InvalidateUser(const std::string& user) {
  MutexLock lock(&mu_);
  for (auto it = lru_.begin(); it != lru_.end();) {
    if (it->principal.user == user) {
      index_.erase(it->id);
      it = lru_.erase(it);
    } else {
      ++it;
    }
  }
}

// --- Bootstrap ---

namespace {

Status EnsureDirectory(const std::string& dir) {
  if (dir.empty()) return InvalidArgument("home directory: empty path");
  std::string partial;
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = dir.find('/', pos + 1);
    partial = dir.substr(0, pos);
    if (partial.empty()) continue;
    if (::mkdir(partial.c_str(), 0700) != 0 && errno != EEXIST) {
      return Internal("cannot create directory " + partial + ": " + std::strerror(errno));
    }
  }
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return FailedPrecondition(dir + " is not a directory");
  }
  return Status::Ok();
}

}  // namespace

Result<std::string> Bootstrap(Store& store, Clock& clock, const std::string& home_dir) {
  RETURN_IF_ERROR(EnsureDirectory(home_dir));
  auto admin = store.Get(kUserType, "", kAdminUser);
  if (!admin.ok()) {
    if (admin.status().code() != StatusCode::kNotFound) {
      return admin.status().WithContext("bootstrap");
    }
    auto created = CreateUser(store, kAdminUser, /*cluster_admin=*/true);
    if (!created.ok() && created.status().code() != StatusCode::kAlreadyExists) {
      return created.status().WithContext("bootstrap: creating user \"admin\"");
    }
    LogInfo("created cluster admin", {{"user", kAdminUser}});
  }
  std::string path = home_dir + "/admin-token";
  std::ifstream in(path);
  if (in) {
    std::stringstream text;
    text << in.rdbuf();
    // A cache-less authenticator: the check must see the store as it is now.
    Authenticator check(store, clock, {.cache_ttl = std::chrono::milliseconds(0)});
    auto who = check.VerifyToken(Trim(text.str()));
    if (who.ok() && who->user == kAdminUser) {
      ::chmod(path.c_str(), 0600);
      return path;
    }
    LogWarn("admin token file is stale; minting a new one", {{"path", path}});
  }
  auto minted = MintToken(store, clock, kAdminUser);
  if (!minted.ok()) return minted.status().WithContext("bootstrap");
  RETURN_IF_ERROR(WriteFileAtomically(path, minted->token + "\n", {.mode = 0600, .sync = true}));
  LogInfo("wrote admin token", {{"path", path}});
  return path;
}

}  // namespace skiff
