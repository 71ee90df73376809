// Query parsing: header, question, and a walk over the other sections to find the OPT RR.
#include "dns/wire.hpp"

#include <algorithm>

namespace vpced::dns {

std::string_view to_string(ParseResult r) {
  switch (r) {
    case ParseResult::Ok: return "ok";
    case ParseResult::Drop: return "drop";
    case ParseResult::FormErr: return "formerr";
    case ParseResult::NotImp: return "notimp";
  }
  return "unknown";
}

namespace {

// Skips a possibly compressed name in a record; returns false when it runs off the end or is malformed.
bool skip_name(std::span<const uint8_t> p, size_t& pos, bool& is_root) {
  is_root = pos < p.size() && p[pos] == 0;
  size_t total = 0;
  while (pos < p.size()) {
    uint8_t len = p[pos];
    if ((len & 0xC0) == 0xC0) {
      if (pos + 2 > p.size()) return false;
      pos += 2;  // a pointer ends the name; where it points does not matter here
      return true;
    }
    if (len & 0xC0) return false;  // RFC 6891 §5: extended label types are not supported
    if (len == 0) {
      pos += 1;
      return true;
    }
    total += len + 1;
    if (total > kMaxNameWire) return false;
    pos += 1 + len;
  }
  return false;
}

}  // namespace

ParseResult parse_query(std::span<const uint8_t> p, Query& q) {
  if (p.size() < kHeaderSize) return ParseResult::Drop;
  q.id = read_u16(&p[0]);
  q.flags1 = p[2];
  q.flags2 = p[3];
  if (q.flags1 & kFlagQr) return ParseResult::Drop;
  q.opcode = (q.flags1 >> 3) & 0x0F;
  if (q.opcode != 0) return ParseResult::NotImp;
  const uint16_t qdcount = read_u16(&p[4]), ancount = read_u16(&p[6]), nscount = read_u16(&p[8]),
                 arcount = read_u16(&p[10]);
  if (qdcount != 1) return ParseResult::FormErr;

  size_t pos = kHeaderSize, n = 0;
  for (;;) {
    if (pos >= p.size()) return ParseResult::FormErr;
    uint8_t len = p[pos];
    if (len & 0xC0) return ParseResult::FormErr;  // pointers or extended labels in a query QNAME
    if (n + 1 + len > kMaxNameWire) return ParseResult::FormErr;
    if (pos + 1 + len > p.size()) return ParseResult::FormErr;
    q.lower_name[n++] = len;
    ++pos;
    if (len == 0) break;
    for (uint8_t i = 0; i < len; ++i) {
      uint8_t ch = p[pos++];
      q.lower_name[n++] = (ch >= 'A' && ch <= 'Z') ? static_cast<uint8_t>(ch + 32) : ch;
    }
  }
  q.name_length = n;
  if (pos + 4 > p.size()) return ParseResult::FormErr;
  q.qtype = read_u16(&p[pos]);
  q.qclass = read_u16(&p[pos + 2]);
  pos += 4;
  q.question_end = pos;

  q.edns = false;
  q.tsig = false;
  const unsigned records = unsigned{ancount} + nscount + arcount;
  for (unsigned i = 0; i < records; ++i) {
    bool root = false;
    if (!skip_name(p, pos, root)) return ParseResult::FormErr;
    if (pos + 10 > p.size()) return ParseResult::FormErr;
    const uint16_t type = read_u16(&p[pos]), rdlength = read_u16(&p[pos + 8]);
    if (type == kTypeOpt) {
      // RFC 6891 §6.1.1: one OPT, owner root, additional section only.
      if (i < unsigned{ancount} + nscount || q.edns || !root) return ParseResult::FormErr;
      q.edns = true;
      q.udp_size = read_u16(&p[pos + 2]);
      q.edns_version = p[pos + 5];
      q.edns_flags = read_u16(&p[pos + 6]);
      q.opt_rdata = pos + 10;
      q.opt_rdlength = rdlength;
    }
    if (type == kTypeTsig) q.tsig = true;
    pos += 10;
    if (pos + rdlength > p.size()) return ParseResult::FormErr;
    pos += rdlength;
  }
  if (pos != p.size()) return ParseResult::FormErr;  // trailing bytes (Knot's choice; see docs/dns.md)
  return ParseResult::Ok;
}

bool has_tsig(std::span<const uint8_t> p) {
  if (p.size() < kHeaderSize || read_u16(&p[10]) == 0) return false;
  const unsigned qd = read_u16(&p[4]);
  const unsigned records = unsigned{read_u16(&p[6])} + read_u16(&p[8]) + read_u16(&p[10]);
  size_t pos = kHeaderSize;
  bool root = false;
  for (unsigned i = 0; i < qd; ++i) {
    if (!skip_name(p, pos, root) || pos + 4 > p.size()) return false;
    pos += 4;
  }
  for (unsigned i = 0; i < records; ++i) {
    if (!skip_name(p, pos, root) || pos + 10 > p.size()) return false;
    if (read_u16(&p[pos]) == kTypeTsig) return true;
    pos += 10 + read_u16(&p[pos + 8]);
  }
  return false;
}

EcsResult find_client_subnet(std::span<const uint8_t> p, const Query& q, ClientSubnet& out) {
  if (!q.edns) return EcsResult::Absent;
  size_t pos = q.opt_rdata;
  const size_t end = q.opt_rdata + q.opt_rdlength;
  while (pos + 4 <= end) {
    const uint16_t code = read_u16(&p[pos]), len = read_u16(&p[pos + 2]);
    pos += 4;
    if (pos + len > end) return EcsResult::Invalid;
    if (code == kEdnsOptionEcs) {
      if (len < 4) return EcsResult::Invalid;
      out.family = read_u16(&p[pos]);
      out.source_prefix = p[pos + 2];
      out.scope_prefix = p[pos + 3];
      out.address_length = len - 4;
      const unsigned max_bits = out.family == 1 ? 32 : out.family == 2 ? 128 : 0;
      // RFC 7871 §6: SCOPE must be 0 in queries; ADDRESS holds exactly ceil(SOURCE/8) octets.
      if (max_bits == 0 || out.source_prefix > max_bits || out.scope_prefix != 0 ||
          out.address_length != (out.source_prefix + 7u) / 8)
        return EcsResult::Invalid;
      std::fill(std::begin(out.address), std::end(out.address), 0);
      std::copy(&p[pos + 4], &p[pos + 4] + out.address_length, out.address);
      if (out.source_prefix % 8 && out.address_length > 0 &&
          (out.address[out.address_length - 1] & (0xff >> (out.source_prefix % 8))) != 0)
        return EcsResult::Invalid;  // bits beyond SOURCE PREFIX-LENGTH must be zero
      return EcsResult::Ok;
    }
    pos += len;
  }
  return pos == end ? EcsResult::Absent : EcsResult::Invalid;
}

}  // namespace vpced::dns
