// Structured logging: spdlog with key=value fields, one line per event.
//
//   LogInfo("job started", {{"job", "default/pi"}, {"attempt", "1"}});
//
// Thread-safe.
#pragma once

#include <initializer_list>
#include <string>
#include <utility>

namespace skiff {

using LogField = std::pair<std::string, std::string>;

// Configures the default logger: stderr, or `path` when non-empty. `level` is one of
// trace|debug|info|warn|error.
void InitLogging(const std::string& path, const std::string& level);

void LogDebug(const std::string& event, std::initializer_list<LogField> fields = {});
void LogInfo(const std::string& event, std::initializer_list<LogField> fields = {});
void LogWarn(const std::string& event, std::initializer_list<LogField> fields = {});
void LogError(const std::string& event, std::initializer_list<LogField> fields = {});

}  // namespace skiff
