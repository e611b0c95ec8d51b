#include "http/tls_certificates.h"

#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <filesystem>
#include <memory>
#include <set>

#include "core/files.h"

namespace skiff {
namespace {

struct FreeKey {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct FreeCert {
  void operator()(X509* c) const { X509_free(c); }
};
struct FreeBio {
  void operator()(BIO* b) const { BIO_free(b); }
};
using Key = std::unique_ptr<EVP_PKEY, FreeKey>;
using Cert = std::unique_ptr<X509, FreeCert>;
using Bio = std::unique_ptr<BIO, FreeBio>;

constexpr long kDay = 24L * 60 * 60;

// The last OpenSSL error, for messages.
std::string OpenSslError() {
  unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "unknown error";
  char text[256];
  ERR_error_string_n(code, text, sizeof(text));
  return text;
}

Status Failed(const std::string& what) {
  return Internal("tls certificates: " + what + ": " + OpenSslError());
}

std::string BioText(BIO* bio) {
  char* data = nullptr;
  long size = BIO_get_mem_data(bio, &data);
  return size > 0 ? std::string(data, static_cast<size_t>(size)) : std::string();
}

Result<std::string> KeyPem(EVP_PKEY* key) {
  Bio bio(BIO_new(BIO_s_mem()));
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return Failed("writing a key");
  }
  return BioText(bio.get());
}

Result<std::string> CertPem(X509* cert) {
  Bio bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) return Failed("writing a certificate");
  return BioText(bio.get());
}

// The key or certificate in a PEM file (read with OpenSSL's `read`); null when it is missing or
// not one.
template <typename Owned, typename Read>
Owned ReadPem(const std::string& path, Read read) {
  auto text = ReadFile(path);
  if (!text.ok()) return nullptr;
  Bio bio(BIO_new_mem_buf(text->data(), static_cast<int>(text->size())));
  Owned pem(bio ? read(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  ERR_clear_error();
  return pem;
}
Key ReadKey(const std::string& path) { return ReadPem<Key>(path, PEM_read_bio_PrivateKey); }
Cert ReadCert(const std::string& path) { return ReadPem<Cert>(path, PEM_read_bio_X509); }

Result<Key> NewKey() {
  Key key(EVP_EC_gen("P-256"));
  if (!key) return Failed("making an ECDSA P-256 key");
  return key;
}

Status AddExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (ext == nullptr) return Failed("the extension " + value);
  const int added = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  if (added != 1) return Failed("adding the extension " + value);
  return Status::Ok();
}

bool IsIpAddress(const std::string& host) {
  ASN1_OCTET_STRING* ip = a2i_IPADDRESS(host.c_str());
  if (ip == nullptr) {
    ERR_clear_error();
    return false;
  }
  ASN1_OCTET_STRING_free(ip);
  return true;
}

// A certificate for `common_name`, valid `days` from now, signed by `issuer_key` (and
// `issuer`, or itself when null: a self-signed CA).
Result<Cert> NewCert(EVP_PKEY* key, const std::string& common_name, long days, X509* issuer,
                     EVP_PKEY* issuer_key, const std::vector<std::string>& hosts) {
  Cert cert(X509_new());
  if (!cert) return Failed("making a certificate");
  X509_set_version(cert.get(), 2);
  unsigned char serial[16];
  if (RAND_bytes(serial, sizeof(serial)) != 1) return Failed("a serial number");
  serial[0] &= 0x7f;  // positive
  BIGNUM* bn = BN_bin2bn(serial, sizeof(serial), nullptr);
  if (bn == nullptr || BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get())) == nullptr) {
    BN_free(bn);
    return Failed("a serial number");
  }
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -kDay);  // tolerate clocks a little behind
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), days * kDay);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("skiff"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1,
                             0);
  X509* signer = issuer != nullptr ? issuer : cert.get();
  X509_set_issuer_name(cert.get(), X509_get_subject_name(signer));
  if (issuer == nullptr) {
    RETURN_IF_ERROR(AddExtension(cert.get(), signer, NID_basic_constraints, "critical,CA:TRUE"));
    RETURN_IF_ERROR(AddExtension(cert.get(), signer, NID_key_usage,
                                 "critical,keyCertSign,cRLSign,digitalSignature"));
    RETURN_IF_ERROR(AddExtension(cert.get(), signer, NID_subject_key_identifier, "hash"));
  } else {
    RETURN_IF_ERROR(AddExtension(cert.get(), signer, NID_basic_constraints, "critical,CA:FALSE"));
    RETURN_IF_ERROR(AddExtension(cert.get(), signer, NID_key_usage, "critical,digitalSignature"));
    RETURN_IF_ERROR(AddExtension(cert.get(), signer, NID_ext_key_usage, "serverAuth"));
    RETURN_IF_ERROR(AddExtension(cert.get(), signer, NID_authority_key_identifier, "keyid"));
    std::string sans;
    for (const std::string& host : hosts) {
      if (!sans.empty()) sans += ",";
      sans += (IsIpAddress(host) ? "IP:" : "DNS:") + host;
    }
    if (!sans.empty()) {
      RETURN_IF_ERROR(AddExtension(cert.get(), signer, NID_subject_alt_name, sans));
    }
  }
  if (X509_sign(cert.get(), issuer_key, EVP_sha256()) == 0) return Failed("signing");
  return cert;
}

// True when `cert` has begun and lasts at least `days` more days.
bool LastsAnother(X509* cert, long days) {
  if (X509_cmp_time(X509_get0_notBefore(cert), nullptr) >= 0) return false;
  ASN1_TIME* soon = X509_time_adj_ex(nullptr, static_cast<int>(days), 0, nullptr);
  const bool lasts = soon != nullptr && ASN1_TIME_compare(X509_get0_notAfter(cert), soon) > 0;
  ASN1_TIME_free(soon);
  return lasts;
}

// True when the certificate names every host (X509_check_host / X509_check_ip_asc).
bool NamesEvery(X509* cert, const std::vector<std::string>& hosts) {
  for (const std::string& host : hosts) {
    const int ok = IsIpAddress(host) ? X509_check_ip_asc(cert, host.c_str(), 0)
                                     : X509_check_host(cert, host.c_str(), host.size(), 0, nullptr);
    if (ok != 1) return false;
  }
  return true;
}

Status WritePem(const std::string& path, const std::string& text) {
  return WriteFileAtomically(path, text, {.mode = path.ends_with(".key") ? 0600 : 0644});
}

}  // namespace

Result<ServingCertificate> EnsureServingCertificate(const std::string& dir,
                                                    const std::vector<std::string>& hosts) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Unavailable("tls certificates: cannot make " + dir + ": " + ec.message());
  ::chmod(dir.c_str(), 0700);
  ServingCertificate out{dir + "/ca.crt", dir + "/tls.crt", dir + "/tls.key"};
  const std::string ca_key_file = dir + "/ca.key";

  Key ca_key = ReadKey(ca_key_file);
  Cert ca = ReadCert(out.ca_file);
  const bool ca_ok = ca_key && ca && X509_check_private_key(ca.get(), ca_key.get()) == 1 &&
                     LastsAnother(ca.get(), 30);
  ERR_clear_error();
  if (!ca_ok) {
    ASSIGN_OR_RETURN(ca_key, NewKey());
    ASSIGN_OR_RETURN(ca, NewCert(ca_key.get(), "skiff-ca", 3650, nullptr, ca_key.get(), {}));
    ASSIGN_OR_RETURN(std::string key_pem, KeyPem(ca_key.get()));
    ASSIGN_OR_RETURN(std::string cert_pem, CertPem(ca.get()));
    RETURN_IF_ERROR(WritePem(ca_key_file, key_pem));
    RETURN_IF_ERROR(WritePem(out.ca_file, cert_pem));
  }

  Key key = ReadKey(out.key_file);
  Cert cert = ReadCert(out.cert_file);
  const bool cert_ok = ca_ok && key && cert && X509_check_private_key(cert.get(), key.get()) == 1 &&
                       X509_verify(cert.get(), ca_key.get()) == 1 && LastsAnother(cert.get(), 30) &&
                       NamesEvery(cert.get(), hosts);
  ERR_clear_error();
  if (!cert_ok) {
    ASSIGN_OR_RETURN(key, NewKey());
    ASSIGN_OR_RETURN(cert, NewCert(key.get(), "skiff", 365, ca.get(), ca_key.get(), hosts));
    ASSIGN_OR_RETURN(std::string key_pem, KeyPem(key.get()));
    ASSIGN_OR_RETURN(std::string cert_pem, CertPem(cert.get()));
    RETURN_IF_ERROR(WritePem(out.key_file, key_pem));
    RETURN_IF_ERROR(WritePem(out.cert_file, cert_pem));
  }
  return out;
}

}  // namespace skiff
