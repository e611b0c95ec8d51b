// Fuzz target: KFP list queries (kfp/kfp_list.h): the `filter` JSON, `sort_by`, `page_size`
// and `page_token` of every KFP list call, and the filtering, sorting and paging they drive.
//
// The input is lines: sort_by, page_size, page_token, filter (one line of JSON), then optionally
// a JSON list of the objects to list (else a fixed set of runs with fields of every type). For
// any input, KfpListQuery::FromRequest returns a query or an error, and Apply pages any objects;
// neither crashes, throws or hangs. A page holds at most page_size objects, all matching the
// filter, and the next_page_token it returns is accepted by the next request.
//
//   build/fuzz/kfp_filter_fuzz -dict=src/kfp/fuzz_corpus/kfp_filter.dict \
//       build/fuzz/kfp_filter/corpus src/kfp/fuzz_corpus/kfp_filter
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "core/testing/fuzz_check.h"
#include "kfp/kfp_list.h"

namespace {

using skiff::Json;

// Twenty runs (more than std::sort's insertion-sort threshold) whose fields hold every JSON type,
// so that sorting compares strings, numbers, timestamps, booleans, nulls and objects with each
// other.
std::vector<Json> DefaultObjects() {
  const Json values[] = {
      "a",  3, 2.5, true, nullptr, Json::object(), Json::array({1, "x"}), "2024-01-02T03:04:05Z",
      "10", -7};
  std::vector<Json> objects;
  for (int i = 0; i < 20; ++i) {
    Json run = {{"run_id", "run-" + std::to_string(i)},
                {"display_name", i % 3 == 0 ? Json("train") : values[i % 10]},
                {"state", i % 2 == 0 ? "SUCCEEDED" : "FAILED"},
                {"created_at", "2024-01-" + std::to_string(10 + i) + "T00:00:00Z"},
                {"x", values[(i * 7) % 10]}};
    if (i % 4 == 0) run.erase("created_at");
    objects.push_back(std::move(run));
  }
  return objects;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  std::string sort_by, page_size, page_token, filter, objects_text;
  std::getline(in, sort_by);
  std::getline(in, page_size);
  std::getline(in, page_token);
  std::getline(in, filter);
  std::getline(in, objects_text, '\0');

  skiff::Result<skiff::KfpListQuery> query =
      skiff::KfpListQuery::FromRequest(filter, sort_by, page_size, page_token);
  if (!query.ok()) return 0;

  std::vector<Json> objects;
  Json given = Json::parse(objects_text, nullptr, /*allow_exceptions=*/false);
  if (given.is_array()) {
    for (Json& o : given) {
      if (o.is_object()) objects.push_back(std::move(o));
    }
  } else {
    objects = DefaultObjects();
  }
  for (const Json& o : objects) (void)skiff::KfpFilterMatches(query->predicates, o);

  skiff::KfpPage page = query->Apply(objects, "created_at");
  if (query->page_size > 0) {
    skiff::FuzzCheck("kfp_filter_fuzz", page.items.size() <= static_cast<size_t>(query->page_size),
                     "a page holds too many");
  }
  skiff::FuzzCheck("kfp_filter_fuzz",
                   page.total_size >= 0 && static_cast<size_t>(page.total_size) <= objects.size(),
                   "total_size counts more objects than were listed");
  for (const Json& item : page.items) {
    skiff::FuzzCheck("kfp_filter_fuzz", skiff::KfpFilterMatches(query->predicates, item),
                     "a listed object fails the filter", item.dump());
  }
  if (!page.next_page_token.empty()) {
    skiff::FuzzCheck(
        "kfp_filter_fuzz",
        skiff::KfpListQuery::FromRequest(filter, sort_by, page_size, page.next_page_token).ok(),
        "the next_page_token is refused", page.next_page_token);
  }
  return 0;
}
