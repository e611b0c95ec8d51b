// PerUserSlots: how many of something (open watches, requests in flight) each user holds at once,
// under a limit per user and one for everyone together: what keeps one user from taking what the
// server has for all. A Slot is held for as long as it lives.
//
//   PerUserSlots watches(/*per_user=*/32, /*total=*/256);
//   PerUserSlots::Slot slot = watches.Acquire(user);
//   if (!slot) return Send429();
//   ...  // released when `slot` goes
//
// Thread-safe.
#pragma once

#include <map>
#include <string>

#include "core/thread_annotations.h"

namespace skiff {

class PerUserSlots {
 public:
  // A slot held (or, when false, refused); movable, released when destroyed.
  class Slot {
   public:
    Slot() = default;
    Slot(Slot&& other) noexcept : owner_(other.owner_), user_(std::move(other.user_)) {
      other.owner_ = nullptr;
    }
    Slot& operator=(Slot&& other) noexcept {
      if (this != &other) {
        Release();
        owner_ = other.owner_;
        user_ = std::move(other.user_);
        other.owner_ = nullptr;
      }
      return *this;
    }
    ~Slot() { Release(); }
    explicit operator bool() const { return owner_ != nullptr; }

   private:
    friend class PerUserSlots;
    Slot(PerUserSlots* owner, std::string user) : owner_(owner), user_(std::move(user)) {}
    void Release() {
      if (owner_ != nullptr) owner_->Release(user_);
      owner_ = nullptr;
    }
    PerUserSlots* owner_ = nullptr;
    std::string user_;
  };

  PerUserSlots(int per_user, int total) : per_user_(per_user), total_(total) {}

  void SetLimits(int per_user, int total) {
    MutexLock lock(&mu_);
    per_user_ = per_user;
    total_ = total;
  }
  // A slot for `user`, or a false one when they (or everyone together) hold the limit.
  Slot Acquire(const std::string& user) {
    MutexLock lock(&mu_);
    int& mine = held_[user];
    if (mine >= per_user_ || held_total_ >= total_) {
      if (mine == 0) held_.erase(user);
      return Slot();
    }
    ++mine;
    ++held_total_;
    return Slot(this, user);
  }

 private:
  void Release(const std::string& user) {
    MutexLock lock(&mu_);
    auto it = held_.find(user);
    if (it != held_.end() && --it->second <= 0) held_.erase(it);
    --held_total_;
  }

  Mutex mu_;
  int per_user_ GUARDED_BY(mu_);
  int total_ GUARDED_BY(mu_);
  std::map<std::string, int> held_ GUARDED_BY(mu_);
  int held_total_ GUARDED_BY(mu_) = 0;
};

}  // namespace skiff
