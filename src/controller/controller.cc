#include "controller/controller.h"

#include <cctype>
#include <charconv>

#include "core/schema.h"

namespace skiff {

int64_t ControllerContext::IntSetting(const std::string& name, int64_t dflt) const {
  auto it = settings.find(name);
  if (it == settings.end()) return dflt;
  int64_t v = 0;
  const std::string& s = it->second;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return dflt;
  return v;
}

std::string ModuleSetting::EnvName() const {
  std::string env = "SKIFF_";
  for (char c : name)
    env += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return env;
}

ModuleRegistry& ModuleRegistry::Global() {
  static ModuleRegistry* registry = new ModuleRegistry(TypeRegistry::Global());
  return *registry;
}

void ModuleRegistry::AddController(const std::string& name, ControllerFactory factory) {
  for (auto& [n, f] : controllers_) {
    if (n == name) {
      f = std::move(factory);
      return;
    }
  }
  controllers_.emplace_back(name, std::move(factory));
}

void ModuleRegistry::AddRoutes(const std::string& name, RoutesFactory factory) {
  for (auto& [n, f] : routes_) {
    if (n == name) {
      f = std::move(factory);
      return;
    }
  }
  routes_.emplace_back(name, std::move(factory));
}

Status ModuleRegistry::InstallRoutes(const RouteContext& context,
                                     std::vector<std::shared_ptr<void>>* keep) const {
  for (const auto& [name, factory] : routes_) {
    Result<std::shared_ptr<void>> state = factory(context);
    if (!state.ok()) return state.status().WithContext("adding the routes of " + name);
    if (*state != nullptr) keep->push_back(std::move(*state));
  }
  return Status::Ok();
}

void ModuleRegistry::AddSetting(ModuleSetting setting) {
  for (ModuleSetting& s : settings_) {
    if (s.name == setting.name) {
      s = std::move(setting);
      return;
    }
  }
  settings_.push_back(std::move(setting));
}

ControllerManager::ControllerManager(Store& store, const TypeRegistry& types, Clock& clock,
                                     std::chrono::seconds history)
    : store_(store), types_(types), feed_(store, clock, history) {}

ControllerManager::~ControllerManager() { Stop(); }

Status ControllerManager::AddAll(const ModuleRegistry& modules, const ControllerContext& context) {
  for (const auto& [name, factory] : modules.controllers()) {
    auto controller = factory(context);
    if (!controller.ok()) return controller.status().WithContext("starting controller " + name);
    Add(name, std::move(controller).value());
  }
  return Status::Ok();
}

void ControllerManager::Add(const std::string& name, std::unique_ptr<Controller> controller) {
  Controller* c = controller.get();
  ReconcileLoop::Options options = c->LoopOptions();
  const std::string store_type = c->StoreType();
  for (const ResourceType& t : types_.All()) {
    if (t.StoreType() == store_type) {
      options.schema = t.schema;
      options.kind = t.kind;
    }
  }
  auto loop = std::make_unique<ReconcileLoop>(
      name, store_, store_type,
      [c](const std::string& ns, const std::string& n) { return c->Reconcile(ns, n); }, options);
  for (Controller::Watch& w : c->Watches()) loop->AlsoWatch(w.store_type, std::move(w.mapper));
  entries_.push_back({name, std::move(controller), std::move(loop)});
}

void ControllerManager::Start() {
  if (started_) return;
  started_ = true;
  // The feed starts from before every loop's list: a change in between is delivered as well,
  // and a loop skips what its list already saw.
  const int64_t from = store_.CurrentVersion();
  for (Entry& e : entries_) {
    ReconcileLoop* loop = e.loop.get();
    feed_.Subscribe([loop](const std::vector<WatchEvent>& batch) { loop->Deliver(batch); });
  }
  for (Entry& e : entries_) e.loop->Start(/*fed=*/true);
  feed_.Start(from);
}

void ControllerManager::Stop() {
  for (Entry& e : entries_) e.loop->RequestStop();
  feed_.Stop();
  for (Entry& e : entries_) e.loop->Stop();
}

void ControllerManager::OnWorkloadChange(const std::map<std::string, std::string>& labels) {
  for (Entry& e : entries_) {
    if (auto key = e.controller->KeyForWorkload(labels)) e.loop->Enqueue(*key);
  }
}

std::vector<ControllerManager::ControllerStats> ControllerManager::Stats() const {
  std::vector<ControllerStats> out;
  for (const Entry& e : entries_) out.push_back({e.name, e.loop->GetStats()});
  return out;
}

ReconcileLoop* ControllerManager::Loop(const std::string& name) {
  for (Entry& e : entries_) {
    if (e.name == name) return e.loop.get();
  }
  return nullptr;
}

}  // namespace skiff
