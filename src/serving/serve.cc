#include "serving/serve.h"

#include <cstdio>

#include "api/metrics.h"
#include "core/log.h"
#include "core/stop_signals.h"
#include "http/http_server.h"
#include "serving/inference_server.h"
#include "serving/model.h"

namespace skiff::serving {

int RunServe(const ServeOptions& options) {
  InitLogging("", options.log_level);
  StopSignals stop_signals;  // before the server's threads start

  ModelRepository repository;
  Status loaded = repository.Load({.name = options.name,
                                   .format = options.format,
                                   .uri = options.model_uri,
                                   .options = {{"nthread", options.nthread}}});
  if (!loaded.ok()) {
    std::fprintf(stderr, "error: model %s: %s\n", options.name.c_str(), loaded.message().c_str());
    return 1;
  }

  Metrics metrics;
  InferenceServer inference(repository, metrics,
                            {.repository_root = options.repository_root,
                             .repository_format = options.format,
                             .access_log = options.access_log});
  Router router;
  inference.AddRoutes(router);
  HttpServer server({.address = options.address, .port = options.port, .threads = options.threads},
                    [&](HttpRequest& req, HttpResponder& r) { router.Dispatch(req, r); });
  if (Status st = server.Start(); !st.ok()) {
    std::fprintf(stderr, "error: %s\n", st.message().c_str());
    return 1;
  }
  std::printf("serving %s (%s) at http://%s:%d\n", options.name.c_str(), options.format.c_str(),
              options.address.c_str(), server.port());
  std::fflush(stdout);
  LogInfo("model server started", {{"model", options.name},
                                   {"format", options.format},
                                   {"port", std::to_string(server.port())}});

  const int sig = stop_signals.Wait();
  LogInfo("model server stopping", {{"signal", std::to_string(sig)}});
  server.Shutdown();
  return 0;
}

}  // namespace skiff::serving
