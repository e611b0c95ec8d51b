#include "store/postgres/testing_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

extern char** environ;

namespace skiff {
namespace {

namespace fs = std::filesystem;

// The newest /usr/lib/postgresql/<version>/bin holding initdb, or $SKIFF_PG_BIN.
Result<std::string> FindBinDir() {
  if (const char* env = std::getenv("SKIFF_PG_BIN"); env && *env) {
    if (!fs::exists(fs::path(env) / "initdb") || !fs::exists(fs::path(env) / "pg_ctl")) {
      return FailedPrecondition(std::string("SKIFF_PG_BIN=") + env + " has no initdb and pg_ctl");
    }
    return std::string(env);
  }
  std::string best;
  int best_version = -1;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    fs::path bin = entry.path() / "bin";
    if (!fs::exists(bin / "initdb") || !fs::exists(bin / "pg_ctl")) continue;
    int version = std::atoi(entry.path().filename().c_str());
    if (version > best_version) {
      best_version = version;
      best = bin.string();
    }
  }
  if (best.empty()) {
    return FailedPrecondition(
        "PostgreSQL server binaries not found: no /usr/lib/postgresql/*/bin/initdb and pg_ctl "
        "(install the 'postgresql' package or set SKIFF_PG_BIN)");
  }
  return best;
}

// A port that was free a moment ago: bind port 0 on 127.0.0.1, read it back, close.
Result<int> PickFreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return Unavailable("socket() failed picking a port for PostgreSQL");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    close(fd);
    return Unavailable("cannot bind 127.0.0.1:0 to pick a port for PostgreSQL");
  }
  close(fd);
  return static_cast<int>(ntohs(addr.sin_port));
}

std::string Tail(const std::string& path, size_t max_bytes) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string text = buffer.str();
  if (text.size() > max_bytes) text = "..." + text.substr(text.size() - max_bytes);
  return text;
}

}  // namespace

Result<std::unique_ptr<PostgresTestingServer>> PostgresTestingServer::Start() {
  ASSIGN_OR_RETURN(std::string bin_dir, FindBinDir());
  bool as_postgres = geteuid() == 0;
  uid_t uid = 0;
  gid_t gid = 0;
  if (as_postgres) {
    passwd* pw = getpwnam("postgres");
    if (pw == nullptr) {
      return FailedPrecondition(
          "running as root, and initdb refuses root, but there is no 'postgres' user to run it as");
    }
    uid = pw->pw_uid;
    gid = pw->pw_gid;
  }
  std::string tmpl = (fs::temp_directory_path() / "skiff-pg-XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) {
    return Unavailable("cannot create a temporary directory for PostgreSQL under " +
                       fs::temp_directory_path().string());
  }
  std::unique_ptr<PostgresTestingServer> server(
      new PostgresTestingServer(bin_dir, tmpl, as_postgres));
  if (as_postgres && chown(tmpl.c_str(), uid, gid) != 0) {
    return Unavailable("cannot chown " + tmpl + " to the postgres user");
  }
  RETURN_IF_ERROR(server->RunTool("initdb", {"-D", server->dir_ + "/data", "--auth=trust", "-U",
                                             "skiff", "-E", "UTF8", "--locale=C", "--no-sync"}));
  // The port can be taken between picking and binding; try a few.
  Status started;
  for (int attempt = 0; attempt < 3; ++attempt) {
    ASSIGN_OR_RETURN(server->port_, PickFreePort());
    started = server->StartServer();
    if (started.ok()) return server;
  }
  return started;
}

PostgresTestingServer::PostgresTestingServer(std::string bin_dir, std::string dir,
                                             bool as_postgres_user)
    : bin_dir_(std::move(bin_dir)), dir_(std::move(dir)), as_postgres_user_(as_postgres_user) {}

PostgresTestingServer::~PostgresTestingServer() {
  Stop().ok();  // best effort: Stop already escalates to signals
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

std::string PostgresTestingServer::ToolsLogTail() const {
  return Tail(dir_ + "/tools.log", 2000) + Tail(dir_ + "/server.log", 2000);
}

Status PostgresTestingServer::RunTool(const std::string& tool,
                                      const std::vector<std::string>& args) {
  std::vector<std::string> argv;
  if (as_postgres_user_) argv = {"runuser", "-u", "postgres", "--"};
  argv.push_back(bin_dir_ + "/" + tool);
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> cargv;
  for (std::string& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  std::string log = dir_ + "/tools.log";
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, cargv[0], &actions, nullptr, cargv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    return FailedPrecondition("cannot run " + argv[0] + ": " + std::strerror(rc));
  }
  int wstatus = 0;
  while (waitpid(pid, &wstatus, 0) < 0) {
    if (errno != EINTR) return Internal("waitpid for " + tool + " failed");
  }
  if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) {
    return Unavailable("PostgreSQL " + tool + " failed (status " + std::to_string(wstatus) +
                       "), log:\n" + ToolsLogTail());
  }
  return Status::Ok();
}

Status PostgresTestingServer::StartServer() {
  std::string options = "-k " + dir_ + " -p " + std::to_string(port_) +
                        " -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off";
  RETURN_IF_ERROR(RunTool("pg_ctl", {"-D", dir_ + "/data", "-l", dir_ + "/server.log", "-o",
                                     options, "-w", "-t", "60", "start"}));
  running_ = true;
  // pg_ctl -w waits for the server; confirm it accepts TCP connections before handing it out.
  std::string conninfo =
      "host=127.0.0.1 port=" + std::to_string(port_) + " user=skiff dbname=postgres";
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (PQping(conninfo.c_str()) != PQPING_OK) {
    if (std::chrono::steady_clock::now() > deadline) {
      Stop().ok();  // the readiness failure is the error to report
      return Unavailable("PostgreSQL on port " + std::to_string(port_) +
                         " did not become ready in 30s, log:\n" + ToolsLogTail());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return Status::Ok();
}

Status PostgresTestingServer::Stop() {
  if (!running_) return Status::Ok();
  running_ = false;
  Status status = RunTool("pg_ctl", {"-D", dir_ + "/data", "-m", "fast", "-w", "-t", "30", "stop"});
  if (status.ok()) return status;
  // pg_ctl could not stop it: kill the postmaster named in its pid file so nothing leaks.
  std::ifstream pid_file(dir_ + "/data/postmaster.pid");
  long pid = 0;
  if (pid_file >> pid && pid > 0) kill(static_cast<pid_t>(pid), SIGKILL);
  return status;
}

std::string PostgresTestingServer::Url(const std::string& database) const {
  return "postgresql://skiff@127.0.0.1:" + std::to_string(port_) + "/" + database;
}

Result<std::string> PostgresTestingServer::CreateDatabase(const std::string& name) {
  bool valid =
      !name.empty() && name.size() < 60 && std::islower(static_cast<unsigned char>(name[0]));
  for (char c : name) {
    valid = valid && (std::islower(static_cast<unsigned char>(c)) ||
                      std::isdigit(static_cast<unsigned char>(c)) || c == '_');
  }
  if (!valid) {
    return InvalidArgument("database name '" + name + "' must be a lowercase identifier");
  }
  PGconn* conn = PQconnectdb(Url("postgres").c_str());
  std::unique_ptr<PGconn, void (*)(PGconn*)> guard(conn, &PQfinish);
  if (PQstatus(conn) != CONNECTION_OK) {
    return Unavailable("cannot connect to the testing PostgreSQL: " +
                       std::string(PQerrorMessage(conn)));
  }
  std::unique_ptr<PGresult, void (*)(PGresult*)> result(
      PQexec(conn, ("CREATE DATABASE " + name).c_str()), &PQclear);
  if (PQresultStatus(result.get()) != PGRES_COMMAND_OK) {
    return Internal("CREATE DATABASE " + name + ": " + PQresultErrorMessage(result.get()));
  }
  return Url(name);
}

}  // namespace skiff
