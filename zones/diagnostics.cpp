// Formatting and ordering of positioned errors.
#include "zones/diagnostics.hpp"

#include <algorithm>
#include <mutex>
#include <tuple>
#include <unordered_set>

namespace vpced::zones {

const std::string& FileName::no_name() {
  static const std::string e;
  return e;
}

FileName::FileName(std::string_view name) {
  if (name.empty()) return;
  static std::mutex mu;
  static std::unordered_set<std::string>* names = new std::unordered_set<std::string>;  // never freed
  std::lock_guard lock(mu);
  name_ = &*names->emplace(name).first;  // elements of an unordered_set do not move
}

void Diagnostics::sort() {
  std::stable_sort(items_.begin(), items_.end(), [](const Diagnostic& a, const Diagnostic& b) {
    return std::tie(a.pos.file, a.pos.line, a.pos.column) < std::tie(b.pos.file, b.pos.line, b.pos.column);
  });
}

std::string format_diagnostic(const Diagnostic& d) {
  std::string out = d.pos.file.str();
  if (d.pos.line > 0) {
    out += ':' + std::to_string(d.pos.line);
    if (d.pos.column > 0) out += ':' + std::to_string(d.pos.column);
  }
  out += ": error: ";
  out += d.message;
  return out;
}

std::string Diagnostics::format() const {
  std::string out;
  for (const auto& d : items_) {
    out += format_diagnostic(d);
    out += '\n';
  }
  return out;
}

}  // namespace vpced::zones
