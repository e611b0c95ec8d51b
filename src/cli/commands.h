// The `skiff` subcommands, one function each; cli.cc wires them to CLI11.
// Each returns the process exit code and prints errors as "error: <what>" on stderr.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "cli/api_client.h"
#include "cli/config.h"

namespace skiff::cli {

struct GlobalFlags {
  ConfigFlags config;
  std::string namespace_ = "default";
  bool all_namespaces = false;
};

// Prints "error: <message>" to stderr; returns the exit code 1.
int Fail(const Status& st);
// A client of the server the CLI's config (or --server/--token) names.
Result<ApiClient> Connect(const GlobalFlags& g);

int CmdConfig(const GlobalFlags& g);
int CmdApply(const GlobalFlags& g, const std::vector<std::string>& files);
int CmdGet(const GlobalFlags& g, const std::string& kind, const std::string& name,
           const std::string& output, const std::string& selector, bool show_managed_fields);
int CmdDescribe(const GlobalFlags& g, const std::string& kind, const std::string& name);
int CmdDelete(const GlobalFlags& g, const std::string& kind, const std::vector<std::string>& names,
              const std::vector<std::string>& files);
int CmdLogs(const GlobalFlags& g, const std::string& target, const std::string& container,
            bool follow);
int CmdUserCreate(const GlobalFlags& g, const std::string& name, bool admin);
int CmdTokenCreate(const GlobalFlags& g, const std::string& user);
int CmdProfileCreate(const GlobalFlags& g, const std::string& name, const std::string& owner);
int CmdRoleGrant(const GlobalFlags& g, const std::string& user, const std::string& role);

int CmdRun(const GlobalFlags& g, const std::string& file, const std::vector<std::string>& params,
           bool no_cache, const std::string& name, bool local);
int CmdRunLogs(const GlobalFlags& g, const std::string& run, const std::string& task);

// Lineage across the runs of a namespace (artifact_cmd.cc): `get artifacts [URI]`,
// `describe artifact URI`, `get executions [TASK]`.
bool IsLineageKind(const std::string& kind);  // artifact(s), execution(s)
int CmdGetLineage(const GlobalFlags& g, const std::string& kind, const std::string& name,
                  const std::string& output);
int CmdDescribeLineage(const GlobalFlags& g, const std::string& kind, const std::string& name);

// What each owning resource's workloads used (usage_cmd.cc): `skiff usage [--by resource|kind|
// profile] [--since 24h] [-o json]`, over the namespace or, with -A, every namespace the caller
// may read. --since keeps the resources whose usage changed within that time.
int CmdUsage(const GlobalFlags& g, const std::string& by, const std::string& since,
             const std::string& output);
// "90s", "30m", "24h", "7d" ("" is 0: no window).
Result<std::chrono::seconds> ParseSince(const std::string& text);
// "1.23 EUR"; amounts under a cent keep six decimals.
std::string Money(double amount, const std::string& currency);
// The `Usage:` (and `Cost:`) lines `skiff describe` shows for an object from its UsageRecord.
std::string DescribeUsage(const Json& usage_record);

struct UpOptions {
  int port = 8888;
  std::string home;
  std::string store_url;  // "" = sqlite under home
  std::string log_level = "info";
  // The modules' settings (ModuleRegistry::AddSetting) given on the command line; "" = not given.
  std::map<std::string, std::string> settings;
  std::string sandbox = "on";  // on | off (PlatformOptions::sandbox)
  // The certificate and key HTTPS is served with; "" = made under SKIFF_HOME/tls, signed by a CA
  // of that home (tls_certificates.h) which `skiff kubeconfig` hands to clients.
  std::string tls_cert_file;
  std::string tls_key_file;
  int64_t watch_history_seconds = 300;  // PlatformOptions::watch_history
};
int CmdUp(const UpOptions& options);

// skiff kubeconfig [--path]: prints a kubeconfig for this server and token (a context per
// namespace the user has), or writes it to SKIFF_HOME/kubeconfig (0600) and prints its path.
int CmdKubeconfig(const GlobalFlags& g, bool write_file);

// skiff backup DIR / skiff restore DIR (backup.h); "" home = SKIFF_HOME.
int CmdBackup(const std::string& dir, const std::string& home, const std::string& store_url);
int CmdRestore(const std::string& dir, const std::string& home);

}  // namespace skiff::cli
