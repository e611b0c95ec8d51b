// Thread-safety annotations and the annotated Mutex they are checked against.
//
// Clang's thread-safety analysis (-Wthread-safety, the SKIFF_THREAD_SAFETY build in ./test)
// checks at compile time that every member declared GUARDED_BY(mu_) is only touched with mu_
// held, that functions declared REQUIRES(mu_) are only called with it held and EXCLUDES(mu_)
// ones only without it. The macros expand to nothing on other compilers. They follow leveldb's
// port/thread_annotations.h and clang's documentation
// (https://clang.llvm.org/docs/ThreadSafetyAnalysis.html).
//
//   class Counter {
//    public:
//     void Add(int n) EXCLUDES(mu_) {
//       MutexLock lock(&mu_);
//       AddLocked(n);
//     }
//     int WaitForPositive() EXCLUDES(mu_) {
//       MutexLock lock(&mu_);
//       changed_.Wait(mu_, [&] {
//         mu_.AssertHeld();  // the analysis does not know the predicate runs under mu_
//         return value_ > 0;
//       });
//       return value_;
//     }
//
//    private:
//     void AddLocked(int n) REQUIRES(mu_) {
//       value_ += n;
//       changed_.SignalAll();
//     }
//     Mutex mu_;
//     CondVar changed_;
//     int value_ GUARDED_BY(mu_) = 0;
//   };
//
// Mutex, MutexLock and CondVar are thread-safe (that is their purpose); a MutexLock object
// belongs to the thread that made it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <utility>

#if defined(__clang__)
#define SKIFF_THREAD_ANNOTATION_(x) __attribute__((x))
#else
#define SKIFF_THREAD_ANNOTATION_(x)
#endif

// On a class: its objects are a capability (a lock) named `x` in the analysis' messages.
#define CAPABILITY(x) SKIFF_THREAD_ANNOTATION_(capability(x))
// On a class: RAII objects that hold a capability from construction to destruction.
#define SCOPED_CAPABILITY SKIFF_THREAD_ANNOTATION_(scoped_lockable)
// On a data member: read and written only with `x` held.
#define GUARDED_BY(x) SKIFF_THREAD_ANNOTATION_(guarded_by(x))
// On a pointer member: what it points to is read and written only with `x` held.
#define PT_GUARDED_BY(x) SKIFF_THREAD_ANNOTATION_(pt_guarded_by(x))
// On a mutex member: the order in which mutexes are taken.
#define ACQUIRED_BEFORE(...) SKIFF_THREAD_ANNOTATION_(acquired_before(__VA_ARGS__))
#define ACQUIRED_AFTER(...) SKIFF_THREAD_ANNOTATION_(acquired_after(__VA_ARGS__))
// On a function: callers must hold (exclusively / shared) the capabilities named.
#define REQUIRES(...) SKIFF_THREAD_ANNOTATION_(requires_capability(__VA_ARGS__))
#define REQUIRES_SHARED(...) SKIFF_THREAD_ANNOTATION_(requires_shared_capability(__VA_ARGS__))
// On a function: it takes (and returns holding) / lets go of the capabilities named (none:
// `this`).
#define ACQUIRE(...) SKIFF_THREAD_ANNOTATION_(acquire_capability(__VA_ARGS__))
#define ACQUIRE_SHARED(...) SKIFF_THREAD_ANNOTATION_(acquire_shared_capability(__VA_ARGS__))
#define RELEASE(...) SKIFF_THREAD_ANNOTATION_(release_capability(__VA_ARGS__))
#define RELEASE_SHARED(...) SKIFF_THREAD_ANNOTATION_(release_shared_capability(__VA_ARGS__))
// On a function: it takes the capability when it returns `ok` (true or false).
#define TRY_ACQUIRE(...) SKIFF_THREAD_ANNOTATION_(try_acquire_capability(__VA_ARGS__))
// On a function: callers must not hold the capabilities named (it takes them itself).
#define EXCLUDES(...) SKIFF_THREAD_ANNOTATION_(locks_excluded(__VA_ARGS__))
// On a function: the capability is held when it returns (checked at run time, or known).
#define ASSERT_CAPABILITY(x) SKIFF_THREAD_ANNOTATION_(assert_capability(x))
// On a function: it returns a reference to the capability named.
#define RETURN_CAPABILITY(x) SKIFF_THREAD_ANNOTATION_(lock_returned(x))
// On a function: not analysed. Say why beside every use.
#define NO_THREAD_SAFETY_ANALYSIS SKIFF_THREAD_ANNOTATION_(no_thread_safety_analysis)

namespace skiff {

class CondVar;

// A std::mutex the analysis knows about. Also BasicLockable (lock/unlock), so that
// std::condition_variable_any and std::unique_lock work with it where CondVar does not fit;
// the analysis does not see through std::unique_lock, so prefer MutexLock.
class CAPABILITY("mutex") Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() ACQUIRE() { mu_.lock(); }
  void Unlock() RELEASE() { mu_.unlock(); }
  bool TryLock() TRY_ACQUIRE(true) { return mu_.try_lock(); }
  // Tells the analysis that the calling thread holds this mutex (e.g. in a CondVar predicate).
  // It checks nothing at run time.
  void AssertHeld() const ASSERT_CAPABILITY(this) {}

  void lock() ACQUIRE() { mu_.lock(); }
  void unlock() RELEASE() { mu_.unlock(); }
  bool try_lock() TRY_ACQUIRE(true) { return mu_.try_lock(); }

 private:
  friend class CondVar;
  std::mutex mu_;
};

// Holds a Mutex for its scope: `MutexLock lock(&mu_);`.
class SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex* mu) ACQUIRE(mu) : mu_(mu) { mu_->Lock(); }
  ~MutexLock() RELEASE() { mu_->Unlock(); }

  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex* const mu_;
};

// A condition variable waited on with a Mutex held (std::condition_variable underneath). Every
// wait lets go of `mu` while it sleeps and holds it again when it returns; spurious wake-ups
// happen, so wait in a loop or with a predicate. Predicates run with `mu` held; lambdas say so
// with `mu_.AssertHeld()`, which the analysis cannot infer.
class CondVar {
 public:
  CondVar() = default;
  CondVar(const CondVar&) = delete;
  CondVar& operator=(const CondVar&) = delete;

  void Wait(Mutex& mu) REQUIRES(mu) {
    std::unique_lock<std::mutex> lock(mu.mu_, std::adopt_lock);
    cv_.wait(lock);
    lock.release();
  }
  template <typename Predicate>
  void Wait(Mutex& mu, Predicate pred) REQUIRES(mu) {
    while (!pred()) Wait(mu);
  }
  // Returns false when `deadline` passed (with `pred` still false, for the predicate form).
  template <typename TimeClock, typename Duration>
  bool WaitUntil(Mutex& mu, const std::chrono::time_point<TimeClock, Duration>& deadline)
      REQUIRES(mu) {
    std::unique_lock<std::mutex> lock(mu.mu_, std::adopt_lock);
    const std::cv_status status = cv_.wait_until(lock, deadline);
    lock.release();
    return status == std::cv_status::no_timeout;
  }
  template <typename TimeClock, typename Duration, typename Predicate>
  bool WaitUntil(Mutex& mu, const std::chrono::time_point<TimeClock, Duration>& deadline,
                 Predicate pred) REQUIRES(mu) {
    while (!pred()) {
      if (!WaitUntil(mu, deadline)) return pred();
    }
    return true;
  }
  template <typename Rep, typename Period>
  bool WaitFor(Mutex& mu, const std::chrono::duration<Rep, Period>& timeout) REQUIRES(mu) {
    return WaitUntil(mu, std::chrono::steady_clock::now() + timeout);
  }
  template <typename Rep, typename Period, typename Predicate>
  bool WaitFor(Mutex& mu, const std::chrono::duration<Rep, Period>& timeout, Predicate pred)
      REQUIRES(mu) {
    return WaitUntil(mu, std::chrono::steady_clock::now() + timeout, std::move(pred));
  }

  void Signal() noexcept { cv_.notify_one(); }
  void SignalAll() noexcept { cv_.notify_all(); }

 private:
  std::condition_variable cv_;
};

}  // namespace skiff
