// `skiff usage`: what the workloads of each owning resource used (the usage module's
// UsageRecords), per resource, kind or profile, over the namespaces the caller names.
#include <algorithm>
#include <cstdio>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "cli/api_client.h"
#include "cli/commands.h"
#include "cli/printers.h"
#include "core/clock.h"
#include "core/text.h"
#include "usage/usage.h"

namespace skiff::cli {
namespace {

// One line of the report: whose, and what they used.
struct Row {
  std::string profile, kind, name;
  usage::Figures figures;
  double cost = 0;
  std::string currency;  // "" while no record of the row was priced
};

std::string Fixed(double v, const char* format) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

std::string Mebibytes(int64_t bytes) {
  return Fixed(static_cast<double>(bytes) / (1024.0 * 1024.0), "%.0fMi");
}

}  // namespace

std::string Money(double amount, const std::string& currency) {
  return Fixed(amount, amount != 0 && amount < 0.01 ? "%.6f" : "%.2f") + " " + currency;
}

std::string DescribeUsage(const Json& record) {
  const usage::Figures f = usage::FiguresFromJson(At(record, {"status"}));
  std::string out = "Usage:        " + Fixed(f.cpu_seconds, "%.1f") + " CPU-seconds, peak memory " +
                    Mebibytes(f.peak_memory_bytes) + ", average " +
                    Mebibytes(f.AverageMemoryBytes()) + ", wall " + Fixed(f.wall_seconds, "%.0fs") +
                    ", " + std::to_string(f.workloads) + " workload(s)";
  const Json& running = At(record, {"status", "running"});
  if (running.is_number_integer() && running.get<int64_t>() > 0) {
    out += ", " + std::to_string(running.get<int64_t>()) + " running";
  }
  out += "\n";
  const Json& cost = At(record, {"status", "cost"});
  if (cost.is_number()) {
    out +=
        "Cost:         " + Money(cost.get<double>(), TextAt(record, {"status", "currency"})) + "\n";
  }
  return out;
}

Result<std::chrono::seconds> ParseSince(const std::string& text) {
  if (text.empty()) return std::chrono::seconds(0);
  size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  const std::string unit = text.substr(digits);
  const std::map<std::string, int64_t> units = {{"s", 1}, {"m", 60}, {"h", 3600}, {"d", 86400}};
  auto it = units.find(unit);
  if (digits == 0 || digits > 9 || it == units.end()) {
    return InvalidArgument("--since: a duration such as 90s, 30m, 24h or 7d, not \"" + text + "\"");
  }
  return std::chrono::seconds(std::stoll(text.substr(0, digits)) * it->second);
}

int CmdUsage(const GlobalFlags& g, const std::string& by, const std::string& since,
             const std::string& output) {
  if (by != "resource" && by != "kind" && by != "profile") {
    return Fail(InvalidArgument("--by: one of resource, kind, profile"));
  }
  if (!output.empty() && output != "json") return Fail(InvalidArgument("--output: json or none"));
  Result<std::chrono::seconds> window = ParseSince(since);
  if (!window.ok()) return Fail(window.status());
  const ResourceType* type = TypeRegistry::Global().Lookup("usagerecords");
  if (type == nullptr) return Fail(Internal("this skiff has no usage module"));
  auto api = Connect(g);
  if (!api.ok()) return Fail(api.status());
  Result<Json> list = api->Call("GET", ResourcePath(*type, g.all_namespaces ? "" : g.namespace_));
  if (!list.ok()) return Fail(list.status());

  const TimePoint now = SystemClock::Instance().Now();
  std::map<std::tuple<std::string, std::string, std::string>, Row> grouped;
  bool priced = false;  // some record has a cost (SKIFF_HOME/prices.yaml)
  for (const Json& r : list->value("items", Json::array())) {
    if (window->count() > 0) {
      TimePoint updated;
      if (!ParseRfc3339(TextAt(r, {"status", "updatedAt"}), &updated) || updated < now - *window) {
        continue;  // not active within the window
      }
    }
    Row row{MetaNamespace(r), TextAt(r, {"spec", "owner", "kind"}),
            TextAt(r, {"spec", "owner", "name"}), usage::FiguresFromJson(At(r, {"status"}))};
    auto key = by == "profile" ? std::make_tuple(row.profile, std::string(), std::string())
               : by == "kind"  ? std::make_tuple(std::string(), row.kind, std::string())
                               : std::make_tuple(row.profile, row.kind, row.name);
    Row& total = grouped.try_emplace(key, Row{std::get<0>(key), std::get<1>(key), std::get<2>(key)})
                     .first->second;
    total.figures.Add(row.figures);
    const Json& cost = At(r, {"status", "cost"});
    if (cost.is_number()) {
      total.cost += cost.get<double>();
      const std::string currency = TextAt(r, {"status", "currency"});
      // Records priced under different tables (the currency changed) do not add up.
      total.currency =
          total.currency.empty() || total.currency == currency ? currency : "(mixed currencies)";
      priced = true;
    }
  }

  if (output == "json") {
    Json items = Json::array();
    for (const auto& [key, row] : grouped) {
      Json item = usage::FiguresToJson(row.figures);
      if (by != "kind") item["profile"] = row.profile;
      if (by != "profile") item["kind"] = row.kind;
      if (by == "resource") item["name"] = row.name;
      if (!row.currency.empty()) {
        item["cost"] = row.cost;
        item["currency"] = row.currency;
      }
      items.push_back(std::move(item));
    }
    std::printf("%s\n", Json({{"by", by}, {"items", items}}).dump(2).c_str());
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> header;
  if (by != "kind") header.push_back("PROFILE");
  if (by != "profile") header.push_back("KIND");
  if (by == "resource") header.push_back("NAME");
  for (const char* h : {"CPU-SECONDS", "PEAK-MEMORY", "AVG-MEMORY", "WALL", "WORKLOADS"}) {
    header.emplace_back(h);
  }
  if (priced) header.emplace_back("COST");
  rows.push_back(header);
  for (const auto& [key, row] : grouped) {
    std::vector<std::string> line;
    if (by != "kind") line.push_back(row.profile);
    if (by != "profile") line.push_back(row.kind);
    if (by == "resource") line.push_back(row.name);
    line.push_back(Fixed(row.figures.cpu_seconds, "%.1f"));
    line.push_back(Mebibytes(row.figures.peak_memory_bytes));
    line.push_back(Mebibytes(row.figures.AverageMemoryBytes()));
    line.push_back(Fixed(row.figures.wall_seconds, "%.0fs"));
    line.push_back(std::to_string(row.figures.workloads));
    if (priced) line.push_back(row.currency.empty() ? "-" : Money(row.cost, row.currency));
    rows.push_back(std::move(line));
  }
  if (grouped.empty()) {
    std::printf("No usage recorded%s.\n", g.all_namespaces ? "" : (" in " + g.namespace_).c_str());
    return 0;
  }
  std::printf("%s", FormatColumns(rows).c_str());
  return 0;
}

}  // namespace skiff::cli
