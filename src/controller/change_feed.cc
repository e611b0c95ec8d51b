#include "controller/change_feed.h"

#include <algorithm>

#include "core/log.h"

namespace skiff {

namespace {
constexpr size_t kBatch = 500;
constexpr std::chrono::milliseconds kWait{100};  // a backstop: Stop wakes the wait
constexpr std::chrono::milliseconds kRetryAfterError{500};
}  // namespace

ChangeFeed::~ChangeFeed() { Stop(); }

void ChangeFeed::Subscribe(Subscriber subscriber) { subscribers_.push_back(std::move(subscriber)); }

void ChangeFeed::Start(int64_t after) {
  thread_ = std::thread([this, after] { Run(after); });
}

void ChangeFeed::Stop() {
  {
    MutexLock lock(&mu_);
    stopping_ = true;
  }
  store_.WakeWaiters();
  if (thread_.joinable()) thread_.join();
}

int64_t ChangeFeed::batches_read() const {
  MutexLock lock(&mu_);
  return batches_read_;
}

int64_t FeedRetention::CompactThrough(TimePoint now, int64_t version) {
  // Noted a second apart at least, and at most about a thousand a retention: the record stays
  // small however long the retention.
  const auto gap = std::max<std::chrono::nanoseconds>(std::chrono::seconds(1), retention_ / 1000);
  if (reached_.empty() ||
      (version > reached_.back().second && now - reached_.back().first >= gap)) {
    reached_.emplace_back(now, version);
  }
  const TimePoint horizon = now - retention_;
  while (reached_.size() >= 2 && reached_[1].first <= horizon) reached_.pop_front();
  return reached_.front().first <= horizon ? reached_.front().second : 0;
}

void ChangeFeed::MaybeCompact(int64_t delivered, FeedRetention& retention, int64_t& compacted,
                              TimePoint& last_compaction) {
  const TimePoint now = clock_.Now();
  const int64_t through = retention.CompactThrough(now, delivered);
  // At most once a minute (or once a retention, when that is shorter).
  if (through <= compacted ||
      now - last_compaction < std::min<std::chrono::seconds>(history_, std::chrono::minutes(1))) {
    return;
  }
  last_compaction = now;
  Result<int64_t> dropped = store_.Compact(through);
  if (!dropped.ok()) {
    LogWarn("compacting the change feed failed", {{"error", dropped.status().ToString()}});
    return;
  }
  compacted = through;
  LogDebug("change feed compacted",
           {{"through", std::to_string(through)}, {"dropped", std::to_string(*dropped)}});
}

void ChangeFeed::Run(int64_t after) {
  ChangeFilter filter;
  filter.metadata_only = true;
  FeedRetention retention(history_);
  int64_t compacted = 0;
  TimePoint last_compaction = clock_.Now();
  while (true) {
    {
      MutexLock lock(&mu_);
      if (stopping_) return;
    }
    if (history_.count() > 0) MaybeCompact(after, retention, compacted, last_compaction);
    const int64_t current = store_.WaitForChange(after, kWait);
    if (current <= after) continue;
    // Read everything new, a batch at a time, before waiting again.
    while (true) {
      auto batch = store_.ReadChanges(filter, after, kBatch);
      if (batch.status().code() == StatusCode::kExpired) {
        // Compacted past this feed (by another server on the same database): the controllers'
        // periodic resync finds what was missed.
        LogWarn("controller change feed fell behind the store's history; resuming from now",
                {{"error", batch.status().ToString()}});
        after = current;
        break;
      }
      if (!batch.ok()) {
        LogWarn("controller change feed failed", {{"error", batch.status().ToString()}});
        std::this_thread::sleep_for(kRetryAfterError);
        break;
      }
      {
        MutexLock lock(&mu_);
        batches_read_++;
      }
      if (batch->empty()) {
        after = std::max(after, current);  // versions that left no change to read
        break;
      }
      after = batch->back().resource_version;
      for (const Subscriber& s : subscribers_) s(*batch);
      if (batch->size() < kBatch) break;
    }
  }
}

}  // namespace skiff
