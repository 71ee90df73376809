// The one place ldns is included. <stdbool.h> must come first, or ldns defines bool/true/false macros in C++.
// Keep this header out of public headers: only .cpp files include it.
#pragma once

#include <stdbool.h>

#include <ldns/ldns.h>

#include <memory>

namespace vpced::ldns {

struct PktDeleter {
  void operator()(ldns_pkt* p) const { ldns_pkt_free(p); }
};
struct RrDeleter {
  void operator()(ldns_rr* r) const { ldns_rr_free(r); }
};
using PktPtr = std::unique_ptr<ldns_pkt, PktDeleter>;
using RrPtr = std::unique_ptr<ldns_rr, RrDeleter>;

}  // namespace vpced::ldns
