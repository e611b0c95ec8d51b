// The conformance tests shared by every Store backend; see store_test_suite.h.
#include <atomic>
#include <set>
#include <thread>
#include <vector>

#include "store/store_test_suite.h"

namespace skiff::testing {
namespace {

using std::chrono::milliseconds;

std::vector<std::string> Names(const std::vector<Json>& items) {
  std::vector<std::string> names;
  for (const Json& item : items) names.push_back(MetaNamespace(item) + "/" + MetaName(item));
  return names;
}

TEST_P(StoreConformanceTest, CreateSetsUidCreationTimestampResourceVersionAndGeneration) {
  Json created = MustCreate("default", "a");
  const Json& meta = created["metadata"];
  EXPECT_EQ(meta["uid"].get<std::string>().size(), 36u);
  EXPECT_EQ(meta["creationTimestamp"], FormatRfc3339(clock_.Now()));
  EXPECT_EQ(meta["resourceVersion"], "1");
  EXPECT_EQ(meta["generation"], 1);
  EXPECT_EQ(store_->CurrentVersion(), 1);

  Json second = MustCreate("default", "b");
  EXPECT_EQ(second["metadata"]["resourceVersion"], "2");
  EXPECT_NE(second["metadata"]["uid"], meta["uid"]);

  Result<Json> got = store_->Get(kType, "default", "a");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, created);
}

TEST_P(StoreConformanceTest, CreateOfAnExistingNameFailsWithAlreadyExists) {
  MustCreate("default", "a");
  Result<Json> again = store_->Create(kType, MakeTestObject("default", "a"));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), StatusCode::kAlreadyExists);
  EXPECT_NE(again.status().message().find("default/a"), std::string::npos);
  EXPECT_EQ(store_->CurrentVersion(), 1);  // a failed write takes no version
  // The same name in another namespace or under another type is a different object.
  EXPECT_TRUE(store_->Create(kType, MakeTestObject("other", "a")).ok());
  EXPECT_TRUE(store_->Create("gadgets.example.dev", MakeTestObject("default", "a")).ok());
}

TEST_P(StoreConformanceTest, GetUpdateAndDeleteOfAMissingObjectFailWithNotFound) {
  EXPECT_EQ(store_->Get(kType, "default", "nope").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->Update(kType, MakeTestObject("default", "nope")).status().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(store_->Delete(kType, "default", "nope").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->CurrentVersion(), 0);
}

TEST_P(StoreConformanceTest, MalformedObjectsAreRejectedWithInvalidArgument) {
  EXPECT_EQ(store_->Create(kType, Json::array()).status().code(), StatusCode::kInvalidArgument);
  Json no_name = MakeTestObject("default", "");
  Result<Json> r = store_->Create(kType, no_name);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("metadata.name"), std::string::npos);
  Json bad_version = MakeTestObject("default", "a");
  bad_version["metadata"]["resourceVersion"] = "12abc";
  EXPECT_EQ(store_->Update(kType, bad_version).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->Create("", MakeTestObject("default", "a")).status().code(),
            StatusCode::kInvalidArgument);
}

TEST_P(StoreConformanceTest, UpdateWithAStaleResourceVersionFailsWithConflict) {
  Json v1 = MustCreate("default", "a");
  Json v2 = v1;
  v2["spec"]["replicas"] = 2;
  ASSERT_TRUE(store_->Update(kType, v2).ok());
  Json stale = v1;
  stale["spec"]["replicas"] = 3;
  Result<Json> r = store_->Update(kType, stale);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kConflict);
  EXPECT_EQ(store_->Get(kType, "default", "a")->at("spec")["replicas"], 2);
}

TEST_P(StoreConformanceTest, UpdateWithoutResourceVersionIsUnconditional) {
  Json v1 = MustCreate("default", "a");
  Json v2 = v1;
  v2["status"] = {{"phase", "Running"}};
  ASSERT_TRUE(store_->Update(kType, v2).ok());
  Json blind = v1;
  blind["metadata"].erase("resourceVersion");
  blind["status"] = {{"phase", "Done"}};
  Result<Json> r = store_->Update(kType, blind);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->at("metadata")["resourceVersion"], "3");
  EXPECT_EQ(store_->Get(kType, "default", "a")->at("status")["phase"], "Done");
}

TEST_P(StoreConformanceTest, GenerationBumpsOnlyWhenSpecChanges) {
  Json obj = MustCreate("default", "a");
  const Json uid = obj["metadata"]["uid"];
  const Json created_at = obj["metadata"]["creationTimestamp"];
  clock_.Advance(std::chrono::hours(1));

  obj["status"] = {{"phase", "Running"}};
  obj = store_->Update(kType, obj).value();
  EXPECT_EQ(obj["metadata"]["generation"], 1);
  EXPECT_EQ(obj["metadata"]["resourceVersion"], "2");

  obj["spec"]["replicas"] = 5;
  obj = store_->Update(kType, obj).value();
  EXPECT_EQ(obj["metadata"]["generation"], 2);

  // uid and creationTimestamp belong to the store: a client cannot change them.
  obj["metadata"]["uid"] = "forged";
  obj["metadata"]["creationTimestamp"] = "2000-01-01T00:00:00Z";
  obj = store_->Update(kType, obj).value();
  EXPECT_EQ(obj["metadata"]["generation"], 2);
  EXPECT_EQ(obj["metadata"]["uid"], uid);
  EXPECT_EQ(obj["metadata"]["creationTimestamp"], created_at);
  EXPECT_EQ(*store_->Get(kType, "default", "a"), obj);
}

TEST_P(StoreConformanceTest, DeleteChecksTheExpectedVersionAndReturnsTheLastState) {
  Json obj = MustCreate("default", "a");
  obj["spec"]["replicas"] = 7;
  obj = store_->Update(kType, obj).value();  // version 2

  Result<Json> stale = store_->Delete(kType, "default", "a", 1);
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.status().code(), StatusCode::kConflict);
  ASSERT_TRUE(store_->Get(kType, "default", "a").ok());

  Result<Json> deleted = store_->Delete(kType, "default", "a", 2);
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  EXPECT_EQ(*deleted, obj);
  EXPECT_EQ(store_->Get(kType, "default", "a").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->CurrentVersion(), 3);

  // The name is free again; an unconditional delete needs no version.
  MustCreate("default", "a");
  EXPECT_TRUE(store_->Delete(kType, "default", "a").ok());
}

TEST_P(StoreConformanceTest, ListFiltersByLabelSelector) {
  MustCreate("default", "a", {{"app", "web"}, {"tier", "front"}});
  MustCreate("default", "b", {{"app", "web"}, {"tier", "back"}});
  MustCreate("default", "c", {{"app", "db"}});
  MustCreate("default", "d");

  auto list = [&](const std::string& selector) {
    ListOptions options;
    options.label_selector = selector;
    Result<ListResult> r = store_->List(kType, "default", options);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? Names(r->items) : std::vector<std::string>{};
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(list(""), (V{"default/a", "default/b", "default/c", "default/d"}));
  EXPECT_EQ(list("app=web"), (V{"default/a", "default/b"}));
  EXPECT_EQ(list("app=web,tier!=front"), (V{"default/b"}));
  EXPECT_EQ(list("app in (db,cache)"), (V{"default/c"}));
  EXPECT_EQ(list("!app"), (V{"default/d"}));
  EXPECT_EQ(list("app=nothing"), V{});

  ListOptions bad;
  bad.label_selector = "app in (";
  EXPECT_EQ(store_->List(kType, "default", bad).status().code(), StatusCode::kInvalidArgument);
}

TEST_P(StoreConformanceTest, ListAcrossNamespacesIsOrderedByNamespaceThenName) {
  MustCreate("zeta", "a");
  MustCreate("alpha", "b");
  MustCreate("alpha", "a");
  Json cluster_scoped = MakeTestObject("", "cluster-wide");
  cluster_scoped["metadata"].erase("namespace");
  Result<Json> created = store_->Create(kType, cluster_scoped);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_FALSE(created->at("metadata").contains("namespace"));
  EXPECT_TRUE(store_->Get(kType, "", "cluster-wide").ok());
  ASSERT_TRUE(store_->Create("gadgets.example.dev", MakeTestObject("alpha", "x")).ok());

  Result<ListResult> all = store_->List(kType, "", ListOptions{});
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_EQ(Names(all->items),
            (std::vector<std::string>{"/cluster-wide", "alpha/a", "alpha/b", "zeta/a"}));
  EXPECT_EQ(all->resource_version, 5);
  EXPECT_TRUE(all->continue_token.empty());

  Result<ListResult> alpha = store_->List(kType, "alpha", ListOptions{});
  ASSERT_TRUE(alpha.ok());
  EXPECT_EQ(Names(alpha->items), (std::vector<std::string>{"alpha/a", "alpha/b"}));
  EXPECT_TRUE(store_->List(kType, "empty", ListOptions{})->items.empty());
}

TEST_P(StoreConformanceTest, CountCountsAKindInANamespaceOrInAll) {
  MustCreate("zeta", "a");
  MustCreate("alpha", "b");
  MustCreate("alpha", "a");
  ASSERT_TRUE(store_->Create("gadgets.example.dev", MakeTestObject("alpha", "x")).ok());
  EXPECT_EQ(*store_->Count(kType, "alpha"), 2);
  EXPECT_EQ(*store_->Count(kType, ""), 3);
  EXPECT_EQ(*store_->Count(kType, "empty"), 0);
  EXPECT_EQ(*store_->Count("gadgets.example.dev", ""), 1);
  ASSERT_TRUE(store_->Delete(kType, "alpha", "a").ok());
  EXPECT_EQ(*store_->Count(kType, "alpha"), 1);
  // The default, for a store that does not count in its database, agrees.
  EXPECT_EQ(*store_->Store::Count(kType, ""), 2);
}

TEST_P(StoreConformanceTest, PagingThrough25ObjectsWithLimit10ReturnsEachOnce) {
  for (int i = 0; i < 25; ++i) {
    MustCreate(i % 2 ? "odd" : "even", "obj-" + std::to_string(100 + i));
  }
  std::vector<std::string> seen;
  std::vector<size_t> page_sizes;
  ListOptions options;
  options.limit = 10;
  do {
    Result<ListResult> page = store_->List(kType, "", options);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    EXPECT_EQ(page->resource_version, 25);
    page_sizes.push_back(page->items.size());
    for (const std::string& n : Names(page->items)) seen.push_back(n);
    options.continue_token = page->continue_token;
    ASSERT_LE(page_sizes.size(), 5u) << "paging does not terminate";
  } while (!options.continue_token.empty());
  EXPECT_EQ(page_sizes, (std::vector<size_t>{10, 10, 5}));
  ASSERT_EQ(seen.size(), 25u);
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()).size(), 25u);
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
}

TEST_P(StoreConformanceTest, PagingWithASelectorCountsOnlyMatchingObjects) {
  for (int i = 0; i < 12; ++i) {
    MustCreate("default", "obj-" + std::to_string(10 + i), {{"even", i % 2 ? "no" : "yes"}});
  }
  ListOptions options;
  options.label_selector = "even=yes";
  options.limit = 3;
  Result<ListResult> first = store_->List(kType, "default", options);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(Names(first->items),
            (std::vector<std::string>{"default/obj-10", "default/obj-12", "default/obj-14"}));
  options.continue_token = first->continue_token;
  Result<ListResult> second = store_->List(kType, "default", options);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(Names(second->items),
            (std::vector<std::string>{"default/obj-16", "default/obj-18", "default/obj-20"}));
  // Exactly six match: the second page is full but nothing is left, so no token.
  EXPECT_TRUE(second->continue_token.empty());
}

TEST_P(StoreConformanceTest, ListRejectsAMalformedContinueTokenAndANegativeLimit) {
  MustCreate("default", "a");
  ListOptions options;
  options.continue_token = "not-hex!";
  Result<ListResult> r = store_->List(kType, "", options);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("continue token"), std::string::npos);
  options.continue_token.clear();
  options.limit = -1;
  EXPECT_EQ(store_->List(kType, "", options).status().code(), StatusCode::kInvalidArgument);
}

TEST_P(StoreConformanceTest, ChangeFeedRecordsEveryWriteInOrder) {
  Json obj = MustCreate("default", "a");
  obj["spec"]["replicas"] = 2;
  obj = store_->Update(kType, obj).value();
  ASSERT_TRUE(store_->Delete(kType, "default", "a").ok());

  Result<std::vector<WatchEvent>> events = store_->ReadChanges(ChangeFilter{}, 0, 100);
  ASSERT_TRUE(events.ok()) << events.status().ToString();
  ASSERT_EQ(events->size(), 3u);
  EXPECT_EQ((*events)[0].type, WatchEvent::Type::kAdded);
  EXPECT_EQ((*events)[1].type, WatchEvent::Type::kModified);
  EXPECT_EQ((*events)[2].type, WatchEvent::Type::kDeleted);
  for (int i = 0; i < 3; ++i) {
    const WatchEvent& ev = (*events)[i];
    EXPECT_EQ(ev.resource_version, i + 1);
    EXPECT_EQ(ev.store_type, kType);
    EXPECT_EQ(ev.namespace_, "default");
    EXPECT_EQ(ev.name, "a");
  }
  EXPECT_EQ((*events)[1].object, obj);
  EXPECT_EQ((*events)[2].object, obj);  // a delete carries the object as it was
  EXPECT_STREQ(WatchEventTypeName((*events)[2].type), "DELETED");

  Result<std::vector<WatchEvent>> later = store_->ReadChanges(ChangeFilter{}, 2, 100);
  ASSERT_TRUE(later.ok());
  ASSERT_EQ(later->size(), 1u);
  EXPECT_EQ((*later)[0].resource_version, 3);
  EXPECT_TRUE(store_->ReadChanges(ChangeFilter{}, 3, 100)->empty());
}

TEST_P(StoreConformanceTest, ChangeFeedFiltersByTypeAndNamespaceAndHonoursTheLimit) {
  MustCreate("ns1", "a");                                                               // 1
  ASSERT_TRUE(store_->Create("gadgets.example.dev", MakeTestObject("ns1", "g")).ok());  // 2
  MustCreate("ns2", "b");                                                               // 3
  MustCreate("ns1", "c");                                                               // 4

  auto versions = [&](const ChangeFilter& filter, int64_t after, size_t limit) {
    std::vector<int64_t> out;
    Result<std::vector<WatchEvent>> events = store_->ReadChanges(filter, after, limit);
    EXPECT_TRUE(events.ok()) << events.status().ToString();
    if (events.ok()) {
      for (const WatchEvent& ev : *events) out.push_back(ev.resource_version);
    }
    return out;
  };
  using V = std::vector<int64_t>;
  EXPECT_EQ(versions({kType, ""}, 0, 100), (V{1, 3, 4}));
  EXPECT_EQ(versions({"", "ns1"}, 0, 100), (V{1, 2, 4}));
  EXPECT_EQ(versions({kType, "ns1"}, 0, 100), (V{1, 4}));
  EXPECT_EQ(versions({kType, "ns1"}, 1, 100), (V{4}));
  EXPECT_EQ(versions({}, 0, 2), (V{1, 2}));
  EXPECT_EQ(versions({}, 2, 0), (V{3, 4}));  // 0 = no limit
}

TEST_P(StoreConformanceTest, CompactionDropsOldChangesAndReadingBelowItIsExpired) {
  for (const char* name : {"a", "b", "c", "d"}) MustCreate("default", name);  // 1..4
  EXPECT_EQ(*store_->CompactedVersion(), 0);
  EXPECT_EQ(*store_->Compact(2), 2);
  EXPECT_EQ(*store_->CompactedVersion(), 2);
  Result<std::vector<WatchEvent>> kept = store_->ReadChanges(ChangeFilter{}, 2, 0);
  ASSERT_TRUE(kept.ok()) << kept.status().ToString();
  ASSERT_EQ(kept->size(), 2u);
  EXPECT_EQ((*kept)[0].resource_version, 3);
  for (int64_t after : {0, 1}) {
    Result<std::vector<WatchEvent>> gone = store_->ReadChanges(ChangeFilter{kType, ""}, after, 0);
    EXPECT_EQ(gone.status().code(), StatusCode::kExpired) << after;
    EXPECT_NE(gone.status().message().find("too old resource version"), std::string::npos);
  }
  EXPECT_EQ(*store_->Compact(1), 0) << "compaction only moves forward";
  EXPECT_EQ(*store_->Compact(99), 2) << "and no further than the current version";
  EXPECT_EQ(*store_->CompactedVersion(), 4);
  EXPECT_TRUE(store_->ReadChanges(ChangeFilter{}, 4, 0)->empty());
  EXPECT_EQ(store_->Get(kType, "default", "a").status().code(), StatusCode::kOk)
      << "objects stay; only their history goes";

  store_.reset();  // kept across a restart
  store_ = Open();
  ASSERT_NE(store_, nullptr);
  EXPECT_EQ(*store_->CompactedVersion(), 4);
  EXPECT_EQ(store_->ReadChanges(ChangeFilter{}, 3, 0).status().code(), StatusCode::kExpired);
  MustCreate("default", "e");
  EXPECT_EQ(store_->ReadChanges(ChangeFilter{}, 4, 0)->size(), 1u);
}

TEST_P(StoreConformanceTest, GetResourceVersionFollowsWritesAndIsNotFoundAfterDelete) {
  Json obj = MustCreate("default", "a");
  EXPECT_EQ(*store_->GetResourceVersion(kType, "default", "a"), 1);
  obj["spec"]["replicas"] = 3;
  ASSERT_TRUE(store_->Update(kType, obj).ok());
  EXPECT_EQ(*store_->GetResourceVersion(kType, "default", "a"), 2);
  ASSERT_TRUE(store_->Delete(kType, "default", "a").ok());
  EXPECT_EQ(store_->GetResourceVersion(kType, "default", "a").status().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(store_->GetResourceVersion(kType, "default", "nope").status().code(),
            StatusCode::kNotFound);
}

TEST_P(StoreConformanceTest, MetadataOnlyChangesCarryNameNamespaceAndLabelsWithoutTheBody) {
  Json obj = store_->Create(kType, MakeTestObject("ns1", "a", {{"team", "x"}})).value();
  obj["metadata"]["labels"]["team"] = "y";
  obj = store_->Update(kType, obj).value();
  ASSERT_TRUE(store_->Delete(kType, "ns1", "a").ok());
  ASSERT_TRUE(store_->Create(kType, MakeTestObject("ns1", "plain")).ok());

  ChangeFilter filter;
  filter.metadata_only = true;
  Result<std::vector<WatchEvent>> events = store_->ReadChanges(filter, 0, 100);
  ASSERT_TRUE(events.ok()) << events.status().ToString();
  ASSERT_EQ(events->size(), 4u);
  const char* teams[] = {"x", "y", "y"};  // a delete carries the labels as they were
  for (int i = 0; i < 3; ++i) {
    const Json& o = (*events)[i].object;
    EXPECT_EQ(o, (Json{{"metadata",
                        {{"name", "a"},
                         {"namespace", "ns1"},
                         {"uid", MetaUid(obj)},
                         {"labels", {{"team", teams[i]}}}}}}))
        << i;
  }
  EXPECT_EQ((*events)[2].type, WatchEvent::Type::kDeleted);
  EXPECT_EQ((*events)[3].object["metadata"]["labels"], Json::object());
  EXPECT_FALSE((*events)[3].object.contains("spec"));
}

Json OwnerRef(const Json& owner, bool block = false) {
  Json ref = {{"apiVersion", "example.dev/v1"},
              {"kind", "Widget"},
              {"name", MetaName(owner)},
              {"uid", MetaUid(owner)}};
  if (block) ref["blockOwnerDeletion"] = true;
  return ref;
}

TEST_P(StoreConformanceTest, MetadataOnlyChangesCarryOwnerUidsFinalizersAndDeletionTimestamp) {
  Json owner = MustCreate("ns1", "owner");
  Json dependent = MakeTestObject("ns1", "dep");
  dependent["metadata"]["ownerReferences"] = Json::array({OwnerRef(owner)});
  dependent["metadata"]["finalizers"] = Json::array({"foregroundDeletion"});
  dependent["metadata"]["deletionTimestamp"] = "2026-01-02T03:04:05Z";
  ASSERT_TRUE(store_->Create(kType, dependent).ok());

  ChangeFilter filter;
  filter.metadata_only = true;
  Result<std::vector<WatchEvent>> events = store_->ReadChanges(filter, 1, 100);
  ASSERT_TRUE(events.ok()) << events.status().ToString();
  ASSERT_EQ(events->size(), 1u);
  const Json& meta = (*events)[0].object["metadata"];
  EXPECT_EQ(meta["ownerReferences"], Json::array({OwnerRef(owner)}));
  EXPECT_EQ(meta["finalizers"], Json::array({"foregroundDeletion"}));
  EXPECT_EQ(meta["deletionTimestamp"], "2026-01-02T03:04:05Z");
  EXPECT_FALSE(meta.contains("creationTimestamp"));
}

TEST_P(StoreConformanceTest, TheOwnerIndexFollowsCreatesUpdatesAndDeletes) {
  Json a = MustCreate("ns1", "a");
  Json b = MustCreate("ns1", "b");
  Json dep = MakeTestObject("ns1", "dep");
  Json refs = Json::array({OwnerRef(a, /*block=*/true),
                           OwnerRef(b),
                           // Not indexed: no uid; the same owner twice counts once.
                           {{"apiVersion", "v1"}, {"kind", "Widget"}, {"name", "x"}},
                           OwnerRef(a),
                           "not an object"});
  dep["metadata"]["ownerReferences"] = refs;
  dep = store_->Create(kType, dep).value();
  Json other = MakeTestObject("ns2", "other");
  other["metadata"]["ownerReferences"] = Json::array({OwnerRef(a)});
  ASSERT_TRUE(store_->Create("gadgets.example.dev", other).ok());

  Result<std::vector<OwnerLink>> of_a = store_->ListOwnerLinks(MetaUid(a));
  ASSERT_TRUE(of_a.ok()) << of_a.status().ToString();
  ASSERT_EQ(of_a->size(), 2u);
  EXPECT_EQ((*of_a)[0], (OwnerLink{.owner_uid = MetaUid(a),
                                   .owner_api_version = "example.dev/v1",
                                   .owner_kind = "Widget",
                                   .owner_name = "a",
                                   .block_owner_deletion = false,
                                   .store_type = "gadgets.example.dev",
                                   .namespace_ = "ns2",
                                   .name = "other"}));
  EXPECT_EQ((*of_a)[1].store_type, kType);
  EXPECT_EQ((*of_a)[1].name, "dep");
  EXPECT_TRUE((*of_a)[1].block_owner_deletion);
  EXPECT_EQ(store_->ListOwnerLinks(MetaUid(b))->size(), 1u);
  EXPECT_EQ(store_->ListOwnerLinks("")->size(), 3u);

  // An update that drops an owner drops its link; a delete drops them all.
  dep["metadata"]["ownerReferences"] = Json::array({OwnerRef(b)});
  dep = store_->Update(kType, dep).value();
  EXPECT_EQ(store_->ListOwnerLinks(MetaUid(a))->size(), 1u);
  EXPECT_EQ(store_->ListOwnerLinks(MetaUid(b))->size(), 1u);
  ASSERT_TRUE(store_->Delete(kType, "ns1", "dep").ok());
  EXPECT_TRUE(store_->ListOwnerLinks(MetaUid(b))->empty());
  EXPECT_EQ(store_->ListOwnerLinks("")->size(), 1u);
  EXPECT_TRUE(store_->ListOwnerLinks("no-such-uid")->empty());
}

TEST_P(StoreConformanceTest, TheOwnerIndexIsBuiltFromObjectsStoredBeforeIt) {
  Json a = MustCreate("ns1", "a");
  Json dep = MakeTestObject("ns1", "dep");
  dep["metadata"]["ownerReferences"] = Json::array({OwnerRef(a, true), OwnerRef(a), 7});
  ASSERT_TRUE(store_->Create(kType, dep).ok());
  Json odd = MakeTestObject("ns1", "odd");
  odd["metadata"]["ownerReferences"] = "not a list";
  ASSERT_TRUE(store_->Create(kType, odd).ok());
  store_.reset();
  // As a database of the schema before the index: the migration fills it from the objects.
  Status old = GetParam()->exec_sql(url_,
                                    "DROP TABLE owner_links; ALTER TABLE changes DROP COLUMN meta;"
                                    " DELETE FROM schema_migrations WHERE version = 3;");
  ASSERT_TRUE(old.ok()) << old.ToString();
  store_ = Open();
  ASSERT_NE(store_, nullptr);
  Result<std::vector<OwnerLink>> links = store_->ListOwnerLinks("");
  ASSERT_TRUE(links.ok()) << links.status().ToString();
  ASSERT_EQ(links->size(), 1u);
  EXPECT_EQ((*links)[0].owner_uid, MetaUid(a));
  EXPECT_EQ((*links)[0].name, "dep");
  EXPECT_TRUE((*links)[0].block_owner_deletion);
  // Changes recorded before carry no metadata beyond their labels, and still read.
  ChangeFilter filter;
  filter.metadata_only = true;
  EXPECT_EQ(store_->ReadChanges(filter, 0, 10)->size(), 3u);
}

TEST_P(StoreConformanceTest, WaitForChangeWakesOnAWriteFromAnotherThread) {
  MustCreate("default", "a");
  std::atomic<bool> writer_ran{false};
  std::thread writer([&] {
    writer_ran = true;
    EXPECT_TRUE(store_->Create(kType, MakeTestObject("default", "b")).ok());
  });
  // A generous timeout: the wait ends on the write, long before it.
  int64_t version = store_->WaitForChange(1, std::chrono::seconds(30));
  writer.join();
  EXPECT_TRUE(writer_ran);
  EXPECT_EQ(version, 2);
  // Already past `after`: returns at once.
  EXPECT_EQ(store_->WaitForChange(0, std::chrono::seconds(30)), 2);
}

TEST_P(StoreConformanceTest, WaitForChangeTimesOutWhenNothingIsWritten) {
  MustCreate("default", "a");
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(store_->WaitForChange(1, milliseconds(30)), 1);
  EXPECT_GE(std::chrono::steady_clock::now() - start, milliseconds(30));
}

TEST_P(StoreConformanceTest, WakeWaitersEndsAWaitWithoutAWrite) {
  MustCreate("default", "a");
  std::atomic<bool> waiting{false};
  std::atomic<int64_t> version{0};
  std::thread waiter([&] {
    waiting = true;
    version = store_->WaitForChange(1, std::chrono::seconds(30));
  });
  while (!waiting) std::this_thread::yield();
  auto start = std::chrono::steady_clock::now();
  // Keep waking until the waiter is gone: the first call may come before it starts waiting.
  while (version == 0 && std::chrono::steady_clock::now() - start < std::chrono::seconds(10)) {
    store_->WakeWaiters();
    std::this_thread::sleep_for(milliseconds(5));
  }
  waiter.join();
  EXPECT_EQ(version, 1) << "returns the current version";
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

TEST_P(StoreConformanceTest, ConcurrentUpdatesFromFourThreadsAreStrictlyOrdered) {
  Json obj = MakeTestObject("default", "counter", {}, Json{{"count", 0}});
  ASSERT_TRUE(store_->Create(kType, obj).ok());
  constexpr int kThreads = 4, kIncrementsPerThread = 15;
  std::atomic<int> wins{0}, conflicts{0}, other_errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kIncrementsPerThread;) {
        Result<Json> current = store_->Get(kType, "default", "counter");
        if (!current.ok()) {
          ++other_errors;
          return;
        }
        Json next = *current;
        next["spec"]["count"] = next["spec"]["count"].get<int>() + 1;
        Result<Json> r = store_->Update(kType, next);
        if (r.ok()) {
          ++wins;
          ++i;
        } else if (r.status().code() == StatusCode::kConflict) {
          ++conflicts;
        } else {
          ++other_errors;
          return;
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  ASSERT_EQ(other_errors, 0);
  EXPECT_EQ(wins, kThreads * kIncrementsPerThread);
  // Every win incremented exactly once: no lost update. Conflicts took no version.
  Json final_obj = store_->Get(kType, "default", "counter").value();
  EXPECT_EQ(final_obj["spec"]["count"], kThreads * kIncrementsPerThread);
  EXPECT_EQ(final_obj["metadata"]["generation"], 1 + kThreads * kIncrementsPerThread);
  const int64_t expected_version = 1 + kThreads * kIncrementsPerThread;
  EXPECT_EQ(MetaResourceVersion(final_obj), expected_version);
  EXPECT_EQ(store_->CurrentVersion(), expected_version);
  Result<std::vector<WatchEvent>> events = store_->ReadChanges(ChangeFilter{}, 0, 0);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), static_cast<size_t>(expected_version));
  for (size_t i = 0; i < events->size(); ++i) {
    EXPECT_EQ((*events)[i].resource_version, static_cast<int64_t>(i + 1));
    EXPECT_EQ((*events)[i].object["spec"]["count"], static_cast<int>(i));
  }
}

TEST_P(StoreConformanceTest, TwoStoreObjectsOnOneDatabaseShareOneCounter) {
  std::unique_ptr<Store> other = Open();
  ASSERT_NE(other, nullptr);
  constexpr int kPerStore = 20;
  std::thread a([&] {
    for (int i = 0; i < kPerStore; ++i) {
      EXPECT_TRUE(store_->Create(kType, MakeTestObject("a", "o" + std::to_string(i))).ok());
    }
  });
  std::thread b([&] {
    for (int i = 0; i < kPerStore; ++i) {
      EXPECT_TRUE(other->Create(kType, MakeTestObject("b", "o" + std::to_string(i))).ok());
    }
  });
  a.join();
  b.join();
  EXPECT_EQ(store_->CurrentVersion(), 2 * kPerStore);
  EXPECT_EQ(other->CurrentVersion(), 2 * kPerStore);
  Result<std::vector<WatchEvent>> events = other->ReadChanges(ChangeFilter{}, 0, 0);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), static_cast<size_t>(2 * kPerStore));
  for (size_t i = 0; i < events->size(); ++i) {
    EXPECT_EQ((*events)[i].resource_version, static_cast<int64_t>(i + 1));
    EXPECT_EQ(MetaResourceVersion((*events)[i].object), static_cast<int64_t>(i + 1));
  }
  // A store sees another's writes once it waits, even though it was not signalled.
  EXPECT_EQ(store_->WaitForChange(0, milliseconds(0)), 2 * kPerStore);
}

TEST_P(StoreConformanceTest, AReopenedStoreHasTheDataAndContinuesTheCounter) {
  Json a = MustCreate("default", "a");
  MustCreate("default", "b");
  ASSERT_TRUE(store_->Delete(kType, "default", "b").ok());
  store_.reset();

  store_ = Open();
  ASSERT_NE(store_, nullptr);
  EXPECT_EQ(store_->Get(kType, "default", "a").value(), a);
  EXPECT_EQ(store_->Get(kType, "default", "b").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->CurrentVersion(), 3);
  EXPECT_EQ(store_->ReadChanges(ChangeFilter{}, 0, 0)->size(), 3u);
  EXPECT_EQ(MustCreate("default", "c")["metadata"]["resourceVersion"], "4");
}

TEST_P(StoreConformanceTest, CorruptStoredJsonIsAnInternalErrorNamingTheObject) {
  MustCreate("default", "good");
  MustCreate("default", "broken");
  Status corrupted = GetParam()->exec_sql(
      url_, "UPDATE objects SET data = '{\"metadata\": {' WHERE name = 'broken'");
  ASSERT_TRUE(corrupted.ok()) << corrupted.ToString();

  Result<Json> r = store_->Get(kType, "default", "broken");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInternal);
  EXPECT_NE(r.status().message().find("default/broken"), std::string::npos) << r.status().message();
  EXPECT_TRUE(store_->Get(kType, "default", "good").ok());

  Result<ListResult> list = store_->List(kType, "default", ListOptions{});
  EXPECT_EQ(list.status().code(), StatusCode::kInternal);
  Json update = MakeTestObject("default", "broken");
  EXPECT_EQ(store_->Update(kType, update).status().code(), StatusCode::kInternal);
  // The failed update left nothing behind.
  EXPECT_EQ(store_->CurrentVersion(), 2);
}

}  // namespace
}  // namespace skiff::testing
