// Answers to TSIG-signed queries without sockets (RFC 8945 §5): the key's view, signatures that an independent
// implementation (ldns) verifies, NOTAUTH with the TSIG error; and signed NOTIFY for keyed secondaries.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <new>
#include <array>
#include <string>
#include <vector>

#include "../fixture.hpp"
#include "dns/notify.hpp"
#include "dns/respond.hpp"
#include "dns/signed_answer.hpp"
#include "dns/tsig.hpp"
#include "dns/wire.hpp"
#include "dns_test_util.hpp"
#include "zones/ldns.hpp"

using namespace vpced;
using namespace vpced::dns;

// Counts this thread's allocations, so a test can show respond() allocates nothing (the query path's promise).
// GCC pairs the inlined replacement delete's free() with the builtin new and warns; both are ours, malloc/free.
// Not in AddressSanitizer builds: ASan's own operator new (the nothrow form Catch uses) would meet this delete.
#if !defined(__SANITIZE_ADDRESS__)
#define VPCED_COUNT_ALLOCATIONS 1
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
namespace {
thread_local size_t g_allocations = 0;
}
void* operator new(size_t n) {
  ++g_allocations;
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
#endif

namespace {

const std::string kApex = "us-east-1.vpce.amazonaws.com";
const std::string kPrivate = "api.example.com";
const std::string kVpc = "vpc-0a000000000000001";
constexpr uint64_t kNow = 1800000000;

TsigKey key(const std::string& name, const std::string& secret, const std::string& view = "") {
  return {name, name_to_wire(name), "hmac-sha256", std::vector<uint8_t>(secret.begin(), secret.end()), view};
}
const TsigKey kPub = key("pub-key", "0123456789abcdef0123456789abcdef");
const TsigKey kVpcKey = key("vpc-key", "fedcba9876543210fedcba9876543210", kVpc);
const std::vector<TsigKey> kKeys = {kPub, kVpcKey};

zones::RuntimeInputs verified() {
  zones::RuntimeInputs r;
  r.verification["orders"] = zones::DnsNameState::Verified;
  return r;
}

std::string config(const std::string& transfer = "") {
  return std::string(testing::kSmallConfig) + "\n[transfer]\nallow = [\"127.0.0.1/32\"]\n" + transfer;
}

// A client's signed query (RFC 8945 §4.3), as dig -y or BIND's refresh sends it.
std::vector<uint8_t> signed_query(std::vector<uint8_t> q, const TsigKey& k, uint64_t now = kNow) {
  sign_request(q, k, now);
  return q;
}

zones::IpAddr ip(const char* s) { return *zones::parse_ip(s); }

struct Answer {
  std::vector<uint8_t> wire;
  Outcome outcome;
  ldns::PktPtr pkt;
  uint8_t rcode() const { return ldns_pkt_get_rcode(pkt.get()); }
  std::vector<std::string> answers() const { return testing::sorted_section(pkt.get(), LDNS_SECTION_ANSWER); }
  const ldns_rr* tsig() const { return ldns_pkt_tsig(pkt.get()); }
  uint16_t tsig_error() const { return ldns_rdf2native_int16(ldns_rr_rdf(tsig(), 5)); }
  size_t tsig_mac_size() const { return ldns_rdf_size(ldns_rr_rdf(tsig(), 3)) - 2; }
};

Answer ask(const zones::Snapshot& snap, const std::vector<uint8_t>& q, const char* from,
           Transport t = Transport::Udp, std::span<const TsigKey> keys = kKeys, uint64_t now = kNow) {
  Answer a;
  std::array<uint8_t, 4096> out;
  Client c{ip(from), t, -1};
  size_t n = respond(snap, q, c, out, &a.outcome);
  if (a.outcome.signed_query) {
    REQUIRE(n == 0);
    n = respond_signed(snap, q, c, keys, now, out, &a.outcome);
  }
  REQUIRE(n > 0);
  a.wire.assign(out.begin(), out.begin() + static_cast<long>(n));
  ldns_pkt* p = nullptr;
  REQUIRE(ldns_wire2pkt(&p, a.wire.data(), a.wire.size()) == LDNS_STATUS_OK);
  a.pkt.reset(p);
  return a;
}

// ldns verifies the answer's TSIG against the request MAC (RFC 8945 §5.3).
bool verifies(const Answer& a, const std::vector<uint8_t>& query, const TsigKey& k) {
  TsigRequest req = verify_tsig(query, std::vector<TsigKey>{k}, kNow);
  ldns_rdf* mac = ldns_native2rdf_int16_data(req.mac.size(), req.mac.data());
  const bool ok = ldns_pkt_tsig_verify(a.pkt.get(), a.wire.data(), a.wire.size(), (k.name + ".").c_str(),
                                       base64_encode(k.secret).c_str(), mac);
  ldns_rdf_deep_free(mac);
  return ok;
}

}  // namespace

TEST_CASE("respond() leaves signed queries to respond_signed, and only those") {
  auto snap = testing::snapshot_of(config(), 7, verified());
  std::array<uint8_t, 4096> out;
  Outcome oc;
  Client udp{ip("127.0.0.1"), Transport::Udp, -1};
  CHECK(respond(*snap, signed_query(testing::make_query(kApex, kTypeSoa), kPub), udp, out, &oc) == 0);
  CHECK(oc.signed_query);
  CHECK(respond(*snap, testing::make_query(kApex, kTypeSoa, testing::with_edns(1232)), udp, out, &oc) > 0);
  CHECK_FALSE(oc.signed_query);
  // A signed AXFR over TCP is the transfer stream's (it verifies and signs itself).
  Client tcp{ip("127.0.0.1"), Transport::Tcp, -1};
  CHECK(respond(*snap, signed_query(testing::make_query(kApex, kTypeAxfr), kPub), tcp, out, &oc) == 0);
  CHECK(oc.transfer);
  CHECK_FALSE(oc.signed_query);
  // A signed NOTIFY (opcode 4) too: its NOTIMP is signed.
  CHECK(respond(*snap, signed_query(make_notify(7, kApex), kPub), udp, out, &oc) == 0);
  CHECK(oc.signed_query);
}

#if defined(VPCED_COUNT_ALLOCATIONS)
TEST_CASE("respond() allocates nothing, for plain queries and for spotting a signed one") {
  auto snap = testing::snapshot_of(config(), 7, verified());
  const auto plain = testing::make_query(kApex, kTypeSoa, testing::with_edns(1232));
  const auto signed_q = signed_query(plain, kPub);
  const auto notify = signed_query(make_notify(7, kApex), kPub);
  std::array<uint8_t, 4096> out;
  Outcome oc;
  Client udp{ip("127.0.0.1"), Transport::Udp, -1};
  const size_t before = g_allocations;
  const size_t n = respond(*snap, plain, udp, out, &oc);
  respond(*snap, signed_q, udp, out, &oc);
  const bool spotted = oc.signed_query;
  respond(*snap, notify, udp, out, &oc);
  const size_t allocations = g_allocations - before;
  CHECK(n > 0);
  CHECK(spotted);
  CHECK(oc.signed_query);
  CHECK(allocations == 0);
  // The counter counts: the signed path allocates.
  const size_t at = g_allocations;
  respond_signed(*snap, signed_q, udp, kKeys, kNow, out, &oc);
  CHECK(g_allocations > at);
}
#endif

TEST_CASE("a signed SOA query gets the plain answer, signed over the request MAC") {
  auto snap = testing::snapshot_of(config(), 7, verified());
  for (Transport t : {Transport::Udp, Transport::Tcp}) {
    const auto plain = testing::make_query(kApex, kTypeSoa, testing::with_edns(1232));
    const auto q = signed_query(plain, kPub);
    Answer a = ask(*snap, q, "127.0.0.1", t);
    Answer unsigned_answer = ask(*snap, plain, "127.0.0.1", t);
    CHECK(a.rcode() == 0);
    CHECK(ldns_pkt_aa(a.pkt.get()));
    REQUIRE(a.answers().size() == 1);
    CHECK(a.answers() == unsigned_answer.answers());
    CHECK(a.answers()[0].find(" SOA ") != std::string::npos);
    REQUIRE(a.tsig());
    CHECK(a.tsig_error() == 0);
    CHECK(verifies(a, q, kPub));
    auto wrong = kPub;
    wrong.secret[0] ^= 1;
    CHECK_FALSE(verifies(a, q, wrong));
    // The answer is the unsigned one plus the TSIG RR (EDNS OPT kept before it).
    CHECK(ldns_pkt_edns(a.pkt.get()));
    CHECK(a.outcome.view == 0);
  }
}

TEST_CASE("a signed query sees the key's view, whatever its source address") {
  auto snap = testing::snapshot_of(config(), 7, verified());
  const auto plain = testing::make_query(kPrivate, kTypeA);
  // Unsigned, from outside the VPC: the private name is not served; from inside it is.
  CHECK(ask(*snap, plain, "127.0.0.1").rcode() == kRcodeRefused);
  const auto inside = ask(*snap, plain, "127.16.0.5").answers();
  REQUIRE(inside.size() == 2);

  const auto q = signed_query(plain, kVpcKey);
  Answer a = ask(*snap, q, "127.0.0.1");
  CHECK(a.rcode() == 0);
  CHECK(a.answers() == inside);
  CHECK(a.outcome.view == snap->view_index(kVpc));
  CHECK(verifies(a, q, kVpcKey));

  // The public key from inside the VPC: the public view, where the private name is not served.
  Answer p = ask(*snap, signed_query(plain, kPub), "127.16.0.5");
  CHECK(p.rcode() == kRcodeRefused);
  CHECK(p.outcome.view == 0);
  CHECK(verifies(p, signed_query(plain, kPub), kPub));
}

TEST_CASE("a failing TSIG gets NOTAUTH with the TSIG error and no records (RFC 8945 §5.2)") {
  auto snap = testing::snapshot_of(config(), 7, verified());
  const auto plain = testing::make_query(kApex, kTypeSoa);
  SECTION("wrong secret → BADSIG, unsigned") {
    auto bad = kPub;
    bad.secret[3] ^= 0x40;
    Answer a = ask(*snap, signed_query(plain, bad), "127.0.0.1");
    CHECK(a.rcode() == kRcodeNotAuth);
    CHECK(a.answers().empty());
    REQUIRE(a.tsig());
    CHECK(a.tsig_error() == kTsigBadSig);
    CHECK(a.tsig_mac_size() == 0);
  }
  SECTION("unknown key → BADKEY, unsigned") {
    Answer a = ask(*snap, signed_query(plain, key("other-key", "x")), "127.0.0.1");
    CHECK(a.rcode() == kRcodeNotAuth);
    CHECK(a.answers().empty());
    REQUIRE(a.tsig());
    CHECK(a.tsig_error() == kTsigBadKey);
    CHECK(a.tsig_mac_size() == 0);
  }
  SECTION("no keys configured at all → BADKEY") {
    Answer a = ask(*snap, signed_query(plain, kPub), "127.0.0.1", Transport::Udp, {});
    CHECK(a.rcode() == kRcodeNotAuth);
    CHECK(a.tsig_error() == kTsigBadKey);
  }
  SECTION("an hour old → BADTIME, signed") {
    const auto q = signed_query(plain, kPub, kNow - 3600);
    Answer a = ask(*snap, q, "127.0.0.1");
    CHECK(a.rcode() == kRcodeNotAuth);
    CHECK(a.answers().empty());
    REQUIRE(a.tsig());
    CHECK(a.tsig_error() == kTsigBadTime);
    CHECK(a.tsig_mac_size() == 32);
  }
  SECTION("BADTIME carries the server's time as Other Data, the client's time signed and fudge (§5.2.3)") {
    const uint64_t now = static_cast<uint64_t>(std::time(nullptr));
    const auto q = signed_query(plain, kPub, now - 3600);
    Answer a = ask(*snap, q, "127.0.0.1", Transport::Udp, kKeys, now);
    REQUIRE(a.tsig());
    CHECK(a.tsig_error() == kTsigBadTime);
    CHECK(ldns_rdf2native_int16(ldns_rr_rdf(a.tsig(), 2)) == 300);  // the request's fudge
    const ldns_rdf* ts = ldns_rr_rdf(a.tsig(), 1);
    REQUIRE(ldns_rdf_size(ts) == 6);
    uint64_t time_signed = 0;
    for (size_t i = 0; i < 6; ++i) time_signed = (time_signed << 8) | ldns_rdf_data(ts)[i];
    CHECK(time_signed == now - 3600);
    const ldns_rdf* other = ldns_rr_rdf(a.tsig(), 6);  // other len (2 octets), then other data
    REQUIRE(ldns_rdf_size(other) == 8);
    CHECK(ldns_read_uint16(ldns_rdf_data(other)) == 6);
    uint64_t server_time = 0;
    for (size_t i = 2; i < 8; ++i) server_time = (server_time << 8) | ldns_rdf_data(other)[i];
    const uint64_t after = static_cast<uint64_t>(std::time(nullptr));
    CHECK(server_time + 5 >= after);
    CHECK(server_time <= after);
    // Signed over the request MAC with all of that covered: ldns verifies it.
    CHECK(verifies(a, q, kPub));
  }
  SECTION("a TSIG that is not the last record → FORMERR") {
    auto q = signed_query(plain, kPub);
    // Append an OPT after the TSIG: ARCOUNT 2, TSIG first.
    q.insert(q.end(), {0, 0, 41, 4, 208, 0, 0, 0, 0, 0, 0});
    write_u16(q.data() + 10, 2);
    std::array<uint8_t, 4096> out;
    Outcome oc;
    Client c{ip("127.0.0.1"), Transport::Udp, -1};
    REQUIRE(respond(*snap, q, c, out, &oc) == 0);
    REQUIRE(oc.signed_query);
    const size_t n = respond_signed(*snap, q, c, kKeys, kNow, out, &oc);
    REQUIRE(n >= kHeaderSize);
    CHECK((out[3] & 0x0F) == kRcodeFormErr);
    CHECK(read_u16(out.data() + 6) == 0);
  }
}

TEST_CASE("signed answers keep the UDP size limit, TSIG included") {
  // Many names in one view: an ANY-like big answer is not available, so use the 512-byte limit of a query
  // without EDNS against the SOA answer and check the whole signed message fits.
  auto snap = testing::snapshot_of(config(), 7, verified());
  for (const auto& name : {kApex, kPrivate}) {
    Answer a = ask(*snap, signed_query(testing::make_query(name, kTypeA), kVpcKey), "127.0.0.1");
    CHECK(a.wire.size() <= kClassicUdpSize);
    REQUIRE(a.tsig());
  }
  // A signed name outside every zone is REFUSED (never forwarded), and signed.
  const auto q = signed_query(testing::make_query("www.example.org", kTypeA), kPub);
  Answer r = ask(*snap, q, "127.0.0.1");
  CHECK(r.rcode() == kRcodeRefused);
  CHECK_FALSE(r.outcome.forward);
  CHECK(verifies(r, q, kPub));
}

TEST_CASE("a signed NOTIFY to vpced gets a signed NOTIMP") {
  auto snap = testing::snapshot_of(config(), 7, verified());
  const auto q = signed_query(make_notify(0x1234, kApex), kPub);
  Answer a = ask(*snap, q, "127.0.0.1");
  CHECK(a.rcode() == kRcodeNotImp);
  CHECK(verifies(a, q, kPub));
}

TEST_CASE("sign_request: a request vpced signs verifies as a client's would") {
  auto msg = make_notify(0x4242, kApex);
  sign_request(msg, kVpcKey, kNow);
  auto r = verify_tsig(msg, kKeys, kNow);
  CHECK(r.status == TsigStatus::Ok);
  CHECK(r.key == &kKeys[1]);
  CHECK(r.original_id == 0x4242);
  CHECK(verify_tsig(msg, kKeys, kNow + 3600).status == TsigStatus::BadTime);
  msg[kHeaderSize + 1] ^= 0x20;  // one letter of the zone name changes case: the MAC covers the bytes as sent
  CHECK(verify_tsig(msg, kKeys, kNow).status == TsigStatus::BadSig);
}

TEST_CASE("plan_notify: unkeyed secondaries hear of every zone, keyed ones of their key's view, signed") {
  const std::string transfer = R"(secondaries = ["127.0.0.1:5301", { address = "127.0.0.1:5302", key = "vpc-key" },
               { address = "127.0.0.1:5303", key = "pub-key" }, { address = "127.0.0.1:5304", key = "lost-key" }]
keys = [{ name = "pub-key", algorithm = "hmac-sha256", secret_file = "p" },
        { name = "vpc-key", algorithm = "hmac-sha256", secret_file = "v", view = "vpc-0a000000000000001" },
        { name = "lost-key", algorithm = "hmac-sha256", secret_file = "l" }]
)";
  zones::IdentityState state;  // one identity for every snapshot, so that only the intended change differs
  auto snap = [&](uint32_t serial, const zones::RuntimeInputs& runtime, const std::string& text = "") {
    return zones::compile_snapshot(testing::model_of(text.empty() ? config(transfer) : text, state, runtime), serial);
  };
  auto before = snap(7, verified());
  // lost-key's secret did not load: it is not among the keys the daemon holds.
  auto jobs_of = [&](const zones::Snapshot* b, const zones::Snapshot& a) {
    std::vector<std::string> out;
    for (const auto& j : plan_notify(b, a, kKeys))
      out.push_back(zones::to_string(j.target) + " " + j.apex + " " + (j.key ? j.key->name : "-"));
    std::sort(out.begin(), out.end());
    return out;
  };
  SECTION("start-up: every zone") {
    CHECK(jobs_of(nullptr, *before) == std::vector<std::string>{
                                           "127.0.0.1:5301 api.example.com. -",
                                           "127.0.0.1:5301 us-east-1.vpce.amazonaws.com. -",
                                           "127.0.0.1:5302 api.example.com. vpc-key",
                                           "127.0.0.1:5302 us-east-1.vpce.amazonaws.com. vpc-key",
                                           "127.0.0.1:5303 us-east-1.vpce.amazonaws.com. pub-key",
                                       });
  }
  SECTION("a change of the public zone only: the pending endpoint (no private DNS) is accepted") {
    std::string text = config(transfer);
    text.replace(text.find("accepted = [\"app\"]"), 18, "accepted = [\"app\", \"pending\"]");
    auto after = snap(8, verified(), text);
    CHECK(jobs_of(before.get(), *after) == std::vector<std::string>{
                                               "127.0.0.1:5301 us-east-1.vpce.amazonaws.com. -",
                                               "127.0.0.1:5302 us-east-1.vpce.amazonaws.com. vpc-key",
                                               "127.0.0.1:5303 us-east-1.vpce.amazonaws.com. pub-key",
                                           });
  }
  SECTION("the private name loses its verification: its zone is gone, nothing to notify") {
    CHECK(jobs_of(before.get(), *snap(8, {})).empty());
  }
  SECTION("no change: nothing") {
    auto same = snap(8, verified());
    CHECK(jobs_of(before.get(), *same).empty());
  }
  SECTION("the signed NOTIFY verifies with the secondary's key") {
    for (const auto& j : plan_notify(nullptr, *before, kKeys)) {
      if (!j.key) continue;
      auto msg = make_notify(9, j.apex);
      sign_request(msg, *j.key, kNow);
      CHECK(verify_tsig(msg, kKeys, kNow).status == TsigStatus::Ok);
    }
  }
}
