#include "cli/cli.h"

#include <CLI/CLI.hpp>
#include <charconv>
#include <cstdint>
#include <cstdlib>

#include "cli/commands.h"
#include "controller/controller.h"
#include "serving/serve.h"

namespace skiff {

int RunCli(int argc, char** argv) {
  CLI::App app{"skiff: the Kubeflow platform in one binary"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all");

  cli::GlobalFlags g;
  app.add_option("--server", g.config.server, "server URL (default: from SKIFF_HOME/server.json)");
  app.add_option("--token", g.config.token, "bearer token (default: SKIFF_HOME/admin-token)");
  auto add_ns = [&](CLI::App* sub) {
    sub->add_option("-n,--namespace", g.namespace_, "namespace (profile)")->capture_default_str();
  };

  // skiff up
  cli::UpOptions up;
  if (const char* p = std::getenv("SKIFF_PORT"); p && *p) up.port = std::atoi(p);
  auto* up_cmd = app.add_subcommand("up", "start the platform on this machine");
  up_cmd->add_option("--port", up.port, "API port on 127.0.0.1 (0 picks a free one; SKIFF_PORT)")
      ->capture_default_str();
  up_cmd->add_option("--home", up.home, "state directory (SKIFF_HOME, default ~/.skiff)");
  up_cmd->add_option("--store", up.store_url, "store URL: sqlite path or postgresql://...");
  up_cmd->add_option("--log-level", up.log_level, "trace|debug|info|warn|error")
      ->capture_default_str();
  up_cmd
      ->add_option("--sandbox", up.sandbox,
                   "on: pods run confined, without SKIFF_HOME or the server's home; off: as the "
                   "server's user (SKIFF_SANDBOX)")
      ->check(CLI::IsMember({"on", "off"}))
      ->envname("SKIFF_SANDBOX")
      ->capture_default_str();
  up_cmd->add_option("--tls-cert-file", up.tls_cert_file,
                     "PEM certificate for HTTPS on the API port (default: one made under "
                     "SKIFF_HOME/tls, signed by that home's CA)");
  up_cmd->add_option("--tls-private-key-file", up.tls_key_file,
                     "PEM private key of --tls-cert-file");
  up_cmd
      ->add_option("--watch-history", up.watch_history_seconds,
                   "seconds of change history kept for watches to resume from; older versions "
                   "get 410 Expired (0: keep all) (SKIFF_WATCH_HISTORY)")
      ->check(CLI::Range(int64_t{0}, int64_t{10} * 365 * 24 * 3600))  // up to ten years
      ->envname("SKIFF_WATCH_HISTORY")
      ->capture_default_str();
  // One flag per setting the modules registered (--job-backoff-ms, ...).
  for (const ModuleSetting& setting : ModuleRegistry::Global().settings()) {
    auto* option = up_cmd->add_option("--" + setting.name, up.settings[setting.name], setting.help)
                       ->default_str(setting.default_value)
                       ->envname(setting.EnvName());
    if (setting.integer) {
      // What ControllerContext::IntSetting reads: a whole number, not negative.
      option->check(CLI::Validator(
          [](std::string& value) -> std::string {
            int64_t n = 0;
            auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
            if (ec != std::errc() || end != value.data() + value.size() || n < 0) {
              return "not a non-negative integer: " + value;
            }
            return "";
          },
          "UINT"));
    }
  }

  app.add_subcommand("config", "print the server URL and token location the CLI uses");

  std::vector<std::string> files;
  auto* apply = app.add_subcommand("apply", "create or update resources from YAML/JSON");
  apply->add_option("-f,--filename", files, "file, directory or - for stdin")->required();
  add_ns(apply);

  std::string kind, name, output, selector;
  auto* get = app.add_subcommand("get", "list or show resources");
  get->add_option("kind", kind, "kind (jobs, pods, profiles, ..., artifacts, executions)")
      ->required();
  get->add_option("name", name, "name");
  get->add_option("-o,--output", output, "yaml|json|name");
  get->add_option("-l,--selector", selector, "label selector");
  get->add_flag("-A,--all-namespaces", g.all_namespaces, "across all namespaces");
  bool show_managed_fields = false;
  get->add_flag("--show-managed-fields", show_managed_fields,
                "keep metadata.managedFields in -o json/yaml (hidden, as kubectl does)");
  add_ns(get);

  auto* describe = app.add_subcommand("describe", "show a resource in detail");
  describe->add_option("kind", kind)->required();
  describe->add_option("name", name)->required();
  add_ns(describe);

  std::vector<std::string> names;
  auto* del = app.add_subcommand("delete", "delete resources");
  del->add_option("kind", kind);
  del->add_option("names", names);
  del->add_option("-f,--filename", files, "file, directory or -");
  add_ns(del);

  std::string container;
  bool follow = false;
  std::string usage_by = "resource";
  std::string usage_since;
  auto* usage_cmd = app.add_subcommand(
      "usage", "CPU-seconds, peak and average memory and wall time of each resource's workloads");
  usage_cmd->add_option("--by", usage_by, "resource|kind|profile")->capture_default_str();
  usage_cmd->add_option("--since", usage_since, "only what changed within this time (24h, 7d)");
  usage_cmd->add_option("-o,--output", output, "json");
  usage_cmd->add_flag("-A,--all-namespaces", g.all_namespaces, "across all namespaces");
  add_ns(usage_cmd);

  auto* logs = app.add_subcommand("logs",
                                  "print a pod's logs (or KIND/NAME of a Job or another kind that "
                                  "runs pods: its latest pod's)");
  std::vector<std::string> log_targets;
  logs->add_option("target", log_targets, "POD | KIND/NAME (job/pi) | run NAME TASK")->required();
  logs->add_option("-c,--container", container, "container");
  logs->add_flag("-f,--follow", follow, "keep streaming until the pod ends");
  add_ns(logs);

  bool admin = false;
  std::string owner, role, user;
  auto* user_cmd = app.add_subcommand("user", "manage users");
  user_cmd->require_subcommand(1);
  auto* user_create = user_cmd->add_subcommand("create", "create a user");
  user_create->add_option("name", name)->required();
  user_create->add_flag("--admin", admin, "cluster administrator");

  auto* token_cmd = app.add_subcommand("token", "manage API tokens");
  token_cmd->require_subcommand(1);
  auto* token_create = token_cmd->add_subcommand("create", "mint a token (printed once)");
  token_create->add_option("--user", user, "user the token is for (default: yourself)");

  auto* profile_cmd = app.add_subcommand("profile", "manage profiles (namespaces)");
  profile_cmd->require_subcommand(1);
  auto* profile_create = profile_cmd->add_subcommand("create", "create a profile");
  profile_create->add_option("name", name)->required();
  profile_create->add_option("--owner", owner, "owning user (gets the admin role)")->required();

  auto* role_cmd = app.add_subcommand("role", "manage roles in a profile");
  role_cmd->require_subcommand(1);
  auto* role_grant = role_cmd->add_subcommand("grant", "give a user a role in a namespace");
  role_grant->add_option("user", user)->required();
  role_grant->add_option("--role", role, "admin|edit|view")->required();
  add_ns(role_grant);

  std::vector<std::string> params;
  bool no_cache = false, local = false;
  std::string run_name;
  auto* run = app.add_subcommand("run", "run a compiled KFP pipeline (IR YAML/JSON)");
  run->add_option("pipeline", name, "PIPELINE.yaml")->required();
  run->add_option("-p,--param", params, "pipeline parameter name=value (repeatable)");
  run->add_flag("--no-cache", no_cache, "run every task even when a cached result exists");
  run->add_option("--name", run_name, "run name (default: <pipeline>-<random>)");
  run->add_flag("--local", local, "run in this process even when a server is up");
  add_ns(run);

  std::string backup_dir, home, store_url;
  auto* backup = app.add_subcommand(
      "backup", "copy the store and SKIFF_HOME's files into a new folder, while the platform runs");
  backup->add_option("dir", backup_dir, "the backup's folder (must not exist)")->required();
  backup->add_option("--home", home, "the home to back up (default: SKIFF_HOME)");
  backup->add_option("--store", store_url, "its store, when not the SQLite file in the home");
  auto* restore =
      app.add_subcommand("restore", "restore a backup into a new (or empty) SKIFF_HOME");
  restore->add_option("dir", backup_dir, "the backup's folder")->required();
  restore->add_option("--home", home, "the home to restore into (default: SKIFF_HOME)");

  bool kubeconfig_path = false;
  auto* kubeconfig = app.add_subcommand(
      "kubeconfig", "print a kubeconfig for this server and token (for the Kubernetes clients)");
  kubeconfig->add_flag("--path", kubeconfig_path,
                       "write it to SKIFF_HOME/kubeconfig (0600) and print the path instead");
  add_ns(kubeconfig);

  serving::ServeOptions serve;
  auto* serve_cmd = app.add_subcommand(
      "serve", "serve a model over the Open Inference Protocol (V2) and KServe's V1 protocol");
  // KServe's model-server flags (--model_name, --model_dir, --http_port, --nthread) name the
  // same settings, so a ServingRuntime written for KServe's servers runs this one.
  serve_cmd
      ->add_option("model,--model_dir", serve.model_uri,
                   "the model: a folder, a file or a file:// URI")
      ->required();
  serve_cmd->add_option("--format", serve.format, "the model's format (xgboost)")->required();
  serve_cmd->add_option("--name,--model_name", serve.name, "the name it is served under")
      ->capture_default_str();
  serve_cmd->add_option("--address", serve.address, "address to listen on")->capture_default_str();
  serve_cmd->add_option("--port,--http_port", serve.port, "HTTP port (0 picks a free one)")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  serve_cmd->add_option("--nthread", serve.nthread, "threads per prediction")
      ->capture_default_str();
  serve_cmd->add_option("--model-repository", serve.repository_root,
                        "folder whose subfolders the repository API can load by name");
  serve_cmd->add_option("--log-level", serve.log_level, "trace|debug|info|warn|error")
      ->capture_default_str();
  bool no_access_log = false;
  serve_cmd->add_flag("--no-access-log", no_access_log, "log no line per inference request");

  CLI11_PARSE(app, argc, argv);
  if (serve_cmd->parsed()) {
    serve.access_log = !no_access_log;
    return serving::RunServe(serve);
  }
  if (kubeconfig->parsed()) return cli::CmdKubeconfig(g, kubeconfig_path);
  if (backup->parsed()) return cli::CmdBackup(backup_dir, home, store_url);
  if (restore->parsed()) return cli::CmdRestore(backup_dir, home);
  if (run->parsed()) return cli::CmdRun(g, name, params, no_cache, run_name, local);

  if (up_cmd->parsed()) return cli::CmdUp(up);
  if (app.got_subcommand("config")) return cli::CmdConfig(g);
  if (apply->parsed()) return cli::CmdApply(g, files);
  if (get->parsed() && cli::IsLineageKind(kind)) return cli::CmdGetLineage(g, kind, name, output);
  if (get->parsed()) return cli::CmdGet(g, kind, name, output, selector, show_managed_fields);
  if (describe->parsed() && cli::IsLineageKind(kind)) return cli::CmdDescribeLineage(g, kind, name);
  if (describe->parsed()) return cli::CmdDescribe(g, kind, name);
  if (del->parsed()) {
    if (files.empty() && (kind.empty() || names.empty())) {
      std::fprintf(stderr, "error: give KIND NAME... or -f FILE\n");
      return 2;
    }
    return cli::CmdDelete(g, kind, names, files);
  }
  if (usage_cmd->parsed()) return cli::CmdUsage(g, usage_by, usage_since, output);
  if (logs->parsed()) {
    if (log_targets[0] == "run" || log_targets[0] == "runs") {
      if (log_targets.size() != 3) {
        std::fprintf(stderr, "error: usage: skiff logs run NAME TASK\n");
        return 2;
      }
      return cli::CmdRunLogs(g, log_targets[1], log_targets[2]);
    }
    if (log_targets.size() != 1) {
      std::fprintf(stderr, "error: usage: skiff logs POD | KIND/NAME | run NAME TASK\n");
      return 2;
    }
    return cli::CmdLogs(g, log_targets[0], container, follow);
  }
  if (user_create->parsed()) return cli::CmdUserCreate(g, name, admin);
  if (token_create->parsed()) return cli::CmdTokenCreate(g, user);
  if (profile_create->parsed()) return cli::CmdProfileCreate(g, name, owner);
  if (role_grant->parsed()) return cli::CmdRoleGrant(g, user, role);
  return 2;
}

}  // namespace skiff
