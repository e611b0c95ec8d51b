// The certificates `skiff up` serves HTTPS with: a CA of this Skiff home and a server certificate
// it signs, made once and kept under a directory (SKIFF_HOME/tls), so that clients which send a
// bearer token only over TLS (kubectl and every client-go program) verify the server against the
// CA that `skiff kubeconfig` hands them.
//
//   ASSIGN_OR_RETURN(ServingCertificate tls,
//                    EnsureServingCertificate(home + "/tls", {"127.0.0.1", "localhost"}));
//   options.tls_cert_file = tls.cert_file;  // HttpServer::Options
//   options.tls_key_file = tls.key_file;
//
// Keys are ECDSA P-256, written mode 0600. The CA is kept for ten years; the server certificate
// for one, and made again (signed by the same CA, so kubeconfigs stay valid) when it is missing,
// unreadable, within 30 days of its end, not signed by the CA, or does not name every host asked
// for (IP addresses as IP SANs, names as DNS SANs).
//
// Thread-compatible: one `skiff up` per directory.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"

namespace skiff {

struct ServingCertificate {
  std::string ca_file;    // PEM: the CA certificate (what clients trust)
  std::string cert_file;  // PEM: the server certificate
  std::string key_file;   // PEM: the server's private key
};

Result<ServingCertificate> EnsureServingCertificate(const std::string& dir,
                                                    const std::vector<std::string>& hosts);

}  // namespace skiff
