// Rendering metric families and samples in the Prometheus text format.
#include "zones/metrics.hpp"

#include <cmath>
#include <cstdio>

namespace vpced::zones {

namespace {

void append_escaped(std::string& out, std::string_view v) {
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
}

}  // namespace

void MetricsWriter::family(std::string_view name, std::string_view type, std::string_view help) {
  out_ += "# HELP ";
  out_ += name;
  out_ += ' ';
  out_ += help;
  out_ += "\n# TYPE ";
  out_ += name;
  out_ += ' ';
  out_ += type;
  out_ += '\n';
}

void MetricsWriter::sample(std::string_view name, const Labels& labels, double value) {
  out_ += name;
  if (!labels.empty()) {
    out_ += '{';
    bool first = true;
    for (const auto& [k, v] : labels) {
      if (!first) out_ += ',';
      first = false;
      out_ += k;
      out_ += "=\"";
      append_escaped(out_, v);
      out_ += '"';
    }
    out_ += '}';
  }
  char buf[64];
  if (std::floor(value) == value && std::fabs(value) < 1e15)
    std::snprintf(buf, sizeof buf, " %.0f\n", value);
  else
    std::snprintf(buf, sizeof buf, " %.9g\n", value);
  out_ += buf;
}

void MetricsRegistry::add(Collector c) {
  std::lock_guard lock(mu_);
  collectors_.push_back(std::move(c));
}

std::string MetricsRegistry::render() const {
  MetricsWriter w;
  std::lock_guard lock(mu_);
  for (const auto& c : collectors_) c(w);
  return w.text();
}

}  // namespace vpced::zones
