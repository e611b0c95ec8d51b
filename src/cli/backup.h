// Backup and restore of an installation: its store and the files of SKIFF_HOME, taken while the
// platform runs (`skiff backup DIR`, `skiff restore DIR`).
//
// A backup is a directory laid out as the home it was taken from, plus `backup.json` (what it
// holds: the store's resourceVersion and object count, the folders' file counts and sizes, the
// home's path):
//   skiff.db           a consistent copy of the store as of one moment (SQLite's VACUUM INTO)
//   secrets.key        the key the Secrets are encrypted with; admin-token; prices.yaml,
//   images.yaml artifacts/ volumes/ logs/
// The store is copied first and the folders after, so every artifact the copy names is there.
// Not copied: what the platform rebuilds or what describes processes of this machine
// (workloads/, tasks/, envs/, server.json). A store in PostgreSQL is not copied: it is backed up
// with pg_dump, and the backup says so. The backup holds the admin token and the Secrets' key:
// it is made 0700, its secret files 0600.
//
// Restore copies a backup into a home that holds nothing yet, and when that home is not where
// the backup was taken, rewrites the stored paths of the old home's artifacts to the new one's.
// It then opens the restored store and checks it holds what the backup says.
//
//   ASSIGN_OR_RETURN(BackupManifest m, BackupHome({.home = home, .dir = dir}, print));
//   ASSIGN_OR_RETURN(BackupManifest r, RestoreHome(dir, new_home, print));
//
// Thread-compatible.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "core/resource.h"
#include "core/status.h"

namespace skiff::cli {

struct BackupOptions {
  std::string home;       // SKIFF_HOME
  std::string store_url;  // "" = the SQLite store in home
  std::string dir;        // where the backup goes: a path that does not exist yet
};

// The backup.json of a backup.
using BackupManifest = Json;

// One line of progress ("artifacts: 120 files, 3.2 MB").
using Progress = std::function<void(const std::string& line)>;

Result<BackupManifest> BackupHome(const BackupOptions& options, const Progress& progress);
Result<BackupManifest> RestoreHome(const std::string& dir, const std::string& home,
                                   const Progress& progress);

}  // namespace skiff::cli
