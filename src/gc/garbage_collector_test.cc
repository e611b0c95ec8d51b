#include "gc/garbage_collector.h"

#include <gtest/gtest.h>

#include "core/testing/temp_dir.h"
#include "core/text.h"

namespace skiff::gc {
namespace {

constexpr char kWidgets[] = "widgets.example.dev";
constexpr char kGadgets[] = "gadgets.example.dev";
constexpr char kRacks[] = "racks.example.dev";  // cluster-scoped

ResourceType Kind(const std::string& kind, const std::string& plural, bool namespaced) {
  ResourceType t;
  t.group = "example.dev";
  t.version = "v1";
  t.kind = kind;
  t.plural = plural;
  t.namespaced = namespaced;
  return t;
}

// A real store and the collector in its loop, watching every kind, run to quiescence.
class GarbageCollectorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = OpenStore("sqlite://" + dir_.path() + "/t.db", clock_).value();
    types_.Add(Kind("Widget", "widgets", true));
    types_.Add(Kind("Gadget", "gadgets", true));
    types_.Add(Kind("Rack", "racks", false));
    gc_ = std::make_unique<GarbageCollector>(*store_, types_, clock_);
    ReconcileLoop::Options options;
    options.list_keys = [this] { return gc_->AllOwners(); };
    loop_ = std::make_unique<ReconcileLoop>(
        "garbage-collector", *store_, kGarbageCollectorType,
        [this](const std::string& ns, const std::string& key) { return gc_->Reconcile(ns, key); },
        options);
    for (const ResourceType& t : types_.All()) {
      loop_->AlsoWatch(t.StoreType(), [this](const WatchEvent& ev) { return gc_->KeysFor(ev); });
    }
    loop_->RunOnce();
  }
  // Runs the collector until it has nothing left to do.
  void Collect() {
    for (int i = 0; i < 20 && loop_->RunOnce() > 0; ++i) {
    }
    EXPECT_EQ(loop_->GetStats().errors, 0);
  }
  Json Create(const std::string& type, const std::string& ns, const std::string& name,
              Json owners = Json::array(), Json finalizers = Json::array()) {
    Json obj = {{"apiVersion", "example.dev/v1"},
                {"kind", type == kWidgets   ? "Widget"
                         : type == kGadgets ? "Gadget"
                                            : "Rack"},
                {"metadata", {{"name", name}}}};
    if (!ns.empty()) obj["metadata"]["namespace"] = ns;
    if (!owners.empty()) obj["metadata"]["ownerReferences"] = owners;
    if (!finalizers.empty()) obj["metadata"]["finalizers"] = finalizers;
    auto created = store_->Create(type, obj);
    EXPECT_TRUE(created.ok()) << created.status().ToString();
    return created.ok() ? *created : Json();
  }
  static Json Ref(const Json& owner, bool block = false) {
    Json ref = {{"apiVersion", TextAt(owner, {"apiVersion"})},
                {"kind", TextAt(owner, {"kind"})},
                {"name", MetaName(owner)},
                {"uid", MetaUid(owner)}};
    if (block) ref["blockOwnerDeletion"] = true;
    return ref;
  }
  bool Exists(const std::string& type, const std::string& ns, const std::string& name) {
    return store_->Get(type, ns, name).ok();
  }
  Json Get(const std::string& type, const std::string& ns, const std::string& name) {
    return store_->Get(type, ns, name).value();
  }
  void Delete(const std::string& type, const std::string& ns, const std::string& name) {
    ASSERT_TRUE(store_->Delete(type, ns, name).ok());
  }
  // As the API server marks an owner deleted with propagationPolicy Orphan or Foreground.
  void MarkDeleted(const std::string& type, const std::string& ns, const std::string& name,
                   const std::string& finalizer) {
    Json obj = Get(type, ns, name);
    obj["metadata"]["finalizers"].push_back(finalizer);
    obj["metadata"]["deletionTimestamp"] = FormatRfc3339(clock_.Now());
    ASSERT_TRUE(store_->Update(type, obj).ok());
  }

  TempDir dir_;
  FakeClock clock_;
  std::unique_ptr<Store> store_;
  TypeRegistry types_;
  std::unique_ptr<GarbageCollector> gc_;
  std::unique_ptr<ReconcileLoop> loop_;
};

TEST_F(GarbageCollectorTest, DeletingAnOwnerDeletesItsDependentsAndTheirsInTurn) {
  Json owner = Create(kWidgets, "ns", "owner");
  Json child = Create(kGadgets, "ns", "child", {Ref(owner)});
  Create(kGadgets, "ns", "grandchild", {Ref(child)});
  Create(kGadgets, "ns", "unrelated");
  Collect();
  EXPECT_TRUE(Exists(kGadgets, "ns", "child")) << "its owner is there";
  Delete(kWidgets, "ns", "owner");
  Collect();
  EXPECT_FALSE(Exists(kGadgets, "ns", "child"));
  EXPECT_FALSE(Exists(kGadgets, "ns", "grandchild"));
  EXPECT_TRUE(Exists(kGadgets, "ns", "unrelated"));
}

TEST_F(GarbageCollectorTest, ADependentCreatedForAnOwnerThatIsGoneIsDeleted) {
  Json owner = Create(kWidgets, "ns", "owner");
  Delete(kWidgets, "ns", "owner");
  Collect();
  Create(kGadgets, "ns", "late", {Ref(owner)});
  Collect();
  EXPECT_FALSE(Exists(kGadgets, "ns", "late"));
}

TEST_F(GarbageCollectorTest, ADependentWithAnotherOwnerLeftLosesOnlyTheReferenceToTheOneGone) {
  Json a = Create(kWidgets, "ns", "a");
  Json b = Create(kWidgets, "ns", "b");
  Create(kGadgets, "ns", "shared", {Ref(a), Ref(b)});
  Delete(kWidgets, "ns", "a");
  Collect();
  ASSERT_TRUE(Exists(kGadgets, "ns", "shared"));
  EXPECT_EQ(Get(kGadgets, "ns", "shared")["metadata"]["ownerReferences"], Json::array({Ref(b)}));
  Delete(kWidgets, "ns", "b");
  Collect();
  EXPECT_FALSE(Exists(kGadgets, "ns", "shared"));
}

TEST_F(GarbageCollectorTest, ADependentHeldByFinalizersIsMarkedForThem) {
  Json owner = Create(kWidgets, "ns", "owner");
  Create(kGadgets, "ns", "held", {Ref(owner)}, {"example.com/hold"});
  Delete(kWidgets, "ns", "owner");
  Collect();
  ASSERT_TRUE(Exists(kGadgets, "ns", "held"));
  EXPECT_FALSE(TextAt(Get(kGadgets, "ns", "held"), {"metadata", "deletionTimestamp"}).empty());
}

TEST_F(GarbageCollectorTest, OrphanRemovesTheReferencesThenDeletesTheOwner) {
  Json owner = Create(kWidgets, "ns", "owner");
  Create(kGadgets, "ns", "kept", {Ref(owner), Ref(Create(kRacks, "", "rack"))});
  Create(kGadgets, "ns", "alone", {Ref(owner)});
  Collect();
  MarkDeleted(kWidgets, "ns", "owner", kOrphanFinalizer);
  Collect();
  EXPECT_FALSE(Exists(kWidgets, "ns", "owner"));
  ASSERT_TRUE(Exists(kGadgets, "ns", "alone"));
  EXPECT_FALSE(Get(kGadgets, "ns", "alone")["metadata"].contains("ownerReferences"));
  EXPECT_EQ(Get(kGadgets, "ns", "kept")["metadata"]["ownerReferences"].size(), 1u);
}

TEST_F(GarbageCollectorTest, ForegroundDeletesTheDependentsFirstAndWaitsForTheBlockingOnes) {
  Json owner = Create(kWidgets, "ns", "owner");
  Create(kGadgets, "ns", "blocking", {Ref(owner, /*block=*/true)}, {"example.com/hold"});
  Create(kGadgets, "ns", "quick", {Ref(owner, /*block=*/true)});
  MarkDeleted(kWidgets, "ns", "owner", kForegroundFinalizer);
  Collect();
  EXPECT_FALSE(Exists(kGadgets, "ns", "quick"));
  EXPECT_TRUE(Exists(kWidgets, "ns", "owner")) << "a blocking dependent is still there";
  Json held = Get(kGadgets, "ns", "blocking");
  EXPECT_FALSE(TextAt(held, {"metadata", "deletionTimestamp"}).empty());
  // Its finalizer removed, the dependent goes, and the owner after it.
  held["metadata"]["finalizers"] = Json::array();
  held = store_->Update(kGadgets, held).value();
  Delete(kGadgets, "ns", "blocking");
  Collect();
  EXPECT_FALSE(Exists(kWidgets, "ns", "owner"));
}

TEST_F(GarbageCollectorTest, ForegroundDoesNotWaitForADependentThatDoesNotBlock) {
  Json owner = Create(kWidgets, "ns", "owner");
  Create(kGadgets, "ns", "lingering", {Ref(owner)}, {"example.com/hold"});
  MarkDeleted(kWidgets, "ns", "owner", kForegroundFinalizer);
  Collect();
  EXPECT_FALSE(Exists(kWidgets, "ns", "owner"));
  EXPECT_FALSE(TextAt(Get(kGadgets, "ns", "lingering"), {"metadata", "deletionTimestamp"}).empty());
}

TEST_F(GarbageCollectorTest, AnOwnerMadeAgainUnderTheSameNameDoesNotKeepTheOldOnesDependents) {
  Json first = Create(kWidgets, "ns", "owner");
  Create(kGadgets, "ns", "old", {Ref(first)});
  Delete(kWidgets, "ns", "owner");
  Json second = Create(kWidgets, "ns", "owner");
  Create(kGadgets, "ns", "new", {Ref(second)});
  Collect();
  EXPECT_FALSE(Exists(kGadgets, "ns", "old"));
  EXPECT_TRUE(Exists(kGadgets, "ns", "new"));
}

TEST_F(GarbageCollectorTest, AReferenceNamesAnOwnerInItsOwnNamespaceOnly) {
  Json owner = Create(kWidgets, "team-a", "owner");
  // Another namespace's object naming team-a's owner names no owner of its own namespace.
  Create(kGadgets, "team-b", "claims", {Ref(owner, /*block=*/true)}, {"example.com/hold"});
  Create(kGadgets, "team-a", "mine", {Ref(owner, /*block=*/true)});
  MarkDeleted(kWidgets, "team-a", "owner", kForegroundFinalizer);
  Collect();
  EXPECT_FALSE(Exists(kGadgets, "team-a", "mine"));
  EXPECT_FALSE(Exists(kWidgets, "team-a", "owner")) << "team-b's object does not hold it";
}

TEST_F(GarbageCollectorTest, ADependentOfAClusterScopedOwnerGoesWithIt) {
  Json rack = Create(kRacks, "", "rack");
  Create(kGadgets, "ns1", "one", {Ref(rack)});
  Create(kGadgets, "ns2", "two", {Ref(rack)});
  Delete(kRacks, "", "rack");
  Collect();
  EXPECT_FALSE(Exists(kGadgets, "ns1", "one"));
  EXPECT_FALSE(Exists(kGadgets, "ns2", "two"));
}

TEST_F(GarbageCollectorTest, AnOwnerOfAKindNotServedCannotBeToldGoneAndItsDependentsStay) {
  Json unknown = {{"apiVersion", "elsewhere.io/v1"},
                  {"kind", "Thing"},
                  {"name", "t"},
                  {"uid", "0b8c1f0e-0000-4000-8000-000000000001"}};
  Json owner = Create(kWidgets, "ns", "owner");
  Create(kGadgets, "ns", "only-unknown", {unknown});
  Create(kGadgets, "ns", "both", {unknown, Ref(owner)});
  Delete(kWidgets, "ns", "owner");
  Collect();
  EXPECT_TRUE(Exists(kGadgets, "ns", "only-unknown"));
  ASSERT_TRUE(Exists(kGadgets, "ns", "both"));
  EXPECT_EQ(Get(kGadgets, "ns", "both")["metadata"]["ownerReferences"], Json::array({unknown}));
}

TEST_F(GarbageCollectorTest, WhatWasMissedWhileStoppedIsCollectedWhenItStarts) {
  Json owner = Create(kWidgets, "ns", "owner");
  Create(kGadgets, "ns", "child", {Ref(owner)});
  Collect();
  // Deleted while no collector ran: a new one finds it from the owner index.
  loop_.reset();
  Delete(kWidgets, "ns", "owner");
  ReconcileLoop::Options options;
  options.list_keys = [this] { return gc_->AllOwners(); };
  ReconcileLoop restarted(
      "garbage-collector", *store_, kGarbageCollectorType,
      [this](const std::string& ns, const std::string& key) { return gc_->Reconcile(ns, key); },
      options);
  restarted.RunOnce();
  EXPECT_FALSE(Exists(kGadgets, "ns", "child"));
}

TEST(OwnerKeyTest, EncodesAndDecodesEvenANameWithASlash) {
  OwnerKey key{"ns", "jobs.batch", "a/b", "0b8c1f0e-0000-4000-8000-000000000001"};
  auto decoded = OwnerKey::Decode(key.Encode());
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(decoded->namespace_, "ns");
  EXPECT_EQ(decoded->store_type, "jobs.batch");
  EXPECT_EQ(decoded->name, "a/b");
  EXPECT_EQ(decoded->uid, key.uid);
  EXPECT_FALSE(OwnerKey::Decode({"ns", "no-slashes"}).has_value());
  EXPECT_FALSE(OwnerKey::Decode({"ns", "jobs.batch/uid-only"}).has_value());
}

}  // namespace
}  // namespace skiff::gc
