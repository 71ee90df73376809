// TSIG (RFC 8945) with OpenSSL HMAC: secret files, request verification, signing of response streams.
#include "dns/tsig.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>

#include "dns/wire.hpp"

namespace vpced::dns {

namespace {

constexpr uint16_t kClassAnyTsig = 255;
constexpr uint16_t kDefaultFudge = 300;  // RFC 8945 §10

const EVP_MD* digest_of(std::string_view algorithm) {
  if (algorithm == "hmac-md5") return EVP_md5();
  if (algorithm == "hmac-sha1") return EVP_sha1();
  if (algorithm == "hmac-sha224") return EVP_sha224();
  if (algorithm == "hmac-sha256") return EVP_sha256();
  if (algorithm == "hmac-sha384") return EVP_sha384();
  if (algorithm == "hmac-sha512") return EVP_sha512();
  return nullptr;
}

// The algorithm's domain name (RFC 8945 §6): hmac-md5 keeps its historic long name.
std::vector<uint8_t> algorithm_wire(std::string_view algorithm) {
  return name_to_wire(algorithm == "hmac-md5" ? "hmac-md5.sig-alg.reg.int" : algorithm);
}

// Reads a possibly compressed name at `pos` into lowercase wire form; advances `pos` past it in place.
bool read_name(std::span<const uint8_t> p, size_t& pos, std::vector<uint8_t>& out) {
  out.clear();
  size_t at = pos;
  bool jumped = false;
  for (int hops = 0; hops < 64; ++hops) {
    if (at >= p.size()) return false;
    const uint8_t len = p[at];
    if ((len & 0xC0) == 0xC0) {
      if (at + 2 > p.size()) return false;
      if (!jumped) pos = at + 2;
      jumped = true;
      at = ((len & 0x3F) << 8) | p[at + 1];
      continue;
    }
    if (len & 0xC0) return false;
    if (at + 1 + len > p.size() || out.size() + len + 1 > kMaxNameWire) return false;
    out.push_back(len);
    for (size_t i = 0; i < len; ++i) out.push_back(static_cast<uint8_t>(std::tolower(p[at + 1 + i])));
    at += 1 + len;
    if (len == 0) {
      if (!jumped) pos = at;
      return true;
    }
  }
  return false;
}

void put16(std::vector<uint8_t>& v, uint16_t x) {
  v.push_back(static_cast<uint8_t>(x >> 8));
  v.push_back(static_cast<uint8_t>(x));
}
void put48(std::vector<uint8_t>& v, uint64_t x) {
  for (int s = 40; s >= 0; s -= 8) v.push_back(static_cast<uint8_t>(x >> s));
}
void append(std::vector<uint8_t>& v, std::span<const uint8_t> b) { v.insert(v.end(), b.begin(), b.end()); }

// Appends a TSIG RR; `mac` may be empty (error answers).
void append_tsig_rr(std::vector<uint8_t>& msg, std::span<const uint8_t> key_name, std::span<const uint8_t> alg,
                    uint64_t time_signed, std::span<const uint8_t> mac, uint16_t original_id, uint16_t error,
                    std::span<const uint8_t> other, uint16_t fudge = kDefaultFudge) {
  append(msg, key_name);
  put16(msg, kTypeTsig);
  put16(msg, kClassAnyTsig);
  put16(msg, 0);
  put16(msg, 0);  // TTL 0
  const size_t rdlen = alg.size() + 6 + 2 + 2 + mac.size() + 2 + 2 + 2 + other.size();
  put16(msg, static_cast<uint16_t>(rdlen));
  append(msg, alg);
  put48(msg, time_signed);
  put16(msg, fudge);
  put16(msg, static_cast<uint16_t>(mac.size()));
  append(msg, mac);
  put16(msg, original_id);
  put16(msg, error);
  put16(msg, static_cast<uint16_t>(other.size()));
  append(msg, other);
  write_u16(msg.data() + 10, static_cast<uint16_t>(read_u16(msg.data() + 10) + 1));
}

}  // namespace

std::string_view to_string(TsigStatus s) {
  switch (s) {
    case TsigStatus::Unsigned: return "unsigned";
    case TsigStatus::Ok: return "ok";
    case TsigStatus::BadKey: return "badkey";
    case TsigStatus::BadSig: return "badsig";
    case TsigStatus::BadTime: return "badtime";
    case TsigStatus::FormErr: return "formerr";
  }
  return "unknown";
}

std::vector<uint8_t> name_to_wire(std::string_view name) {
  std::vector<uint8_t> out;
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  size_t start = 0;
  while (start < name.size()) {
    size_t dot = name.find('.', start);
    if (dot == std::string_view::npos) dot = name.size();
    out.push_back(static_cast<uint8_t>(dot - start));
    for (size_t i = start; i < dot; ++i) out.push_back(static_cast<uint8_t>(std::tolower(name[i])));
    start = dot + 1;
  }
  out.push_back(0);
  return out;
}

std::vector<uint8_t> base64_decode(std::string_view text, bool& ok) {
  std::string clean;
  for (char c : text)
    if (!std::isspace(static_cast<unsigned char>(c))) clean += c;
  ok = false;
  if (clean.empty() || clean.size() % 4 != 0) return {};
  std::vector<uint8_t> out(clean.size() / 4 * 3);
  int n = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(clean.data()), static_cast<int>(clean.size()));
  if (n < 0) return {};
  size_t pad = 0;
  if (clean.ends_with("==")) pad = 2;
  else if (clean.ends_with("=")) pad = 1;
  out.resize(static_cast<size_t>(n) - pad);
  ok = true;
  return out;
}

std::string base64_encode(std::span<const uint8_t> bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), bytes.data(), static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::optional<std::vector<uint8_t>> read_tsig_secret(const std::filesystem::path& file, std::string& error,
                                                    std::string& warning) {
  std::ifstream in(file);
  if (!in) {
    error = "cannot read TSIG secret file " + file.string();
    return std::nullopt;
  }
  struct stat st {};
  if (::stat(file.c_str(), &st) == 0 && (st.st_mode & (S_IRWXG | S_IRWXO)))
    warning = "TSIG secret file " + file.string() + " is accessible by group or others (chmod 600 it)";
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  // BIND's key file (what tsig-keygen prints): take the quoted value after `secret`.
  if (auto at = text.find("secret"); at != std::string::npos && text.find('{') != std::string::npos) {
    auto q1 = text.find('"', at);
    auto q2 = q1 == std::string::npos ? q1 : text.find('"', q1 + 1);
    if (q2 == std::string::npos) {
      error = "TSIG secret file " + file.string() + ": `secret` has no quoted value";
      return std::nullopt;
    }
    text = text.substr(q1 + 1, q2 - q1 - 1);
  }
  bool ok = false;
  auto secret = base64_decode(text, ok);
  if (!ok || secret.empty()) {
    error = "TSIG secret file " + file.string() + ": expected a base64 secret or a BIND key block";
    return std::nullopt;
  }
  return secret;
}

std::vector<uint8_t> hmac(std::string_view algorithm, std::span<const uint8_t> secret, std::span<const uint8_t> data) {
  const EVP_MD* md = digest_of(algorithm);
  if (!md) return {};
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (!HMAC(md, secret.data(), static_cast<int>(secret.size()), data.data(), data.size(), out, &len)) return {};
  return {out, out + len};
}

TsigRequest verify_tsig(std::span<const uint8_t> p, std::span<const TsigKey> keys, uint64_t now) {
  TsigRequest r;
  if (p.size() < kHeaderSize) return r;
  const unsigned qd = read_u16(&p[4]), an = read_u16(&p[6]), ns = read_u16(&p[8]), ar = read_u16(&p[10]);
  if (ar == 0) return r;
  size_t pos = kHeaderSize;
  std::vector<uint8_t> name;
  for (unsigned i = 0; i < qd; ++i) {
    if (!read_name(p, pos, name) || pos + 4 > p.size()) { r.status = TsigStatus::FormErr; return r; }
    pos += 4;
  }
  const unsigned records = an + ns + ar;
  for (unsigned i = 0; i < records; ++i) {
    const size_t rr_start = pos;
    if (!read_name(p, pos, name) || pos + 10 > p.size()) { r.status = TsigStatus::FormErr; return r; }
    const uint16_t type = read_u16(&p[pos]);
    const size_t rdlen = read_u16(&p[pos + 8]);
    const size_t rdata = pos + 10;
    if (rdata + rdlen > p.size()) { r.status = TsigStatus::FormErr; return r; }
    pos = rdata + rdlen;
    if (type != kTypeTsig) continue;
    // RFC 8945 §5.1: a TSIG anywhere but last is FORMERR.
    if (i + 1 != records || pos != p.size()) { r.status = TsigStatus::FormErr; return r; }
    r.key_name = name;
    r.unsigned_length = rr_start;
    size_t q = rdata;
    if (!read_name(p, q, r.algorithm_wire) || q + 10 > pos) { r.status = TsigStatus::FormErr; return r; }
    for (int k = 0; k < 6; ++k) r.time_signed = (r.time_signed << 8) | p[q + k];
    const uint16_t fudge = read_u16(&p[q + 6]);
    r.fudge = fudge;
    const size_t mac_len = read_u16(&p[q + 8]);
    q += 10;
    if (q + mac_len + 6 > pos) { r.status = TsigStatus::FormErr; return r; }
    r.mac.assign(p.begin() + static_cast<long>(q), p.begin() + static_cast<long>(q + mac_len));
    q += mac_len;
    r.original_id = read_u16(&p[q]);
    const size_t other_len = read_u16(&p[q + 4]);
    if (q + 6 + other_len != pos) { r.status = TsigStatus::FormErr; return r; }

    for (const auto& k : keys)
      if (k.name_wire == r.key_name && algorithm_wire(k.algorithm) == r.algorithm_wire) r.key = &k;
    if (!r.key) { r.status = TsigStatus::BadKey; return r; }
    // Digest: the message without the TSIG (ARCOUNT - 1, original ID), then the TSIG variables (§4.3.3).
    std::vector<uint8_t> d(p.begin(), p.begin() + static_cast<long>(rr_start));
    write_u16(d.data(), r.original_id);
    write_u16(d.data() + 10, static_cast<uint16_t>(ar - 1));
    append(d, r.key_name);
    put16(d, kClassAnyTsig);
    put16(d, 0);
    put16(d, 0);
    append(d, r.algorithm_wire);
    append(d, p.subspan(rdata + (q - rdata) - mac_len - 10, 8));  // time signed + fudge
    append(d, p.subspan(q + 2, 4 + other_len));                    // error, other len, other data
    auto expect = hmac(r.key->algorithm, r.key->secret, d);
    // §5.2.2: a truncated MAC must keep at least half the digest (and 10 octets); we accept only the full one.
    if (mac_len != expect.size() || CRYPTO_memcmp(expect.data(), r.mac.data(), mac_len) != 0) {
      r.status = TsigStatus::BadSig;
      r.mac.clear();
      return r;
    }
    const uint64_t skew = now > r.time_signed ? now - r.time_signed : r.time_signed - now;
    r.status = skew > fudge ? TsigStatus::BadTime : TsigStatus::Ok;
    return r;
  }
  return r;
}

void TsigSigner::sign(std::vector<uint8_t>& msg, uint64_t now, uint16_t error) {
  const auto alg = algorithm_wire(key_.algorithm);
  // §5.2.3: BADTIME carries the client's time signed and fudge, and the server's time as Other Data.
  const bool badtime = first_ && error == kTsigBadTime;
  const uint64_t time_signed = badtime ? request_time_ : now;
  const uint16_t fudge = badtime ? request_fudge_ : kDefaultFudge;
  std::vector<uint8_t> other;
  if (badtime) put48(other, now);
  std::vector<uint8_t> d;
  put16(d, static_cast<uint16_t>(prior_.size()));
  append(d, prior_);
  append(d, msg);
  if (first_) {
    append(d, key_.name_wire);
    put16(d, kClassAnyTsig);
    put16(d, 0);
    put16(d, 0);
    append(d, alg);
    put48(d, time_signed);
    put16(d, fudge);
    put16(d, error);
    put16(d, static_cast<uint16_t>(other.size()));
    append(d, other);
  } else {
    put48(d, now);  // §5.3.1: later messages cover the timers only
    put16(d, kDefaultFudge);
  }
  auto mac = hmac(key_.algorithm, key_.secret, d);
  append_tsig_rr(msg, key_.name_wire, alg, time_signed, mac, id_, error, other, fudge);
  prior_ = std::move(mac);
  first_ = false;
}

void sign_request(std::vector<uint8_t>& msg, const TsigKey& key, uint64_t now) {
  const auto alg = algorithm_wire(key.algorithm);
  std::vector<uint8_t> d(msg);
  append(d, key.name_wire);
  put16(d, kClassAnyTsig);
  put16(d, 0);
  put16(d, 0);
  append(d, alg);
  put48(d, now);
  put16(d, kDefaultFudge);
  put16(d, 0);  // error
  put16(d, 0);  // other len
  const auto mac = hmac(key.algorithm, key.secret, d);
  append_tsig_rr(msg, key.name_wire, alg, now, mac, read_u16(msg.data()), 0, {});
}

void append_tsig_error(std::vector<uint8_t>& msg, const TsigRequest& request, uint64_t now, uint16_t error) {
  append_tsig_rr(msg, request.key_name, request.algorithm_wire, now, {}, request.original_id, error, {});
}

}  // namespace vpced::dns
