#include "store/store.h"

#include "store/postgres/postgres_store.h"
#include "store/sqlite/sqlite_store.h"

namespace skiff {

const char* WatchEventTypeName(WatchEvent::Type type) {
  switch (type) {
    case WatchEvent::Type::kAdded:
      return "ADDED";
    case WatchEvent::Type::kModified:
      return "MODIFIED";
    case WatchEvent::Type::kDeleted:
      return "DELETED";
  }
  return "UNKNOWN";
}

Result<int64_t> Store::Snapshot(const std::string& path) {
  return Unimplemented("this store is not copied by Skiff (to " + path +
                       "): back its database up with the database's own tools (pg_dump)");
}

Result<int64_t> Store::Count(const std::string& type, const std::string& ns) {
  if (type.empty()) return InvalidArgument("counting: this store counts one type at a time");
  int64_t count = 0;
  ListOptions page{.limit = 500};
  do {
    ASSIGN_OR_RETURN(ListResult listed, List(type, ns, page));
    count += static_cast<int64_t>(listed.items.size());
    page.continue_token = listed.continue_token;
  } while (!page.continue_token.empty());
  return count;
}

Result<std::unique_ptr<Store>> OpenStore(const std::string& url, Clock& clock) {
  if (url.empty()) return InvalidArgument("store URL is empty");
  auto scheme_end = url.find("://");
  if (scheme_end == std::string::npos) {
    ASSIGN_OR_RETURN(auto sqlite, SqliteStore::Open(url, clock));
    return std::unique_ptr<Store>(std::move(sqlite));
  }
  std::string scheme = url.substr(0, scheme_end);
  if (scheme == "sqlite") {
    std::string path = url.substr(scheme_end + 3);
    if (path.empty()) return InvalidArgument("store URL '" + url + "' names no database file");
    ASSIGN_OR_RETURN(auto sqlite, SqliteStore::Open(path, clock));
    return std::unique_ptr<Store>(std::move(sqlite));
  }
  if (scheme == "postgresql" || scheme == "postgres") {
    ASSIGN_OR_RETURN(auto postgres, PostgresStore::Open(url, clock));
    return std::unique_ptr<Store>(std::move(postgres));
  }
  return InvalidArgument("unsupported store URL scheme '" + scheme + "' in '" + url +
                         "' (want sqlite://PATH, a bare path, or postgresql://...)");
}

}  // namespace skiff
