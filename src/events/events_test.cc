#include "events/events.h"

#include <gtest/gtest.h>

#include <limits>

#include "backend/fake_backend.h"
#include "core/testing/temp_dir.h"
#include "core/text.h"

namespace skiff::events {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

class EventsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = OpenStore("sqlite://" + dir_.path() + "/t.db", clock_).value();
    Register(modules_);
    job_ = store_
               ->Create("jobs.batch", {{"apiVersion", "batch/v1"},
                                       {"kind", "Job"},
                                       {"metadata", {{"name", "pi"}, {"namespace", "team"}}}})
               .value();
  }

  std::vector<Json> Events() { return store_->List(kEventType, "", {}).value().items; }

  std::unique_ptr<Controller> TtlController() {
    ControllerContext context{*store_,     backend_, clock_,
                              dir_.path(), nullptr,  {{"event-ttl-seconds", "60"}}};
    for (const auto& [name, factory] : modules_.controllers()) {
      if (name == "events") return factory(context).value();
    }
    return nullptr;
  }

  TempDir dir_;
  FakeClock clock_;
  FakeBackend backend_{clock_};
  std::unique_ptr<Store> store_;
  TypeRegistry types_;
  ModuleRegistry modules_{types_};
  Json job_;
};

TEST_F(EventsTest, AnEventNamesItsObjectAndARepeatCountsItUp) {
  EventRecorder recorder(*store_, clock_, "job-controller");
  Json event = recorder.Record(job_, "Normal", "SuccessfulCreate", "Created pod: pi-1").value();
  EXPECT_EQ(MetaNamespace(event), "team");
  EXPECT_TRUE(MetaName(event).starts_with("pi.")) << MetaName(event);
  EXPECT_EQ(event["involvedObject"], Json({{"apiVersion", "batch/v1"},
                                           {"kind", "Job"},
                                           {"name", "pi"},
                                           {"namespace", "team"},
                                           {"uid", TextAt(job_, {"metadata", "uid"})},
                                           {"resourceVersion", "1"}}));
  EXPECT_EQ(event["source"]["component"], "job-controller");
  EXPECT_EQ(event["count"], 1);
  const std::string first = TextAt(event, {"firstTimestamp"});

  clock_.Advance(seconds(5));
  Json again = recorder.Record(job_, "Normal", "SuccessfulCreate", "Created pod: pi-1").value();
  EXPECT_EQ(MetaName(again), MetaName(event));
  EXPECT_EQ(again["count"], 2);
  EXPECT_EQ(TextAt(again, {"firstTimestamp"}), first);
  EXPECT_NE(TextAt(again, {"lastTimestamp"}), first);
  // A count someone wrote at the largest integer stays there rather than overflow.
  again["count"] = std::numeric_limits<int64_t>::max();
  ASSERT_TRUE(store_->Update(kEventType, again).ok());
  Json saturated = recorder.Record(job_, "Normal", "SuccessfulCreate", "Created pod: pi-1").value();
  EXPECT_EQ(saturated["count"], std::numeric_limits<int64_t>::max());
  recorder.Warning(job_, "BackoffLimitExceeded", "Job has reached the specified backoff limit");
  EXPECT_EQ(Events().size(), 2u);
}

TEST_F(EventsTest, LongMessagesAreCutOnACharacterAndClusterObjectsFileInDefault) {
  EventRecorder recorder(*store_, clock_, "test");
  std::string utf8;
  for (int i = 0; i < 700; ++i) utf8 += "\xc3\xa9";  // é, two bytes each
  Json event = recorder.Record(job_, "Normal", "Long", utf8).value();
  const std::string message = event["message"].get<std::string>();
  EXPECT_EQ(message.size(), 1024u);
  EXPECT_EQ(message.substr(1022), "\xc3\xa9");
  Json profile = {{"apiVersion", "kubeflow.org/v1"},
                  {"kind", "Profile"},
                  {"metadata", {{"name", std::string(253, 'p')}, {"uid", "u"}}}};
  Json cluster = recorder.Record(profile, "Normal", "Created", "made").value();
  EXPECT_EQ(MetaNamespace(cluster), "default");
  EXPECT_EQ(MetaName(cluster).size(), 253u);
}

TEST_F(EventsTest, TheKindRefusesAnotherNamespacesObjectAndUnknownTypes) {
  const ResourceType* kind = modules_.types().ByPlural("", "events");
  ASSERT_NE(kind, nullptr);
  Json event = {{"metadata", {{"name", "e"}, {"namespace", "team"}}},
                {"involvedObject", {{"kind", "Job"}, {"name", "pi"}, {"namespace", "other"}}}};
  EXPECT_EQ(kind->validate(event, true).code(), StatusCode::kInvalidArgument);
  event["involvedObject"]["namespace"] = "team";
  EXPECT_TRUE(kind->validate(event, true).ok());
  event["type"] = "Catastrophic";
  EXPECT_EQ(kind->validate(event, true).code(), StatusCode::kInvalidArgument);
}

TEST_F(EventsTest, AnEventIsDeletedOnceItHasNotHappenedForTheTtl) {
  EventRecorder recorder(*store_, clock_, "test");
  Json event = recorder.Record(job_, "Normal", "Started", "started").value();
  auto controller = TtlController();
  auto wait = controller->Reconcile("team", MetaName(event));
  ASSERT_TRUE(wait.ok());
  EXPECT_EQ(*wait, std::optional(milliseconds(60'000)));
  clock_.Advance(seconds(40));
  recorder.Record(job_, "Normal", "Started", "started").value();  // happened again
  clock_.Advance(seconds(30));
  wait = controller->Reconcile("team", MetaName(event));
  ASSERT_TRUE(wait.ok());
  EXPECT_EQ(*wait, std::optional(milliseconds(30'000))) << "a minute from the repeat";
  clock_.Advance(seconds(30));
  wait = controller->Reconcile("team", MetaName(event));
  ASSERT_TRUE(wait.ok());
  EXPECT_EQ(*wait, std::nullopt);
  EXPECT_TRUE(Events().empty());
  EXPECT_TRUE(controller->Reconcile("team", "gone").ok());
}

TEST_F(EventsTest, AFutureLastTimestampDoesNotKeepAnEventForever) {
  Json event = {{"apiVersion", "v1"},
                {"kind", "Event"},
                {"metadata", {{"name", "forever"}, {"namespace", "team"}}},
                {"involvedObject", {{"kind", "Job"}, {"name", "pi"}}},
                {"lastTimestamp", "2999-01-01T00:00:00Z"}};
  ASSERT_TRUE(store_->Create(kEventType, event).ok());
  clock_.Advance(seconds(61));
  auto controller = TtlController();
  ASSERT_TRUE(controller->Reconcile("team", "forever").ok());
  EXPECT_TRUE(Events().empty());
}

}  // namespace
}  // namespace skiff::events
