// Human output of `skiff get` and `skiff describe`, in kubectl's columns: NAME, the kind's
// registered printer columns, AGE; describe prints a common header and the kind's own body.
//
//   std::cout << PrintTable(*type, items, clock.Now(), /*with_namespace=*/false);
//   std::cout << Describe(*type, job, pods, clock.Now());
//
// Thread-safe (pure functions).
#pragma once

#include <string>
#include <vector>

#include "core/clock.h"
#include "core/resource.h"

namespace skiff::cli {

// Rows as left-aligned columns two spaces apart, kubectl style (the first row is the header).
std::string FormatColumns(const std::vector<std::vector<std::string>>& rows);

std::string PrintTable(const ResourceType& type, const std::vector<Json>& items, TimePoint now,
                       bool with_namespace);

// `related` are the objects owned by `obj` (a Job's pods), shown as its attempt history.
std::string Describe(const ResourceType& type, const Json& obj, const std::vector<Json>& related,
                     TimePoint now);

}  // namespace skiff::cli
