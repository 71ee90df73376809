// Errors with a source position, printed as `FILE:LINE:COL: error: MESSAGE` (the compilers' format).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace vpced::zones {

struct SourcePos {
  std::string file;
  uint32_t line = 0;    // 1-based; 0 = unknown
  uint32_t column = 0;  // 1-based; 0 = unknown
};

struct Diagnostic {
  SourcePos pos;
  std::string message;
};

class Diagnostics {
 public:
  void error(const SourcePos& pos, std::string message) { items_.push_back({pos, std::move(message)}); }
  bool has_errors() const { return !items_.empty(); }
  const std::vector<Diagnostic>& items() const { return items_; }
  // Sorts by file, line, column (toml++ iterates tables in key order, not file order).
  void sort();
  // "FILE:LINE:COL: error: MESSAGE", one per line.
  std::string format() const;

 private:
  std::vector<Diagnostic> items_;
};

std::string format_diagnostic(const Diagnostic& d);

// Thrown across the one boundary where a whole load fails (config loading, state files).
struct LoadError {
  Diagnostics diags;
};

}  // namespace vpced::zones
