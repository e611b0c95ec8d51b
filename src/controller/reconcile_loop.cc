#include "controller/reconcile_loop.h"

#include <algorithm>

#include "core/clock.h"
#include "core/log.h"
#include "core/schema.h"

namespace skiff {

using SteadyClock = std::chrono::steady_clock;

ReconcileLoop::ReconcileLoop(std::string name, Store& store, std::string store_type, ReconcileFn fn,
                             Options options)
    : name_(std::move(name)),
      store_(store),
      store_type_(std::move(store_type)),
      fn_(std::move(fn)),
      options_(std::move(options)) {}

ReconcileLoop::~ReconcileLoop() { Stop(); }

void ReconcileLoop::AlsoWatch(std::string store_type, Mapper mapper) {
  mappers_[std::move(store_type)] = std::move(mapper);
}

void ReconcileLoop::Start(bool fed) {
  fed_ = fed;
  seen_version_ = store_.CurrentVersion();
  listed_ = true;
  EnqueueAll();
  next_resync_ = SteadyClock::now() + options_.resync_period;
  {
    MutexLock lock(&mu_);
    store_version_ = seen_version_;
    listed_version_ = seen_version_;
  }
  thread_ = std::thread([this] { Run(); });
  if (!fed_) watcher_ = std::thread([this] { WatchStore(); });
}

void ReconcileLoop::Deliver(const std::vector<WatchEvent>& batch) {
  {
    MutexLock lock(&mu_);
    if (!ApplyChangesLocked(batch, listed_version_)) return;
    enqueued_ = true;
  }
  changed_.SignalAll();
}

void ReconcileLoop::RequestStop() {
  {
    MutexLock lock(&mu_);
    stopping_ = true;
  }
  changed_.SignalAll();
  store_.WakeWaiters();  // the store watcher notices now, not after its wait times out
}

void ReconcileLoop::Stop() {
  RequestStop();
  if (thread_.joinable()) thread_.join();
  if (watcher_.joinable()) watcher_.join();
}

void ReconcileLoop::Enqueue(const Key& key) {
  {
    MutexLock lock(&mu_);
    due_[key] = SteadyClock::now();
    enqueued_ = true;
  }
  changed_.SignalAll();
}

void ReconcileLoop::EnqueueAll() {
  if (options_.list_keys) {
    auto keys = options_.list_keys();
    if (!keys.ok()) {
      LogWarn("controller list failed",
              {{"controller", name_}, {"error", keys.status().ToString()}});
      return;
    }
    MutexLock lock(&mu_);
    auto now = SteadyClock::now();
    for (Key& key : *keys) due_[std::move(key)] = now;
    return;
  }
  ListOptions options;
  auto list = store_.List(store_type_, "", options);
  if (!list.ok()) {
    LogWarn("controller list failed", {{"controller", name_}, {"error", list.status().ToString()}});
    return;
  }
  std::vector<Key> keys;
  for (const Json& obj : list->items) {
    Key key{MetaNamespace(obj), MetaName(obj)};
    if (!CheckObject(key, obj)) continue;
    checked_[key] = MetaResourceVersion(obj);
    keys.push_back(std::move(key));
  }
  MutexLock lock(&mu_);
  auto now = SteadyClock::now();
  for (Key& key : keys) due_[std::move(key)] = now;
}

ReconcileLoop::Stats ReconcileLoop::GetStats() const {
  MutexLock lock(&mu_);
  return stats_;
}

bool ReconcileLoop::CheckObject(const Key& key, const Json& obj) {
  if (!options_.schema) return true;
  {
    MutexLock lock(&mu_);
    stats_.schema_checks++;
  }
  SchemaReport report = options_.schema->Check(obj);
  if (report.errors.empty()) {
    if (invalid_.erase(key)) {
      MutexLock lock(&mu_);
      stats_.invalid = static_cast<int64_t>(invalid_.size());
    }
    return true;
  }
  std::string message = report
                            .ToStatus((options_.kind.empty() ? store_type_ : options_.kind) + " " +
                                      key.first + "/" + key.second)
                            .message();
  auto [it, inserted] = invalid_.try_emplace(key, "");
  if (inserted || it->second != message) {
    LogWarn("object refused by its schema: not reconciled",
            {{"controller", name_}, {"object", key.first + "/" + key.second}, {"error", message}});
    it->second = message;
    RecordCondition(key, "Invalid", "SchemaViolation", message);
  }
  MutexLock lock(&mu_);
  stats_.invalid = static_cast<int64_t>(invalid_.size());
  return false;
}

void ReconcileLoop::RecordCondition(const Key& key, const std::string& type,
                                    const std::string& reason, const std::string& message) {
  try {
    auto obj = store_.Get(store_type_, key.first, key.second);
    if (!obj.ok()) return;
    Json& o = *obj;
    if (!o.contains("status") || !o["status"].is_object()) o["status"] = Json::object();
    Json& status = o["status"];
    if (!status.contains("conditions") || !status["conditions"].is_array()) {
      status["conditions"] = Json::array();
    }
    Json& conditions = status["conditions"];
    Json* slot = nullptr;
    for (Json& c : conditions) {
      if (c.is_object() && c.contains("type") && c["type"] == type) slot = &c;
    }
    const bool clear = reason.empty();
    if (clear) {
      if (slot == nullptr) return;
      conditions.erase(std::remove_if(conditions.begin(), conditions.end(),
                                      [&](const Json& c) {
                                        return c.is_object() && c.contains("type") &&
                                               c["type"] == type;
                                      }),
                       conditions.end());
    } else {
      Json condition = {{"type", type},
                        {"status", "True"},
                        {"reason", reason},
                        {"message", message},
                        {"lastTransitionTime", FormatRfc3339(SystemClock::Instance().Now())}};
      if (slot != nullptr && slot->value("status", Json()) == "True" &&
          slot->value("reason", Json()) == reason && slot->value("message", Json()) == message) {
        return;  // already said
      }
      if (slot != nullptr) {
        *slot = std::move(condition);
      } else {
        conditions.push_back(std::move(condition));
      }
    }
    auto updated = store_.Update(store_type_, std::move(o));
    if (updated.ok()) {
      MutexLock lock(&mu_);
      own_writes_[key] = MetaResourceVersion(*updated);
    }
    if (!updated.ok() && updated.status().code() != StatusCode::kConflict &&
        updated.status().code() != StatusCode::kNotFound) {
      LogWarn("recording a condition failed", {{"controller", name_},
                                               {"object", key.first + "/" + key.second},
                                               {"error", updated.status().ToString()}});
    }
  } catch (const std::exception& e) {
    LogWarn("recording a condition failed",
            {{"controller", name_}, {"object", key.first + "/" + key.second}, {"error", e.what()}});
  }
}

Result<std::optional<std::chrono::milliseconds>> ReconcileLoop::ReconcileOne(const Key& key,
                                                                             bool* threw,
                                                                             bool* skipped) {
  *threw = false;
  *skipped = false;
  if (options_.schema) {
    // Whatever reached the store (an old object, a direct write, a status written elsewhere) is
    // checked before the controller reads it, once per version.
    auto version = store_.GetResourceVersion(store_type_, key.first, key.second);
    auto seen = checked_.find(key);
    if (!version.ok() || seen == checked_.end() || seen->second != *version) {
      auto obj = store_.Get(store_type_, key.first, key.second);
      if (obj.ok() && !CheckObject(key, *obj)) {
        checked_.erase(key);
        *skipped = true;
        return std::optional<std::chrono::milliseconds>();
      }
      if (obj.ok()) {
        checked_[key] = MetaResourceVersion(*obj);
      } else {
        invalid_.erase(key);
        checked_.erase(key);
      }
    }
  }
  std::string message;
  try {
    return fn_(key.first, key.second);
  } catch (const std::exception& e) {
    message = e.what();
  } catch (...) {
    message = "an unknown exception";
  }
  {
    MutexLock lock(&mu_);
    stats_.exceptions++;
  }
  *threw = true;
  Status st = Internal("reconcile threw: " + message);
  RecordCondition(key, "ReconcileError", "InternalError", st.message());
  return st;
}

bool ReconcileLoop::ReadNewChanges() {
  ChangeFilter filter;
  filter.metadata_only = true;
  while (true) {
    auto changes = store_.ReadChanges(filter, seen_version_, 500);
    if (!changes.ok()) {
      LogWarn("controller change feed failed",
              {{"controller", name_}, {"error", changes.status().ToString()}});
      return false;
    }
    if (changes->empty()) return true;
    seen_version_ = changes->back().resource_version;
    {
      MutexLock lock(&mu_);
      ApplyChangesLocked(*changes, 0);
    }
    if (changes->size() < 500) return true;
  }
}

bool ReconcileLoop::ApplyChangesLocked(const std::vector<WatchEvent>& batch, int64_t through) {
  auto now = SteadyClock::now();
  bool any = false;
  for (const WatchEvent& ev : batch) {
    if (ev.resource_version <= through) continue;
    if (ev.store_type == store_type_) {
      Key key{ev.namespace_, ev.name};
      if (auto own = own_writes_.find(key); own != own_writes_.end()) {
        const bool mine = own->second == ev.resource_version;
        own_writes_.erase(own);
        if (mine) continue;
      }
      due_[std::move(key)] = now;
      any = true;
    } else if (auto it = mappers_.find(ev.store_type); it != mappers_.end()) {
      for (Key& key : it->second(ev)) {
        due_[std::move(key)] = now;
        any = true;
      }
    }
  }
  return any;
}

int ReconcileLoop::RunOnce() {
  if (!listed_) {  // as Start does: everything stored is looked at (and checked) once
    listed_ = true;
    seen_version_ = store_.CurrentVersion();
    EnqueueAll();
  }
  ReadNewChanges();
  return ReconcileDue();
}

int ReconcileLoop::ReconcileDue() {
  std::vector<Key> ready;
  {
    MutexLock lock(&mu_);
    auto now = SteadyClock::now();
    for (auto it = due_.begin(); it != due_.end();) {
      if (it->second <= now) {
        ready.push_back(it->first);
        it = due_.erase(it);
      } else {
        ++it;
      }
    }
  }
  int reconciled = 0;
  for (const Key& key : ready) {
    bool threw = false;
    bool skipped = false;
    auto result = ReconcileOne(key, &threw, &skipped);
    if (skipped) continue;
    reconciled++;
    if (!result.ok()) {
      int& failures = failures_[key];
      failures++;
      // A reconcile that keeps failing says so on its object (an exception already did).
      if (failures == 3 && !threw) {
        RecordCondition(key, "ReconcileError", "ReconcileFailed", result.status().ToString());
      }
    } else if (auto f = failures_.find(key); f != failures_.end()) {
      if (f->second >= 3) RecordCondition(key, "ReconcileError", "", "");
      failures_.erase(f);
    }
    MutexLock lock(&mu_);
    stats_.reconciles++;
    if (!result.ok()) {
      stats_.errors++;
      LogWarn("reconcile failed", {{"controller", name_},
                                   {"object", key.first + "/" + key.second},
                                   {"error", result.status().ToString()}});
      // error_backoff * 2^(failures - 1), at most max_backoff.
      auto backoff = options_.error_backoff;
      for (int i = 1; i < failures_[key] && backoff < options_.max_backoff; ++i) backoff *= 2;
      backoff = std::min(backoff, options_.max_backoff);
      due_.emplace(key, SteadyClock::now() + backoff);
    } else if (result->has_value()) {
      auto when = SteadyClock::now() + **result;
      auto [it, inserted] = due_.emplace(key, when);
      if (!inserted && when < it->second) it->second = when;
    }
  }
  return reconciled;
}

void ReconcileLoop::WatchStore() {
  int64_t known;
  {
    MutexLock lock(&mu_);
    known = store_version_;
  }
  while (true) {
    {
      MutexLock lock(&mu_);
      if (stopping_) return;
    }
    // RequestStop wakes this wait; the bound is a backstop.
    int64_t version = store_.WaitForChange(known, std::chrono::milliseconds(100));
    if (version <= known) continue;
    known = version;
    {
      MutexLock lock(&mu_);
      store_version_ = std::max(store_version_, version);
    }
    changed_.SignalAll();
  }
}

void ReconcileLoop::Run() {
  while (true) {
    {
      MutexLock lock(&mu_);
      if (stopping_) return;
      enqueued_ = false;
    }
    if (SteadyClock::now() >= next_resync_) {
      EnqueueAll();
      next_resync_ = SteadyClock::now() + options_.resync_period;
    }
    bool feed_ok = fed_ || ReadNewChanges();
    ReconcileDue();
    // Sleep until the next due key, a store change, an Enqueue, or Stop. While the change feed
    // fails, store changes do not wake the loop before error_backoff.
    MutexLock lock(&mu_);
    auto wake = next_resync_;
    for (const auto& [key, when] : due_) wake = std::min(wake, when);
    if (!feed_ok) wake = std::min(wake, SteadyClock::now() + options_.error_backoff);
    changed_.WaitUntil(mu_, wake, [&] {
      mu_.AssertHeld();
      return stopping_ || enqueued_ || (!fed_ && feed_ok && store_version_ > seen_version_);
    });
  }
}

}  // namespace skiff
