// The IXFR history in state_dir (ixfr-history.json), so that a restart does not turn every IXFR into an AXFR.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

#include "zones/history.hpp"

namespace vpced::zones {

inline constexpr std::string_view kHistoryFile = "ixfr-history.json";
// The file never exceeds this: the latest version's records go in only when they take at most half of it,
// then as many of the newest steps as fit.
inline constexpr size_t kHistoryFileMax = 16 * 1024 * 1024;

enum class HistoryLoad { Missing, Loaded, Corrupt };
std::string_view to_string(HistoryLoad r);

// Replaces state_dir/ixfr-history.json atomically (zones/atomic_file). Throws std::system_error.
void save_history(const std::filesystem::path& state_dir, const ZoneHistory& h, size_t max_bytes = kHistoryFileMax);

// Reads state_dir/ixfr-history.json into `h` (which keeps its depth). Missing or Corrupt leave `h` empty;
// Corrupt sets `problem`. Never throws.
HistoryLoad load_history(const std::filesystem::path& state_dir, ZoneHistory& h, std::string& problem,
                         size_t max_bytes = kHistoryFileMax);

}  // namespace vpced::zones
