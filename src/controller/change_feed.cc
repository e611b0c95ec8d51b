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

void ChangeFeed::Run(int64_t after) {
  ChangeFilter filter;
  filter.metadata_only = true;
  while (true) {
    {
      MutexLock lock(&mu_);
      if (stopping_) return;
    }
    const int64_t current = store_.WaitForChange(after, kWait);
    if (current <= after) continue;
    // Read everything new, a batch at a time, before waiting again.
    while (true) {
      auto batch = store_.ReadChanges(filter, after, kBatch);
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
