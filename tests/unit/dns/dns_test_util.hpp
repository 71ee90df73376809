// Helpers for DNS unit tests: hand-built query messages and sorted presentation lines of a response section.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "zones/ldns.hpp"

namespace vpced::testing {

struct QueryOptions {
  std::optional<uint16_t> edns_size;  // an OPT RR with this payload size
  uint8_t edns_version = 0;
  std::vector<uint8_t> edns_options;  // OPT RDATA
  uint16_t qclass = 1;
};

inline QueryOptions with_edns(uint16_t size, uint8_t version = 0, std::vector<uint8_t> options = {}) {
  QueryOptions o;
  o.edns_size = size;
  o.edns_version = version;
  o.edns_options = std::move(options);
  return o;
}

inline QueryOptions with_class(uint16_t qclass) {
  QueryOptions o;
  o.qclass = qclass;
  return o;
}

// ID 0xBEEF, RD set, one question; the name is split at dots as given (case kept).
inline std::vector<uint8_t> make_query(const std::string& name, uint16_t qtype, const QueryOptions& o = {}) {
  std::vector<uint8_t> p = {0xbe, 0xef, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, static_cast<uint8_t>(o.edns_size ? 1 : 0)};
  size_t start = 0;
  while (start < name.size()) {
    size_t dot = name.find('.', start);
    if (dot == std::string::npos) dot = name.size();
    p.push_back(static_cast<uint8_t>(dot - start));
    p.insert(p.end(), name.begin() + static_cast<long>(start), name.begin() + static_cast<long>(dot));
    start = dot + 1;
  }
  p.push_back(0);
  p.insert(p.end(), {static_cast<uint8_t>(qtype >> 8), static_cast<uint8_t>(qtype), static_cast<uint8_t>(o.qclass >> 8),
                     static_cast<uint8_t>(o.qclass)});
  if (o.edns_size) {
    const size_t n = o.edns_options.size();
    p.insert(p.end(), {0, 0, 41, static_cast<uint8_t>(*o.edns_size >> 8), static_cast<uint8_t>(*o.edns_size), 0,
                       o.edns_version, 0, 0, static_cast<uint8_t>(n >> 8), static_cast<uint8_t>(n)});
    p.insert(p.end(), o.edns_options.begin(), o.edns_options.end());
  }
  return p;
}

inline std::vector<std::string> sorted_section(const ldns_pkt* pkt, ldns_pkt_section which) {
  auto lines = ldns::section_lines(pkt, which);
  std::sort(lines.begin(), lines.end());
  return lines;
}

}  // namespace vpced::testing
