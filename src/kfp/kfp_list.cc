#include "kfp/kfp_list.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <optional>

#include "core/clock.h"
#include "core/ids.h"
#include "core/resource.h"

namespace skiff {
namespace {

using Op = KfpPredicate::Op;

Result<Op> ParseOp(const Json& v, const std::string& where) {
  static const char* kNames[] = {
      "OPERATION_UNSPECIFIED", "EQUALS",    "NOT_EQUALS",       "GREATER_THAN",
      "GREATER_THAN_EQUALS",   "LESS_THAN", "LESS_THAN_EQUALS", "IN",
      "IS_SUBSTRING"};
  int n = -1;
  if (v.is_number_integer()) {
    n = v.get<int>();
  } else if (v.is_string()) {
    for (int i = 0; i < 9; ++i) {
      if (v.get<std::string>() == kNames[i]) n = i;
    }
  }
  if (n < 1 || n > 8) {
    return InvalidArgument(where + ".operation: unknown operation " + v.dump() +
                           " (EQUALS, NOT_EQUALS, GREATER_THAN, GREATER_THAN_EQUALS, LESS_THAN, "
                           "LESS_THAN_EQUALS, IN, IS_SUBSTRING)");
  }
  return static_cast<Op>(n - 1);
}

// The predicate's value(s), under either proto JSON spelling.
Result<std::vector<Json>> PredicateValues(const Json& p, Op op, const std::string& where) {
  static const std::pair<const char*, const char*> kScalars[] = {
      {"string_value", "stringValue"},
      {"int_value", "intValue"},
      {"long_value", "longValue"},
      {"timestamp_value", "timestampValue"}};
  static const std::pair<const char*, const char*> kLists[] = {{"string_values", "stringValues"},
                                                               {"int_values", "intValues"},
                                                               {"long_values", "longValues"}};
  std::vector<Json> out;
  for (const auto& [a, b] : kScalars) {
    for (const char* k : {a, b}) {
      if (!p.contains(k)) continue;
      Json v = p[k];
      if (std::string(a) == "timestamp_value") {
        TimePoint t;
        if (!v.is_string() || !ParseRfc3339(v.get<std::string>(), &t)) {
          return InvalidArgument(where + "." + k + ": not an RFC 3339 timestamp: " + v.dump());
        }
        v = std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
      } else if (std::string(a) == "long_value" && v.is_string()) {
        // proto3 JSON writes int64 as a decimal string; "-", "" and out-of-range text are no
        // integers.
        const std::string& s = v.get_ref<const std::string&>();
        int64_t n = 0;
        auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
        if (s.empty() || ec != std::errc() || end != s.data() + s.size()) {
          return InvalidArgument(where + "." + k + ": not an integer: " + v.dump());
        }
        v = n;
      }
      out.push_back(v);
    }
  }
  for (const auto& [a, b] : kLists) {
    for (const char* k : {a, b}) {
      if (!p.contains(k)) continue;
      const Json& l = p[k];
      if (!l.is_object() || !l.contains("values") || !l["values"].is_array()) {
        return InvalidArgument(where + "." + k + ": must be {\"values\": [...]}");
      }
      for (const Json& v : l["values"]) out.push_back(v);
      if (op != Op::kIn) return InvalidArgument(where + "." + k + ": lists need operation IN");
      return out;
    }
  }
  if (op == Op::kIn) {
    return InvalidArgument(where +
                           ": operation IN needs string_values, int_values or "
                           "long_values");
  }
  if (out.size() != 1) {
    return InvalidArgument(where +
                           ": exactly one value (string_value, int_value, long_value or "
                           "timestamp_value) is required");
  }
  return out;
}

bool LooksLikeTimeKey(const std::string& key) {
  return key.size() > 3 && key.compare(key.size() - 3, 3, "_at") == 0;
}

// Days from 1970-01-01 to the civil date y-m-d (proleptic Gregorian; H. Hinnant's algorithm).
int64_t DaysFromCivil(int64_t y, int m, int d) {
  y -= m <= 2 ? 1 : 0;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

// "YYYY-MM-DDTHH:MM:SSZ", the form Skiff writes, without ParseRfc3339's regex; nullopt for
// anything else (which then goes to ParseRfc3339), including out-of-range fields.
std::optional<int64_t> CanonicalUtcEpoch(const std::string& s) {
  if (s.size() != 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
      s[16] != ':' || s[19] != 'Z') {
    return std::nullopt;
  }
  int n[6];
  const int at[6] = {0, 5, 8, 11, 14, 17};
  for (int f = 0; f < 6; ++f) {
    const int width = f == 0 ? 4 : 2;
    n[f] = 0;
    for (int i = at[f]; i < at[f] + width; ++i) {
      if (!std::isdigit(static_cast<unsigned char>(s[i]))) return std::nullopt;
      n[f] = n[f] * 10 + (s[i] - '0');
    }
  }
  if (n[1] < 1 || n[1] > 12 || n[2] < 1 || n[2] > 31 || n[3] > 23 || n[4] > 59 || n[5] > 60) {
    return std::nullopt;
  }
  return DaysFromCivil(n[0], n[1], n[2]) * 86400 + n[3] * 3600 + n[4] * 60 + n[5];
}

// Seconds since the epoch for a timestamp-ish JSON value, or nullopt.
std::optional<int64_t> AsEpoch(const Json& v) {
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_string()) {
    if (auto fast = CanonicalUtcEpoch(v.get_ref<const std::string&>())) return fast;
    TimePoint t;
    if (ParseRfc3339(v.get<std::string>(), &t)) {
      return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
    }
    const std::string& s = v.get_ref<const std::string&>();
    if (!s.empty() && s.size() < 19 && std::all_of(s.begin(), s.end(), ::isdigit)) {
      return std::stoll(s);
    }
  }
  return std::nullopt;
}

const Json* Field(const Json& object, const std::string& key) {
  if (object.contains(key)) return &object[key];
  if (key == "name" && object.contains("display_name")) return &object["display_name"];
  if (key == "status" && object.contains("state")) return &object["state"];
  return nullptr;
}

// -1, 0, 1; nullopt when not comparable.
std::optional<int> Compare(const std::string& key, const Json& a, const Json& b) {
  if (LooksLikeTimeKey(key)) {
    auto x = AsEpoch(a), y = AsEpoch(b);
    if (x && y) return *x < *y ? -1 : (*x > *y ? 1 : 0);
  }
  if (a.is_number() && b.is_number()) {
    double x = a.get<double>(), y = b.get<double>();
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  auto text = [](const Json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); };
  std::string x = text(a), y = text(b);
  if (a.is_boolean() || b.is_boolean() || a.is_number() || b.is_number()) {
    // Compare numbers written as strings ("3" vs 3) by their text.
    if (x == y) return 0;
  }
  return x < y ? -1 : (x > y ? 1 : 0);
}

bool Matches(const KfpPredicate& p, const Json& object) {
  const Json* field = Field(object, p.key);
  static const Json kEmpty = "";
  const Json& v = field == nullptr || field->is_null() ? kEmpty : *field;
  switch (p.op) {
    case Op::kIn:
      for (const Json& x : p.values) {
        if (Compare(p.key, v, x) == 0) return true;
      }
      return false;
    case Op::kIsSubstring: {
      std::string hay = v.is_string() ? v.get<std::string>() : v.dump();
      std::string needle =
          p.values[0].is_string() ? p.values[0].get<std::string>() : p.values[0].dump();
      return hay.find(needle) != std::string::npos;
    }
    default:
      break;
  }
  std::optional<int> c = Compare(p.key, v, p.values[0]);
  if (!c) return false;
  switch (p.op) {
    case Op::kEquals:
      return *c == 0;
    case Op::kNotEquals:
      return *c != 0;
    case Op::kGreaterThan:
      return *c > 0;
    case Op::kGreaterThanEquals:
      return *c >= 0;
    case Op::kLessThan:
      return *c < 0;
    case Op::kLessThanEquals:
      return *c <= 0;
    default:
      return false;
  }
}

std::string IdOf(const Json& o) {
  for (const char* k :
       {"run_id", "experiment_id", "pipeline_version_id", "pipeline_id", "recurring_run_id"}) {
    if (o.contains(k) && o[k].is_string()) return o[k].get<std::string>();
  }
  return "";
}

}  // namespace

Result<std::vector<KfpPredicate>> ParseKfpFilter(const std::string& text) {
  std::vector<KfpPredicate> out;
  if (text.empty()) return out;
  auto parsed = ParseJson(text, "filter");
  if (!parsed.ok()) return InvalidArgument("filter: not valid JSON: " + parsed.status().message());
  Json doc = std::move(parsed).value();
  if (!doc.is_object()) return InvalidArgument("filter: must be a JSON object with predicates");
  if (!doc.contains("predicates")) return out;
  if (!doc["predicates"].is_array()) return InvalidArgument("filter.predicates: must be a list");
  for (size_t i = 0; i < doc["predicates"].size(); ++i) {
    const Json& p = doc["predicates"][i];
    std::string where = "filter.predicates[" + std::to_string(i) + "]";
    if (!p.is_object()) return InvalidArgument(where + ": must be an object");
    KfpPredicate pred;
    if (!p.contains("key") || !p["key"].is_string() || p["key"].get<std::string>().empty()) {
      return InvalidArgument(where + ".key: required");
    }
    pred.key = p["key"].get<std::string>();
    if (!p.contains("operation")) return InvalidArgument(where + ".operation: required");
    ASSIGN_OR_RETURN(pred.op, ParseOp(p["operation"], where));
    ASSIGN_OR_RETURN(pred.values, PredicateValues(p, pred.op, where));
    out.push_back(std::move(pred));
  }
  return out;
}

bool KfpFilterMatches(const std::vector<KfpPredicate>& predicates, const Json& object) {
  for (const KfpPredicate& p : predicates) {
    if (!Matches(p, object)) return false;
  }
  return true;
}

Result<KfpListQuery> KfpListQuery::FromRequest(const std::string& filter,
                                               const std::string& sort_by,
                                               const std::string& page_size,
                                               const std::string& page_token) {
  KfpListQuery q;
  ASSIGN_OR_RETURN(q.predicates, ParseKfpFilter(filter));
  if (!sort_by.empty()) {
    const std::string& s = sort_by;
    size_t sp = s.find(' ');
    q.sort_key = s.substr(0, sp);
    if (sp != std::string::npos) {
      std::string dir = s.substr(sp + 1);
      while (!dir.empty() && dir.front() == ' ') dir.erase(0, 1);
      if (dir == "desc") {
        q.descending = true;
      } else if (dir != "asc" && !dir.empty()) {
        return InvalidArgument("sort_by: '" + sort_by +
                               "': expected '<field>' or '<field> asc|desc'");
      }
    }
    if (q.sort_key == "name") q.sort_key = "display_name";
  }
  if (!page_size.empty()) {
    if (page_size.size() > 9 || !std::all_of(page_size.begin(), page_size.end(), ::isdigit)) {
      return InvalidArgument("page_size: '" + page_size + "' is not a non-negative integer");
    }
    q.page_size = std::stoll(page_size);
  }
  if (!page_token.empty()) {
    auto decoded = DecodeBase64(page_token);
    const std::string prefix = "offset:";
    if (!decoded.ok() || decoded->rfind(prefix, 0) != 0 || decoded->size() == prefix.size() ||
        decoded->size() > prefix.size() + 12 ||
        !std::all_of(decoded->begin() + prefix.size(), decoded->end(), ::isdigit)) {
      return InvalidArgument("page_token: '" + page_token + "' is not a token from this server");
    }
    q.offset = std::stoll(decoded->substr(prefix.size()));
  }
  return q;
}

KfpSelection KfpListQuery::Select(const std::vector<const Json*>& objects,
                                  const std::string& default_key) const {
  // Each match with what the sort reads, computed once (a timestamp parse per comparison made
  // sorting a thousand runs cost tens of milliseconds).
  struct Keyed {
    size_t index = 0;
    const Json* primary = nullptr;
    std::optional<int64_t> primary_epoch;
    const Json* secondary = nullptr;
    std::optional<int64_t> secondary_epoch;
    std::string id;
  };
  const std::string key = sort_key.empty() ? default_key : sort_key;
  static const Json kEmpty = "";
  auto epoch_of = [](const std::string& k, const Json& v) {
    return LooksLikeTimeKey(k) ? AsEpoch(v) : std::nullopt;
  };
  std::vector<Keyed> kept;
  for (size_t i = 0; i < objects.size(); ++i) {
    const Json& o = *objects[i];
    if (!KfpFilterMatches(predicates, o)) continue;
    Keyed k;
    k.index = i;
    const Json* x = Field(o, key);
    k.primary = x != nullptr ? x : &kEmpty;
    k.primary_epoch = epoch_of(key, *k.primary);
    if (key != default_key) {
      const Json* d = Field(o, default_key);
      k.secondary = d != nullptr ? d : &kEmpty;
      k.secondary_epoch = epoch_of(default_key, *k.secondary);
    }
    k.id = IdOf(o);
    kept.push_back(std::move(k));
  }
  // Compare(k, a, b) with the timestamps already parsed: the same order, much cheaper.
  auto compare = [](const std::string& k, const Json& a, const std::optional<int64_t>& ea,
                    const Json& b, const std::optional<int64_t>& eb) {
    if (ea && eb) return *ea < *eb ? -1 : (*ea > *eb ? 1 : 0);
    return Compare(k, a, b).value_or(0);
  };
  std::stable_sort(kept.begin(), kept.end(), [&](const Keyed& a, const Keyed& b) {
    int r = compare(key, *a.primary, a.primary_epoch, *b.primary, b.primary_epoch);
    if (r == 0 && a.secondary != nullptr) {
      r = compare(default_key, *a.secondary, a.secondary_epoch, *b.secondary, b.secondary_epoch);
    }
    if (r == 0) r = a.id < b.id ? -1 : (a.id > b.id ? 1 : 0);
    return descending ? r > 0 : r < 0;
  });
  KfpSelection selection;
  selection.total_size = static_cast<int64_t>(kept.size());
  size_t begin = std::min<size_t>(static_cast<size_t>(offset), kept.size());
  size_t end = page_size > 0 ? std::min<size_t>(begin + static_cast<size_t>(page_size), kept.size())
                             : kept.size();
  for (size_t i = begin; i < end; ++i) selection.page.push_back(kept[i].index);
  if (end < kept.size()) selection.next_page_token = EncodeBase64("offset:" + std::to_string(end));
  return selection;
}

KfpPage KfpListQuery::Apply(std::vector<Json> objects, const std::string& default_key) const {
  std::vector<const Json*> pointers;
  pointers.reserve(objects.size());
  for (const Json& o : objects) pointers.push_back(&o);
  KfpSelection selection = Select(pointers, default_key);
  KfpPage page;
  for (size_t i : selection.page) page.items.push_back(std::move(objects[i]));
  page.next_page_token = std::move(selection.next_page_token);
  page.total_size = selection.total_size;
  return page;
}

}  // namespace skiff
