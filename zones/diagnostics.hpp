// Errors with a source position, printed as `FILE:LINE:COL: error: MESSAGE` (the compilers' format).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace vpced::zones {

// A file name held once for the process (interned: one copy per distinct name, never freed), so that a
// position is three words and copying one allocates nothing — a config of 100,000 endpoints holds several
// positions per endpoint. Make one per file and copy it; making one looks the name up under a mutex.
class FileName {
 public:
  FileName() = default;
  FileName(std::string_view name);  // NOLINT(google-explicit-constructor): a position is often given a string
  FileName(const std::string& name) : FileName(std::string_view(name)) {}
  FileName(const char* name) : FileName(std::string_view(name)) {}
  const std::string& str() const { return name_ ? *name_ : no_name(); }
  operator const std::string&() const { return str(); }  // NOLINT(google-explicit-constructor)
  bool empty() const { return str().empty(); }
  friend bool operator==(const FileName& a, const FileName& b) { return a.str() == b.str(); }
  friend bool operator==(const FileName& a, std::string_view b) { return a.str() == b; }
  friend bool operator==(const FileName& a, const std::string& b) { return a.str() == b; }
  friend bool operator==(const FileName& a, const char* b) { return a.str() == b; }
  friend auto operator<=>(const FileName& a, const FileName& b) { return a.str() <=> b.str(); }

 private:
  static const std::string& no_name();  // a function-local static: safe from other files' static initialisers
  const std::string* name_ = nullptr;
};

struct SourcePos {
  FileName file;
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
