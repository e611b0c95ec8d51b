#include "controller/change_feed.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "core/testing/temp_dir.h"

namespace skiff {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(FeedRetentionTest, AllowsCompactingWhatWasReachedARetentionAgo) {
  FeedRetention retention(seconds(60));
  const TimePoint t0(seconds(1'700'000'000));
  EXPECT_EQ(retention.CompactThrough(t0, 5), 0) << "nothing is a minute old yet";
  EXPECT_EQ(retention.CompactThrough(t0 + seconds(30), 9), 0);
  EXPECT_EQ(retention.CompactThrough(t0 + seconds(60), 12), 5);
  // A version reached within a second of the last one noted is not noted then (the record stays
  // small), so what is returned is never newer than what was reached a retention ago.
  EXPECT_EQ(retention.CompactThrough(t0 + milliseconds(60'500), 15), 5);
  EXPECT_EQ(retention.CompactThrough(t0 + seconds(95), 15), 9);  // 15 noted at 95 s
  EXPECT_EQ(retention.CompactThrough(t0 + milliseconds(120'600), 15), 12);
  EXPECT_EQ(retention.CompactThrough(t0 + seconds(155), 15), 15);
}

class ChangeFeedTest : public ::testing::Test {
 protected:
  void SetUp() override { store_ = OpenStore("sqlite://" + dir_.path() + "/t.db", clock_).value(); }

  static Json Widget(const std::string& name) {
    return {{"apiVersion", "example.dev/v1"},
            {"kind", "Widget"},
            {"metadata", {{"name", name}, {"namespace", "ns"}}}};
  }

  TempDir dir_;
  FakeClock clock_;
  std::unique_ptr<Store> store_;
};

TEST_F(ChangeFeedTest, CompactsTheStoreThroughWhatItDeliveredARetentionAgo) {
  ChangeFeed feed(*store_, clock_, seconds(60));
  std::atomic<int64_t> delivered{0};
  feed.Subscribe(
      [&](const std::vector<WatchEvent>& batch) { delivered = batch.back().resource_version; });
  feed.Start(0);
  for (const char* name : {"a", "b", "c"})
    ASSERT_TRUE(store_->Create("widgets", Widget(name)).ok());
  for (int i = 0; i < 500 && delivered < 3; ++i) std::this_thread::sleep_for(milliseconds(10));
  ASSERT_EQ(delivered, 3);
  EXPECT_EQ(*store_->CompactedVersion(), 0) << "nothing is old enough yet";
  // Time passes (the feed notes its position every second or so); the history goes.
  for (int i = 0; i < 500 && *store_->CompactedVersion() < 3; ++i) {
    clock_.Advance(seconds(5));
    std::this_thread::sleep_for(milliseconds(10));
  }
  feed.Stop();
  EXPECT_EQ(*store_->CompactedVersion(), 3);
  EXPECT_EQ(store_->ReadChanges({}, 0, 0).status().code(), StatusCode::kExpired);
  EXPECT_TRUE(store_->ReadChanges({}, 3, 0)->empty());
}

TEST_F(ChangeFeedTest, WithoutARetentionKeepsEveryChange) {
  ChangeFeed feed(*store_, clock_, seconds(0));
  feed.Start(0);
  ASSERT_TRUE(store_->Create("widgets", Widget("a")).ok());
  for (int i = 0; i < 20; ++i) {
    clock_.Advance(std::chrono::hours(1));
    std::this_thread::sleep_for(milliseconds(10));
  }
  feed.Stop();
  EXPECT_EQ(*store_->CompactedVersion(), 0);
  EXPECT_EQ(store_->ReadChanges({}, 0, 0)->size(), 1u);
}

}  // namespace
}  // namespace skiff
