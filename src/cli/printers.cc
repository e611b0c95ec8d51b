#include "cli/printers.h"

#include <sstream>

#include "core/text.h"

namespace skiff::cli {

std::string FormatColumns(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()));
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 2, ' ');
    }
    out += line + "\n";
  }
  return out;
}

std::string PrintTable(const ResourceType& type, const std::vector<Json>& items, TimePoint now,
                       bool with_namespace) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> header;
  if (with_namespace) header.push_back("NAMESPACE");
  header.push_back("NAME");
  for (const PrinterColumn& c : type.columns) header.push_back(c.name);
  header.push_back("AGE");
  rows.push_back(header);
  for (const Json& obj : items) {
    std::vector<std::string> row;
    if (with_namespace) row.push_back(MetaNamespace(obj));
    row.push_back(MetaName(obj));
    for (const PrinterColumn& c : type.columns) row.push_back(c.value(obj, now));
    row.push_back(Age(obj, now));
    rows.push_back(row);
  }
  return RenderTable(rows);
}

std::string Describe(const ResourceType& type, const Json& obj, const std::vector<Json>& related,
                     TimePoint now) {
  std::ostringstream out;
  out << "Name:         " << MetaName(obj) << "\n";
  if (type.namespaced) out << "Namespace:    " << MetaNamespace(obj) << "\n";
  out << "Kind:         " << type.kind << " (" << type.ApiVersion() << ")\n";
  std::string labels;
  for (const auto& [k, v] : MetaLabels(obj)) labels += (labels.empty() ? "" : ",") + k + "=" + v;
  out << "Labels:       " << (labels.empty() ? "<none>" : labels) << "\n";
  out << "Created:      " << TextAt(obj, {"metadata", "creationTimestamp"}) << " (" << Age(obj, now)
      << " ago)\n";
  if (type.describe) {
    out << type.describe(obj, related, now);
  } else {
    if (obj.contains("spec")) out << "Spec:\n" << ToYaml(obj["spec"]);
    if (obj.contains("status") && !obj["status"].empty()) {
      out << "Status:\n" << ToYaml(obj["status"]);
    }
  }
  // Conditions the controller runtime recorded (a refused or failing object) are always shown.
  const Json& conditions = At(obj, {"status", "conditions"});
  if (!type.describe || !conditions.is_array()) return out.str();
  for (const Json& c : conditions) {
    std::string ctype = TextAt(c, {"type"});
    if (ctype == "Invalid" || ctype == "ReconcileError") {
      out << ctype << ": " << TextAt(c, {"reason"}) << ": " << TextAt(c, {"message"}) << "\n";
    }
  }
  return out.str();
}

}  // namespace skiff::cli
