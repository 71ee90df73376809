// Log lines with an RFC 3339 UTC timestamp; writes are serialized so lines never interleave.
#include "cmd/log.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

namespace vpced::cmd {

namespace {
LogFormat g_format = LogFormat::Text;
Level g_level = Level::Info;
std::mutex g_mu;

const char* name(Level l) {
  switch (l) {
    case Level::Info: return "info";
    case Level::Warn: return "warn";
    case Level::Error: return "error";
  }
  return "info";
}
}  // namespace

void set_log_format(LogFormat f) { g_format = f; }
void set_log_level(Level l) { g_level = l; }

void log(Level level, std::string_view message) {
  if (static_cast<int>(level) < static_cast<int>(g_level)) return;
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char ts[64];
  std::snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  std::string line;
  if (g_format == LogFormat::Json) {
    line = nlohmann::json{{"ts", ts}, {"level", name(level)}, {"msg", message}}.dump();
  } else {
    line = std::string(ts) + " " + name(level) + " " + std::string(message);
  }
  line += '\n';
  std::lock_guard lock(g_mu);
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

}  // namespace vpced::cmd
