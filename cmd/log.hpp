// Minimal structured logging to stderr: text by default, one JSON object per line with --log-format json.
#pragma once

#include <string_view>

namespace vpced::cmd {

enum class LogFormat { Text, Json };
enum class Level { Info, Warn, Error };

void set_log_format(LogFormat f);
// Lines below this level are not written (default Info).
void set_log_level(Level l);
void log(Level level, std::string_view message);

}  // namespace vpced::cmd
