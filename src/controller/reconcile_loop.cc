#include "controller/reconcile_loop.h"

#include <algorithm>

#include "core/log.h"

namespace skiff {

using SteadyClock = std::chrono::steady_clock;

ReconcileLoop::ReconcileLoop(std::string name, Store& store, std::string store_type, ReconcileFn fn,
                             Options options)
    : name_(std::move(name)),
      store_(store),
      store_type_(std::move(store_type)),
      fn_(std::move(fn)),
      options_(options) {}

ReconcileLoop::~ReconcileLoop() { Stop(); }

void ReconcileLoop::AlsoWatch(std::string store_type, Mapper mapper) {
  mappers_[std::move(store_type)] = std::move(mapper);
}

void ReconcileLoop::Start() {
  seen_version_ = store_.CurrentVersion();
  EnqueueAll();
  next_resync_ = SteadyClock::now() + options_.resync_period;
  {
    std::lock_guard<std::mutex> lock(mu_);
    store_version_ = seen_version_;
  }
  thread_ = std::thread([this] { Run(); });
  watcher_ = std::thread([this] { WatchStore(); });
}

void ReconcileLoop::RequestStop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  store_.WakeWaiters();  // the store watcher notices now, not after its wait times out
}

void ReconcileLoop::Stop() {
  RequestStop();
  if (thread_.joinable()) thread_.join();
  if (watcher_.joinable()) watcher_.join();
}

void ReconcileLoop::Enqueue(const Key& key) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    due_[key] = SteadyClock::now();
    enqueued_ = true;
  }
  cv_.notify_all();
}

void ReconcileLoop::EnqueueAll() {
  ListOptions options;
  auto list = store_.List(store_type_, "", options);
  if (!list.ok()) {
    LogWarn("controller list failed", {{"controller", name_}, {"error", list.status().ToString()}});
    return;
  }
  std::lock_guard<std::mutex> lock(mu_);
  auto now = SteadyClock::now();
  for (const Json& obj : list->items) due_[{MetaNamespace(obj), MetaName(obj)}] = now;
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
    std::lock_guard<std::mutex> lock(mu_);
    auto now = SteadyClock::now();
    for (const WatchEvent& ev : *changes) {
      seen_version_ = ev.resource_version;
      if (ev.store_type == store_type_) {
        due_[{ev.namespace_, ev.name}] = now;
      } else if (auto it = mappers_.find(ev.store_type); it != mappers_.end()) {
        if (auto key = it->second(ev)) due_[*key] = now;
      }
    }
    if (changes->size() < 500) return true;
  }
}

int ReconcileLoop::RunOnce() {
  ReadNewChanges();
  return ReconcileDue();
}

int ReconcileLoop::ReconcileDue() {
  std::vector<Key> ready;
  {
    std::lock_guard<std::mutex> lock(mu_);
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
  for (const Key& key : ready) {
    auto result = fn_(key.first, key.second);
    std::lock_guard<std::mutex> lock(mu_);
    if (!result.ok()) {
      LogWarn("reconcile failed", {{"controller", name_},
                                   {"object", key.first + "/" + key.second},
                                   {"error", result.status().ToString()}});
      due_.emplace(key, SteadyClock::now() + options_.error_backoff);
    } else if (result->has_value()) {
      auto when = SteadyClock::now() + **result;
      auto [it, inserted] = due_.emplace(key, when);
      if (!inserted && when < it->second) it->second = when;
    }
  }
  return static_cast<int>(ready.size());
}

void ReconcileLoop::WatchStore() {
  int64_t known;
  {
    std::lock_guard<std::mutex> lock(mu_);
    known = store_version_;
  }
  while (true) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
    }
    // RequestStop wakes this wait; the bound is a backstop.
    int64_t version = store_.WaitForChange(known, std::chrono::milliseconds(100));
    if (version <= known) continue;
    known = version;
    {
      std::lock_guard<std::mutex> lock(mu_);
      store_version_ = std::max(store_version_, version);
    }
    cv_.notify_all();
  }
}

void ReconcileLoop::Run() {
  while (true) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
      enqueued_ = false;
    }
    if (SteadyClock::now() >= next_resync_) {
      EnqueueAll();
      next_resync_ = SteadyClock::now() + options_.resync_period;
    }
    bool feed_ok = ReadNewChanges();
    ReconcileDue();
    // Sleep until the next due key, a store change, an Enqueue, or Stop. While the change feed
    // fails, store changes do not wake the loop before error_backoff.
    std::unique_lock<std::mutex> lock(mu_);
    auto wake = next_resync_;
    for (const auto& [key, when] : due_) wake = std::min(wake, when);
    if (!feed_ok) wake = std::min(wake, SteadyClock::now() + options_.error_backoff);
    cv_.wait_until(lock, wake, [&] {
      return stopping_ || enqueued_ || (feed_ok && store_version_ > seen_version_);
    });
  }
}

}  // namespace skiff
