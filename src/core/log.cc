#include "core/log.h"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace skiff {
namespace {

std::string Format(const std::string& event, std::initializer_list<LogField> fields) {
  std::string line = "msg=\"" + event + "\"";
  for (const auto& [k, v] : fields) {
    bool quote = v.find_first_of(" \"=") != std::string::npos || v.empty();
    line += " " + k + "=" + (quote ? "\"" + v + "\"" : v);
  }
  return line;
}

}  // namespace

void InitLogging(const std::string& path, const std::string& level) {
  std::shared_ptr<spdlog::logger> logger;
  if (path.empty()) {
    logger = spdlog::stderr_logger_mt("skiff");
  } else {
    logger = spdlog::basic_logger_mt("skiff", path);
  }
  logger->set_pattern("ts=%Y-%m-%dT%H:%M:%S.%eZ level=%l %v", spdlog::pattern_time_type::utc);
  logger->set_level(spdlog::level::from_str(level));
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
}

void LogDebug(const std::string& e, std::initializer_list<LogField> f) {
  spdlog::debug(Format(e, f));
}
void LogInfo(const std::string& e, std::initializer_list<LogField> f) {
  spdlog::info(Format(e, f));
}
void LogWarn(const std::string& e, std::initializer_list<LogField> f) {
  spdlog::warn(Format(e, f));
}
void LogError(const std::string& e, std::initializer_list<LogField> f) {
  spdlog::error(Format(e, f));
}

}  // namespace skiff
