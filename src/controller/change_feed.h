// ChangeFeed: one reader of the Store's change feed for every controller. It waits for the store
// to change, reads the new changes once (metadata only, in batches) and hands each batch to every
// subscriber (the ControllerManager subscribes each ReconcileLoop), so that N controllers cost
// one read of the feed, not N.
//
//   ChangeFeed feed(store);
//   feed.Subscribe([&](const std::vector<WatchEvent>& batch) { loop.Deliver(batch); });
//   feed.Start(store.CurrentVersion());   // a thread of its own; delivers changes after that
//   ...
//   feed.Stop();
//
// A batch is delivered in version order, each change once, to the subscribers in the order they
// subscribed, on the feed's thread: a subscriber must only record what is due and return. A feed
// read that fails is logged and retried after a short pause from the same position, so no change
// is lost.
//
// Thread-safe: Subscribe before Start; Start/Stop from one thread.
#pragma once

#include <chrono>
#include <functional>
#include <thread>
#include <vector>

#include "core/thread_annotations.h"
#include "store/store.h"

namespace skiff {

class ChangeFeed {
 public:
  using Subscriber = std::function<void(const std::vector<WatchEvent>& batch)>;

  explicit ChangeFeed(Store& store) : store_(store) {}
  ~ChangeFeed();

  void Subscribe(Subscriber subscriber);
  // Starts the thread, which delivers every change after version `after`.
  void Start(int64_t after);
  // Ends the thread (the batch being delivered is finished first).
  void Stop();

  // Batches read from the store so far (for tests and /metrics).
  int64_t batches_read() const;

 private:
  void Run(int64_t after);

  Store& store_;
  std::vector<Subscriber> subscribers_;  // fixed once Start ran
  std::thread thread_;
  mutable Mutex mu_;
  bool stopping_ GUARDED_BY(mu_) = false;
  int64_t batches_read_ GUARDED_BY(mu_) = 0;
};

}  // namespace skiff
