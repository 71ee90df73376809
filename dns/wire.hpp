// DNS message header and query parsing on the query path: no allocation, no ldns (RFC 1035 §4.1).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace vpced::dns {

inline constexpr size_t kHeaderSize = 12;
inline constexpr size_t kMaxNameWire = 255;     // RFC 1035 §2.3.4
inline constexpr size_t kMaxLabel = 63;
inline constexpr uint16_t kClassIn = 1, kClassAny = 255;
inline constexpr uint16_t kTypeA = 1, kTypeNs = 2, kTypeSoa = 6, kTypeAaaa = 28, kTypeOpt = 41, kTypeIxfr = 251,
                          kTypeAxfr = 252, kTypeAny = 255;
inline constexpr uint8_t kRcodeNoError = 0, kRcodeFormErr = 1, kRcodeServFail = 2, kRcodeNxDomain = 3,
                         kRcodeNotImp = 4, kRcodeRefused = 5;
inline constexpr uint16_t kRcodeBadVers = 16;  // RFC 6891 §6.1.3: extended RCODE 1, header RCODE 0
inline constexpr uint16_t kEdnsUdpSize = 1232;  // DNS flag day 2020
inline constexpr uint16_t kClassicUdpSize = 512;
inline constexpr size_t kOptRrSize = 11;

// Header flag bits (RFC 1035 §4.1.1, RFC 4035 §3.2 for AD/CD).
inline constexpr uint8_t kFlagQr = 0x80, kFlagAa = 0x04, kFlagTc = 0x02, kFlagRd = 0x01;
inline constexpr uint8_t kFlagRa = 0x80, kFlagAd = 0x20, kFlagCd = 0x10;
inline constexpr uint16_t kEdnsFlagDo = 0x8000;

enum class ParseResult {
  Ok,
  Drop,     // not worth an answer: shorter than a header, or a response (QR=1)
  FormErr,  // answer FORMERR
  NotImp,   // answer NOTIMP (opcode other than QUERY)
};
std::string_view to_string(ParseResult r);

struct Query {
  uint16_t id = 0;
  uint8_t flags1 = 0, flags2 = 0;  // header bytes 2 and 3 as received
  uint8_t opcode = 0;
  size_t question_end = 0;         // offset after QTYPE/QCLASS; the question is [12, question_end)
  uint8_t lower_name[kMaxNameWire];  // the QNAME in wire form, lowercased
  size_t name_length = 0;
  uint16_t qtype = 0, qclass = 0;
  bool edns = false;
  uint16_t udp_size = 0;
  uint8_t edns_version = 0;
  uint16_t edns_flags = 0;
  size_t opt_rdata = 0, opt_rdlength = 0;  // the OPT RR's options, as offsets into the packet
  bool tsig = false;                        // a TSIG RR (type 250) is among the records (RFC 8945)

  std::span<const uint8_t> name() const { return {lower_name, name_length}; }
};

// Parses a query. FORMERR: QDCOUNT != 1, a bad or truncated question (compression pointers are not accepted
// in a query's QNAME), truncated records, two OPT RRs or an OPT not at the root, bytes after the last record.
ParseResult parse_query(std::span<const uint8_t> packet, Query& q);

inline constexpr uint16_t kTypeTsig = 250;  // RFC 8945 §4.2
// Whether a message's records include a TSIG RR; no allocation. For messages parse_query does not walk
// (opcode other than QUERY).
bool has_tsig(std::span<const uint8_t> packet);

// EDNS Client Subnet (RFC 7871 §6).
inline constexpr uint16_t kEdnsOptionEcs = 8;
struct ClientSubnet {
  uint16_t family = 0;  // 1 IPv4, 2 IPv6
  uint8_t source_prefix = 0;
  uint8_t scope_prefix = 0;
  uint8_t address[16] = {};
  size_t address_length = 0;  // octets present in the option
};
enum class EcsResult { Absent, Ok, Invalid };
// Finds and validates the ECS option of a parsed query (RFC 7871 §7.1.1: a malformed one is FORMERR).
EcsResult find_client_subnet(std::span<const uint8_t> packet, const Query& q, ClientSubnet& out);

inline uint16_t read_u16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
inline void write_u16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}

}  // namespace vpced::dns
