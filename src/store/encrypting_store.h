// EncryptingStore: Secrets encrypted at rest, as Kubernetes' EncryptionConfiguration (aesgcm
// provider) does it: a Store wrapping another, which keeps the `data` and `stringData` of every
// Secret as AES-256-GCM ciphertext under a key that is not in the database
// (SKIFF_HOME/secrets.key, 0600). Whoever reads through it sees Secrets as they were written;
// the database file, its WAL or a copy of them, does not hold a Secret's values.
//
// Stored form: the Secret without data and stringData, plus
//   "encrypted": "aesgcm:v1:<base64 of 12-byte nonce, ciphertext, 16-byte tag>"
// with "secrets/<namespace>/<name>" as additional authenticated data, so a ciphertext copied
// into another Secret does not decrypt. A Secret stored in plain text (by an older Skiff) reads
// as it is and is encrypted at its next write; EncryptAll encrypts them all at once.
//
//   ASSIGN_OR_RETURN(std::string key, LoadOrCreateSecretsKey(home + "/secrets.key", *store));
//   store = std::make_unique<EncryptingStore>(std::move(store), key);
//
// Thread-safe as the wrapped store is.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "store/forwarding_store.h"

namespace skiff {

inline constexpr char kSecretsKeyFile[] = "secrets.key";

// The key in `path` (base64 of 32 bytes). When there is none, a new one is made (0600) unless
// `store` already holds encrypted Secrets: then their key is lost, and that is an error saying
// so rather than a new key that reads none of them.
Result<std::string> LoadOrCreateSecretsKey(const std::string& path, Store& store);

class EncryptingStore : public ForwardingStore {
 public:
  // `key`: 32 bytes.
  EncryptingStore(std::unique_ptr<Store> inner, std::string key);

  // Rewrites every Secret stored in plain text, encrypted. Returns how many.
  Result<int> EncryptAll();

  Result<Json> Create(const std::string& type, Json object) override;
  Result<Json> Get(const std::string& type, const std::string& ns,
                   const std::string& name) override;
  Result<Json> Update(const std::string& type, Json object) override;
  Result<Json> Delete(const std::string& type, const std::string& ns, const std::string& name,
                      int64_t expected_version) override;
  Result<ListResult> List(const std::string& type, const std::string& ns,
                          const ListOptions& options) override;
  Result<std::vector<WatchEvent>> ReadChanges(const ChangeFilter& filter, int64_t after,
                                              size_t limit) override;

  // The stored form of a Secret / a Secret from its stored form (unchanged when it is not
  // encrypted). Errors name the Secret.
  Result<Json> Seal(Json secret) const;
  Result<Json> Open(Json stored) const;

 private:
  const std::string key_;
};

}  // namespace skiff
