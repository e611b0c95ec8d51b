// KFP list semantics: the `filter` JSON (filter.swagger.json), `sort_by` and page tokens, applied
// to API objects (V2beta1Run, V2beta1Experiment, ...) after conversion from the store.
//
//   ASSIGN_OR_RETURN(KfpListQuery q, KfpListQuery::FromRequest(filter, sort_by, page_size, token));
//   KfpPage page = q.Apply(std::move(api_objects), "created_at");
//   // page.items, page.next_page_token, page.total_size
//   KfpSelection s = q.Select(pointers_to_objects, "created_at");  // s.page: positions
//
// Predicates accept the operation as the enum name ("EQUALS") or its number (kfp.Client sends
// 1), values in proto JSON spelling (stringValue / string_value, intValue, longValue,
// timestampValue, stringValues {values: [...]}, ...). Keys name fields of the API object; "name"
// means display_name where the object has no name of its own. Timestamps compare as instants.
// Value types; thread-compatible.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/resource.h"
#include "core/status.h"

namespace skiff {

struct KfpPredicate {
  enum class Op {
    kEquals,
    kNotEquals,
    kGreaterThan,
    kGreaterThanEquals,
    kLessThan,
    kLessThanEquals,
    kIn,
    kIsSubstring
  };
  Op op = Op::kEquals;
  std::string key;
  std::vector<Json> values;  // one value, or several for IN
};

// Parses a KFP filter JSON document; InvalidArgument naming the predicate and field otherwise.
Result<std::vector<KfpPredicate>> ParseKfpFilter(const std::string& text);
// True when `object` satisfies every predicate.
bool KfpFilterMatches(const std::vector<KfpPredicate>& predicates, const Json& object);

struct KfpPage {
  std::vector<Json> items;
  std::string next_page_token;  // "" on the last page
  int64_t total_size = 0;       // matching objects over all pages
};

// Which objects make a page: their positions in the input, in page order.
struct KfpSelection {
  std::vector<size_t> page;
  std::string next_page_token;  // "" on the last page
  int64_t total_size = 0;       // matching objects over all pages
};

struct KfpListQuery {
  std::vector<KfpPredicate> predicates;
  std::string sort_key;  // "" = the default key passed to Apply
  bool descending = false;
  int64_t page_size = 0;  // 0 = everything
  int64_t offset = 0;     // decoded from the page token

  // page_size "" = no paging; errors name the query parameter.
  static Result<KfpListQuery> FromRequest(const std::string& filter, const std::string& sort_by,
                                          const std::string& page_size,
                                          const std::string& page_token);
  // Filters, sorts (ties broken by default_key, then the id field) and pages objects held
  // elsewhere, without copying them.
  KfpSelection Select(const std::vector<const Json*>& objects,
                      const std::string& default_key) const;
  // Select, then the page's objects moved out of `objects`.
  KfpPage Apply(std::vector<Json> objects, const std::string& default_key) const;
};

}  // namespace skiff
