// libFuzzer target: TSIG verification (dns/tsig.hpp verify_tsig) and zone transfer requests (dns/transfer.hpp
// plan_transfer, TransferStream) on a snapshot of conf/example.toml with transfers allowed and four keys.
// The first input byte picks the source, the clock and the mode: raw (the bytes as sent) or signed (the bytes
// are the unsigned request and get a valid TSIG by one of the keys, so verification passes and the fuzzer
// reaches the transfer stream). Invariants: a request signed here and found intact verifies (Ok, or BadTime
// when signed outside the fudge); every response message is a response with the request's ID.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <span>
#include <vector>

#include "dns/transfer.hpp"
#include "dns/tsig.hpp"
#include "dns/wire.hpp"
#include "zones/load.hpp"

using namespace vpced;

namespace {

constexpr uint64_t kNow = 1700000000;
constexpr uint16_t kFudge = 300;

std::shared_ptr<const zones::Snapshot> g_snapshot;
std::vector<dns::TsigKey> g_keys;
std::unique_ptr<dns::TransferContext> g_context;

dns::TsigKey key(const char* name, const char* algorithm, const char* secret, const char* view) {
  bool ok = false;
  auto bytes = dns::base64_decode(secret, ok);
  if (!ok) std::abort();
  return {name, dns::name_to_wire(name), algorithm, bytes, view};
}

void put16(std::vector<uint8_t>& v, uint16_t x) {
  v.push_back(static_cast<uint8_t>(x >> 8));
  v.push_back(static_cast<uint8_t>(x));
}

void put48(std::vector<uint8_t>& v, uint64_t x) {
  for (int shift = 40; shift >= 0; shift -= 8) v.push_back(static_cast<uint8_t>(x >> shift));
}

// Appends a TSIG RR signing `msg` as a client would, independently of dns::sign_request (RFC 8945 §4.3.3:
// the message as it was before the TSIG, then the TSIG variables), ARCOUNT incremented.
void sign_as_client(std::vector<uint8_t>& msg, const dns::TsigKey& k, uint64_t time_signed) {
  // RFC 8945 §6: hmac-md5 keeps its historic long name.
  const std::vector<uint8_t> alg =
      dns::name_to_wire(k.algorithm == "hmac-md5" ? "hmac-md5.sig-alg.reg.int" : k.algorithm);
  std::vector<uint8_t> digest = msg;
  digest.insert(digest.end(), k.name_wire.begin(), k.name_wire.end());
  put16(digest, 255);  // class ANY
  put16(digest, 0);    // TTL
  put16(digest, 0);
  digest.insert(digest.end(), alg.begin(), alg.end());
  put48(digest, time_signed);
  put16(digest, kFudge);
  put16(digest, 0);  // error
  put16(digest, 0);  // other len
  const std::vector<uint8_t> mac = dns::hmac(k.algorithm, k.secret, digest);
  std::vector<uint8_t> rdata = alg;
  put48(rdata, time_signed);
  put16(rdata, kFudge);
  put16(rdata, static_cast<uint16_t>(mac.size()));
  rdata.insert(rdata.end(), mac.begin(), mac.end());
  rdata.push_back(msg[0]);  // original ID
  rdata.push_back(msg[1]);
  put16(rdata, 0);
  put16(rdata, 0);
  msg.insert(msg.end(), k.name_wire.begin(), k.name_wire.end());
  put16(msg, dns::kTypeTsig);
  put16(msg, 255);
  put16(msg, 0);
  put16(msg, 0);
  put16(msg, static_cast<uint16_t>(rdata.size()));
  msg.insert(msg.end(), rdata.begin(), rdata.end());
  dns::write_u16(&msg[10], static_cast<uint16_t>(dns::read_u16(&msg[10]) + 1));
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* config = std::getenv("VPCED_FUZZ_CONFIG");
  zones::LoadOptions options;
  options.persist = false;  // never touch conf/state
  options.now_unix = static_cast<uint32_t>(kNow);
  options.runtime.verification["orders"] = zones::DnsNameState::Verified;
  options.runtime.verification["inventory"] = zones::DnsNameState::Verified;
  zones::Diagnostics diags;
  auto loaded = zones::load_snapshot(config ? config : VPCED_SOURCE_DIR "/conf/example.toml", options, diags);
  if (!loaded) {
    std::fprintf(stderr, "fuzz_tsig_transfer: cannot load the example config:\n%s\n", diags.format().c_str());
    std::abort();
  }
  // Transfers from 127.0.0.0/8 (the example allows nobody).
  zones::Model model;  // rebuild_snapshot reads the model's config only
  model.config = loaded->model().config;
  model.config.transfer.allow = {*zones::parse_cidr("127.0.0.0/8")};
  g_snapshot = zones::rebuild_snapshot(model, options, diags);
  if (!g_snapshot) {
    std::fprintf(stderr, "fuzz_tsig_transfer: cannot rebuild the snapshot:\n%s\n", diags.format().c_str());
    std::abort();
  }
  // The same keys as tests/fuzz/make_seeds.py: a public-zone key and a key per view, several algorithms.
  g_keys.push_back(key("xfr-key", "hmac-sha256", "c2VjcmV0LWtleS1mb3ItZnV6emluZy0wMDAwMDAwMQ==", ""));
  g_keys.push_back(key("vpc-a-key", "hmac-sha256", "dnBjLWEta2V5LXNlY3JldC0xMjM0NTY3ODkwYWI=", "vpc-0a000001"));
  g_keys.push_back(key("md5-key", "hmac-md5", "bWQ1LWtleS1zZWNyZXQ=", ""));
  g_keys.push_back(key("sha512-key", "hmac-sha512", "c2hhNTEyLWtleS1zZWNyZXQtc2hhNTEyLWtleS1zZWNyZXQ=", "vpc-0b000002"));
  g_context = std::make_unique<dns::TransferContext>();
  g_context->update(*g_snapshot, std::make_shared<std::vector<dns::TsigKey>>(g_keys));
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t selector = data[0];
  std::vector<uint8_t> msg(data + 1, data + size);
  const bool sign = (selector & 0x01) && msg.size() >= dns::kHeaderSize;
  const dns::TsigKey& k = g_keys[(selector >> 1) & 0x03];
  const bool late = selector & 0x08;  // signed outside the fudge
  zones::IpAddr source = zones::IpAddr::from_v4({(selector & 0x10) ? 0x0A000001u : 0x7F000001u});  // 10/8: outside the ACL
  const size_t unsigned_length = msg.size();
  if (sign) sign_as_client(msg, k, late ? kNow - kFudge - 1 - (selector >> 5) : kNow - (selector >> 5));

  const dns::TsigRequest r = dns::verify_tsig(msg, g_keys, kNow);
  if (r.unsigned_length > msg.size()) std::abort();
  if (r.status == dns::TsigStatus::Ok && !r.key) std::abort();
  // Our TSIG was found where we put it: the verifier must agree with the signer.
  if (sign && r.status != dns::TsigStatus::FormErr && r.status != dns::TsigStatus::Unsigned &&
      r.unsigned_length == unsigned_length && r.key_name == k.name_wire) {
    const dns::TsigStatus expect = late ? dns::TsigStatus::BadTime : dns::TsigStatus::Ok;
    if (r.status != expect || r.key != &g_keys[static_cast<size_t>(&k - g_keys.data())]) {
      std::fprintf(stderr, "signed request verified as %s\n", std::string(dns::to_string(r.status)).c_str());
      std::abort();
    }
  }

  const dns::TransferPlan plan = dns::plan_transfer(*g_snapshot, g_keys, msg, source, kNow);
  if (plan.rcode == 0 && plan.view >= g_snapshot->view_count()) std::abort();
  static const bool verbose = std::getenv("VPCED_FUZZ_VERBOSE") != nullptr;  // for reproducing an input
  if (verbose)
    std::fprintf(stderr, "tsig %s, transfer %s\n", std::string(dns::to_string(r.status)).c_str(),
                 std::string(dns::to_string(plan.verdict)).c_str());
  // The server builds a stream only for a query respond() passed on as a transfer: at least a header.
  if (msg.size() < dns::kHeaderSize) return 0;
  dns::TransferStream stream(g_snapshot, msg, source, g_context.get(), kNow);
  std::vector<uint8_t> out;
  for (int i = 0; i < 1000 && stream.next(out, kNow); ++i) {
    if (out.size() < dns::kHeaderSize || !(out[2] & dns::kFlagQr)) std::abort();
    if (out[0] != msg[0] || out[1] != msg[1]) std::abort();
    if (out.size() > 65535) std::abort();  // must fit one TCP message
  }
  return 0;
}
