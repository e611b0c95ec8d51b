// ReconcileLoop: the level-triggered controller runtime. It watches one resource type in the
// Store's change feed and calls a reconcile function with the (namespace, name) of every object
// that changed, plus every object at start (so a restart re-drives everything) and again whenever
// a reconcile asked to be looked at later.
//
//   ReconcileLoop loop("jobs", store, "jobs.batch",
//       [&](const std::string& ns, const std::string& name) { return controller.Reconcile(ns,
//       name); });
//   loop.Start();   // a thread of its own
//   ...
//   loop.Stop();    // waits for the reconcile in progress, then returns
//
// A reconcile returns the delay after which it wants to run again (nullopt: only on change) or an
// error (logged, counted, retried with backoff). Reconciles of one loop never run concurrently.
// Enqueue (e.g. from a Backend's WorkloadListener) wakes the loop at once.
//
// Nothing a reconcile does stops the loop: an exception that escapes it is caught, and like an
// error it is recorded on the object (a `ReconcileError` condition in status.conditions, with
// the message), counted (Stats) and retried with exponential backoff per object (error_backoff
// doubling up to max_backoff; a success resets it). With a schema (the kind's), every object is
// checked before it is reconciled, once per resourceVersion (an unchanged object is not read
// again): one the schema refuses (stored before the schema existed, or written around the API)
// is not reconciled; it gets an `Invalid` condition naming each offending field, and is looked
// at again when it changes.
//
// Two threads: the loop, which sleeps on its condition variable until a key is due, a key is
// enqueued or the store changed; and a store watcher, which blocks in Store::WaitForChange and
// wakes the loop when the version moves. Loops a ControllerManager runs share one ChangeFeed
// instead (Start(/*fed=*/true), Deliver): one thread each, one reader of the feed for all.
// Thread-safe: Start/Stop/Enqueue may be called from any thread.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/thread_annotations.h"
#include "store/store.h"

namespace skiff {

class Schema;  // core/schema.h

class ReconcileLoop {
 public:
  using Key = std::pair<std::string, std::string>;  // namespace, name
  using ReconcileFn = std::function<Result<std::optional<std::chrono::milliseconds>>(
      const std::string& ns, const std::string& name)>;
  // Maps a change of another type to the keys of the objects to reconcile (e.g. pod -> its job;
  // none when the change concerns no object of this loop). The event's object holds only
  // metadata (ChangeFilter::metadata_only: name, namespace, labels, uid, owners, finalizers), so
  // large objects are never parsed just to be mapped.
  using Mapper = std::function<std::vector<Key>(const WatchEvent&)>;

  struct Options {
    std::chrono::milliseconds resync_period{std::chrono::seconds(30)};
    // The first retry after an error; each further error of the same object doubles it.
    std::chrono::milliseconds error_backoff{std::chrono::milliseconds(500)};
    std::chrono::milliseconds max_backoff{std::chrono::minutes(5)};
    // The schema of the reconciled kind (null: objects are not checked) and its name.
    std::shared_ptr<const Schema> schema;
    std::string kind;
    // The keys looked at when the loop starts and at every resync, for a loop whose keys are not
    // the objects of its store type (the garbage collector's owners); unset: every object of the
    // store type.
    std::function<Result<std::vector<Key>>()> list_keys;
  };

  // Counters since construction (exported as /metrics).
  struct Stats {
    int64_t reconciles = 0;
    int64_t errors = 0;         // reconciles that returned an error
    int64_t exceptions = 0;     // reconciles that threw
    int64_t invalid = 0;        // objects currently refused by the schema
    int64_t schema_checks = 0;  // objects read and checked against the schema (once a version)
  };

  ReconcileLoop(std::string name, Store& store, std::string store_type, ReconcileFn fn,
                Options options);
  ReconcileLoop(std::string name, Store& store, std::string store_type, ReconcileFn fn)
      : ReconcileLoop(std::move(name), store, std::move(store_type), std::move(fn), Options()) {}
  ~ReconcileLoop();

  // Also watch `store_type` and reconcile what `mapper` maps its changes to.
  void AlsoWatch(std::string store_type, Mapper mapper);

  // Starts the loop's thread. Unless `fed`, a second thread watches the store and the loop reads
  // the change feed itself; with `fed`, changes come through Deliver (the ControllerManager's
  // ChangeFeed, one reader shared by every loop).
  void Start(bool fed = false);
  // A batch of changes (metadata only) read by a shared ChangeFeed: the changed objects of this
  // loop's type, and the owners its mappers name, become due. Any thread.
  void Deliver(const std::vector<WatchEvent>& batch);
  // Asks the threads to end without waiting for them (Stop several loops in parallel: the store
  // watcher notices within its 100 ms wait).
  void RequestStop();
  // RequestStop, then waits for the reconcile in progress and the threads.
  void Stop();
  void Enqueue(const Key& key);
  Stats GetStats() const;

  // One pass without a thread, for tests: (the first time, lists every object, as Start does)
  // reads new changes, then reconciles every key that is due. Returns the number of reconciles
  // run.
  int RunOnce();

 private:
  void Run();
  void WatchStore();
  void EnqueueAll();
  // False when the change feed could not be read.
  bool ReadNewChanges();
  // Makes the objects `batch` names due (skipping changes at or before `through`, already
  // listed, and the loop's own condition writes); whether any became due.
  bool ApplyChangesLocked(const std::vector<WatchEvent>& batch, int64_t through) REQUIRES(mu_);
  // Runs every key that is due; returns how many.
  int ReconcileDue();
  // Runs fn_ for `key` (unless the schema refuses the object), turning an exception into an
  // error recorded on the object (*threw).
  // *skipped: the object is refused by its schema and was not handed to the controller.
  Result<std::optional<std::chrono::milliseconds>> ReconcileOne(const Key& key, bool* threw,
                                                                bool* skipped);
  // Whether a listed object passes the schema; an object that does not is recorded on its
  // status (once per message) and remembered in invalid_.
  bool CheckObject(const Key& key, const Json& obj);
  // Sets condition `type` (status True, reason, message) on the object, replacing a status or
  // conditions of the wrong shape. Best effort: a failure is logged.
  void RecordCondition(const Key& key, const std::string& type, const std::string& reason,
                       const std::string& message);

  const std::string name_;
  Store& store_;
  const std::string store_type_;
  const ReconcileFn fn_;
  const Options options_;
  std::map<std::string, Mapper> mappers_;  // set before Start

  mutable Mutex mu_;
  CondVar changed_;  // due_, stopping_, enqueued_ or store_version_ changed
  // Keys due at a time (steady clock).
  std::map<Key, std::chrono::steady_clock::time_point> due_ GUARDED_BY(mu_);
  bool stopping_ GUARDED_BY(mu_) = false;
  bool enqueued_ GUARDED_BY(mu_) = false;       // Enqueue ran since the loop last looked
  int64_t store_version_ GUARDED_BY(mu_) = 0;   // the latest version the watcher saw
  int64_t seen_version_ = 0;                    // only touched by the loop thread (or RunOnce)
  bool fed_ = false;                            // set by Start, before the threads
  int64_t listed_version_ GUARDED_BY(mu_) = 0;  // the store version EnqueueAll listed at Start
  Stats stats_ GUARDED_BY(mu_);
  // Loop thread only: consecutive failures per object (for backoff), and the objects the schema
  // refuses with the message last recorded on them.
  std::map<Key, int> failures_;
  std::map<Key, std::string> invalid_;
  // The version of each object's last write by this loop itself (a condition): its change event
  // is no reason to reconcile again, so a backoff is not cut short by the loop's own report.
  std::map<Key, int64_t> own_writes_ GUARDED_BY(mu_);
  // The resourceVersion each object last passed its schema at: an unchanged object is not read
  // and checked again before its next reconcile (a 1,000-task run re-parsed at every wake-up
  // cost more than the reconcile). Loop thread only.
  std::map<Key, int64_t> checked_;
  bool listed_ = false;  // EnqueueAll ran (Start, or the first RunOnce)
  std::chrono::steady_clock::time_point next_resync_;
  std::thread thread_;
  std::thread watcher_;
};

}  // namespace skiff
