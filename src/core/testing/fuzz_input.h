// How fuzz targets that take two JSON documents read their input: the bytes before the first
// newline and the bytes after it, each parsed as JSON (core/resource.h: depth-limited).
//
//   auto docs = TwoJsonDocuments(data, size);   // nullopt: not two documents, nothing to check
//   if (!docs) return 0;
//   auto& [document, patch] = *docs;
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "core/resource.h"

namespace skiff {

inline std::optional<std::pair<Json, Json>> TwoJsonDocuments(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  const size_t newline = input.find('\n');
  if (newline == std::string::npos) return std::nullopt;
  auto first = ParseJson(input.substr(0, newline), "first document");
  auto second = ParseJson(input.substr(newline + 1), "second document");
  if (!first.ok() || !second.ok()) return std::nullopt;
  return std::pair(std::move(first).value(), std::move(second).value());
}

}  // namespace skiff
