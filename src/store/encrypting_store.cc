#include "store/encrypting_store.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/stat.h>

#include <memory>

#include "core/files.h"
#include "core/ids.h"
#include "core/resource.h"

namespace skiff {
namespace {

constexpr char kSecretType[] = "secrets";
constexpr char kSealedField[] = "encrypted";
constexpr char kPrefix[] = "aesgcm:v1:";
constexpr size_t kKeySize = 32, kNonceSize = 12, kTagSize = 16;

bool IsSealed(const Json& object) {
  return object.is_object() && object.value(kSealedField, Json()).is_string();
}

std::string Aad(const Json& object) {
  return std::string("secrets/") + MetaNamespace(object) + "/" + MetaName(object);
}

using CipherContext = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

Result<std::string> EncryptGcm(const std::string& key, const std::string& aad,
                               const std::string& plain) {
  std::string nonce(kNonceSize, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(nonce.data()), kNonceSize) != 1) {
    return Internal("encrypting a Secret: no random bytes");
  }
  CipherContext ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  std::string out(plain.size(), '\0');
  std::string tag(kTagSize, '\0');
  int len = 0, total = 0;
  auto u = [](const std::string& s) { return reinterpret_cast<const unsigned char*>(s.data()); };
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, u(key), u(nonce)) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, u(aad), static_cast<int>(aad.size())) != 1 ||
      EVP_EncryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &len, u(plain),
                        static_cast<int>(plain.size())) != 1) {
    return Internal("encrypting a Secret failed");
  }
  total = len;
  if (EVP_EncryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(out.data()) + total, &len) !=
          1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagSize, tag.data()) != 1) {
    return Internal("encrypting a Secret failed");
  }
  out.resize(static_cast<size_t>(total) + static_cast<size_t>(len));
  return kPrefix + EncodeBase64(nonce + out + tag);
}

Result<std::string> DecryptGcm(const std::string& key, const std::string& aad,
                               const std::string& sealed, const std::string& what) {
  const std::string prefix = kPrefix;
  if (sealed.compare(0, prefix.size(), prefix) != 0) {
    return Internal(what + ": stored in a form this Skiff does not know");
  }
  Result<std::string> raw = DecodeBase64(sealed.substr(prefix.size()));
  if (!raw.ok() || raw->size() < kNonceSize + kTagSize) {
    return Internal(what + ": its stored ciphertext is damaged");
  }
  const std::string nonce = raw->substr(0, kNonceSize);
  const std::string body = raw->substr(kNonceSize, raw->size() - kNonceSize - kTagSize);
  std::string tag = raw->substr(raw->size() - kTagSize);
  CipherContext ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  std::string out(body.size(), '\0');
  int len = 0, total = 0;
  auto u = [](const std::string& s) { return reinterpret_cast<const unsigned char*>(s.data()); };
  if (!ctx || EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, u(key), u(nonce)) != 1 ||
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, u(aad), static_cast<int>(aad.size())) != 1 ||
      EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &len, u(body),
                        static_cast<int>(body.size())) != 1) {
    return Internal(what + ": cannot be decrypted");
  }
  total = len;
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagSize, tag.data()) != 1 ||
      EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(out.data()) + total, &len) !=
          1) {
    return Internal(what + ": cannot be decrypted with " + std::string(kSecretsKeyFile) +
                    " (another key, or the stored value was changed)");
  }
  out.resize(static_cast<size_t>(total) + static_cast<size_t>(len));
  return out;
}

}  // namespace

Result<std::string> LoadOrCreateSecretsKey(const std::string& path, Store& store) {
  Result<std::string> text = ReadFile(path);
  if (text.ok()) {
    std::string trimmed = *text;
    while (!trimmed.empty() && (trimmed.back() == '\n' || trimmed.back() == ' ')) {
      trimmed.pop_back();
    }
    Result<std::string> key = DecodeBase64(trimmed);
    if (!key.ok() || key->size() != kKeySize) {
      return FailedPrecondition(path + ": not a Secrets key (base64 of 32 bytes)");
    }
    ::chmod(path.c_str(), 0600);
    return key;
  }
  // None: a new one, unless Secrets were encrypted with one that is gone.
  ListResult secrets;
  ASSIGN_OR_RETURN(secrets, store.List(kSecretType, "", {}));
  for (const Json& s : secrets.items) {
    if (IsSealed(s)) {
      return FailedPrecondition(
          path + " is missing, and the store holds Secrets encrypted with it (" + MetaNamespace(s) +
          "/" + MetaName(s) + "): put the key back from where it is kept safe");
    }
  }
  std::string key(kKeySize, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(key.data()), kKeySize) != 1) {
    return Internal("making a Secrets key: no random bytes");
  }
  RETURN_IF_ERROR(
      WriteFileAtomically(path, EncodeBase64(key) + "\n", {.mode = 0600, .sync = true}));
  return key;
}

EncryptingStore::EncryptingStore(std::unique_ptr<Store> inner, std::string key)
    : ForwardingStore(std::move(inner)), key_(std::move(key)) {}

Result<Json> EncryptingStore::Seal(Json secret) const {
  if (!secret.is_object()) return secret;
  Json payload = Json::object();
  for (const char* field : {"data", "stringData"}) {
    auto it = secret.find(field);
    if (it != secret.end()) {
      payload[field] = std::move(*it);
      secret.erase(field);
    }
  }
  secret.erase(kSealedField);
  ASSIGN_OR_RETURN(std::string sealed, EncryptGcm(key_, Aad(secret), payload.dump()));
  secret[kSealedField] = std::move(sealed);
  return secret;
}

Result<Json> EncryptingStore::Open(Json stored) const {
  if (!IsSealed(stored)) return stored;
  const std::string what = "Secret " + MetaNamespace(stored) + "/" + MetaName(stored);
  ASSIGN_OR_RETURN(std::string plain,
                   DecryptGcm(key_, Aad(stored), stored[kSealedField].get<std::string>(), what));
  Json payload = Json::parse(plain, nullptr, /*allow_exceptions=*/false);
  if (!payload.is_object()) return Internal(what + ": its decrypted value is damaged");
  stored.erase(kSealedField);
  for (auto it = payload.begin(); it != payload.end(); ++it) stored[it.key()] = it.value();
  return stored;
}

Result<int> EncryptingStore::EncryptAll() {
  ASSIGN_OR_RETURN(ListResult secrets, inner().List(kSecretType, "", {}));
  int done = 0;
  for (Json& s : secrets.items) {
    if (IsSealed(s)) continue;
    ASSIGN_OR_RETURN(Json sealed, Seal(std::move(s)));
    Result<Json> written = inner().Update(kSecretType, std::move(sealed));
    // Changed or deleted meanwhile: that write went through this store, encrypted.
    if (!written.ok() && written.status().code() != StatusCode::kConflict &&
        written.status().code() != StatusCode::kNotFound) {
      return written.status();
    }
    if (written.ok()) ++done;
  }
  return done;
}

Result<Json> EncryptingStore::Create(const std::string& type, Json object) {
  if (type != kSecretType) return inner().Create(type, std::move(object));
  ASSIGN_OR_RETURN(Json sealed, Seal(std::move(object)));
  ASSIGN_OR_RETURN(Json created, inner().Create(type, std::move(sealed)));
  return Open(std::move(created));
}

Result<Json> EncryptingStore::Get(const std::string& type, const std::string& ns,
                                  const std::string& name) {
  ASSIGN_OR_RETURN(Json got, inner().Get(type, ns, name));
  return type == kSecretType ? Open(std::move(got)) : got;
}

Result<Json> EncryptingStore::Update(const std::string& type, Json object) {
  if (type != kSecretType) return inner().Update(type, std::move(object));
  ASSIGN_OR_RETURN(Json sealed, Seal(std::move(object)));
  ASSIGN_OR_RETURN(Json updated, inner().Update(type, std::move(sealed)));
  return Open(std::move(updated));
}

Result<Json> EncryptingStore::Delete(const std::string& type, const std::string& ns,
                                     const std::string& name, int64_t expected_version) {
  ASSIGN_OR_RETURN(Json deleted, inner().Delete(type, ns, name, expected_version));
  return type == kSecretType ? Open(std::move(deleted)) : deleted;
}

Result<ListResult> EncryptingStore::List(const std::string& type, const std::string& ns,
                                         const ListOptions& options) {
  ASSIGN_OR_RETURN(ListResult listed, inner().List(type, ns, options));
  if (type != kSecretType) return listed;
  for (Json& item : listed.items) {
    ASSIGN_OR_RETURN(item, Open(std::move(item)));
  }
  return listed;
}

Result<std::vector<WatchEvent>> EncryptingStore::ReadChanges(const ChangeFilter& filter,
                                                             int64_t after, size_t limit) {
  ASSIGN_OR_RETURN(std::vector<WatchEvent> events, inner().ReadChanges(filter, after, limit));
  for (WatchEvent& e : events) {
    if (e.store_type == kSecretType) {
      ASSIGN_OR_RETURN(e.object, Open(std::move(e.object)));
    }
  }
  return events;
}

}  // namespace skiff
