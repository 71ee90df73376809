// Building verifier queries and parsing untrusted responses within fixed bounds (RFC 1035 §4, RFC 6891).
#include "verify/message.hpp"

namespace vpced::verify {

namespace {

uint16_t get16(std::span<const uint8_t> m, size_t at) { return static_cast<uint16_t>(m[at] << 8 | m[at + 1]); }

void put16(std::vector<uint8_t>& out, uint16_t v) {
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v));
}

void put32(std::vector<uint8_t>& out, uint32_t v) {
  put16(out, static_cast<uint16_t>(v >> 16));
  put16(out, static_cast<uint16_t>(v));
}

bool plain_name_byte(uint8_t b) {
  return (b >= 'a' && b <= 'z') || (b >= '0' && b <= '9') || b == '-' || b == '_' || b == '*';
}

void append_escaped_label(std::string& out, std::span<const uint8_t> label) {
  for (uint8_t b : label) {
    if (b >= 'A' && b <= 'Z') b = static_cast<uint8_t>(b - 'A' + 'a');
    if (plain_name_byte(b)) {
      out.push_back(static_cast<char>(b));
    } else {
      out.push_back('\\');
      out.push_back(static_cast<char>('0' + b / 100));
      out.push_back(static_cast<char>('0' + b / 10 % 10));
      out.push_back(static_cast<char>('0' + b % 10));
    }
  }
}

// Reads the name at `pos`. `next` becomes the offset just after the name where it sits (after its first
// pointer, if any). Every pointer must point strictly before the previous one's target (and the first one
// before the name itself): compression only refers back to earlier names (RFC 1035 §4.1.4), and strictly
// decreasing targets make loops impossible.
ParseResult read_name(std::span<const uint8_t> m, size_t pos, std::string* out, size_t& next) {
  if (out) out->clear();
  size_t cur = pos;
  size_t limit = pos;
  size_t wire = 0;
  bool jumped = false;
  for (;;) {
    if (cur >= m.size()) return ParseResult::Truncated;
    const uint8_t len = m[cur];
    if ((len & 0xC0) == 0xC0) {
      if (cur + 1 >= m.size()) return ParseResult::Truncated;
      const size_t target = static_cast<size_t>(len & 0x3F) << 8 | m[cur + 1];
      if (!jumped) next = cur + 2;
      if (target >= limit) return ParseResult::BadName;
      limit = target;
      cur = target;
      jumped = true;
      continue;
    }
    if (len & 0xC0) return ParseResult::BadName;  // 0x40 (RFC 6891 extended labels) and 0x80: obsolete/unknown
    if (len == 0) {
      if (wire + 1 > kMaxNameWire) return ParseResult::BadName;
      if (!jumped) next = cur + 1;
      return ParseResult::Ok;
    }
    if (cur + 1 + len > m.size()) return ParseResult::Truncated;
    wire += 1u + len;
    if (wire + 1 > kMaxNameWire) return ParseResult::BadName;
    if (out) {
      if (!out->empty()) out->push_back('.');
      append_escaped_label(*out, m.subspan(cur + 1, len));
    }
    cur += 1u + len;
  }
}

void put_name(std::vector<uint8_t>& out, std::string_view name) {
  auto wire = encode_name(name);
  if (wire) {
    out.insert(out.end(), wire->begin(), wire->end());
  } else {
    out.push_back(0);  // a builder for tests: an unencodable name becomes the root rather than a throw
  }
}

void put_rr(std::vector<uint8_t>& out, const RrSpec& rr) {
  put_name(out, rr.owner);
  put16(out, rr.type);
  put16(out, kClassIn);
  put32(out, rr.ttl);
  put16(out, static_cast<uint16_t>(rr.rdata.size()));
  out.insert(out.end(), rr.rdata.begin(), rr.rdata.end());
}

template <class T>
void keep(std::vector<T>& list, T item, bool& capped) {
  if (list.size() >= kMaxRecordsPerList) {
    capped = true;
    return;
  }
  list.push_back(std::move(item));
}

ParseResult parse(std::span<const uint8_t> m, const Expected* expected, Response& out) {
  out = Response{};
  if (m.size() < kHeaderSize) return ParseResult::TooShort;
  if (m.size() > kMaxMessageSize) return ParseResult::TooLong;
  out.id = get16(m, 0);
  const uint8_t f1 = m[2], f2 = m[3];
  if (!(f1 & 0x80)) return ParseResult::NotResponse;
  if ((f1 >> 3 & 0x0F) != 0) return ParseResult::BadOpcode;
  out.aa = f1 & 0x04;
  out.tc = f1 & 0x02;
  out.rd = f1 & 0x01;
  out.ra = f2 & 0x80;
  out.rcode = f2 & 0x0F;
  out.qdcount = get16(m, 4);
  const size_t an = get16(m, 6), ns = get16(m, 8), ar = get16(m, 10);
  if (expected && out.id != expected->id) return ParseResult::IdMismatch;
  if (out.qdcount > 1) return ParseResult::QuestionMismatch;

  size_t pos = kHeaderSize;
  if (out.qdcount == 1) {
    size_t next = 0;
    if (auto r = read_name(m, pos, &out.qname, next); r != ParseResult::Ok) return r;
    if (next + 4 > m.size()) return ParseResult::Truncated;
    out.qtype = get16(m, next);
    const uint16_t qclass = get16(m, next + 2);
    pos = next + 4;
    if (expected && (out.qname != expected->qname || out.qtype != expected->qtype || qclass != kClassIn))
      return ParseResult::QuestionMismatch;
  } else if (expected && out.rcode == kRcodeNoError) {
    return ParseResult::QuestionMismatch;  // a NOERROR answer to no question answers nothing we asked
  }

  std::string owner, target;
  const size_t total = an + ns + ar;
  for (size_t i = 0; i < total; ++i) {
    const bool in_answer = i < an;
    const bool in_authority = !in_answer && i < an + ns;
    size_t next = 0;
    if (auto r = read_name(m, pos, &owner, next); r != ParseResult::Ok) return r;
    if (next + 10 > m.size()) return ParseResult::Truncated;
    const uint16_t type = get16(m, next);
    const uint16_t cls = get16(m, next + 2);
    const size_t rdlen = get16(m, next + 8);
    const size_t rd = next + 10;
    if (rd + rdlen > m.size()) return ParseResult::Truncated;
    const size_t end = rd + rdlen;
    pos = end;
    ++out.records;
    if (type == kTypeOpt || cls != kClassIn) continue;
    if (!in_answer && !in_authority) continue;  // additional: glue is not used, we ask the resolvers for addresses
    switch (type) {
      case kTypeTxt: {
        if (!in_answer) break;
        TxtRecord t;
        t.owner = owner;
        for (size_t p = rd; p < end;) {
          const size_t len = m[p];
          if (p + 1 + len > end) return ParseResult::BadRecord;
          const size_t room = kMaxTxtKept - t.text.size();
          if (len > room) t.truncated = true;
          t.text.append(reinterpret_cast<const char*>(m.data() + p + 1), std::min(len, room));
          ++t.strings;
          p += 1 + len;
        }
        if (t.truncated) out.capped = true;
        keep(out.txt, std::move(t), out.capped);
        break;
      }
      case kTypeCname:
      case kTypeNs: {
        size_t after = 0;
        if (auto r = read_name(m.first(end), rd, &target, after); r != ParseResult::Ok)
          return r == ParseResult::Truncated ? ParseResult::BadRecord : r;
        if (after != end) return ParseResult::BadRecord;
        NameRecord n{owner, target};
        if (type == kTypeCname && in_answer) keep(out.cname, std::move(n), out.capped);
        else if (type == kTypeNs && in_answer) keep(out.ns, std::move(n), out.capped);
        else if (type == kTypeNs) keep(out.authority_ns, std::move(n), out.capped);
        break;
      }
      case kTypeA: {
        if (rdlen != 4) return ParseResult::BadRecord;
        if (!in_answer) break;
        const uint32_t v = static_cast<uint32_t>(m[rd]) << 24 | static_cast<uint32_t>(m[rd + 1]) << 16 |
                           static_cast<uint32_t>(m[rd + 2]) << 8 | m[rd + 3];
        keep(out.a, ARecord{owner, zones::Ipv4{v}}, out.capped);
        break;
      }
      case kTypeSoa:
        if (in_authority) keep(out.soa, owner, out.capped);
        break;
      default:
        break;
    }
  }
  return ParseResult::Ok;
}

}  // namespace

std::string_view to_string(ParseResult r) {
  switch (r) {
    case ParseResult::Ok: return "ok";
    case ParseResult::TooShort: return "shorter than a DNS header";
    case ParseResult::TooLong: return "longer than 65535 bytes";
    case ParseResult::NotResponse: return "not a response (QR=0)";
    case ParseResult::BadOpcode: return "opcode is not QUERY";
    case ParseResult::IdMismatch: return "ID does not match the query";
    case ParseResult::QuestionMismatch: return "question does not match the query";
    case ParseResult::BadName: return "malformed name";
    case ParseResult::Truncated: return "message ends inside a field";
    case ParseResult::BadRecord: return "malformed record data";
  }
  return "unknown";
}

std::optional<std::vector<uint8_t>> encode_name(std::string_view name) {
  std::vector<uint8_t> out;
  if (name.ends_with('.') && !name.ends_with("\\.")) name.remove_suffix(1);
  if (name.empty()) return std::vector<uint8_t>{0};
  std::vector<uint8_t> label;
  auto flush = [&]() -> bool {
    if (label.empty() || label.size() > kMaxLabel) return false;
    out.push_back(static_cast<uint8_t>(label.size()));
    out.insert(out.end(), label.begin(), label.end());
    label.clear();
    return true;
  };
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    if (c == '.') {
      if (!flush()) return std::nullopt;
      continue;
    }
    if (c == '\\') {
      if (i + 1 >= name.size()) return std::nullopt;
      if (name[i + 1] >= '0' && name[i + 1] <= '9') {  // \DDD
        int v = 0;
        for (size_t k = 1; k <= 3; ++k) {
          if (i + k >= name.size() || name[i + k] < '0' || name[i + k] > '9') return std::nullopt;
          v = v * 10 + (name[i + k] - '0');
        }
        if (v > 255) return std::nullopt;
        label.push_back(static_cast<uint8_t>(v));
        i += 3;
      } else {  // \X
        label.push_back(static_cast<uint8_t>(name[++i]));
      }
      continue;
    }
    label.push_back(static_cast<uint8_t>(c));
  }
  if (!flush()) return std::nullopt;
  out.push_back(0);
  if (out.size() > kMaxNameWire) return std::nullopt;
  return out;
}

std::optional<std::vector<uint8_t>> build_query(uint16_t id, std::string_view qname, uint16_t qtype, bool rd) {
  auto name = encode_name(qname);
  if (!name) return std::nullopt;
  std::vector<uint8_t> q;
  q.reserve(kHeaderSize + name->size() + 4 + 11);
  put16(q, id);
  q.push_back(rd ? 0x01 : 0x00);  // QR=0, opcode QUERY, AA/TC=0, RD as asked
  q.push_back(0x00);              // RA=0, Z=0, RCODE=0
  put16(q, 1);                    // QDCOUNT
  put16(q, 0);                    // ANCOUNT
  put16(q, 0);                    // NSCOUNT
  put16(q, 1);                    // ARCOUNT: the OPT RR
  q.insert(q.end(), name->begin(), name->end());
  put16(q, qtype);
  put16(q, kClassIn);
  q.push_back(0);                 // OPT owner: root
  put16(q, kTypeOpt);
  put16(q, kEdnsPayload);         // CLASS = requestor's UDP payload size
  put32(q, 0);                    // extended RCODE 0, version 0, DO=0
  put16(q, 0);                    // RDLENGTH
  return q;
}

std::optional<Question> parse_query(std::span<const uint8_t> msg) {
  if (msg.size() < kHeaderSize || msg.size() > kMaxMessageSize) return std::nullopt;
  if (msg[2] & 0x80) return std::nullopt;
  if (get16(msg, 4) != 1) return std::nullopt;
  Question q;
  q.id = get16(msg, 0);
  q.rd = msg[2] & 0x01;
  size_t next = 0;
  if (read_name(msg, kHeaderSize, &q.qname, next) != ParseResult::Ok) return std::nullopt;
  if (next + 4 > msg.size()) return std::nullopt;
  q.qtype = get16(msg, next);
  q.qclass = get16(msg, next + 2);
  return q;
}

ParseResult parse_response(std::span<const uint8_t> msg, const Expected& expected, Response& out) {
  return parse(msg, &expected, out);
}

ParseResult parse_response(std::span<const uint8_t> msg, Response& out) { return parse(msg, nullptr, out); }

RrSpec txt_rr(std::string owner, const std::vector<std::string>& strings) {
  RrSpec rr{std::move(owner), kTypeTxt, 300, {}};
  for (const auto& s : strings) {
    const size_t len = std::min<size_t>(s.size(), 255);
    rr.rdata.push_back(static_cast<uint8_t>(len));
    rr.rdata.insert(rr.rdata.end(), s.begin(), s.begin() + static_cast<std::ptrdiff_t>(len));
  }
  return rr;
}

RrSpec name_rr(std::string owner, uint16_t type, std::string_view target) {
  RrSpec rr{std::move(owner), type, 300, {}};
  put_name(rr.rdata, target);
  return rr;
}

RrSpec a_rr(std::string owner, zones::Ipv4 address) {
  RrSpec rr{std::move(owner), kTypeA, 300, {}};
  put32(rr.rdata, address.value);
  return rr;
}

RrSpec soa_rr(std::string owner) {
  RrSpec rr{owner, kTypeSoa, 300, {}};
  put_name(rr.rdata, "ns1." + owner);
  put_name(rr.rdata, "hostmaster." + owner);
  for (uint32_t v : {1u, 3600u, 600u, 86400u, 60u}) put32(rr.rdata, v);  // serial refresh retry expire minimum
  return rr;
}

std::vector<uint8_t> build_response(std::span<const uint8_t> query, const ResponseSpec& spec) {
  const auto q = parse_query(query);
  std::vector<uint8_t> r;
  put16(r, q ? q->id : 0);
  r.push_back(static_cast<uint8_t>(0x80 | (spec.aa ? 0x04 : 0) | (spec.tc ? 0x02 : 0) | (q && q->rd ? 0x01 : 0)));
  r.push_back(static_cast<uint8_t>(0x80 | (spec.rcode & 0x0F)));
  put16(r, q ? 1 : 0);
  put16(r, static_cast<uint16_t>(spec.answer.size()));
  put16(r, static_cast<uint16_t>(spec.authority.size()));
  put16(r, static_cast<uint16_t>(spec.additional.size()));
  if (q) {
    put_name(r, q->qname);
    put16(r, q->qtype);
    put16(r, q->qclass);
  }
  for (const auto& rr : spec.answer) put_rr(r, rr);
  for (const auto& rr : spec.authority) put_rr(r, rr);
  for (const auto& rr : spec.additional) put_rr(r, rr);
  return r;
}

}  // namespace vpced::verify
