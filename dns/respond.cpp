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

size_t write_opt(uint8_t* p, uint16_t extended_rcode, uint16_t client_flags) {
  p[0] = 0;  // root owner
  write_u16(p + 1, kTypeOpt);
  write_u16(p + 3, kEdnsUdpSize);
  p[5] = static_cast<uint8_t>(extended_rcode >> 4);  // RFC 6891 §6.1.3: upper 8 bits of the 12-bit rcode
  p[6] = 0;                                         // version 0
  write_u16(p + 7, client_flags & kEdnsFlagDo);     // DO is echoed (RFC 3225 §3)
  write_u16(p + 9, 0);
  return kOptRrSize;
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
    case ParseResult::NotImp: oc.rcode = kRcodeNotImp; return header_only(query, kRcodeNotImp, out);
    case ParseResult::Ok: break;
  }

  oc.qtype = q.qtype;
  const uint32_t view = client.listener_view >= 0 ? static_cast<uint32_t>(client.listener_view)
                                                  : snapshot.view_for_client(client.address);
  oc.view = static_cast<int32_t>(view);
  uint16_t rcode = kRcodeNoError;
  bool aa = false;
  const zones::CompiledAnswer* answer = nullptr;
  if (q.edns && q.edns_version > 0) {
    rcode = kRcodeBadVers;  // RFC 6891 §6.1.3, answered with OPT version 0 and no question data
  } else if (q.qclass != kClassIn && q.qclass != kClassAny) {
    rcode = kRcodeRefused;
  } else if (q.qtype == kTypeAxfr || q.qtype == kTypeIxfr) {
    // Zone transfers are TCP-only (RFC 5936 §4.2); not offered yet, so refused over TCP.
    rcode = client.transport == Transport::Udp ? kRcodeNotImp : kRcodeRefused;
  } else {
    auto r = snapshot.lookup(view, q.name(), q.qtype);
    oc.lookup = r.kind;
    if (r.kind == zones::Lookup::Refused) {
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
  const size_t opt_len = q.edns ? kOptRrSize : 0;
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
  std::memcpy(p + n, tail.data(), tail.size());
  n += tail.size();
  if (q.edns) n += write_opt(p + n, rcode, q.edns_flags);
  return n;
}

}  // namespace vpced::dns
