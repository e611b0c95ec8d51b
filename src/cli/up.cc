// `skiff up`: assembles the platform on this machine (store, auth, local backend, controllers,
// API server), prints where it is, and runs until SIGINT/SIGTERM, then stops everything it
// started, children included.
#include <signal.h>
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>

#include "api/api_server.h"
#include "auth/auth.h"
#include "backend/local/local_backend.h"
#include "cli/commands.h"
#include "cli/config.h"
#include "controller/reconcile_loop.h"
#include "core/log.h"
#include "jobs/job_controller.h"
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
  Status allowed = authz.Check(req.principal, AccessRequest{jobs::kPodType, ns, Verb::kGet,
                                                            req.Param("name")});
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

}  // namespace

int CmdUp(const UpOptions& options) {
  const std::string home = options.home.empty() ? SkiffHome() : options.home;
  std::error_code ec;
  for (const char* sub : {"", "/logs", "/artifacts", "/workloads", "/envs", "/volumes"}) {
    std::filesystem::create_directories(home + sub, ec);
    if (ec) return Fail("creating " + home + sub, Internal(ec.message()));
  }
  ::chmod(home.c_str(), 0700);
  InitLogging("", options.log_level);

  // Block the stop signals in every thread; the main thread waits for them below.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  Clock& clock = SystemClock::Instance();
  const std::string store_url =
      options.store_url.empty() ? "sqlite://" + home + "/skiff.db" : options.store_url;
  auto store = OpenStore(store_url, clock);
  if (!store.ok()) return Fail("opening the store", store.status());

  auto token_file = Bootstrap(**store, clock, home);
  if (!token_file.ok()) return Fail("creating the admin user", token_file.status());

  LocalBackend::Options backend_options;
  backend_options.state_dir = home + "/workloads";
  backend_options.log_dir = home + "/logs";
  backend_options.env_cache_dir = home + "/envs";
  if (std::filesystem::exists(home + "/images.yaml")) {
    backend_options.image_map_file = home + "/images.yaml";
  }
  auto backend = LocalBackend::Create(backend_options, clock);
  if (!backend.ok()) return Fail("starting the local backend", backend.status());

  jobs::JobControllerOptions job_options;
  job_options.backoff_base = std::chrono::milliseconds(options.job_backoff_ms);
  job_options.pod_env.volumes_dir = home + "/volumes";
  Store* store_ptr = store->get();
  job_options.pod_env.read_config = [store_ptr](const std::string& kind, const std::string& ns,
                                                const std::string& name,
                                                const std::string& key) -> Result<std::string> {
    ASSIGN_OR_RETURN(Json obj, store_ptr->Get(kind, ns, name));
    const bool secret = kind == "secrets";
    if (obj.contains("stringData") && obj["stringData"].contains(key)) {
      return obj["stringData"][key].get<std::string>();
    }
    if (obj.contains("data") && obj["data"].contains(key) && obj["data"][key].is_string()) {
      std::string value = obj["data"][key].get<std::string>();
      return secret ? DecodeBase64(value) : Result<std::string>(value);
    }
    return NotFound(std::string(secret ? "secret" : "configmap") + " " + ns + "/" + name +
                    " has no key \"" + key + "\"");
  };
  jobs::JobController job_controller(**store, **backend, clock, job_options);
  ReconcileLoop job_loop("jobs", **store, jobs::kJobType,
                         [&](const std::string& ns, const std::string& name) {
                           return job_controller.Reconcile(ns, name);
                         });
  job_loop.AlsoWatch(jobs::kPodType, [](const WatchEvent& ev) -> std::optional<ReconcileLoop::Key> {
    auto labels = MetaLabels(ev.object);
    auto it = labels.find("job-name");
    if (it == labels.end()) return std::nullopt;
    return ReconcileLoop::Key{ev.namespace_, it->second};
  });

  Authenticator authenticator(**store, clock);
  Authorizer authorizer(**store);
  ApiServer::Options api_options;
  api_options.port = options.port;
  ApiServer api(api_options, **store, authenticator, authorizer, clock);
  api.resources().RegisterValidator(jobs::kJobType, &jobs::JobController::ValidateJob);
  Backend* backend_ptr = backend->get();
  api.AddRoute("GET", "/api/v1/namespaces/{namespace}/pods/{name}/log",
               [&, backend_ptr](const HttpRequest& req, HttpResponder& res) {
                 ServePodLog(**store, *backend_ptr, authorizer, req, res);
               });
  api.SetGaugeSource("skiff_workloads", "Workloads on the local backend by phase", "phase",
                     [backend_ptr] {
                       std::map<std::string, double> by_phase;
                       for (const char* p : {"Pending", "Running", "Succeeded", "Failed", "Unknown"}) {
                         by_phase[p] = 0;
                       }
                       for (const WorkloadStatus& w : backend_ptr->List()) {
                         by_phase[WorkloadPhaseName(w.phase)] += 1;
                       }
                       return by_phase;
                     });

  Status started = api.Start();
  if (!started.ok()) return Fail("starting the API server", started);
  job_loop.Start();

  const std::string url = "http://127.0.0.1:" + std::to_string(api.port());
  Status written = WriteServerFile(home, url, *token_file);
  if (!written.ok()) return Fail("writing " + home + "/server.json", written);
  std::printf("Skiff is up at %s\n", url.c_str());
  std::printf("  admin token: %s\n", token_file->c_str());
  std::printf("  store:       %s\n", store_url.rfind("postgres", 0) == 0 ? "postgresql" : store_url.c_str());
  std::printf("  try:         skiff get jobs   (with SKIFF_HOME=%s)\n", home.c_str());
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
  job_loop.Stop();
  (*backend)->Shutdown(std::chrono::seconds(5));
  std::printf("Stopped.\n");
  return 0;
}

}  // namespace skiff::cli
