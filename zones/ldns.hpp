// The one place ldns is included. <stdbool.h> must come first, or ldns defines bool/true/false macros in C++.
// Keep this header out of public headers: only .cpp files include it.
#pragma once

#include <stdbool.h>

#include <ldns/ldns.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

namespace vpced::ldns {

struct PktDeleter {
  void operator()(ldns_pkt* p) const { ldns_pkt_free(p); }
};
struct RrDeleter {
  void operator()(ldns_rr* r) const { ldns_rr_free(r); }
};
using PktPtr = std::unique_ptr<ldns_pkt, PktDeleter>;
using RrPtr = std::unique_ptr<ldns_rr, RrDeleter>;

// The records of one section as presentation lines ("name ttl IN TYPE rdata", tabs as spaces), in order.
inline std::vector<std::string> section_lines(const ldns_pkt* pkt, ldns_pkt_section which) {
  std::vector<std::string> out;
  ldns_rr_list* list = ldns_pkt_get_section_clone(pkt, which);
  for (size_t i = 0; i < ldns_rr_list_rr_count(list); ++i) {
    char* text = ldns_rr2str(ldns_rr_list_rr(list, i));
    std::string line(text ? text : "");
    free(text);
    while (!line.empty() && line.back() == '\n') line.pop_back();
    std::replace(line.begin(), line.end(), '\t', ' ');
    out.push_back(std::move(line));
  }
  ldns_rr_list_deep_free(list);
  return out;
}

}  // namespace vpced::ldns
