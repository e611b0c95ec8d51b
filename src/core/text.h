// Text helpers for human output (the CLI's tables, kinds' printer columns and describe bodies).
//
//   RenderTable({{"NAME", "AGE"}, {"pi", HumanDuration(now - created)}});
//
// Thread-safe (pure functions).
#pragma once

#include <initializer_list>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/resource.h"

namespace skiff {

// `s` in double quotes, escaped as a JSON string: how messages name what a user wrote.
std::string Quote(const std::string& s);
// "5s", "3m12s", "2d4h": kubectl's age format.
std::string HumanDuration(TimePoint::duration d);
// How long ago the object was created ("<unknown>" without a creationTimestamp).
std::string Age(const Json& obj, TimePoint now);
// Columns padded to their widest cell, three spaces apart, one line per row.
std::string RenderTable(const std::vector<std::vector<std::string>>& rows);
// The value at `path` as text: a string as it is, null or absent as `dflt`, anything else as
// JSON. Never throws, whatever the object holds.
std::string TextAt(const Json& obj, std::initializer_list<const char*> path,
                   const std::string& dflt = "");
// The value at `path` when it is an integer, else `dflt`.
int64_t IntAt(const Json& obj, std::initializer_list<const char*> path, int64_t dflt);
// The value at `path`, or null when a step is absent or not an object (never throws).
const Json& At(const Json& obj, std::initializer_list<const char*> path);

}  // namespace skiff
