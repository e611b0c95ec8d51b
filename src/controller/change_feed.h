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
// The feed also keeps the store's change history bounded: given a retention, it compacts the
// store (Store::Compact) through the newest version it had delivered `retention` ago, so watches
// may resume from any version of that window (older ones get 410 Expired and list afresh, as
// from the Kubernetes API server, which has etcd compacted every five minutes), and never past
// what the controllers have read.
//
// Thread-safe: Subscribe before Start; Start/Stop from one thread.
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/thread_annotations.h"
#include "store/store.h"

namespace skiff {

// Which versions a history of `retention` may drop, from the versions reached over time.
//
//   FeedRetention retention(std::chrono::minutes(5));
//   int64_t through = retention.CompactThrough(clock.Now(), delivered);  // 0: nothing yet
//
// Thread-compatible.
class FeedRetention {
 public:
  explicit FeedRetention(std::chrono::seconds retention) : retention_(retention) {}
  // Notes that `version` was reached at `now`; returns the newest version that was reached at
  // least `retention` before `now` (0 when none was).
  int64_t CompactThrough(TimePoint now, int64_t version);

 private:
  std::chrono::seconds retention_;
  // Oldest first, a second (or a thousandth of the retention) apart at least.
  std::deque<std::pair<TimePoint, int64_t>> reached_;
};

class ChangeFeed {
 public:
  using Subscriber = std::function<void(const std::vector<WatchEvent>& batch)>;

  // `history`: how long changes are kept for watches (0: forever, never compacted); `clock`
  // tells when.
  ChangeFeed(Store& store, Clock& clock, std::chrono::seconds history)
      : store_(store), clock_(clock), history_(history) {}
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
  // Compacts the store when the history allows it; called on the feed's thread.
  void MaybeCompact(int64_t delivered, FeedRetention& retention, int64_t& compacted,
                    TimePoint& last_compaction);

  Store& store_;
  Clock& clock_;
  const std::chrono::seconds history_;
  std::vector<Subscriber> subscribers_;  // fixed once Start ran
  std::thread thread_;
  mutable Mutex mu_;
  bool stopping_ GUARDED_BY(mu_) = false;
  int64_t batches_read_ GUARDED_BY(mu_) = 0;
};

}  // namespace skiff
