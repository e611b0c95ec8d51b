#include "api/table.h"

#include <algorithm>
#include <cctype>

#include "core/text.h"

namespace skiff {

bool WantsTable(const HttpRequest& req) {
  // Each media range of Accept: "application/json;as=Table;v=v1;g=meta.k8s.io, ...".
  const std::string accept = req.Header("accept");
  size_t start = 0;
  while (start < accept.size()) {
    size_t end = accept.find(',', start);
    if (end == std::string::npos) end = accept.size();
    std::string range = accept.substr(start, end - start);
    range.erase(std::remove_if(range.begin(), range.end(),
                               [](unsigned char c) { return std::isspace(c) != 0; }),
                range.end());
    if (range.find("as=Table") != std::string::npos &&
        range.find("g=meta.k8s.io") != std::string::npos &&
        (range.find("v=v1;") != std::string::npos || range.ends_with("v=v1"))) {
      return true;
    }
    start = end + 1;
  }
  return false;
}

Json ToTable(const ResourceType& type, const std::vector<Json>& items, TimePoint now,
             Json list_meta, bool with_definitions) {
  Json table = {{"kind", "Table"},
                {"apiVersion", "meta.k8s.io/v1"},
                {"metadata", std::move(list_meta)},
                {"columnDefinitions", Json::array()},
                {"rows", Json::array()}};
  auto column = [](const std::string& name, const std::string& format,
                   const std::string& description) {
    return Json{{"name", name},
                {"type", "string"},
                {"format", format},
                {"description", description},
                {"priority", 0}};
  };
  if (with_definitions) {
    Json& columns = table["columnDefinitions"];
    columns.push_back(column("Name", "name", "The object's name (metadata.name)."));
    for (const PrinterColumn& c : type.columns)
      columns.push_back(column(ColumnTitle(c.name), "", ""));
    columns.push_back(column("Age", "", "How long ago the object was created."));
  }
  for (const Json& obj : items) {
    Json cells = Json::array({MetaName(obj)});
    for (const PrinterColumn& c : type.columns) cells.push_back(c.value(obj, now));
    cells.push_back(Age(obj, now));
    table["rows"].push_back(
        {{"cells", std::move(cells)},
         {"object",
          {{"kind", "PartialObjectMetadata"},
           {"apiVersion", "meta.k8s.io/v1"},
           {"metadata",
            At(obj, {"metadata"}).is_object() ? At(obj, {"metadata"}) : Json::object()}}}});
  }
  return table;
}

}  // namespace skiff
