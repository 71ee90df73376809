// DNS messages of the verifier: queries it sends (TXT, NS, A with the RD bit it chooses) and a defensive
// parser of the untrusted answers. Only what verification needs is kept, under fixed caps, so a hostile
// server cannot make us allocate much (ldns_wire2pkt would allocate ~200 MiB for one TXT of 16384 empty
// strings; this parser never keeps more than the caps below).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "zones/net.hpp"

namespace vpced::verify {

inline constexpr uint16_t kTypeA = 1;
inline constexpr uint16_t kTypeNs = 2;
inline constexpr uint16_t kTypeCname = 5;
inline constexpr uint16_t kTypeSoa = 6;
inline constexpr uint16_t kTypeTxt = 16;
inline constexpr uint16_t kTypeOpt = 41;
inline constexpr uint16_t kClassIn = 1;

inline constexpr uint8_t kRcodeNoError = 0;
inline constexpr uint8_t kRcodeFormErr = 1;
inline constexpr uint8_t kRcodeServFail = 2;
inline constexpr uint8_t kRcodeNxDomain = 3;
inline constexpr uint8_t kRcodeNotImp = 4;
inline constexpr uint8_t kRcodeRefused = 5;

inline constexpr size_t kHeaderSize = 12;
inline constexpr size_t kMaxMessageSize = 65535;     // the most TCP can carry (RFC 1035 §4.2.2)
inline constexpr size_t kMaxNameWire = 255;          // RFC 1035 §2.3.4
inline constexpr size_t kMaxLabel = 63;
inline constexpr size_t kMaxRecordsPerList = 64;     // records kept per type and section; more → capped
inline constexpr size_t kMaxTxtKept = 1024;          // bytes of one TXT record's joined strings kept
inline constexpr uint16_t kEdnsPayload = 1232;       // RFC 6891 §6.2.5, the DNS Flag Day 2020 value

// Presentation name ("a.example.com", no trailing dot; "\." and "\DDD" escapes allowed) → wire form.
// nullopt when a label is empty or longer than 63 octets, or the name is longer than 255 octets.
std::optional<std::vector<uint8_t>> encode_name(std::string_view name);

// A query: ID, RD as given (the verifier decides it; transports send the bytes unchanged), one question of
// class IN, and an OPT RR (RFC 6891: payload 1232, version 0, DO=0) so long TXT sets fit in UDP.
// nullopt when `qname` cannot be encoded.
std::optional<std::vector<uint8_t>> build_query(uint16_t id, std::string_view qname, uint16_t qtype, bool rd);

struct Question {
  uint16_t id = 0;
  bool rd = false;
  std::string qname;  // lowercase presentation form, no trailing dot; "" is the root
  uint16_t qtype = 0;
  uint16_t qclass = 0;
};
// The header and first question of a query (fake servers in tests, fuzzing). nullopt when malformed.
std::optional<Question> parse_query(std::span<const uint8_t> msg);

struct TxtRecord {
  std::string owner;
  std::string text;        // the record's strings concatenated (RFC 7208 §3.3 style), at most kMaxTxtKept bytes
  size_t strings = 0;      // how many strings the record had
  bool truncated = false;  // text is only the first kMaxTxtKept bytes
  bool operator==(const TxtRecord&) const = default;
};
struct NameRecord {        // CNAME, NS
  std::string owner;
  std::string target;
  bool operator==(const NameRecord&) const = default;
};
struct ARecord {
  std::string owner;
  zones::Ipv4 address;
  bool operator==(const ARecord&) const = default;
};

// What the verifier keeps of a response. Names are lowercase presentation form without a trailing dot;
// bytes other than letters, digits, '-', '_' and '*' are escaped as \DDD ('.' inside a label too).
struct Response {
  uint16_t id = 0;
  bool aa = false;
  bool tc = false;
  bool rd = false;
  bool ra = false;
  uint8_t rcode = 0;
  uint16_t qdcount = 0;
  std::string qname;
  uint16_t qtype = 0;
  // Answer section, class IN only.
  std::vector<TxtRecord> txt;
  std::vector<NameRecord> cname;
  std::vector<NameRecord> ns;
  std::vector<ARecord> a;
  // Authority section.
  std::vector<std::string> soa;       // owners of SOA records: the apex of the zone that answered
  std::vector<NameRecord> authority_ns;
  size_t records = 0;                 // resource records in all sections, OPT included
  bool capped = false;                // some records or text were dropped by the caps
};

enum class ParseResult {
  Ok,
  TooShort,          // less than a header
  TooLong,           // more than kMaxMessageSize
  NotResponse,       // QR = 0
  BadOpcode,         // opcode ≠ QUERY
  IdMismatch,
  QuestionMismatch,  // not the question we asked (or more than one)
  BadName,           // a label type other than 0 or a pointer, a forward or looping pointer, a name > 255 octets
  Truncated,         // the message ends inside a field
  BadRecord,         // RDATA inconsistent with RDLENGTH (an A of 3 bytes, a TXT string running past its RDATA)
};
std::string_view to_string(ParseResult r);

struct Expected {
  uint16_t id = 0;
  std::string_view qname;  // lowercase, no trailing dot
  uint16_t qtype = 0;
};

// Parses a response and checks it answers `expected` (ID, one question equal to ours; a response with an
// error RCODE may omit the question, as some servers do for FORMERR/REFUSED). Bytes after the last record
// are ignored, as resolvers do. Never reads out of bounds, never allocates more than the caps allow; `out`
// is only meaningful on Ok.
ParseResult parse_response(std::span<const uint8_t> msg, const Expected& expected, Response& out);
// The same without checking ID or question (fuzzing).
ParseResult parse_response(std::span<const uint8_t> msg, Response& out);

// --- Building answers: fake servers in tests and fuzz seeds -------------------------------------------------

struct RrSpec {
  std::string owner;
  uint16_t type = 0;
  uint32_t ttl = 300;
  std::vector<uint8_t> rdata;
};
RrSpec txt_rr(std::string owner, const std::vector<std::string>& strings);  // strings of ≤ 255 bytes
RrSpec name_rr(std::string owner, uint16_t type, std::string_view target);  // CNAME, NS
RrSpec a_rr(std::string owner, zones::Ipv4 address);
RrSpec soa_rr(std::string owner);

struct ResponseSpec {
  uint8_t rcode = kRcodeNoError;
  bool aa = true;
  bool tc = false;
  std::vector<RrSpec> answer;
  std::vector<RrSpec> authority;
  std::vector<RrSpec> additional;
};
// A response to `query`: its ID, RD and question echoed, QR set, names uncompressed.
std::vector<uint8_t> build_response(std::span<const uint8_t> query, const ResponseSpec& spec);

}  // namespace vpced::verify
