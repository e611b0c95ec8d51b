// Where the CLI finds the server and its credentials.
//
// `skiff up` writes `<SKIFF_HOME>/server.json` ({"url": ..., "https_url": ..., "ca_file": ...,
// "pid": ..., "token_file": ...}) and the admin token file; every other command run with the same
// SKIFF_HOME reads them. SKIFF_SERVER and SKIFF_TOKEN (or --server/--token) override.
//
//   ASSIGN_OR_RETURN(ClientConfig cfg, LoadClientConfig(flags));
//
// Thread-compatible.
#pragma once

#include <string>

#include "core/files.h"
#include "core/resource.h"
#include "core/status.h"

namespace skiff::cli {

// SKIFF_HOME or ~/.skiff.
std::string SkiffHome();

struct ClientConfig {
  std::string url;         // "http://127.0.0.1:8888"
  std::string token;       // bearer token
  std::string token_file;  // where the token came from ("" when from a flag or env)
  std::string source;      // where the URL came from, for `skiff config`
  // From server.json only: the same server over HTTPS, and the CA file that signed its
  // certificate ("" when the certificate is not Skiff's own).
  std::string https_url;
  std::string ca_file;
};

struct ConfigFlags {
  std::string server;  // --server
  std::string token;   // --token
};

Result<ClientConfig> LoadClientConfig(const ConfigFlags& flags);

// What `skiff up` writes to server.json once it listens; removed when it stops.
struct ServerFile {
  std::string url;        // "http://127.0.0.1:8888"
  std::string https_url;  // "https://127.0.0.1:8888", "" without TLS
  std::string ca_file;    // the CA of https_url's certificate, "" when not Skiff's own
  std::string token_file;
};
Status WriteServerFile(const std::string& home, const ServerFile& server);
void RemoveServerFile(const std::string& home);

}  // namespace skiff::cli
