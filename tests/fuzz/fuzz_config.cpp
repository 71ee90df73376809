// libFuzzer target: the TOML config loader and validator (zones/config.hpp load_config_text).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "zones/config.hpp"

using namespace vpced::zones;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Configs are operator files; the loader caps nothing but must never crash or hang on any text.
  if (size > 64 * 1024) return 0;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  Diagnostics diags;
  auto config = load_config_text(text, "/fuzz/vpced.toml", diags);
  (void)config;
  return 0;
}
