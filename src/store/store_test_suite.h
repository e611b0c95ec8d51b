// The Store conformance suite: every test in store_conformance_test.cc runs against each backend
// that instantiates StoreConformanceTest with a StoreTestBackend, e.g.
//
//   const StoreTestBackend kSqlite{"sqlite", NewSqliteUrl, ExecSqliteSql, RemoveSqliteUrl};
//   INSTANTIATE_TEST_SUITE_P(Sqlite, StoreConformanceTest, ::testing::Values(&kSqlite),
//                            StoreTestBackendName);
//
// Test-only. Each test gets a fresh, empty database from the backend.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "store/store.h"

namespace skiff::testing {

struct StoreTestBackend {
  std::string name;
  // A URL for a fresh, empty store (its database exists or will be created by OpenStore).
  std::function<Result<std::string>()> new_url;
  // Runs raw SQL against the database behind `url`, to corrupt it on purpose.
  std::function<Status(const std::string& url, const std::string& sql)> exec_sql;
  // Releases what new_url made (may be empty).
  std::function<void(const std::string& url)> remove;
};

inline std::string StoreTestBackendName(
    const ::testing::TestParamInfo<const StoreTestBackend*>& info) {
  return info.param->name;
}

// {apiVersion, kind, metadata{name, namespace, labels}, spec}.
inline Json MakeTestObject(const std::string& ns, const std::string& name,
                           const std::map<std::string, std::string>& labels = {},
                           Json spec = Json{{"replicas", 1}}) {
  Json obj = {{"apiVersion", "example.dev/v1"},
              {"kind", "Widget"},
              {"metadata", {{"name", name}, {"namespace", ns}}},
              {"spec", std::move(spec)}};
  if (!labels.empty()) {
    Json l = Json::object();
    for (const auto& [k, v] : labels) l[k] = v;
    obj["metadata"]["labels"] = l;
  }
  return obj;
}

class StoreConformanceTest : public ::testing::TestWithParam<const StoreTestBackend*> {
 protected:
  static constexpr const char* kType = "widgets.example.dev";

  void SetUp() override {
    Result<std::string> url = GetParam()->new_url();
    ASSERT_TRUE(url.ok()) << url.status().ToString();
    url_ = *url;
    store_ = Open();
    ASSERT_NE(store_, nullptr);
  }
  void TearDown() override {
    store_.reset();
    if (GetParam()->remove && !url_.empty()) GetParam()->remove(url_);
  }

  // A new Store object on this test's database (nullptr, with a test failure, on error).
  std::unique_ptr<Store> Open() {
    Result<std::unique_ptr<Store>> store = OpenStore(url_, clock_);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? std::move(store).value() : nullptr;
  }

  Json MustCreate(const std::string& ns, const std::string& name,
                  const std::map<std::string, std::string>& labels = {}) {
    Result<Json> created = store_->Create(kType, MakeTestObject(ns, name, labels));
    EXPECT_TRUE(created.ok()) << created.status().ToString();
    return created.ok() ? *created : Json();
  }

  FakeClock clock_;
  std::string url_;
  std::unique_ptr<Store> store_;
};

}  // namespace skiff::testing
