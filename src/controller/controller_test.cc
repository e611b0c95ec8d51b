#include "controller/controller.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <thread>

#include "backend/fake_backend.h"
#include "core/schema.h"

namespace skiff {
namespace {

using std::chrono::milliseconds;

// A controller of `store_type` that records what it reconciles.
class RecordingController : public Controller {
 public:
  RecordingController(std::string store_type, std::vector<std::string>* calls)
      : store_type_(std::move(store_type)), calls_(calls) {}
  std::string StoreType() const override { return store_type_; }
  Result<std::optional<milliseconds>> Reconcile(const std::string& ns,
                                                const std::string& name) override {
    calls_->push_back(ns + "/" + name);
    return std::optional<milliseconds>();
  }

 private:
  std::string store_type_;
  std::vector<std::string>* calls_;
};

// Widgets: woken by gadgets (the gadget "g" wakes the widget "from-g"); a workload belongs to a
// widget when its labels name it.
class WidgetController : public RecordingController {
 public:
  explicit WidgetController(std::vector<std::string>* calls)
      : RecordingController("widgets.example.dev", calls) {}
  std::vector<Watch> Watches() const override {
    return {{"gadgets.example.dev", [](const WatchEvent& ev) -> std::vector<Key> {
               return {Key{ev.namespace_, "from-" + MetaName(ev.object)}};
             }}};
  }
  std::optional<Key> KeyForWorkload(
      const std::map<std::string, std::string>& labels) const override {
    auto it = labels.find("widget");
    if (it == labels.end()) return std::nullopt;
    return Key{"ns", it->second};
  }
};

ResourceType WidgetKind() {
  ResourceType t;
  t.group = "example.dev";
  t.version = "v1";
  t.kind = "Widget";
  t.plural = "widgets";
  t.schema = KindSchema({{"spec", openapi::Object({{"size", openapi::Integer(1)}})}}, {"spec"});
  return t;
}

Json Widget(const std::string& name, Json spec) {
  return {{"apiVersion", "example.dev/v1"},
          {"kind", "Widget"},
          {"metadata", {{"name", name}, {"namespace", "ns"}}},
          {"spec", std::move(spec)}};
}

class ControllerManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("controller-test-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    store_ = OpenStore("sqlite://" + (dir_ / "t.db").string(), clock_).value();
    types_.Add(WidgetKind());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  ControllerContext Context() {
    return ControllerContext{*store_, backend_, clock_, dir_.string(), nullptr, {}};
  }

  std::filesystem::path dir_;
  FakeClock clock_;
  FakeBackend backend_{clock_};
  std::unique_ptr<Store> store_;
  TypeRegistry types_;
  std::vector<std::string> calls_;
};

TEST(ModuleRegistry, KeepsControllersInRegistrationOrderAndReplacesByName) {
  TypeRegistry types;
  ModuleRegistry modules(types);
  auto factory = [](int n) -> ControllerFactory {
    return [n](const ControllerContext&) -> Result<std::unique_ptr<Controller>> {
      return Internal("factory " + std::to_string(n));
    };
  };
  modules.AddController("b", factory(1));
  modules.AddController("a", factory(2));
  modules.AddController("b", factory(3));  // replaces the first "b", keeps its place
  ASSERT_EQ(modules.controllers().size(), 2u);
  EXPECT_EQ(modules.controllers()[0].first, "b");
  EXPECT_EQ(modules.controllers()[1].first, "a");
  FakeClock clock;
  FakeBackend backend(clock);
  auto store = OpenStore("sqlite://:memory:", clock);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  ControllerContext ctx{**store, backend, clock, "", nullptr, {}};
  EXPECT_EQ(modules.controllers()[0].second(ctx).status().message(), "factory 3");
  modules.types().Add(WidgetKind());
  EXPECT_NE(types.Lookup("widgets"), nullptr) << "types() is the registry it was given";
}

TEST(ModuleRegistry, KeepsSettingsInRegistrationOrderAndReplacesByName) {
  TypeRegistry types;
  ModuleRegistry modules(types);
  modules.AddSetting({"b-ms", "first b", "1", true});
  modules.AddSetting({"a", "an a", "x"});
  modules.AddSetting({"b-ms", "second b", "2", true});
  ASSERT_EQ(modules.settings().size(), 2u);
  EXPECT_EQ(modules.settings()[0].name, "b-ms");
  EXPECT_EQ(modules.settings()[0].help, "second b");
  EXPECT_EQ(modules.settings()[1].name, "a");
  EXPECT_FALSE(modules.settings()[1].integer);
}

TEST(ModuleRegistry, ASettingIsReadFromItsEnvironmentName) {
  EXPECT_EQ((ModuleSetting{"job-backoff-ms", "", "", true}.EnvName()), "SKIFF_JOB_BACKOFF_MS");
  EXPECT_EQ((ModuleSetting{"x", "", ""}.EnvName()), "SKIFF_X");
}

TEST(ModuleRegistry, InstallsRoutesInOrderKeepsTheirStateAndNamesAFailingModule) {
  TypeRegistry types;
  ModuleRegistry modules(types);
  std::vector<std::string> added;
  auto adds = [](const std::string& pattern, bool with_state) -> RoutesFactory {
    return [pattern, with_state](const RouteContext& ctx) -> Result<std::shared_ptr<void>> {
      ctx.add_route("GET", pattern, [](const HttpRequest&, HttpResponder&) {});
      if (!with_state) return std::shared_ptr<void>();
      return std::shared_ptr<void>(std::make_shared<int>(7));
    };
  };
  modules.AddRoutes("b", adds("/first-b", false));
  modules.AddRoutes("a", adds("/a", true));
  modules.AddRoutes("b", adds("/b", false));  // replaces the first "b", keeps its place
  FakeClock clock;
  FakeBackend backend(clock);
  auto store = OpenStore("sqlite://:memory:", clock);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  Authorizer authz(**store);
  RouteContext ctx{**store, backend, authz, clock, ""};
  ctx.add_route = [&added](const std::string& method, const std::string& pattern, const Handler&) {
    added.push_back(method + " " + pattern);
  };
  std::vector<std::shared_ptr<void>> keep;
  ASSERT_TRUE(modules.InstallRoutes(ctx, &keep).ok());
  EXPECT_EQ(added, (std::vector<std::string>{"GET /b", "GET /a"}));
  ASSERT_EQ(keep.size(), 1u);
  EXPECT_EQ(*std::static_pointer_cast<int>(keep[0]), 7);

  modules.AddRoutes("broken", [](const RouteContext&) -> Result<std::shared_ptr<void>> {
    return InvalidArgument("no artifacts folder");
  });
  Status st = modules.InstallRoutes(ctx, &keep);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("broken"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("no artifacts folder"), std::string::npos) << st.message();
}

TEST(ControllerMetrics, CountersAddGaugesSetAndANameKeepsItsFirstType) {
  ControllerMetrics metrics;
  metrics.Add("skiff_x_total", "x", {{"result", "ok"}}, 1);
  metrics.Add("skiff_x_total", "x", {{"result", "ok"}}, 2);
  metrics.Add("skiff_x_total", "x", {{"result", "ok"}}, -5);  // a counter never goes down
  metrics.Set("skiff_y", "y", {}, 4);
  metrics.Set("skiff_y", "y", {}, 3);
  metrics.Set("skiff_x_total", "x as a gauge", {{"result", "bad"}}, 9);  // refused: a counter
  auto series = metrics.Snapshot();
  ASSERT_EQ(series.size(), 2u);
  EXPECT_EQ(series[0].name, "skiff_x_total");
  EXPECT_TRUE(series[0].counter);
  EXPECT_EQ(series[0].value, 3);
  EXPECT_EQ(series[1].name, "skiff_y");
  EXPECT_FALSE(series[1].counter);
  EXPECT_EQ(series[1].value, 3);
}

TEST(ControllerContext, IntSettingFallsBackWhenAbsentOrNotANumber) {
  FakeClock clock;
  FakeBackend backend(clock);
  auto store = OpenStore("sqlite://:memory:", clock);
  ASSERT_TRUE(store.ok());
  ControllerContext ctx{
      **store, backend, clock,
      "",      nullptr, {{"a", "250"}, {"b", "25x"}, {"c", ""}, {"d", "99999999999999999999"}}};
  EXPECT_EQ(ctx.IntSetting("a", 7), 250);
  EXPECT_EQ(ctx.IntSetting("b", 7), 7);
  EXPECT_EQ(ctx.IntSetting("c", 7), 7);
  EXPECT_EQ(ctx.IntSetting("d", 7), 7);
  EXPECT_EQ(ctx.IntSetting("absent", 7), 7);
}

TEST_F(ControllerManagerTest, AddAllNamesTheControllerWhoseFactoryFailed) {
  ModuleRegistry modules(types_);
  modules.AddController(
      "widgets", [this](const ControllerContext&) -> Result<std::unique_ptr<Controller>> {
        return std::unique_ptr<Controller>(std::make_unique<WidgetController>(&calls_));
      });
  modules.AddController("broken",
                        [](const ControllerContext&) -> Result<std::unique_ptr<Controller>> {
                          return InvalidArgument("no backend for it");
                        });
  ControllerManager manager(*store_, types_);
  Status s = manager.AddAll(modules, Context());
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.ToString().find("starting controller broken"), std::string::npos) << s.ToString();
  EXPECT_NE(s.ToString().find("no backend for it"), std::string::npos);
  EXPECT_NE(manager.Loop("widgets"), nullptr) << "the controllers before it were added";
  EXPECT_EQ(manager.Loop("broken"), nullptr);
}

TEST_F(ControllerManagerTest, ALoopChecksObjectsAgainstItsKindsSchemaAndSkipsInvalidOnes) {
  ControllerManager manager(*store_, types_);
  manager.Add("widgets", std::make_unique<WidgetController>(&calls_));
  ASSERT_TRUE(store_->Create("widgets.example.dev", Widget("good", {{"size", 2}})).ok());
  // Written around the API edge: a size of the wrong type.
  ASSERT_TRUE(store_->Create("widgets.example.dev", Widget("bad", {{"size", "big"}})).ok());
  ReconcileLoop* loop = manager.Loop("widgets");
  ASSERT_NE(loop, nullptr);
  loop->RunOnce();
  EXPECT_EQ(calls_, (std::vector<std::string>{"ns/good"}));
  auto stats = manager.Stats();
  ASSERT_EQ(stats.size(), 1u);
  EXPECT_EQ(stats[0].name, "widgets");
  EXPECT_EQ(stats[0].loop.invalid, 1);
  EXPECT_EQ(stats[0].loop.reconciles, 1);
  auto bad = store_->Get("widgets.example.dev", "ns", "bad");
  ASSERT_TRUE(bad.ok());
  EXPECT_NE((*bad)["status"].dump().find("spec.size"), std::string::npos) << bad->dump();
}

TEST_F(ControllerManagerTest, RoutesWatchedTypesAndWorkloadEventsToTheirOwner) {
  ControllerManager manager(*store_, types_);
  manager.Add("widgets", std::make_unique<WidgetController>(&calls_));
  ReconcileLoop* loop = manager.Loop("widgets");
  loop->RunOnce();
  ASSERT_TRUE(calls_.empty());
  Json gadget = {{"apiVersion", "example.dev/v1"},
                 {"kind", "Gadget"},
                 {"metadata", {{"name", "g"}, {"namespace", "ns"}}}};
  ASSERT_TRUE(store_->Create("gadgets.example.dev", gadget).ok());
  manager.OnWorkloadChange({{"widget", "w1"}});
  manager.OnWorkloadChange({{"other", "x"}});  // nobody's: ignored
  loop->RunOnce();
  std::sort(calls_.begin(), calls_.end());
  EXPECT_EQ(calls_, (std::vector<std::string>{"ns/from-g", "ns/w1"}));
}

TEST_F(ControllerManagerTest, StartsAndStopsEveryLoopAndStopIsIdempotent) {
  ControllerManager manager(*store_, types_);
  manager.Add("widgets", std::make_unique<WidgetController>(&calls_));
  ASSERT_TRUE(store_->Create("widgets.example.dev", Widget("w", {{"size", 1}})).ok());
  manager.Start();
  manager.Start();  // once is enough
  for (int i = 0; i < 500 && manager.Stats()[0].loop.reconciles < 1; ++i) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  manager.Stop();
  manager.Stop();
  EXPECT_EQ(manager.Stats()[0].loop.reconciles, 1);
  EXPECT_EQ(calls_, (std::vector<std::string>{"ns/w"}));
}

TEST_F(ControllerManagerTest, OneChangeFeedServesEveryLoop) {
  std::vector<std::string> gadget_calls;
  ControllerManager manager(*store_, types_);
  manager.Add("widgets", std::make_unique<WidgetController>(&calls_));
  manager.Add("gadgets",
              std::make_unique<RecordingController>("gadgets.example.dev", &gadget_calls));
  manager.Start();
  // Written after the start: only the shared feed can tell the loops (they watch nothing).
  ASSERT_TRUE(store_->Create("widgets.example.dev", Widget("w", {{"size", 1}})).ok());
  Json gadget = {{"apiVersion", "example.dev/v1"},
                 {"kind", "Gadget"},
                 {"metadata", {{"name", "g"}, {"namespace", "ns"}}}};
  ASSERT_TRUE(store_->Create("gadgets.example.dev", gadget).ok());
  auto reconciles = [&](size_t i) { return manager.Stats()[i].loop.reconciles; };
  for (int i = 0; i < 500 && (reconciles(0) < 2 || reconciles(1) < 1); ++i) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  manager.Stop();
  std::sort(calls_.begin(), calls_.end());
  EXPECT_EQ(calls_, (std::vector<std::string>{"ns/from-g", "ns/w"}))
      << "its own kind, and the gadget its mapper names";
  EXPECT_EQ(gadget_calls, (std::vector<std::string>{"ns/g"}));
  EXPECT_GE(manager.FeedBatches(), 1);
}

}  // namespace
}  // namespace skiff
