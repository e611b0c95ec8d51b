// PostgresTestingServer: a real, throwaway PostgreSQL server for tests, living in a temporary
// directory: initdb (trust auth, superuser "skiff"), pg_ctl start on 127.0.0.1 and a free port,
// and on destruction pg_ctl stop -m fast and removal of the directory.
//
//   ASSIGN_OR_RETURN(auto server, PostgresTestingServer::Start());
//   ASSIGN_OR_RETURN(std::string url, server->CreateDatabase("t1"));  // "postgresql://skiff@..."
//   ASSIGN_OR_RETURN(auto store, OpenStore(url, clock));
//
// Binaries come from $SKIFF_PG_BIN or the newest /usr/lib/postgresql/*/bin; a clear
// kFailedPrecondition names what is missing. initdb refuses to run as root, so when euid is 0 the
// server tools run through `runuser -u postgres --` and the directory is chowned to that user.
// Thread-compatible: create in a test environment, share read-only.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/status.h"

namespace skiff {

class PostgresTestingServer {
 public:
  static Result<std::unique_ptr<PostgresTestingServer>> Start();
  // Stops the server (if still running) and removes its directory.
  ~PostgresTestingServer();

  PostgresTestingServer(const PostgresTestingServer&) = delete;
  PostgresTestingServer& operator=(const PostgresTestingServer&) = delete;

  // Stops the server now; idempotent.
  Status Stop();

  int port() const { return port_; }
  const std::string& directory() const { return dir_; }
  // The connection URL for `database` on this server.
  std::string Url(const std::string& database) const;
  // Creates an empty database and returns its URL. `name` must be a lowercase identifier.
  Result<std::string> CreateDatabase(const std::string& name);

 private:
  PostgresTestingServer(std::string bin_dir, std::string dir, bool as_postgres_user);
  // Runs a server tool (through runuser when root), output appended to the tools log.
  Status RunTool(const std::string& tool, const std::vector<std::string>& args);
  Status StartServer();
  std::string ToolsLogTail() const;

  const std::string bin_dir_;
  const std::string dir_;  // the temporary directory: data/, sockets, logs
  const bool as_postgres_user_;
  int port_ = 0;
  bool running_ = false;
};

}  // namespace skiff
