// Controller: the plug-in interface every kind's controller implements, the registry modules add
// themselves to, and the ControllerManager that runs them. A module registers its kinds (schema,
// rules, printer columns; core/resource.h) and its controllers in one call (see
// src/controller/README.md for a walk-through with the Job controller):
//
//   void jobs::Register(ModuleRegistry& modules) {
//     modules.types().Add(JobKind());
//     modules.AddController("jobs", [](const ControllerContext& ctx) -> Result<...> {
//       return std::make_unique<JobControllerPlugin>(ctx);
//     });
//   }
//
// The manager gives each controller a ReconcileLoop (level-triggered, one reconcile at a time per
// controller; the loop checks objects against the kind's schema, catches whatever escapes a
// reconcile, records it on the object and retries with backoff), routes the changes of the types
// it watches and the backend's workload events to it, and starts and stops all of them together.
//
// Thread-safety: ModuleRegistry is filled before threads start and read-only afterwards.
// ControllerManager: Start/Stop/OnWorkloadChange/Stats may be called from any thread; a
// controller's Reconcile runs on its loop's thread only.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "auth/auth.h"
#include "backend/backend.h"
#include "controller/change_feed.h"
#include "controller/controller_metrics.h"
#include "controller/reconcile_loop.h"
#include "core/clock.h"
#include "core/resource.h"
#include "http/http_server.h"
#include "store/store.h"

namespace skiff {

// What a controller may use: the platform's parts, handed to its factory.
struct ControllerContext {
  Store& store;
  Backend& backend;
  Clock& clock;
  std::string home;  // SKIFF_HOME: artifacts/, volumes/, tasks/ live under it
  // Reads key `key` of Secret or ConfigMap `name` in `ns` (`type`: "secrets" or "configmaps");
  // Secret values are decoded.
  std::function<Result<std::string>(const std::string& type, const std::string& ns,
                                    const std::string& name, const std::string& key)>
      read_config;
  // Settings by name (ModuleRegistry::AddSetting, e.g. "job-backoff-ms"), from the command line;
  // absent means default.
  std::map<std::string, std::string> settings;
  // The kinds served: a controller that writes objects of another kind admits them with their
  // registration (core/admission.h).
  const TypeRegistry* types = &TypeRegistry::Global();
  // Where the controller records its own counters and gauges (exported by `skiff up`).
  ControllerMetrics* metrics = &ControllerMetrics::Unexported();

  // The setting `name` as a number, `dflt` when absent or not a number.
  int64_t IntSetting(const std::string& name, int64_t dflt) const;
};

class Controller {
 public:
  using Key = ReconcileLoop::Key;
  // Another type whose changes wake this controller, and how a change maps to a key.
  struct Watch {
    std::string store_type;
    ReconcileLoop::Mapper mapper;
  };

  virtual ~Controller() = default;

  // The store type this controller reconciles ("jobs.batch").
  virtual std::string StoreType() const = 0;
  virtual std::vector<Watch> Watches() const { return {}; }
  // The object a backend workload with these labels belongs to, if it is this controller's.
  virtual std::optional<Key> KeyForWorkload(
      const std::map<std::string, std::string>& labels) const {
    (void)labels;
    return std::nullopt;
  }
  virtual ReconcileLoop::Options LoopOptions() const { return {}; }

  // Drives ns/name one step towards its spec; returns when to look again (nullopt: on change).
  // Level-triggered and idempotent. Errors (and exceptions, which it should not throw) are
  // recorded on the object by the loop and retried with backoff.
  virtual Result<std::optional<std::chrono::milliseconds>> Reconcile(const std::string& ns,
                                                                     const std::string& name) = 0;
};

using ControllerFactory =
    std::function<Result<std::unique_ptr<Controller>>(const ControllerContext& context)>;

// A setting a module takes from the command line, `skiff up --NAME VALUE`, or from the
// environment, SKIFF_NAME (upper case, '-' as '_': SKIFF_JOB_BACKOFF_MS) when the flag is not
// given; its controllers read it with ControllerContext::IntSetting.
struct ModuleSetting {
  std::string name;           // "job-backoff-ms"
  std::string help;           // the flag's help line
  std::string default_value;  // shown in --help; absent from the context when not given
  bool integer = false;       // the CLI refuses a value that is not an integer

  // "SKIFF_JOB_BACKOFF_MS" for "job-backoff-ms".
  std::string EnvName() const;
};

// What a module's routes may use: the platform's parts, handed to its RoutesFactory. Routes are
// what a module serves besides the generic resource API (KFP's REST API, a workload's log). Every
// route added through `add_route` authenticates the bearer token before its handler runs
// (req.principal is set); the handler asks `authorizer` what that principal may do.
struct RouteContext {
  Store& store;
  Backend& backend;
  Authorizer& authorizer;
  Clock& clock;
  std::string home;  // SKIFF_HOME
  const TypeRegistry* types = &TypeRegistry::Global();
  AddRouteFn add_route;
};

// Adds a module's routes through context.add_route and returns what their handlers use, which
// the server keeps until it has stopped (null when the handlers need nothing but the context).
using RoutesFactory = std::function<Result<std::shared_ptr<void>>(const RouteContext& context)>;

// What modules register: kinds (into a TypeRegistry), controllers (by name), routes (by name)
// and settings.
class ModuleRegistry {
 public:
  explicit ModuleRegistry(TypeRegistry& types) : types_(types) {}
  // The registry of the running binary: kinds in TypeRegistry::Global().
  static ModuleRegistry& Global();

  TypeRegistry& types() { return types_; }
  // `name` names the loop in logs and /metrics ("jobs"); registering a name again replaces it.
  void AddController(const std::string& name, ControllerFactory factory);
  const std::vector<std::pair<std::string, ControllerFactory>>& controllers() const {
    return controllers_;
  }
  // `name` names the routes in errors ("kfp"); registering a name again replaces them.
  void AddRoutes(const std::string& name, RoutesFactory factory);
  const std::vector<std::pair<std::string, RoutesFactory>>& routes() const { return routes_; }
  // Adds every module's routes with `context`, in registration order; the first factory error is
  // returned (named). What the handlers use is kept in `keep`, which must outlive the server.
  Status InstallRoutes(const RouteContext& context, std::vector<std::shared_ptr<void>>* keep) const;
  // Registering a setting name again replaces it.
  void AddSetting(ModuleSetting setting);
  const std::vector<ModuleSetting>& settings() const { return settings_; }

 private:
  TypeRegistry& types_;
  std::vector<std::pair<std::string, ControllerFactory>> controllers_;
  std::vector<std::pair<std::string, RoutesFactory>> routes_;
  std::vector<ModuleSetting> settings_;
};

class ControllerManager {
 public:
  // `types` gives each controller's loop the schema of the kind it reconciles; `history`, how
  // long the store keeps its changes for watches (ChangeFeed; 0: forever).
  ControllerManager(Store& store, const TypeRegistry& types, Clock& clock = SystemClock::Instance(),
                    std::chrono::seconds history = std::chrono::seconds(0));
  ~ControllerManager();

  // Builds every controller of `modules` with `context`; the first factory error is returned
  // (named).
  Status AddAll(const ModuleRegistry& modules, const ControllerContext& context);
  void Add(const std::string& name, std::unique_ptr<Controller> controller);

  // Starts every loop (each a thread of its own) and the one ChangeFeed that reads the store's
  // changes for all of them; Stop ends them all, in parallel.
  void Start();
  void Stop();
  // A backend workload changed: wakes the controller that owns it (a Backend listener).
  void OnWorkloadChange(const std::map<std::string, std::string>& labels);

  struct ControllerStats {
    std::string name;
    ReconcileLoop::Stats loop;
  };
  std::vector<ControllerStats> Stats() const;
  // The loop of controller `name`, or null (tests).
  ReconcileLoop* Loop(const std::string& name);
  // Batches of changes read from the store for all loops together (tests, /metrics).
  int64_t FeedBatches() const { return feed_.batches_read(); }

 private:
  struct Entry {
    std::string name;
    std::unique_ptr<Controller> controller;
    std::unique_ptr<ReconcileLoop> loop;
  };
  Store& store_;
  const TypeRegistry& types_;
  std::vector<Entry> entries_;  // fixed once Start ran
  ChangeFeed feed_;
  bool started_ = false;
};

}  // namespace skiff
