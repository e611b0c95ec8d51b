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
#include "store/store.h"

namespace skiff {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "skiff-test-XXXXXX").string();
    char* made = ::mkdtemp(tmpl.data());
    if (made != nullptr) path_ = made;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

inline std::unique_ptr<Store> OpenTestStore(const TempDir& dir, Clock& clock) {
  auto store = OpenStore("sqlite://" + dir.path() + "/t.db", clock);
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  return store.ok() ? std::move(store).value() : nullptr;
}

}  // namespace skiff
