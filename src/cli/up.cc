// `skiff up`: assembles the platform on this machine (store, auth, local backend, controllers,
// API server), prints where it is, and runs until SIGINT/SIGTERM, then stops everything it
// started, children included.

#include <cstdio>

#include "api/api_server.h"
#include "auth/auth.h"
#include "cli/commands.h"
#include "cli/config.h"
#include "cli/platform.h"
#include "controller/controller.h"
#include "core/files.h"
#include "core/log.h"
#include "core/stop_signals.h"
#include "http/tls_certificates.h"
#include "store/store.h"

namespace skiff::cli {
namespace {

int Fail(const std::string& what, const Status& st) {
  std::fprintf(stderr, "error: %s: %s\n", what.c_str(), st.message().c_str());
  return 1;
}

}  // namespace

int CmdUp(const UpOptions& options) {
  const std::string home = options.home.empty() ? SkiffHome() : options.home;
  InitLogging("", options.log_level);

  // The stop signals reach this thread only, which waits for them below.
  StopSignals stop_signals;

  Clock& clock = SystemClock::Instance();
  auto platform =
      Platform::Create({home, options.store_url, options.settings, options.sandbox == "on",
                        std::chrono::seconds(options.watch_history_seconds)});
  if (!platform.ok()) return Fail("starting the platform", platform.status());
  Platform& p = **platform;

  auto token_file = Bootstrap(p.store(), clock, home);
  if (!token_file.ok()) return Fail("creating the admin user", token_file.status());

  Authenticator authenticator(p.store(), clock);
  Authorizer authorizer(p.store());
  std::vector<std::shared_ptr<void>> route_state;  // what the routes use: outlives `api`
  ApiServer::Options api_options;
  api_options.port = options.port;
  // HTTPS beside HTTP on the API port: kubectl and client-go send a token only over TLS.
  std::string ca_file;
  if (options.tls_cert_file.empty() != options.tls_key_file.empty()) {
    return Fail("serving HTTPS",
                InvalidArgument("--tls-cert-file and --tls-private-key-file go together"));
  }
  if (options.tls_cert_file.empty()) {
    auto tls = EnsureServingCertificate(home + "/tls", {api_options.address, "localhost"});
    if (!tls.ok()) return Fail("making the HTTPS certificate", tls.status());
    api_options.tls_cert_file = tls->cert_file;
    api_options.tls_key_file = tls->key_file;
    ca_file = tls->ca_file;
  } else {
    api_options.tls_cert_file = AbsolutePath(options.tls_cert_file);
    api_options.tls_key_file = AbsolutePath(options.tls_key_file);
  }
  ApiServer api(api_options, p.store(), authenticator, authorizer, clock);
  // The modules' own routes (KFP's REST API, lineage, logs).
  RouteContext routes{api.metered_store(), p.backend(), authorizer, clock, home};
  routes.add_route = [&api](const std::string& method, const std::string& pattern,
                            Handler handler) { api.AddRoute(method, pattern, std::move(handler)); };
  Status routed = ModuleRegistry::Global().InstallRoutes(routes, &route_state);
  if (!routed.ok()) return Fail("adding the modules' routes", routed);

  auto& workloads =
      api.metrics().GaugeFamily("skiff_workloads", "Workloads on the local backend by phase");
  api.metrics().AddCollectHook([&workloads, &p] {
    std::map<std::string, double> by_phase;
    for (const char* phase : {"Pending", "Running", "Succeeded", "Failed", "Unknown"}) {
      by_phase[phase] = 0;
    }
    for (const WorkloadStatus& w : p.backend().List()) by_phase[WorkloadPhaseName(w.phase)] += 1;
    for (const auto& [phase, count] : by_phase) workloads.Add({{"phase", phase}}).Set(count);
  });

  // The controllers' runtime: reconciles, their failures (an error returned or an exception
  // caught) and the objects their kind's schema refuses, per controller.
  auto& reconciles = api.metrics().CounterFamily("skiff_reconcile_total", "Reconciles run");
  auto& failures = api.metrics().CounterFamily(
      "skiff_reconcile_errors_total", "Reconciles that failed, by how (error or exception)");
  auto& invalid = api.metrics().GaugeFamily(
      "skiff_invalid_objects",
      "Objects a controller does not reconcile: their schema refuses them");
  // A counter kept elsewhere, brought up to its total at each scrape.
  auto advance = [](prometheus::Counter& c, double total) {
    if (total > c.Value()) c.Increment(total - c.Value());
  };
  api.metrics().AddCollectHook([&reconciles, &failures, &invalid, &p, advance] {
    for (const auto& s : p.controllers().Stats()) {
      advance(reconciles.Add({{"controller", s.name}}), static_cast<double>(s.loop.reconciles));
      advance(failures.Add({{"controller", s.name}, {"kind", "error"}}),
              static_cast<double>(s.loop.errors));
      advance(failures.Add({{"controller", s.name}, {"kind", "exception"}}),
              static_cast<double>(s.loop.exceptions));
      invalid.Add({{"controller", s.name}}).Set(static_cast<double>(s.loop.invalid));
    }
  });

  // What the controllers record themselves (ControllerContext::metrics).
  api.metrics().AddCollectHook([&api, &p, advance] {
    for (const ControllerMetrics::Series& s : p.controller_metrics().Snapshot()) {
      if (s.counter) {
        advance(api.metrics().CounterFamily(s.name, s.help).Add(s.labels), s.value);
      } else {
        api.metrics().GaugeFamily(s.name, s.help).Add(s.labels).Set(s.value);
      }
    }
  });

  Status started = api.Start();
  if (!started.ok()) return Fail("starting the API server", started);
  p.Start();

  const std::string url = api.url();
  Status written = WriteServerFile(home, {url, api.tls_url(), ca_file, *token_file});
  if (!written.ok()) return Fail("writing " + home + "/server.json", written);
  const bool postgres = p.store_url().rfind("postgres", 0) == 0;
  std::printf("Skiff is up at %s (and %s)\n", url.c_str(), api.tls_url().c_str());
  std::printf("  admin token: %s\n", token_file->c_str());
  std::printf("  store:       %s\n", postgres ? "postgresql" : p.store_url().c_str());
  std::printf("  try:         SKIFF_HOME=%s skiff get jobs\n", home.c_str());
  std::printf("Press Ctrl-C to stop.\n");
  std::fflush(stdout);
  LogInfo("skiff up", {{"url", url}, {"home", home}});

  const int sig = stop_signals.Wait();
  std::printf("Stopping (signal %d)...\n", sig);
  std::fflush(stdout);
  LogInfo("stopping", {{"signal", std::to_string(sig)}});
  RemoveServerFile(home);
  api.Shutdown();
  p.Stop();
  std::printf("Stopped.\n");
  return 0;
}

}  // namespace skiff::cli
