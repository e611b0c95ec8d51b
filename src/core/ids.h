// Names and ids: random UUIDs, random secrets, SHA-256, Kubernetes-style generated names.
//
//   std::string uid = NewUuid();                   // "3f2b...-..."
//   std::string pod = GenerateName("pi-");          // "pi-x7k2p"
//   std::string h = Sha256Hex("secret");
//
// Thread-safe (randomness comes from the OS via OpenSSL).
#pragma once

#include <cstddef>
#include <string>

#include "core/status.h"

namespace skiff {

std::string NewUuid();
// `bytes` random bytes, hex-encoded.
std::string RandomHex(size_t bytes);
// prefix + 5 random lowercase alphanumerics, as Kubernetes does for generateName: a longer
// prefix is cut to kMaxGenerateNamePrefix, so that every generated name fits 63 characters (and
// an object can always be read, replaced and deleted by its name).
inline constexpr size_t kMaxGenerateNamePrefix = 58;
std::string GenerateName(const std::string& prefix);
std::string Sha256Hex(const std::string& data);
// A UUID-shaped id derived from `seed` (its SHA-256): the same seed gives the same id, so ids of
// things re-created after a restart do not change.
std::string StableUuid(const std::string& seed);
// `name` usable as one path component: characters other than [A-Za-z0-9._-] become '_', and
// "", "." and ".." get a leading '_'.
std::string SafePathComponent(const std::string& name);

// Standard base64 (RFC 4648) with padding; Decode accepts input without padding and fails on
// characters outside the alphabet.
std::string EncodeBase64(const std::string& data);
Result<std::string> DecodeBase64(const std::string& text);

}  // namespace skiff
