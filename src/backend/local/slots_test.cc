#include "backend/local/slots.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace skiff::local {
namespace {

constexpr int64_t kGi = int64_t{1} << 30;

using Ids = std::vector<std::string>;

Slots::Request Req(const std::string& id, int64_t cpu, int64_t memory = 0, int priority = 0,
                   uint64_t seq = 0) {
  return Slots::Request{id, cpu, memory, priority, seq, "", 1};
}

Slots::Request Member(const std::string& id, const std::string& group, int size, int64_t cpu,
                      uint64_t seq) {
  return Slots::Request{id, cpu, 0, 0, seq, group, size};
}

Slots::Request Of(const std::string& tenant, const std::string& id, int64_t cpu,
                  int64_t memory = kGi, uint64_t seq = 0) {
  Slots::Request r = Req(id, cpu, memory, 0, seq);
  r.tenant = tenant;
  return r;
}

TEST(Slots, AdmitsWhatFitsAndFreesOnRemove) {
  Slots slots(2000, 4 * kGi);
  ASSERT_TRUE(slots.Add(Req("a", 1000, kGi, 0, 1)).ok());
  ASSERT_TRUE(slots.Add(Req("b", 1000, kGi, 0, 2)).ok());
  ASSERT_TRUE(slots.Add(Req("c", 1000, kGi, 0, 3)).ok());
  Slots::Turn turn = slots.Schedule();
  EXPECT_EQ(turn.admitted, (Ids{"a", "b"}));
  EXPECT_EQ(turn.waiting.at("c"),
            "waiting for resources: needs 1 cpu, 1Gi memory (free: 0 cpu, 2Gi memory)");
  EXPECT_EQ(slots.free_cpu_millis(), 0);
  EXPECT_TRUE(slots.Schedule().admitted.empty()) << "admitted once";
  slots.Remove("a");
  EXPECT_EQ(slots.Schedule().admitted, Ids{"c"});
  EXPECT_TRUE(slots.Admitted("c"));
  EXPECT_FALSE(slots.Queued("c"));
}

TEST(Slots, RefusesWhatCouldNeverFit) {
  Slots slots(2000, 4 * kGi);
  Status st = slots.Add(Req("huge", 3000, kGi));
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(st.message(),
            "workload needs 3 cpu, 1Gi memory but this machine has only 2 cpu, "
            "4Gi memory");
  EXPECT_EQ(slots.Add(Req("fat", 500, 5 * kGi)).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(slots.Add(Req("negative", -1)).code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(slots.Queued("huge"));
}

TEST(Slots, HigherPriorityFirstThenArrivalAndNoOvertaking) {
  Slots slots(2000, kGi);
  ASSERT_TRUE(slots.Add(Req("running", 1500, 0, 0, 1)).ok());
  ASSERT_EQ(slots.Schedule().admitted, Ids{"running"});
  ASSERT_TRUE(slots.Add(Req("big-low", 1000, 0, 0, 2)).ok());
  ASSERT_TRUE(slots.Add(Req("small-low", 100, 0, 0, 3)).ok());
  Slots::Turn turn = slots.Schedule();
  // small-low would fit (500m free) but does not overtake big-low.
  EXPECT_TRUE(turn.admitted.empty());
  EXPECT_EQ(turn.waiting.size(), 2u);
  ASSERT_TRUE(slots.Add(Req("urgent", 400, 0, 5, 4)).ok());
  turn = slots.Schedule();
  EXPECT_EQ(turn.admitted, Ids{"urgent"}) << "a higher priority goes ahead of the line";
  slots.Remove("running");
  turn = slots.Schedule();
  EXPECT_EQ(turn.admitted, (Ids{"big-low", "small-low"}));
}

TEST(Slots, AddingAKnownIdChangesNothing) {
  Slots slots(1000, kGi);
  ASSERT_TRUE(slots.Add(Req("a", 600)).ok());
  ASSERT_TRUE(slots.Add(Req("a", 900)).ok());
  slots.Schedule();
  EXPECT_EQ(slots.free_cpu_millis(), 400);
}

TEST(Slots, AGangOfThreeIsAdmittedOnlyWhenAllThreeFit) {
  Slots slots(3000, kGi);
  ASSERT_TRUE(slots.Add(Req("other", 1000, 0, 0, 1)).ok());
  ASSERT_EQ(slots.Schedule().admitted, Ids{"other"});
  ASSERT_TRUE(slots.Add(Member("w0", "ns/job", 3, 1000, 2)).ok());
  ASSERT_TRUE(slots.Add(Member("w1", "ns/job", 3, 1000, 3)).ok());
  Slots::Turn turn = slots.Schedule();
  EXPECT_TRUE(turn.admitted.empty()) << "two members fit, but the gang has three";
  EXPECT_EQ(turn.waiting.at("w0"), "waiting for the rest of group ns/job: 2 of 3 members launched");
  ASSERT_TRUE(slots.Add(Member("w2", "ns/job", 3, 1000, 4)).ok());
  turn = slots.Schedule();
  EXPECT_TRUE(turn.admitted.empty()) << "3 cpu needed, 2 free";
  EXPECT_EQ(turn.waiting.at("w2"),
            "waiting for resources: group ns/job needs 3 cpu, 0 memory (free: 2 cpu, 1Gi memory)");
  EXPECT_EQ(slots.free_cpu_millis(), 2000) << "no member holds a slot while the gang waits";
  slots.Remove("other");
  turn = slots.Schedule();
  EXPECT_EQ(turn.admitted, (Ids{"w0", "w1", "w2"}));
}

TEST(Slots, AnIncompleteGangDoesNotHoldUpTheLine) {
  Slots slots(2000, kGi);
  ASSERT_TRUE(slots.Add(Member("w0", "g", 2, 500, 1)).ok());
  ASSERT_TRUE(slots.Add(Req("later", 500, 0, 0, 2)).ok());
  EXPECT_EQ(slots.Schedule().admitted, Ids{"later"});
}

TEST(Slots, RefusesAGangThatCouldNeverFitOrDisagreesOnItsSize) {
  Slots slots(2000, kGi);
  ASSERT_TRUE(slots.Add(Member("w0", "g", 3, 1000, 1)).ok());
  ASSERT_TRUE(slots.Add(Member("w1", "g", 3, 1000, 2)).ok());
  Status st = slots.Add(Member("w2", "g", 3, 1000, 3));
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(st.message().find("group g needs at least 3 cpu"), std::string::npos) << st.message();
  EXPECT_EQ(slots.Add(Member("x", "g", 4, 1, 4)).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(slots.Add(Member("y", "h", 0, 1, 5)).code(), StatusCode::kInvalidArgument);
  Slots two(4000, kGi);
  ASSERT_TRUE(two.Add(Member("a", "p", 2, 1, 1)).ok());
  ASSERT_TRUE(two.Add(Member("b", "p", 2, 1, 2)).ok());
  EXPECT_EQ(two.Add(Member("c", "p", 2, 1, 3)).code(), StatusCode::kInvalidArgument)
      << "a third member of a gang of two";
}

TEST(Slots, AHigherPriorityPreemptsTheLeastImportantLowerPriorityWork) {
  Slots slots(2000, kGi);
  ASSERT_TRUE(slots.Add(Req("low-old", 1000, 0, 0, 1)).ok());
  ASSERT_TRUE(slots.Add(Req("low-new", 1000, 0, 0, 2)).ok());
  ASSERT_EQ(slots.Schedule().admitted.size(), 2u);
  ASSERT_TRUE(slots.Add(Req("high", 1000, 0, 10, 3)).ok());
  Slots::Turn turn = slots.Schedule();
  EXPECT_TRUE(turn.admitted.empty());
  EXPECT_EQ(turn.preempt, Ids{"low-new"}) << "one is enough; the one that ran least";
  EXPECT_TRUE(slots.Schedule().preempt.empty()) << "named once";
  ASSERT_TRUE(slots.Add(Req("small", 100, 0, 0, 4)).ok());
  EXPECT_TRUE(slots.Schedule().admitted.empty()) << "nothing takes the room being made";
  slots.Remove("low-new");
  EXPECT_EQ(slots.Schedule().admitted, Ids{"high"});
}

TEST(Slots, PreemptsNothingOfEqualPriorityOrWhenItWouldNotMakeEnoughRoom) {
  Slots slots(2000, kGi);
  ASSERT_TRUE(slots.Add(Req("low", 500, 0, 0, 1)).ok());
  ASSERT_TRUE(slots.Add(Req("mid", 1500, 0, 5, 2)).ok());
  ASSERT_EQ(slots.Schedule().admitted.size(), 2u);
  ASSERT_TRUE(slots.Add(Req("same", 1000, 0, 5, 3)).ok());
  EXPECT_TRUE(slots.Schedule().preempt.empty()) << "only low is below 5, and 500m is not enough";
  ASSERT_TRUE(slots.Add(Req("top", 1800, 0, 9, 0)).ok());
  Slots::Turn turn = slots.Schedule();
  EXPECT_EQ(turn.preempt, (Ids{"low", "mid"})) << "top is the head of the line now";
}

TEST(Slots, ARequeuedRequestFreesItsSlotsAndKeepsItsPlace) {
  Slots slots(1000, kGi);
  ASSERT_TRUE(slots.Add(Req("first", 600, 0, 0, 1)).ok());
  ASSERT_EQ(slots.Schedule().admitted, Ids{"first"});
  ASSERT_TRUE(slots.Add(Req("second", 600, 0, 0, 2)).ok());
  slots.Requeue("first");
  EXPECT_TRUE(slots.Queued("first"));
  EXPECT_EQ(slots.free_cpu_millis(), 1000);
  EXPECT_EQ(slots.Schedule().admitted, Ids{"first"}) << "ahead of second, as before";
}

TEST(Slots, HeldRequestsCountAfterARestart) {
  Slots slots(1000, kGi);
  slots.Hold(Req("adopted", 800));
  ASSERT_TRUE(slots.Add(Req("new", 500, 0, 0, 2)).ok());
  EXPECT_TRUE(slots.Schedule().admitted.empty());
  slots.Remove("adopted");
  EXPECT_EQ(slots.Schedule().admitted, Ids{"new"});
  slots.Remove("new");
  EXPECT_EQ(slots.free_cpu_millis(), 1000);
  slots.Remove("never-known");
  EXPECT_EQ(slots.free_cpu_millis(), 1000);
}

TEST(Slots, ATenantAtItsQuotaWaitsWithoutHoldingUpTheOthers) {
  Slots slots(8000, 16 * kGi);
  slots.SetQuota("team-a", {.cpu_millis = 2000});
  ASSERT_TRUE(slots.Add(Of("team-a", "a1", 1000, kGi, 1)).ok());
  ASSERT_TRUE(slots.Add(Of("team-a", "a2", 1000, kGi, 2)).ok());
  ASSERT_TRUE(slots.Add(Of("team-a", "a3", 1000, kGi, 3)).ok());
  ASSERT_TRUE(slots.Add(Of("team-b", "b1", 1000, kGi, 4)).ok());
  Slots::Turn turn = slots.Schedule();
  EXPECT_EQ(turn.admitted, (Ids{"a1", "a2", "b1"}));
  EXPECT_EQ(turn.waiting.at("a3"),
            "waiting for the quota of profile team-a: 2 of 2 cpu in use; needs 1 cpu, 1Gi memory");
  EXPECT_TRUE(turn.preempt.empty());
  slots.Remove("a1");
  EXPECT_EQ(slots.Schedule().admitted, Ids{"a3"});
}

TEST(Slots, MemoryAndWorkloadCountQuotasHoldAndALiftedQuotaAdmits) {
  Slots slots(8000, 16 * kGi);
  slots.SetQuota("team-a", {.memory_bytes = 3 * kGi, .requests = 2});
  ASSERT_TRUE(slots.Add(Of("team-a", "a1", 100, 2 * kGi, 1)).ok());
  ASSERT_TRUE(slots.Add(Of("team-a", "a2", 100, 2 * kGi, 2)).ok());
  Slots::Turn turn = slots.Schedule();
  EXPECT_EQ(turn.admitted, Ids{"a1"});
  EXPECT_NE(turn.waiting.at("a2").find("2Gi of 3Gi memory in use"), std::string::npos)
      << turn.waiting.at("a2");
  slots.SetQuota("team-a", {.requests = 1});
  ASSERT_TRUE(slots.Add(Of("team-a", "a3", 100, kGi, 3)).ok());
  turn = slots.Schedule();
  EXPECT_TRUE(turn.admitted.empty());
  EXPECT_NE(turn.waiting.at("a2").find("1 of 1 workloads running"), std::string::npos);
  slots.SetQuota("team-a", {});
  EXPECT_EQ(slots.Schedule().admitted, (Ids{"a2", "a3"}));
}

TEST(Slots, UnderAMemoryQuotaARequestMustSayItsMemoryAndFitTheQuotaAlone) {
  Slots slots(8000, 16 * kGi);
  slots.SetQuota("team-a", {.cpu_millis = 1000, .memory_bytes = 2 * kGi});
  Status no_memory = slots.Add(Of("team-a", "a", 500, 0));
  EXPECT_EQ(no_memory.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(no_memory.message().find("must set a memory limit"), std::string::npos);
  Status too_big = slots.Add(Of("team-a", "b", 2000, kGi));
  EXPECT_EQ(too_big.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(too_big.message(),
            "workload needs 2 cpu, 1Gi memory but the quota of profile team-a allows 1 cpu, 2Gi "
            "memory");
  EXPECT_TRUE(slots.Add(Of("team-b", "c", 500, 0)).ok()) << "another tenant has no quota";
}

TEST(Slots, ARequestHeldAfterARestartCountsAgainstItsTenantsQuota) {
  Slots slots(8000, 16 * kGi);
  slots.SetQuota("team-a", {.requests = 1});
  slots.Hold(Of("team-a", "old", 100));
  ASSERT_TRUE(slots.Add(Of("team-a", "new", 100)).ok());
  EXPECT_TRUE(slots.Schedule().admitted.empty());
  slots.Remove("old");
  EXPECT_EQ(slots.Schedule().admitted, Ids{"new"});
}

}  // namespace
}  // namespace skiff::local
