// `skiff up`: assembles the platform on this machine (store, auth, local backend, controllers,
// API server), prints where it is, and runs until SIGINT/SIGTERM, then stops everything it
// started, children included.
#include <signal.h>

#include <cstdio>

#include "api/api_server.h"
#include "api/kfp/kfp_api.h"
#include "auth/auth.h"
#include "cli/commands.h"
#include "cli/config.h"
#include "cli/platform.h"
#include "core/log.h"
#include "jobs/job_controller.h"
#include "pipelines/run_controller.h"
#include "store/store.h"

namespace skiff::cli {
namespace {

int Fail(const std::string& what, const Status& st) {
  std::fprintf(stderr, "error: %s: %s\n", what.c_str(), st.message().c_str());
  return 1;
}

// Serves a pod's log from the backend: GET /api/v1/namespaces/{ns}/pods/{name}/log.
void ServePodLog(Store& store, Backend& backend, Authorizer& authz, const HttpRequest& req,
                 HttpResponder& res) {
  const std::string ns = req.Param("namespace");
  Status allowed =
      authz.Check(req.principal, AccessRequest{jobs::kPodType, ns, Verb::kGet, req.Param("name")});
  if (!allowed.ok()) return SendStatusError(res, allowed);
  auto pod = store.Get(jobs::kPodType, ns, req.Param("name"));
  if (!pod.ok()) return SendStatusError(res, pod.status());
  auto logs = backend.ReadLogs(jobs::JobController::WorkloadId(*pod), req.Query("container"), 0);
  if (!logs.ok()) {
    if (logs.status().code() == StatusCode::kNotFound) {
      return res.Send(200, "", {{"content-type", "text/plain; charset=utf-8"}});
    }
    return SendStatusError(res, logs.status());
  }
  res.Send(200, *logs, {{"content-type", "text/plain; charset=utf-8"}});
}

// Serves one pipeline task's log: GET .../pipelineruns/{name}/log?task=<task name or path>.
void ServeTaskLog(Store& store, Backend& backend, Authorizer& authz, const HttpRequest& req,
                  HttpResponder& res) {
  const std::string ns = req.Param("namespace");
  Status allowed = authz.Check(
      req.principal, AccessRequest{pipelines::kPipelineRunType, ns, Verb::kGet, req.Param("name")});
  if (!allowed.ok()) return SendStatusError(res, allowed);
  auto run = store.Get(pipelines::kPipelineRunType, ns, req.Param("name"));
  if (!run.ok()) return SendStatusError(res, run.status());
  auto workload = pipelines::FindTaskWorkload(*run, req.Query("task"));
  if (!workload.ok()) return SendStatusError(res, workload.status());
  auto logs = backend.ReadLogs(*workload, "", 0);
  if (!logs.ok()) return SendStatusError(res, logs.status());
  res.Send(200, *logs, {{"content-type", "text/plain; charset=utf-8"}});
}

}  // namespace

int CmdUp(const UpOptions& options) {
  const std::string home = options.home.empty() ? SkiffHome() : options.home;
  InitLogging("", options.log_level);

  // Block the stop signals in every thread; the main thread waits for them below.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  Clock& clock = SystemClock::Instance();
  auto platform = Platform::Create({home, options.store_url, options.settings});
  if (!platform.ok()) return Fail("starting the platform", platform.status());
  Platform& p = **platform;

  auto token_file = Bootstrap(p.store(), clock, home);
  if (!token_file.ok()) return Fail("creating the admin user", token_file.status());

  Authenticator authenticator(p.store(), clock);
  Authorizer authorizer(p.store());
  ApiServer::Options api_options;
  api_options.port = options.port;
  ApiServer api(api_options, p.store(), authenticator, authorizer, clock);
  api.AddRoute("GET", "/api/v1/namespaces/{namespace}/pods/{name}/log",
               [&](const HttpRequest& req, HttpResponder& res) {
                 ServePodLog(p.store(), p.backend(), authorizer, req, res);
               });
  api.AddRoute(
      "GET", "/apis/pipelines.kubeflow.org/v2beta1/namespaces/{namespace}/pipelineruns/{name}/log",
      [&](const HttpRequest& req, HttpResponder& res) {
        ServeTaskLog(p.store(), p.backend(), authorizer, req, res);
      });
  KfpApiOptions kfp_options;
  kfp_options.artifacts_root = home + "/artifacts";
  KfpApi kfp(p.store(), authorizer, clock, kfp_options);
  RegisterKfpApi(kfp,
                 [&api](const std::string& method, const std::string& pattern, Handler handler) {
                   api.AddRoute(method, pattern, std::move(handler));
                 });

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

  const std::string url = "http://127.0.0.1:" + std::to_string(api.port());
  Status written = WriteServerFile(home, url, *token_file);
  if (!written.ok()) return Fail("writing " + home + "/server.json", written);
  const bool postgres = p.store_url().rfind("postgres", 0) == 0;
  std::printf("Skiff is up at %s\n", url.c_str());
  std::printf("  admin token: %s\n", token_file->c_str());
  std::printf("  store:       %s\n", postgres ? "postgresql" : p.store_url().c_str());
  std::printf("  try:         SKIFF_HOME=%s skiff get jobs\n", home.c_str());
  std::printf("Press Ctrl-C to stop.\n");
  std::fflush(stdout);
  LogInfo("skiff up", {{"url", url}, {"home", home}});

  int sig = 0;
  sigwait(&stop_signals, &sig);
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
