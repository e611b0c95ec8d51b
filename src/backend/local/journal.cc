#include "backend/local/journal.h"

#include <filesystem>

#include "core/files.h"
#include "core/log.h"

namespace skiff::local {
namespace {

namespace fs = std::filesystem;

std::string EncodeId(const std::string& id) {
  std::string out;
  for (char c : id) out += c == '/' ? std::string("%") : std::string(1, c);
  return out;
}

}  // namespace

Status Journal::Write(const WorkloadRecord& rec) const {
  return WriteFileAtomically(RecordPath(rec.spec.id), RecordToJson(rec).dump());
}

std::vector<WorkloadRecord> Journal::Load() const {
  std::vector<WorkloadRecord> out;
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator(state_dir_, ec)) {
    if (e.path().extension() != ".json") continue;
    const std::string path = e.path().string();
    Json j = Json::parse(ReadFile(path).value_or(""), nullptr, /*allow_exceptions=*/false);
    Result<WorkloadRecord> rec = RecordFromJson(j, path);
    if (!rec.ok()) {
      LogWarn("skipping unreadable workload record",
              {{"path", path}, {"error", rec.status().ToString()}});
      continue;
    }
    out.push_back(std::move(rec).value());
  }
  return out;
}

void Journal::Erase(const WorkloadRecord& rec) const {
  const std::string& id = rec.spec.id;
  std::error_code ec;
  fs::remove(RecordPath(id), ec);
  fs::remove_all(WorkloadDir(id), ec);
  fs::remove_all(VolumesDir(id), ec);
  fs::remove_all(TmpDir(id), ec);
  for (const ContainerRecord& c : rec.containers) fs::remove(ExitPath(id, c.status.name), ec);
}

std::string Journal::RecordPath(const std::string& id) const {
  return state_dir_ + "/" + EncodeId(id) + ".json";
}

std::string Journal::WorkloadDir(const std::string& id) const {
  return state_dir_ + "/" + EncodeId(id) + ".d";
}

std::string Journal::ExitPath(const std::string& id, const std::string& container) const {
  return state_dir_ + "/" + EncodeId(id) + "." + container + ".exit";
}

std::string Journal::VolumesDir(const std::string& id) const {
  return state_dir_ + "/" + EncodeId(id) + ".volumes";
}

std::string Journal::TmpDir(const std::string& id) const {
  return state_dir_ + "/" + EncodeId(id) + ".tmp";
}

std::string Journal::LogPath(const std::string& id, const std::string& container) const {
  // A file, no folder per workload (a folder costs ten times a file to create); an id
  // "ns/name" gives ns/name.<container>.log.
  return log_dir_ + "/" + id + "." + container + ".log";
}

}  // namespace skiff::local
