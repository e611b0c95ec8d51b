#include "backend/local/slots.h"

#include <algorithm>
#include <utility>

namespace skiff::local {
namespace {

bool Before(const Slots::Request& a, const Slots::Request& b) {
  if (a.priority != b.priority) return a.priority > b.priority;
  return a.seq < b.seq;
}

}  // namespace

std::string FormatCpu(int64_t millis) {
  if (millis % 1000 == 0) return std::to_string(millis / 1000);
  return std::to_string(millis) + "m";
}

std::string FormatMemory(int64_t bytes) {
  const std::pair<int64_t, const char*> units[] = {
      {int64_t{1} << 40, "Ti"}, {int64_t{1} << 30, "Gi"}, {int64_t{1} << 20, "Mi"}, {1024, "Ki"}};
  if (bytes == 0) return "0";
  for (const auto& [size, suffix] : units) {
    if (bytes % size == 0) return std::to_string(bytes / size) + suffix;
  }
  return std::to_string(bytes);
}

Slots::Slots(int64_t total_cpu_millis, int64_t total_memory_bytes)
    : total_cpu_(total_cpu_millis), total_memory_(total_memory_bytes) {}

std::string Slots::FormatQuota(const Quota& quota) {
  std::string text;
  auto add = [&text](const std::string& part) { text += (text.empty() ? "" : ", ") + part; };
  if (quota.cpu_millis) add(FormatCpu(*quota.cpu_millis) + " cpu");
  if (quota.memory_bytes) add(FormatMemory(*quota.memory_bytes) + " memory");
  if (quota.requests) add(std::to_string(*quota.requests) + " workloads");
  return text;
}

std::string Slots::FormatNeeds(int64_t cpu_millis, int64_t memory_bytes) {
  return FormatCpu(cpu_millis) + " cpu, " + FormatMemory(memory_bytes) + " memory";
}

Status Slots::Add(const Request& request) {
  if (queued_.count(request.id) > 0 || held_.count(request.id) > 0) return Status::Ok();
  if (request.cpu_millis < 0 || request.memory_bytes < 0) {
    return InvalidArgument("workload " + request.id + ": a negative cpu or memory request");
  }
  const std::string machine =
      " but this machine has only " + FormatNeeds(total_cpu_, total_memory_);
  if (request.cpu_millis > total_cpu_ || request.memory_bytes > total_memory_) {
    return FailedPrecondition("workload needs " +
                              FormatNeeds(request.cpu_millis, request.memory_bytes) + machine);
  }
  if (auto quota = quotas_.find(request.tenant);
      !request.tenant.empty() && quota != quotas_.end()) {
    const Quota& q = quota->second;
    const std::string profile = "profile " + request.tenant;
    if (q.memory_bytes && request.memory_bytes == 0) {
      return FailedPrecondition(profile +
                                " has a memory quota: every container must set a memory limit "
                                "(resources.limits.memory)");
    }
    if ((q.cpu_millis && request.cpu_millis > *q.cpu_millis) ||
        (q.memory_bytes && request.memory_bytes > *q.memory_bytes) ||
        (q.requests && *q.requests < 1)) {
      return FailedPrecondition("workload needs " +
                                FormatNeeds(request.cpu_millis, request.memory_bytes) +
                                " but the quota of " + profile + " allows " + FormatQuota(q));
    }
  }
  if (!request.group.empty()) {
    if (request.group_size < 1) {
      return InvalidArgument("group " + request.group + ": a group has at least 1 member");
    }
    int64_t cpu = request.cpu_millis;
    int64_t memory = request.memory_bytes;
    int members = 1;
    for (const auto* set : {&queued_, &held_}) {
      for (const auto& [id, r] : *set) {
        if (r.group != request.group) continue;
        if (r.group_size != request.group_size) {
          return InvalidArgument("group " + request.group + ": has " +
                                 std::to_string(r.group_size) + " members, not " +
                                 std::to_string(request.group_size));
        }
        cpu += r.cpu_millis;
        memory += r.memory_bytes;
        ++members;
      }
    }
    if (members > request.group_size) {
      return InvalidArgument("group " + request.group + ": more than its " +
                             std::to_string(request.group_size) + " members");
    }
    if (cpu > total_cpu_ || memory > total_memory_) {
      return FailedPrecondition("group " + request.group + " needs at least " +
                                FormatNeeds(cpu, memory) + " together" + machine);
    }
  }
  queued_.emplace(request.id, request);
  return Status::Ok();
}

void Slots::Hold(const Request& request) {
  if (held_.count(request.id) > 0) return;
  Request r = request;  // `request` may be the queued entry erased here
  queued_.erase(r.id);
  used_cpu_ += r.cpu_millis;
  used_memory_ += r.memory_bytes;
  if (!r.tenant.empty()) {
    Held& tenant = held_by_tenant_[r.tenant];
    tenant.cpu_millis += r.cpu_millis;
    tenant.memory_bytes += r.memory_bytes;
    ++tenant.requests;
  }
  held_.emplace(r.id, std::move(r));
}

void Slots::Remove(const std::string& id) {
  queued_.erase(id);
  preempting_.erase(id);
  auto it = held_.find(id);
  if (it == held_.end()) return;
  const Request& r = it->second;
  used_cpu_ -= r.cpu_millis;
  used_memory_ -= r.memory_bytes;
  if (auto tenant = held_by_tenant_.find(r.tenant); tenant != held_by_tenant_.end()) {
    tenant->second.cpu_millis -= r.cpu_millis;
    tenant->second.memory_bytes -= r.memory_bytes;
    if (--tenant->second.requests == 0) held_by_tenant_.erase(tenant);
  }
  held_.erase(it);
}

void Slots::SetQuota(const std::string& tenant, const Quota& quota) {
  if (quota.empty()) {
    quotas_.erase(tenant);
  } else {
    quotas_[tenant] = quota;
  }
}

std::string Slots::QuotaRefusal(const Unit& unit) const {
  std::map<std::string, Held> needs;
  for (const Request* m : unit.members) {
    if (m->tenant.empty() || quotas_.count(m->tenant) == 0) continue;
    Held& need = needs[m->tenant];
    need.cpu_millis += m->cpu_millis;
    need.memory_bytes += m->memory_bytes;
    ++need.requests;
  }
  for (const auto& [tenant, need] : needs) {
    const Quota& q = quotas_.at(tenant);
    auto found = held_by_tenant_.find(tenant);
    const Held held = found == held_by_tenant_.end() ? Held{} : found->second;
    std::string over;
    if (q.cpu_millis && held.cpu_millis + need.cpu_millis > *q.cpu_millis) {
      over = FormatCpu(held.cpu_millis) + " of " + FormatCpu(*q.cpu_millis) + " cpu in use";
    } else if (q.memory_bytes && held.memory_bytes + need.memory_bytes > *q.memory_bytes) {
      over = FormatMemory(held.memory_bytes) + " of " + FormatMemory(*q.memory_bytes) +
             " memory in use";
    } else if (q.requests && held.requests + need.requests > *q.requests) {
      over = std::to_string(held.requests) + " of " + std::to_string(*q.requests) +
             " workloads running";
    }
    if (!over.empty()) {
      return "waiting for the quota of profile " + tenant + ": " + over + "; needs " +
             FormatNeeds(need.cpu_millis, need.memory_bytes);
    }
  }
  return "";
}

void Slots::Requeue(const std::string& id) {
  auto it = held_.find(id);
  if (it == held_.end()) return;
  Request r = it->second;
  Remove(id);
  queued_.emplace(id, std::move(r));
}

std::vector<Slots::Unit> Slots::Line() const {
  std::vector<const Request*> order;
  order.reserve(queued_.size());
  for (const auto& [id, r] : queued_) order.push_back(&r);
  std::sort(order.begin(), order.end(),
            [](const Request* a, const Request* b) { return Before(*a, *b); });
  std::vector<Unit> line;
  std::set<std::string> groups_seen;
  for (const Request* r : order) {
    if (!r->group.empty() && !groups_seen.insert(r->group).second) continue;
    Unit unit;
    unit.priority = r->priority;
    unit.seq = r->seq;
    if (r->group.empty()) {
      unit.members.push_back(r);
    } else {
      int present = 0;
      for (const Request* m : order) {
        if (m->group == r->group) unit.members.push_back(m);
      }
      present = static_cast<int>(unit.members.size());
      for (const auto& [id, h] : held_) present += h.group == r->group ? 1 : 0;
      unit.complete = present >= r->group_size;
    }
    for (const Request* m : unit.members) {
      unit.cpu += m->cpu_millis;
      unit.memory += m->memory_bytes;
    }
    line.push_back(std::move(unit));
  }
  return line;
}

std::vector<std::string> Slots::Victims(int priority, int64_t cpu, int64_t memory) const {
  int64_t coming_cpu = 0;
  int64_t coming_memory = 0;
  for (const std::string& id : preempting_) {
    const Request& r = held_.at(id);
    coming_cpu += r.cpu_millis;
    coming_memory += r.memory_bytes;
  }
  int64_t short_cpu = cpu - (free_cpu_millis() + coming_cpu);
  int64_t short_memory = memory - (free_memory_bytes() + coming_memory);
  if (short_cpu <= 0 && short_memory <= 0) return {};  // the room is being made already
  std::vector<const Request*> candidates;
  for (const auto& [id, r] : held_) {
    if (r.priority < priority && preempting_.count(id) == 0) candidates.push_back(&r);
  }
  // The least important first; among equals, the one that ran the least.
  std::sort(candidates.begin(), candidates.end(), [](const Request* a, const Request* b) {
    if (a->priority != b->priority) return a->priority < b->priority;
    return a->seq > b->seq;
  });
  std::vector<std::string> victims;
  for (const Request* r : candidates) {
    if (short_cpu <= 0 && short_memory <= 0) break;
    // Only a request that frees something still missing helps.
    if ((short_cpu > 0 && r->cpu_millis > 0) || (short_memory > 0 && r->memory_bytes > 0)) {
      victims.push_back(r->id);
      short_cpu -= r->cpu_millis;
      short_memory -= r->memory_bytes;
    }
  }
  if (short_cpu > 0 || short_memory > 0) return {};  // not enough to make room: preempt nothing
  return victims;
}

Slots::Turn Slots::Schedule() {
  Turn turn;
  bool blocked = false;
  for (const Unit& unit : Line()) {
    const bool gang = !unit.members.front()->group.empty();
    const std::string who = gang ? "group " + unit.members.front()->group + " needs " : "needs ";
    auto wait = [&](const std::string& why) {
      for (const Request* m : unit.members) turn.waiting[m->id] = why;
    };
    if (!unit.complete) {
      // A gang still being launched does not hold up the line: it may never be completed.
      wait("waiting for the rest of group " + unit.members.front()->group + ": " +
           std::to_string(unit.members.size()) + " of " +
           std::to_string(unit.members.front()->group_size) + " members launched");
      continue;
    }
    if (std::string quota = QuotaRefusal(unit); !quota.empty()) {
      wait(quota);  // held by its own profile's quota: the others go on
      continue;
    }
    const std::string waiting =
        "waiting for resources: " + who + FormatNeeds(unit.cpu, unit.memory) +
        " (free: " + FormatNeeds(free_cpu_millis(), free_memory_bytes()) + ")";
    if (blocked) {  // no overtaking
      wait(waiting);
      continue;
    }
    if (unit.cpu <= free_cpu_millis() && unit.memory <= free_memory_bytes()) {
      std::vector<std::string> ids;
      for (const Request* m : unit.members) ids.push_back(m->id);
      for (const std::string& id : ids) {
        Hold(queued_.at(id));
        turn.admitted.push_back(id);
      }
      continue;
    }
    blocked = true;
    for (std::string& victim : Victims(unit.priority, unit.cpu, unit.memory)) {
      preempting_.insert(victim);
      turn.preempt.push_back(std::move(victim));
      turn.preempted_for =
          gang ? "group " + unit.members.front()->group : "workload " + unit.members.front()->id;
    }
    wait(waiting);
  }
  return turn;
}

}  // namespace skiff::local
