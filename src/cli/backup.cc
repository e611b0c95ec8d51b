#include "cli/backup.h"

#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <system_error>

#include "cli/commands.h"
#include "cli/config.h"
#include "core/clock.h"
#include "core/files.h"
#include "store/sqlite/sqlite_store.h"
#include "store/store.h"

namespace skiff::cli {
namespace {

namespace fs = std::filesystem;

constexpr char kManifestFile[] = "backup.json";
constexpr char kFormat[] = "skiff-backup/v1";
constexpr char kStoreFile[] = "skiff.db";
// What a backup holds besides the store, as it lies in the home.
constexpr const char* kFiles[] = {"secrets.key", "admin-token", "prices.yaml", "images.yaml"};
constexpr const char* kFolders[] = {"artifacts", "volumes", "logs"};

std::string Megabytes(uintmax_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f MB", static_cast<double>(bytes) / 1e6);
  return text;
}

struct Copied {
  int64_t files = 0;
  uintmax_t bytes = 0;
  int64_t skipped = 0;  // neither a file, a folder nor a link (a socket, a FIFO), or gone meanwhile
};

// Copies one file or link `from` to `to` (whose folder exists), keeping its permission bits; a
// link is copied as the link it is, never followed. A file removed meanwhile is skipped.
Status CopyEntry(const fs::path& from, const fs::path& to, fs::file_status st, Copied& copied) {
  std::error_code ec;
  if (fs::is_symlink(st)) {
    fs::copy_symlink(from, to, ec);
  } else if (fs::is_regular_file(st)) {
    fs::copy_file(from, to, fs::copy_options::overwrite_existing, ec);
    if (!ec) {
      fs::permissions(to, st.permissions(), ec);
      copied.bytes += fs::file_size(to, ec);
    }
  } else {
    ++copied.skipped;
    return Status::Ok();
  }
  if (ec == std::errc::no_such_file_or_directory) {
    ++copied.skipped;
    return Status::Ok();
  }
  if (ec) return Internal("copying " + from.string() + ": " + ec.message());
  ++copied.files;
  return Status::Ok();
}

// Copies folder `from` into `to` (created), whole, without following links.
Result<Copied> CopyTree(const fs::path& from, const fs::path& to) {
  Copied copied;
  std::error_code ec;
  fs::create_directories(to, ec);
  if (ec) return Internal("creating " + to.string() + ": " + ec.message());
  fs::permissions(to, fs::status(from, ec).permissions(), ec);
  fs::recursive_directory_iterator it(from, ec), end;
  if (ec) return Internal("reading " + from.string() + ": " + ec.message());
  for (; it != end; it.increment(ec)) {
    if (ec) return Internal("reading " + from.string() + ": " + ec.message());
    // Lexically: fs::relative would follow a link to where it leads.
    const fs::path target = to / it->path().lexically_relative(from);
    fs::file_status st = it->symlink_status(ec);
    if (ec) {
      ++copied.skipped;  // gone meanwhile
      continue;
    }
    if (fs::is_directory(st)) {
      fs::create_directories(target, ec);
      if (ec) return Internal("creating " + target.string() + ": " + ec.message());
      fs::permissions(target, st.permissions(), ec);
      continue;
    }
    RETURN_IF_ERROR(CopyEntry(it->path(), target, st, copied));
  }
  return copied;
}

Json Summary(const Copied& c) {
  return {{"files", c.files}, {"bytes", c.bytes}, {"skipped", c.skipped}};
}

std::string Line(const std::string& what, const Copied& c) {
  std::string line = what + ": " + std::to_string(c.files) + " files, " + Megabytes(c.bytes);
  if (c.skipped > 0) line += " (" + std::to_string(c.skipped) + " skipped)";
  return line;
}

// Copies everything of a home (or a backup) but the store and the manifest from `from` to `to`.
Result<Json> CopyHomeFiles(const fs::path& from, const fs::path& to, const Progress& progress) {
  Json folders = Json::object();
  Copied files;
  std::error_code ec;
  for (const char* name : kFiles) {
    fs::file_status st = fs::symlink_status(from / name, ec);
    if (ec || !fs::exists(st)) continue;
    RETURN_IF_ERROR(CopyEntry(from / name, to / name, st, files));
  }
  progress("files: " + std::to_string(files.files) + " (the Secrets' key, the admin token, ...)");
  for (const char* name : kFolders) {
    if (!fs::is_directory(from / name, ec)) continue;
    ASSIGN_OR_RETURN(Copied copied, CopyTree(from / name, to / name));
    folders[name] = Summary(copied);
    progress(Line(name, copied));
  }
  return folders;
}

// What a restore reads of a manifest, its types checked: a backup's folder is a user's input.
struct ManifestFacts {
  bool store_file = false;  // the store is in the backup (SQLite), not external
  int64_t objects = 0;
  int64_t version = 0;
  std::string home;  // where it was taken ("" when not said)
};

Result<ManifestFacts> ReadManifest(const Json& m, const std::string& where) {
  auto bad = [&](const std::string& why) {
    return InvalidArgument(where + ": not a " + kFormat + " manifest: " + why);
  };
  if (!m.is_object()) return bad("not a JSON object");
  auto format = m.find("format");
  if (format == m.end() || !format->is_string() || *format != kFormat) return bad("format");
  auto store = m.find("store");
  if (store == m.end() || !store->is_object()) return bad("store");
  ManifestFacts facts;
  if (auto home = m.find("home"); home != m.end()) {
    if (!home->is_string()) return bad("home");
    facts.home = home->get<std::string>();
  }
  facts.store_file = store->contains("file");
  if (facts.store_file) {
    for (auto [key, out] : {std::pair<const char*, int64_t*>{"objects", &facts.objects},
                            std::pair<const char*, int64_t*>{"resourceVersion", &facts.version}}) {
      auto it = store->find(key);
      if (it == store->end() || !it->is_number_integer()) return bad(std::string("store.") + key);
      *out = it->get<int64_t>();
    }
  }
  return facts;
}

}  // namespace

Result<BackupManifest> BackupHome(const BackupOptions& options, const Progress& progress) {
  const fs::path home = AbsolutePath(options.home);
  const fs::path dir = options.dir;
  std::error_code ec;
  if (!fs::is_directory(home, ec)) return NotFound("no SKIFF_HOME at " + home.string());
  if (fs::exists(dir, ec)) {
    return AlreadyExists("the backup's folder " + dir.string() + " exists already: name a new one");
  }
  fs::create_directories(dir, ec);
  if (ec) return Internal("creating " + dir.string() + ": " + ec.message());
  ::chmod(dir.c_str(), 0700);  // it holds the admin token and the Secrets' key

  BackupManifest manifest = {{"format", kFormat},
                             {"created", FormatRfc3339(SystemClock::Instance().Now())},
                             {"home", home.string()}};
  const std::string url = options.store_url;
  const bool sqlite = url.empty() || url.rfind("sqlite://", 0) == 0 || url.find("://") == url.npos;
  if (sqlite) {
    std::string db = url.empty() ? (home / kStoreFile).string()
                                 : (url.rfind("sqlite://", 0) == 0 ? url.substr(9) : url);
    if (!fs::is_regular_file(db, ec)) return NotFound("no store at " + db);
    ASSIGN_OR_RETURN(std::unique_ptr<Store> store,
                     OpenStore("sqlite://" + db, SystemClock::Instance()));
    ASSIGN_OR_RETURN(int64_t version, store->Snapshot((dir / kStoreFile).string()));
    store.reset();
    ASSIGN_OR_RETURN(std::unique_ptr<Store> copy,
                     OpenStore("sqlite://" + (dir / kStoreFile).string(), SystemClock::Instance()));
    ASSIGN_OR_RETURN(int64_t objects, copy->Count("", ""));
    manifest["store"] = {{"file", kStoreFile}, {"resourceVersion", version}, {"objects", objects}};
    progress("store: " + std::to_string(objects) + " objects as of resourceVersion " +
             std::to_string(version) + " (" + Megabytes(fs::file_size(dir / kStoreFile, ec)) + ")");
  } else {
    manifest["store"] = {{"external", "postgresql"}};
    progress("store: in PostgreSQL, not copied: back it up with pg_dump");
  }
  ASSIGN_OR_RETURN(manifest["folders"], CopyHomeFiles(home, dir, progress));
  RETURN_IF_ERROR(
      WriteFileAtomically((dir / kManifestFile).string(), manifest.dump(2) + "\n", {.sync = true}));
  return manifest;
}

Result<BackupManifest> RestoreHome(const std::string& dir_arg, const std::string& home_arg,
                                   const Progress& progress) {
  const fs::path dir = dir_arg;
  std::error_code ec;
  auto text = ReadFile((dir / kManifestFile).string());
  if (!text.ok()) return NotFound(dir_arg + " is not a backup: it has no " + kManifestFile);
  BackupManifest manifest = Json::parse(*text, nullptr, /*allow_exceptions=*/false);
  ASSIGN_OR_RETURN(ManifestFacts facts, ReadManifest(manifest, (dir / kManifestFile).string()));
  const fs::path home = AbsolutePath(home_arg);
  if (fs::exists(home, ec) && !fs::is_empty(home, ec)) {
    return FailedPrecondition("restoring into " + home.string() +
                              ": it holds files already; restore into a new or empty folder");
  }
  fs::create_directories(home, ec);
  if (ec) return Internal("creating " + home.string() + ": " + ec.message());
  ::chmod(home.c_str(), 0700);

  if (facts.store_file) {
    Copied copied;
    const fs::path db = home / kStoreFile;
    RETURN_IF_ERROR(
        CopyEntry(dir / kStoreFile, db, fs::symlink_status(dir / kStoreFile, ec), copied));
    if (copied.files != 1) return NotFound(dir_arg + " has no " + kStoreFile);
    ::chmod(db.c_str(), 0600);
    // The artifacts' paths move with the home.
    const std::string& old_home = facts.home;
    if (!old_home.empty() && old_home != home.string()) {
      ASSIGN_OR_RETURN(int64_t moved, SqliteStore::ReplaceText(db.string(), old_home + "/artifacts",
                                                               home.string() + "/artifacts",
                                                               SystemClock::Instance()));
      progress("store: the artifacts' paths of " + std::to_string(moved) + " objects moved from " +
               old_home + " to " + home.string());
    }
    ASSIGN_OR_RETURN(std::unique_ptr<Store> restored,
                     OpenStore("sqlite://" + db.string(), SystemClock::Instance()));
    ASSIGN_OR_RETURN(int64_t objects, restored->Count("", ""));
    const int64_t version = restored->CurrentVersion();
    if (objects != facts.objects || version < facts.version) {
      return FailedPrecondition("the restored store holds " + std::to_string(objects) +
                                " objects at resourceVersion " + std::to_string(version) +
                                ", the backup says " + std::to_string(facts.objects) + " at " +
                                std::to_string(facts.version) + ": the backup is damaged");
    }
    progress("store: " + std::to_string(objects) + " objects as of resourceVersion " +
             std::to_string(version));
  } else {
    progress(
        "store: in PostgreSQL, not in the backup: restore it with pg_restore and start "
        "`skiff up --store postgresql://...`");
  }
  RETURN_IF_ERROR(CopyHomeFiles(dir, home, progress).status());
  return manifest;
}

int CmdBackup(const std::string& dir, const std::string& home, const std::string& store_url) {
  const std::string from = home.empty() ? SkiffHome() : home;
  std::printf("backing up %s to %s\n", from.c_str(), dir.c_str());
  auto print = [](const std::string& line) {
    std::printf("  %s\n", line.c_str());
    std::fflush(stdout);
  };
  Result<BackupManifest> done =
      BackupHome({.home = from, .store_url = store_url, .dir = dir}, print);
  if (!done.ok()) {
    std::fprintf(stderr, "error: backup: %s\n", done.status().message().c_str());
    return 1;
  }
  std::printf("backup complete: %s (it holds the admin token and the Secrets' key: keep it safe)\n",
              dir.c_str());
  return 0;
}

int CmdRestore(const std::string& dir, const std::string& home) {
  const std::string to = home.empty() ? SkiffHome() : home;
  std::printf("restoring %s into %s\n", dir.c_str(), to.c_str());
  auto print = [](const std::string& line) {
    std::printf("  %s\n", line.c_str());
    std::fflush(stdout);
  };
  Result<BackupManifest> done = RestoreHome(dir, to, print);
  if (!done.ok()) {
    std::fprintf(stderr, "error: restore: %s\n", done.status().message().c_str());
    return 1;
  }
  std::printf("restore complete: start it with SKIFF_HOME=%s skiff up\n", to.c_str());
  return 0;
}

}  // namespace skiff::cli
