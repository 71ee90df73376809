// The responder: one query in, one answer out, against a snapshot. The pure seam of the DNS server.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "zones/net.hpp"
#include "zones/snapshot.hpp"

namespace vpced::dns {

enum class Transport { Udp, Tcp };

struct Client {
  zones::IpAddr address;
  Transport transport = Transport::Udp;
  int32_t listener_view = -1;  // a view fixed by the address the query arrived on, or -1
  bool may_forward = true;     // false: a name outside every zone is REFUSED even with forwarders (signed queries)
};

// What happened to a query, for metrics and the query log.
struct Outcome {
  uint16_t rcode = 0;  // extended rcode (BADVERS = 16)
  uint16_t qtype = 0;
  int32_t view = -1;   // the view that answered; -1 when the query never reached one
  zones::Lookup lookup = zones::Lookup::Refused;
  bool truncated = false;
  bool dropped = false;
  bool forward = false;  // no answer written: the name is outside every zone and forwarders exist
  bool ecs_used = false; // EDNS Client Subnet from a trusted source picked the view
  bool transfer = false; // no answer written: an AXFR/IXFR over TCP, for the transfer stream (dns/transfer.hpp)
  bool signed_query = false;  // no answer written: the query carries a TSIG, for respond_signed (dns/signed_answer.hpp)
};

// Writes the response to `query` into `out` and returns its size; 0 means send nothing: either drop, or
// (outcome->forward) hand the query to the forwarders, or (outcome->signed_query) answer it with
// respond_signed, or (outcome->transfer) stream a zone transfer.
// `out` must hold at least 512 bytes. Never allocates; never throws.
size_t respond(const zones::Snapshot& snapshot, std::span<const uint8_t> query, const Client& client,
               std::span<uint8_t> out, Outcome* outcome = nullptr);

// A SERVFAIL answer to `query` (forwarding failed): header and question, OPT when the query had one.
size_t servfail(std::span<const uint8_t> query, std::span<uint8_t> out);

}  // namespace vpced::dns
