// Answer assembly: header, the question as sent, a precompiled tail, OPT; TC when it does not fit.
#include "dns/respond.hpp"

#include <algorithm>
#include <cstring>

#include "dns/wire.hpp"

namespace vpced::dns {

namespace {

// Header-only error answer (FORMERR, NOTIMP): like BIND and NSD, nothing of the query is echoed but its ID,
// opcode and RD bit.
size_t header_only(std::span<const uint8_t> query, uint8_t rcode, std::span<uint8_t> out) {
  std::memset(out.data(), 0, kHeaderSize);
  out[0] = query[0];
  out[1] = query[1];
  out[2] = static_cast<uint8_t>(kFlagQr | (query[2] & (0x78 | kFlagRd)));
  out[3] = rcode;
  return kHeaderSize;
}

size_t write_opt(uint8_t* p, uint16_t extended_rcode, uint16_t client_flags, const ClientSubnet* ecs = nullptr) {
  p[0] = 0;  // root owner
  write_u16(p + 1, kTypeOpt);
  write_u16(p + 3, kEdnsUdpSize);
  p[5] = static_cast<uint8_t>(extended_rcode >> 4);  // RFC 6891 §6.1.3: upper 8 bits of the 12-bit rcode
  p[6] = 0;                                         // version 0
  write_u16(p + 7, client_flags & kEdnsFlagDo);     // DO is echoed (RFC 3225 §3)
  if (!ecs) {
    write_u16(p + 9, 0);
    return kOptRrSize;
  }
  // RFC 7871 §7.2.1: FAMILY, SOURCE PREFIX-LENGTH and ADDRESS as received, our SCOPE PREFIX-LENGTH.
  const size_t option = 4 + ecs->address_length;
  write_u16(p + 9, static_cast<uint16_t>(4 + option));
  write_u16(p + 11, kEdnsOptionEcs);
  write_u16(p + 13, static_cast<uint16_t>(option));
  write_u16(p + 15, ecs->family);
  p[17] = ecs->source_prefix;
  p[18] = ecs->scope_prefix;
  std::memcpy(p + 19, ecs->address, ecs->address_length);
  return kOptRrSize + 4 + option;
}

zones::IpAddr ecs_address(const ClientSubnet& ecs) {
  zones::IpAddr a;
  a.v6 = ecs.family == 2;
  std::copy(ecs.address, ecs.address + (a.v6 ? 16 : 4), a.bytes.begin());
  return a;
}

}  // namespace

size_t respond(const zones::Snapshot& snapshot, std::span<const uint8_t> query, const Client& client,
               std::span<uint8_t> out, Outcome* outcome) {
  Outcome local;
  Outcome& oc = outcome ? *outcome : local;
  oc = Outcome{};
  Query q;
  switch (parse_query(query, q)) {
    case ParseResult::Drop: oc.dropped = true; return 0;
    case ParseResult::FormErr: oc.rcode = kRcodeFormErr; return header_only(query, kRcodeFormErr, out);
    case ParseResult::NotImp:
      if (has_tsig(query)) {  // a signed NOTIFY or UPDATE: its NOTIMP is signed too (RFC 8945 §5.3)
        oc.signed_query = true;
        return 0;
      }
      oc.rcode = kRcodeNotImp;
      return header_only(query, kRcodeNotImp, out);
    case ParseResult::Ok: break;
  }

  oc.qtype = q.qtype;
  // A TSIG-signed query takes the slower path (verification, the key's view, a signed answer), except a zone
  // transfer over TCP, whose stream verifies and signs itself.
  if (q.tsig && !(client.transport == Transport::Tcp && (q.qtype == kTypeAxfr || q.qtype == kTypeIxfr))) {
    oc.signed_query = true;
    return 0;
  }
  // View: the listener's VPC, else the client's address — or, from a trusted source (a resolver in front of
  // vpced), the EDNS Client Subnet address (RFC 7871).
  ClientSubnet ecs;
  bool with_ecs = false;
  zones::ViewChoice choice;
  if (client.listener_view >= 0) {
    choice.view = static_cast<uint32_t>(client.listener_view);
    choice.by = zones::ViewChoice::By::Listener;
  } else {
    const zones::IpAddr* chooser = &client.address;
    zones::IpAddr subnet;
    if (q.opt_rdlength > 0 && snapshot.trusts_ecs(client.address)) {
      switch (find_client_subnet(query, q, ecs)) {
        case EcsResult::Invalid: oc.rcode = kRcodeFormErr; return header_only(query, kRcodeFormErr, out);
        case EcsResult::Ok:
          with_ecs = true;
          subnet = ecs_address(ecs);
          chooser = &subnet;
          break;
        case EcsResult::Absent: break;
      }
    }
    choice = snapshot.choose_view(*chooser);
    if (with_ecs) {
      // The answer holds for the matched dns_clients prefix; a public answer for addresses at the
      // granularity of the longest configured prefix.
      ecs.scope_prefix = choice.by == zones::ViewChoice::By::ClientPrefix ? choice.prefix.length
                                                                          : snapshot.longest_client_prefix(ecs.family == 2);
      oc.ecs_used = true;
    }
  }
  const uint32_t view = choice.view;
  oc.view = static_cast<int32_t>(view);
  uint16_t rcode = kRcodeNoError;
  bool aa = false;
  const zones::CompiledAnswer* answer = nullptr;
  if (q.edns && q.edns_version > 0) {
    rcode = kRcodeBadVers;  // RFC 6891 §6.1.3, answered with OPT version 0 and no question data
  } else if (q.qclass != kClassIn && q.qclass != kClassAny) {
    rcode = kRcodeRefused;
  } else if (q.qtype == kTypeAxfr || q.qtype == kTypeIxfr) {
    // Zone transfers stream over TCP (dns/transfer.cpp). Over UDP: AXFR is TCP-only (RFC 5936 §4.2); an IXFR
    // gets TC so the client retries over TCP (RFC 1995 §2 allows this instead of the SOA).
    if (client.transport == Transport::Tcp) {
      oc.transfer = true;
      return 0;
    }
    if (q.qtype == kTypeAxfr) {
      rcode = kRcodeNotImp;
    } else {
      oc.truncated = true;
      const size_t n = q.question_end;
      std::memcpy(out.data(), query.data(), n);
      out[2] = static_cast<uint8_t>(kFlagQr | kFlagTc | (q.flags1 & kFlagRd));
      out[3] = 0;
      write_u16(out.data() + 6, 0);
      write_u16(out.data() + 8, 0);
      write_u16(out.data() + 10, 0);
      return n;
    }
  } else {
    auto r = snapshot.lookup(view, q.name(), q.qtype);
    oc.lookup = r.kind;
    if (r.kind == zones::Lookup::Refused) {
      if (snapshot.has_forwarders() && client.may_forward) {
        oc.forward = true;
        return 0;
      }
      rcode = kRcodeRefused;
    } else {
      answer = r.answer;
      rcode = answer->rcode;
      aa = true;
    }
  }
  oc.rcode = rcode;

  size_t limit = out.size();
  if (client.transport == Transport::Udp) {
    size_t udp = q.edns ? std::clamp<size_t>(q.udp_size, kClassicUdpSize, kEdnsUdpSize) : kClassicUdpSize;
    limit = std::min(limit, udp);
  }
  limit = std::min<size_t>(limit, 65535);

  const size_t question_len = q.question_end - kHeaderSize;
  const size_t opt_len = q.edns ? kOptRrSize + (with_ecs ? 8 + ecs.address_length : 0) : 0;
  std::string_view tail = answer ? snapshot.bytes(*answer) : std::string_view();
  bool tc = kHeaderSize + question_len + tail.size() + opt_len > limit;
  if (tc) {
    tail = {};
    oc.truncated = true;
    if (kHeaderSize + question_len + opt_len > limit) return header_only(query, kRcodeServFail, out);
  }

  uint8_t* p = out.data();
  p[0] = query[0];
  p[1] = query[1];
  p[2] = static_cast<uint8_t>(kFlagQr | (q.flags1 & kFlagRd) | (aa ? kFlagAa : 0) | (tc ? kFlagTc : 0));
  p[3] = static_cast<uint8_t>((q.flags2 & kFlagCd) | (rcode & 0x0F));
  write_u16(p + 4, 1);
  write_u16(p + 6, answer && !tc ? answer->ancount : 0);
  write_u16(p + 8, answer && !tc ? answer->nscount : 0);
  write_u16(p + 10, static_cast<uint16_t>((answer && !tc ? answer->arcount : 0) + (q.edns ? 1 : 0)));
  size_t n = kHeaderSize;
  std::memcpy(p + n, query.data() + kHeaderSize, question_len);  // echoed as sent: case preserved
  n += question_len;
  if (!tail.empty()) std::memcpy(p + n, tail.data(), tail.size());  // memcpy from a null data() is UB even for 0 bytes
  n += tail.size();
  if (q.edns) n += write_opt(p + n, rcode, q.edns_flags, with_ecs ? &ecs : nullptr);
  return n;
}

size_t servfail(std::span<const uint8_t> query, std::span<uint8_t> out) {
  Query q;
  if (parse_query(query, q) != ParseResult::Ok) return header_only(query, kRcodeServFail, out);
  const size_t question_len = q.question_end - kHeaderSize;
  uint8_t* p = out.data();
  p[0] = query[0];
  p[1] = query[1];
  p[2] = static_cast<uint8_t>(kFlagQr | (q.flags1 & kFlagRd));
  p[3] = static_cast<uint8_t>((q.flags2 & kFlagCd) | kRcodeServFail);
  write_u16(p + 4, 1);
  write_u16(p + 6, 0);
  write_u16(p + 8, 0);
  write_u16(p + 10, q.edns ? 1 : 0);
  std::memcpy(p + kHeaderSize, query.data() + kHeaderSize, question_len);
  size_t n = kHeaderSize + question_len;
  if (q.edns) n += write_opt(p + n, kRcodeServFail, q.edns_flags);
  return n;
}

}  // namespace vpced::dns
