#include "cli/platform.h"

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>

#include "core/clock.h"
#include "core/ids.h"

namespace skiff::cli {

Result<std::string> Platform::ReadConfigValue(const std::string& kind, const std::string& ns,
                                              const std::string& name, const std::string& key) {
  ASSIGN_OR_RETURN(Json obj, store_->Get(kind, ns, name));
  const bool secret = kind == "secrets";
  if (obj.contains("stringData") && obj["stringData"].contains(key) &&
      obj["stringData"][key].is_string()) {
    return obj["stringData"][key].get<std::string>();
  }
  if (obj.contains("data") && obj["data"].contains(key) && obj["data"][key].is_string()) {
    std::string value = obj["data"][key].get<std::string>();
    if (!secret) return value;
    auto decoded = DecodeBase64(value);
    if (!decoded.ok()) {
      return InvalidArgument("secret " + ns + "/" + name + " key \"" + key +
                             "\" is not valid base64");
    }
    return decoded;
  }
  return NotFound(std::string(secret ? "secret" : "configmap") + " " + ns + "/" + name +
                  " has no key \"" + key + "\"");
}

Result<std::unique_ptr<Platform>> Platform::Create(const PlatformOptions& options) {
  std::unique_ptr<Platform> p(new Platform());
  p->home_ = options.home;
  std::error_code ec;
  for (const char* sub : {"", "/logs", "/artifacts", "/workloads", "/envs", "/volumes", "/tasks"}) {
    std::filesystem::create_directories(p->home_ + sub, ec);
    if (ec) return Internal("creating " + p->home_ + sub + ": " + ec.message());
  }
  ::chmod(p->home_.c_str(), 0700);
  Clock& clock = SystemClock::Instance();
  p->store_url_ =
      options.store_url.empty() ? "sqlite://" + p->home_ + "/skiff.db" : options.store_url;
  auto store = OpenStore(p->store_url_, clock);
  if (!store.ok()) return store.status().WithContext("opening the store");
  p->store_ = std::move(store).value();

  LocalBackend::Options backend_options;
  backend_options.state_dir = p->home_ + "/workloads";
  backend_options.log_dir = p->home_ + "/logs";
  // Cached Python environments may be shared between homes (tests, several installations).
  const char* env_cache = std::getenv("SKIFF_ENV_CACHE");
  backend_options.env_cache_dir = env_cache && *env_cache ? env_cache : p->home_ + "/envs";
  if (std::filesystem::exists(p->home_ + "/images.yaml")) {
    backend_options.image_map_file = p->home_ + "/images.yaml";
  }
  auto backend = LocalBackend::Create(backend_options, clock);
  if (!backend.ok()) return backend.status().WithContext("starting the local backend");
  p->backend_ = std::move(backend).value();

  Platform* self = p.get();
  auto read_config = [self](const std::string& kind, const std::string& ns, const std::string& name,
                            const std::string& key) {
    return self->ReadConfigValue(kind, ns, name, key);
  };

  jobs::JobControllerOptions job_options;
  job_options.backoff_base = std::chrono::milliseconds(options.job_backoff_ms);
  job_options.pod_env.volumes_dir = p->home_ + "/volumes";
  job_options.pod_env.read_config = read_config;
  p->job_controller_ =
      std::make_unique<jobs::JobController>(*p->store_, *p->backend_, clock, job_options);

  p->cache_ = std::make_unique<pipelines::StoreTaskCache>(*p->store_);
  pipelines::LauncherOptions launcher_options;
  launcher_options.artifacts_root = p->home_ + "/artifacts";
  launcher_options.work_dir = p->home_ + "/tasks";
  launcher_options.volumes_root = p->home_ + "/volumes";
  launcher_options.resolve_config =
      [self](const std::string& ns, const std::string& kind,
             const std::string& name) -> Result<std::map<std::string, std::string>> {
    // The launcher names kinds ("Secret"); the store keys them by resource ("secrets").
    const std::string type = kind == "Secret" ? "secrets" : "configmaps";
    ASSIGN_OR_RETURN(Json obj, self->store_->Get(type, ns, name));
    std::map<std::string, std::string> out;
    for (const char* field : {"data", "stringData"}) {
      if (!obj.contains(field) || !obj[field].is_object()) continue;
      for (auto it = obj[field].begin(); it != obj[field].end(); ++it) {
        if (!it.value().is_string()) continue;
        ASSIGN_OR_RETURN(out[it.key()], self->ReadConfigValue(type, ns, name, it.key()));
      }
    }
    return out;
  };
  p->launcher_ =
      std::make_unique<pipelines::Launcher>(launcher_options, *p->backend_, p->cache_.get(), clock);
  pipelines::RunControllerOptions run_options;
  run_options.artifacts_root = p->home_ + "/artifacts";
  p->run_controller_ =
      std::make_unique<pipelines::RunController>(*p->store_, *p->launcher_, clock, run_options);

  p->job_loop_ = std::make_unique<ReconcileLoop>(
      "jobs", *p->store_, jobs::kJobType, [self](const std::string& ns, const std::string& name) {
        return self->job_controller_->Reconcile(ns, name);
      });
  p->job_loop_->AlsoWatch(jobs::kPodType,
                          [](const WatchEvent& ev) -> std::optional<ReconcileLoop::Key> {
                            auto labels = MetaLabels(ev.object);
                            auto it = labels.find("job-name");
                            if (it == labels.end()) return std::nullopt;
                            return ReconcileLoop::Key{ev.namespace_, it->second};
                          });
  p->run_loop_ =
      std::make_unique<ReconcileLoop>("pipelineruns", *p->store_, pipelines::kPipelineRunType,
                                      [self](const std::string& ns, const std::string& name) {
                                        return self->run_controller_->Reconcile(ns, name);
                                      });
  p->recurring_controller_ = std::make_unique<pipelines::RecurringRunController>(*p->store_, clock);
  p->recurring_loop_ =
      std::make_unique<ReconcileLoop>("recurringruns", *p->store_, pipelines::kRecurringRunType,
                                      [self](const std::string& ns, const std::string& name) {
                                        return self->recurring_controller_->Reconcile(ns, name);
                                      });
  p->recurring_loop_->AlsoWatch(pipelines::kPipelineRunType,
                                &pipelines::RecurringRunController::MapRunToRecurringRun);
  // A task's workload changing (started, ended) reconciles its run at once instead of at the
  // next poll: one dependency hop costs a wake-up, not a poll interval.
  p->backend_->SetListener(
      [self](const std::string&, const std::map<std::string, std::string>& labels) {
        auto run = labels.find(pipelines::kRunNameLabel);
        auto ns = labels.find(pipelines::kNamespaceLabel);
        if (run != labels.end() && ns != labels.end()) {
          self->run_loop_->Enqueue({ns->second, run->second});
        }
      });
  return p;
}

void Platform::Start() {
  if (started_) return;
  started_ = true;
  job_loop_->Start();
  run_loop_->Start();
  recurring_loop_->Start();
}

void Platform::Stop() {
  for (ReconcileLoop* loop : {job_loop_.get(), run_loop_.get(), recurring_loop_.get()}) {
    if (loop) loop->RequestStop();
  }
  if (job_loop_) job_loop_->Stop();
  if (run_loop_) run_loop_->Stop();
  if (recurring_loop_) recurring_loop_->Stop();
  if (backend_) backend_->Shutdown(std::chrono::seconds(5));
}

Platform::~Platform() {
  Stop();
  if (backend_) backend_->SetListener(nullptr);
}

}  // namespace skiff::cli
