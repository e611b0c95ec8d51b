// Slots: which queued workloads the local backend starts, given the cpu and memory of the
// machine. A pure class (no processes, no clock, no threads) so the rules are tested on their own
// (slots_test.cc):
//
// - A request needs cpu (millicores) and memory (bytes). One that needs more than the whole
//   machine can never start: Add refuses it.
// - Queued requests are admitted by priority (higher first), then arrival (lower seq first), and
//   without overtaking: once the head of the line does not fit, the requests behind it wait too,
//   so a big workload is not starved by a stream of small ones.
// - A gang (requests that name the same group, of group_size members) is admitted all at once or
//   not at all: it waits until all of its members are queued and they fit together. Its place in
//   the line is that of its best member (highest priority, then earliest).
// - Quotas: a tenant (a namespace) may be limited in the cpu, memory and number of its requests
//   admitted at once (SetQuota). A request its tenant's quota keeps out waits, but does not hold
//   up the line for other tenants' (and preempts nobody): one tenant at its quota does not stop
//   the machine. Under a memory quota a request must say how much memory it needs, and one that
//   alone needs more than its tenant's quota can never start: Add refuses both.
// - Preemption: when the head of the line does not fit, admitted requests of strictly lower
//   priority are named for preemption (lowest priority first, then latest first), as few as make
//   it fit, and only when enough of them exist. Their slots stay held until the backend Removes
//   them (their processes ended); meanwhile nothing else is admitted into the room they free.
//
//   local::Slots slots(4000, 8 << 30);
//   RETURN_IF_ERROR(slots.Add({.id = "a", .cpu_millis = 500, .memory_bytes = 1 << 30}));
//   local::Slots::Turn turn = slots.Schedule();  // turn.admitted: start these
//   ...
//   slots.Remove("a");                           // ended: its slots are free again
//
// Thread-compatible: the backend calls it under its own lock.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/status.h"

namespace skiff::local {

// "500m", "2" (cores); "512Mi", "1Gi", "0" (bytes), as Kubernetes writes quantities.
std::string FormatCpu(int64_t millis);
std::string FormatMemory(int64_t bytes);

class Slots {
 public:
  struct Request {
    std::string id;
    int64_t cpu_millis = 0;
    int64_t memory_bytes = 0;
    int priority = 0;
    uint64_t seq = 0;   // arrival order
    std::string group;  // "" = alone; otherwise admitted with every other member of the group
    int group_size = 1;
    std::string tenant;  // whose quota it counts against ("" = none)
  };

  // What one tenant's admitted requests may hold together; unset = no limit.
  struct Quota {
    std::optional<int64_t> cpu_millis;
    std::optional<int64_t> memory_bytes;
    std::optional<int64_t> requests;
    bool empty() const { return !cpu_millis && !memory_bytes && !requests; }
  };

  // What one Schedule decided.
  struct Turn {
    std::vector<std::string> admitted;  // now hold their slots: start them
    std::vector<std::string> preempt;   // stop these to make room (named once each)
    std::string preempted_for;          // for whom: "workload ID" or "group NAME"
    // Why each request still queued waits ("waiting for resources: needs ...").
    std::map<std::string, std::string> waiting;
  };

  Slots(int64_t total_cpu_millis, int64_t total_memory_bytes);

  // Queues a request. FailedPrecondition ("needs X cpu, Y memory but this machine has only ...")
  // when it could never fit, or its gang could not (the members so far need more than the
  // machine); InvalidArgument for a gang size below 1 or a member that disagrees on it. Adding a
  // known id changes nothing.
  Status Add(const Request& request);
  // Records a request that already holds its slots (a workload re-adopted after a restart).
  void Hold(const Request& request);
  // Forgets a request, queued or admitted; an admitted one frees its slots.
  void Remove(const std::string& id);
  // Puts an admitted request back in the line, in its old place, freeing its slots (it could not
  // start after all: its mount path is busy).
  void Requeue(const std::string& id);

  // Sets (an empty one: lifts) the quota of `tenant`. Requests admitted already keep their
  // slots; those queued are held to it from the next Schedule.
  void SetQuota(const std::string& tenant, const Quota& quota);

  // Admits what fits, in order; names victims when the head of the line needs room.
  Turn Schedule();

  bool Admitted(const std::string& id) const { return held_.count(id) > 0; }
  bool Queued(const std::string& id) const { return queued_.count(id) > 0; }
  int64_t free_cpu_millis() const { return total_cpu_ - used_cpu_; }
  int64_t free_memory_bytes() const { return total_memory_ - used_memory_; }

  // "500m cpu, 1.0Gi memory", as the messages write needs.
  static std::string FormatNeeds(int64_t cpu_millis, int64_t memory_bytes);
  // "2 cpu, 1Gi memory, 3 workloads" (what is set).
  static std::string FormatQuota(const Quota& quota);

 private:
  // The head of the line: one request, or every member of a gang.
  struct Unit {
    std::vector<const Request*> members;
    int64_t cpu = 0;
    int64_t memory = 0;
    int priority = 0;
    uint64_t seq = 0;
    bool complete = true;  // a gang whose members are all queued
  };
  std::vector<Unit> Line() const;
  // Admitted requests of priority below `priority`, not yet named, lowest priority then latest
  // first, just enough to free `cpu` and `memory` more than is free; empty when not enough.
  std::vector<std::string> Victims(int priority, int64_t cpu, int64_t memory) const;
  // Why the quota of a tenant of `unit` keeps it out now ("" when none does).
  std::string QuotaRefusal(const Unit& unit) const;

  // What a tenant's admitted requests hold.
  struct Held {
    int64_t cpu_millis = 0;
    int64_t memory_bytes = 0;
    int64_t requests = 0;
  };

  const int64_t total_cpu_;
  const int64_t total_memory_;
  int64_t used_cpu_ = 0;
  int64_t used_memory_ = 0;
  std::map<std::string, Request> queued_;
  std::map<std::string, Request> held_;
  std::set<std::string> preempting_;            // held, named for preemption, not yet removed
  std::map<std::string, Quota> quotas_;         // by tenant
  std::map<std::string, Held> held_by_tenant_;  // tenants with admitted requests
};

}  // namespace skiff::local
