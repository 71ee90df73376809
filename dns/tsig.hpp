// TSIG (RFC 8945): keys read from secret files, request verification and response signing with OpenSSL HMAC.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dns/wire.hpp"

namespace vpced::dns {

inline constexpr uint8_t kRcodeNotAuth = 9;
// TSIG error codes (RFC 8945 §3, the TSIG RR's Error field).
inline constexpr uint16_t kTsigBadSig = 16, kTsigBadKey = 17, kTsigBadTime = 18, kTsigBadTrunc = 22;

struct TsigKey {
  std::string name;                // presentation, lowercase, no trailing dot
  std::vector<uint8_t> name_wire;  // lowercase wire form
  std::string algorithm;           // "hmac-sha256", ...
  std::vector<uint8_t> secret;
  std::string view;                // a VPC id, or empty: the public zone
};

// Reads a secret file: a BIND/tsig-keygen `key "n" { algorithm …; secret "BASE64"; };` block, or one bare
// base64 line. Returns nullopt with `error` set when the file is unreadable, empty or not base64; sets
// `warning` when it is readable by group or others.
std::optional<std::vector<uint8_t>> read_tsig_secret(const std::filesystem::path& file, std::string& error,
                                                    std::string& warning);

std::vector<uint8_t> base64_decode(std::string_view text, bool& ok);
std::string base64_encode(std::span<const uint8_t> bytes);
// "name." or "name" → lowercase wire form.
std::vector<uint8_t> name_to_wire(std::string_view name);

enum class TsigStatus { Unsigned, Ok, BadKey, BadSig, BadTime, FormErr };
std::string_view to_string(TsigStatus s);

// What verification found in a query's last additional record.
struct TsigRequest {
  TsigStatus status = TsigStatus::Unsigned;
  const TsigKey* key = nullptr;         // the matching key (Ok, BadSig, BadTime)
  std::vector<uint8_t> key_name;        // as sent (lowercase wire), for error answers
  std::vector<uint8_t> algorithm_wire;  // as sent (lowercase wire)
  std::vector<uint8_t> mac;             // the request MAC, which the first response covers
  uint16_t original_id = 0;
  uint64_t time_signed = 0;
  uint16_t fudge = 0;
  size_t unsigned_length = 0;           // the query without its TSIG RR
};

// Verifies the TSIG of `query` (if any) against `keys` at `now` (Unix seconds); fudge per the request.
TsigRequest verify_tsig(std::span<const uint8_t> query, std::span<const TsigKey> keys, uint64_t now);

// Signs the messages of one response stream (RFC 8945 §5.3): the first covers the request MAC and all TSIG
// variables, each later one the previous MAC and the timers only (§5.3.1). Every message is signed.
class TsigSigner {
 public:
  TsigSigner(const TsigKey& key, const TsigRequest& request)
      : key_(key), prior_(request.mac), id_(request.original_id), request_time_(request.time_signed),
        request_fudge_(request.fudge) {}
  // Appends the TSIG RR to the message in `msg` (ARCOUNT incremented). A BADTIME answer (§5.2.3) carries the
  // request's time signed and fudge, and `now` as the 48-bit Other Data, so that the client can verify it and
  // learn the server's clock.
  void sign(std::vector<uint8_t>& msg, uint64_t now, uint16_t error = 0);

 private:
  const TsigKey& key_;
  std::vector<uint8_t> prior_;
  uint16_t id_;
  uint64_t request_time_;
  uint16_t request_fudge_;
  bool first_ = true;
};

// Signs a request (RFC 8945 §4.3, no prior MAC; original ID = the message's ID): appends the TSIG RR. Used for
// NOTIFY (dns/notify.cpp).
void sign_request(std::vector<uint8_t>& msg, const TsigKey& key, uint64_t now);

// Appends an unsigned TSIG RR (MAC size 0) carrying `error` — the answer to BADKEY/BADSIG (RFC 8945 §5.2).
void append_tsig_error(std::vector<uint8_t>& msg, const TsigRequest& request, uint64_t now, uint16_t error);

// HMAC of `data` with a named algorithm; empty when the algorithm is unknown.
std::vector<uint8_t> hmac(std::string_view algorithm, std::span<const uint8_t> secret, std::span<const uint8_t> data);

}  // namespace vpced::dns
