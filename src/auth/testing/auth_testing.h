// Test helpers shared by the auth and api tests: a temporary directory removed at the end, and a
// SQLite store inside it.
//
//   TempDir dir;
//   FakeClock clock;
//   std::unique_ptr<Store> store = OpenTestStore(dir, clock);
//
// Thread-compatible.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>

#include "core/clock.h"
#include "core/testing/temp_dir.h"
#include "store/store.h"

namespace skiff {

inline std::unique_ptr<Store> OpenTestStore(const TempDir& dir, Clock& clock) {
  auto store = OpenStore("sqlite://" + dir.path() + "/t.db", clock);
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  return store.ok() ? std::move(store).value() : nullptr;
}

}  // namespace skiff
