// One verification check of one target over a Transport: finds the servers of each candidate domain, asks
// them for the TXT record, and reports per server and candidate what came back (design §6).
//
//  - authoritative mode (default): the servers of a candidate are the addresses of the NS set of its
//    closest enclosing zone, found through verify.resolvers (RD=1); each is asked directly with RD=0 and
//    must answer with AA=1. The record counts as published at a candidate only when every one of them
//    serves it (a stale secondary keeps the name pending).
//  - verify.nameservers pins a domain's servers: a key equal to the candidate or an ancestor of it (the
//    longest wins) replaces NS discovery, in either mode. Pinned servers are asked like discovered ones
//    (RD=0, AA=1 required, every one must serve the record).
//  - recursive mode: verify.resolvers are asked with RD=1 (tried in order, as one server).
//  - A CNAME at the record name is followed once: the target's TXT counts when the answer carries it, or
//    when every server of the target's own zone serves it. A CNAME at the target is not followed.
//  - When nothing matched, the bare candidates are asked too, only to explain: a value published there
//    (AWS's fallback for DNS hosts without underscores) is reported, not accepted.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "verify/target.hpp"
#include "verify/transport.hpp"
#include "zones/config.hpp"
#include "zones/verification_state.hpp"

namespace vpced::verify {

enum class Outcome {
  Match,             // a TXT record equals the token value
  Different,         // TXT records, none equal (values shown)
  NoData,            // the name exists, no TXT
  NxDomain,
  Timeout,           // no answer (transport timeout or failure)
  ServFail,
  Refused,
  OtherRcode,        // FORMERR, NOTIMP, … (named in the note)
  NotAuthoritative,  // authoritative mode, AA=0: a referral or a lame server
  Truncated,         // TC=1 even after the transport's TCP retry
  Malformed,         // the parser refused the answer (why in the note)
  Cname,             // a CNAME whose target was asked separately (the target's lines follow)
  CnameChain,        // the CNAME target is itself a CNAME: not followed
  NameTooLong,       // the record name exceeds 255 octets
  NoServers,         // no servers could be found for the domain (why in the note)
};
std::string_view to_string(Outcome o);  // "match", "different", "NODATA", "NXDOMAIN", "timeout", "SERVFAIL", …

struct ReportLine {
  std::string candidate;            // the candidate domain the line belongs to
  std::string record;               // the name asked
  std::string server;               // "192.0.2.1:53 (ns1.example.com)", "192.0.2.1:53 (pinned)", "resolvers …"
  Outcome outcome = Outcome::Timeout;
  std::vector<std::string> values;  // other TXT values found, shown (escaped, ≤ 80 characters each)
  std::string note;
};

struct CheckReport {
  bool matched = false;
  std::string matched_record;     // the record that matched on every server asked
  std::string matched_candidate;
  std::vector<std::string> notes;  // how servers were found, and why they could not be
  std::vector<ReportLine> lines;
  std::vector<std::string> hints;
  size_t queries = 0;             // DNS queries this check sent

  // For people: a verdict line, then the notes, one line per server and record, and the hints
  // (at most kMaxReasonLines in all).
  std::vector<std::string> reasons(const Target& target) const;
  std::vector<zones::VerificationDetail> details() const;
};

inline constexpr size_t kMaxReasonLines = 200;
inline constexpr size_t kMaxNsNames = 13;        // NS names of one zone looked up (a referral holds ≤ 13)
inline constexpr size_t kMaxAddressesPerNs = 4;
inline constexpr size_t kMaxServersPerZone = 32;

using CheckDone = std::function<void(CheckReport)>;

// Runs one check. `done` runs exactly once: normally from a transport callback, but inside run_check when
// no query is needed (no servers configured). `transport` must outlive the check.
void run_check(Transport& transport, const Target& target, const zones::VerifyConfig& config, CheckDone done);

}  // namespace vpced::verify
