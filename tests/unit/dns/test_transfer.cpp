// Zone transfers without sockets: AXFR message stream, ACL and TSIG decisions, IXFR difference vs fallback.
#include <catch2/catch.hpp>

#include <ctime>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "../fixture.hpp"
#include "dns/transfer.hpp"
#include "dns/tsig.hpp"
#include "dns/wire.hpp"
#include "dns_test_util.hpp"
#include "zones/ldns.hpp"

using namespace vpced;
using namespace vpced::dns;

namespace {

const std::string kApex = "us-east-1.vpce.amazonaws.com";
constexpr uint64_t kNow = 1800000000;

std::string with_transfer(const std::string& allow) {
  std::string t = testing::kSmallConfig;
  return t + "\n[transfer]\nallow = [\"" + allow + "\"]\n";
}

TsigKey key(const std::string& name, const std::string& secret, const std::string& view = "") {
  return {name, name_to_wire(name), "hmac-sha256", std::vector<uint8_t>(secret.begin(), secret.end()), view};
}

// A query signed as a client would (RFC 8945 §4.3): the MAC covers the message and the TSIG variables.
std::vector<uint8_t> sign_query(std::vector<uint8_t> q, const TsigKey& k, uint64_t now) {
  TsigRequest none;
  none.original_id = read_u16(q.data());
  // A client's request MAC has no prior MAC: sign with an empty one, then drop the 2-byte length prefix effect
  // by computing directly.
  std::vector<uint8_t> d = q;
  auto alg = name_to_wire("hmac-sha256");
  d.insert(d.end(), k.name_wire.begin(), k.name_wire.end());
  d.insert(d.end(), {0, 255, 0, 0, 0, 0});
  d.insert(d.end(), alg.begin(), alg.end());
  for (int s = 40; s >= 0; s -= 8) d.push_back(static_cast<uint8_t>(now >> s));
  d.insert(d.end(), {1, 44, 0, 0, 0, 0});
  auto mac = hmac("hmac-sha256", k.secret, d);
  q.insert(q.end(), k.name_wire.begin(), k.name_wire.end());
  const size_t rdlen = alg.size() + 10 + mac.size() + 6;
  q.insert(q.end(), {0, 250, 0, 255, 0, 0, 0, 0, static_cast<uint8_t>(rdlen >> 8), static_cast<uint8_t>(rdlen)});
  q.insert(q.end(), alg.begin(), alg.end());
  for (int s = 40; s >= 0; s -= 8) q.push_back(static_cast<uint8_t>(now >> s));
  q.insert(q.end(), {1, 44, 0, static_cast<uint8_t>(mac.size())});
  q.insert(q.end(), mac.begin(), mac.end());
  q.insert(q.end(), {q[0], q[1], 0, 0, 0, 0});
  write_u16(q.data() + 10, static_cast<uint16_t>(read_u16(q.data() + 10) + 1));
  return q;
}

std::vector<uint8_t> ixfr_query(const std::string& apex, uint32_t serial) {
  auto q = testing::make_query(apex, kTypeIxfr);
  write_u16(q.data() + 8, 1);
  q.insert(q.end(), {0xc0, 0x0c, 0, 6, 0, 1, 0, 0, 0, 0, 0, 22, 0, 0});
  for (int s = 24; s >= 0; s -= 8) q.push_back(static_cast<uint8_t>(serial >> s));
  q.insert(q.end(), 16, 0);
  return q;
}

// Every message of a stream, parsed; the answer records in order as presentation lines.
struct Collected {
  std::vector<std::string> records;
  size_t messages = 0;
  uint8_t rcode = 0;
};
Collected collect(TransferStream& s) {
  Collected c;
  std::vector<uint8_t> msg;
  while (s.next(msg, kNow)) {
    ++c.messages;
    ldns_pkt* p = nullptr;
    REQUIRE(ldns_wire2pkt(&p, msg.data(), msg.size()) == LDNS_STATUS_OK);
    ldns::PktPtr pkt(p);
    c.rcode = ldns_pkt_get_rcode(p);
    for (auto& l : ldns::section_lines(p, LDNS_SECTION_ANSWER)) c.records.push_back(l);
  }
  return c;
}

const zones::IpAddr kLoop = *zones::parse_ip("127.0.0.1");

}  // namespace

TEST_CASE("AXFR streams the public zone: SOA first and last, every record once") {
  auto snap = testing::snapshot_of(with_transfer("127.0.0.0/8"));
  TransferStream s(snap, testing::make_query(kApex, kTypeAxfr), kLoop, nullptr, kNow);
  REQUIRE(s.plan().verdict == TransferVerdict::Axfr);
  auto c = collect(s);
  CHECK(c.rcode == 0);
  const auto& zone = snap->zones(0).front();
  REQUIRE(c.records.size() == zone.records.size() + 1);
  CHECK(c.records.front().find(" SOA ") != std::string::npos);
  CHECK(c.records.back() == c.records.front());
  std::set<std::string> inner(c.records.begin() + 1, c.records.end() - 1);
  CHECK(inner.size() == zone.records.size() - 1);
}

TEST_CASE("AXFR of a large zone spans several messages") {
  auto snap = testing::snapshot_of(with_transfer("127.0.0.0/8"));
  // The small zone fits one message; the stream target bounds each message, so check the bound instead.
  TransferStream s(snap, testing::make_query(kApex, kTypeAxfr), kLoop, nullptr, kNow);
  std::vector<uint8_t> msg;
  while (s.next(msg, kNow)) CHECK(msg.size() <= TransferStream::kMessageTarget + 600);
}

TEST_CASE("transfer ACL and TSIG decisions") {
  auto snap = testing::snapshot_of(with_transfer("127.0.0.1/32"));
  const auto good = key("pub-key", "0123456789abcdef0123456789abcdef");
  const auto vpc = key("vpc-key", "fedcba9876543210fedcba9876543210", "vpc-0a000000000000001");
  const std::vector<TsigKey> keys = {good, vpc};
  const auto axfr = testing::make_query(kApex, kTypeAxfr);

  SECTION("right key, right source") {
    auto p = plan_transfer(*snap, keys, sign_query(axfr, good, kNow), kLoop, kNow);
    CHECK(p.verdict == TransferVerdict::Axfr);
    CHECK(p.tsig.status == TsigStatus::Ok);
  }
  SECTION("no key while a public key exists") {
    CHECK(plan_transfer(*snap, keys, axfr, kLoop, kNow).verdict == TransferVerdict::KeyRequired);
  }
  SECTION("no key and no public key configured: the ACL decides") {
    std::vector<TsigKey> only_vpc = {vpc};
    CHECK(plan_transfer(*snap, only_vpc, axfr, kLoop, kNow).verdict == TransferVerdict::Axfr);
  }
  SECTION("wrong secret → NOTAUTH/BADSIG") {
    auto bad = good;
    bad.secret[0] ^= 1;
    auto p = plan_transfer(*snap, keys, sign_query(axfr, bad, kNow), kLoop, kNow);
    CHECK(p.rcode == kRcodeNotAuth);
    CHECK(p.tsig.status == TsigStatus::BadSig);
  }
  SECTION("unknown key → NOTAUTH/BADKEY") {
    auto p = plan_transfer(*snap, keys, sign_query(axfr, key("other", "x"), kNow), kLoop, kNow);
    CHECK(p.rcode == kRcodeNotAuth);
    CHECK(p.tsig.status == TsigStatus::BadKey);
  }
  SECTION("stale signature → NOTAUTH/BADTIME") {
    auto p = plan_transfer(*snap, keys, sign_query(axfr, good, kNow - 3600), kLoop, kNow);
    CHECK(p.tsig.status == TsigStatus::BadTime);
    CHECK(p.rcode == kRcodeNotAuth);
  }
  SECTION("source outside transfer.allow → REFUSED") {
    auto p = plan_transfer(*snap, keys, sign_query(axfr, good, kNow), *zones::parse_ip("127.0.0.2"), kNow);
    CHECK(p.verdict == TransferVerdict::OutsideAcl);
    CHECK(p.rcode == kRcodeRefused);
  }
  SECTION("a name that is no apex → REFUSED") {
    auto q = sign_query(testing::make_query("x." + kApex, kTypeAxfr), good, kNow);
    CHECK(plan_transfer(*snap, keys, q, kLoop, kNow).verdict == TransferVerdict::NoZone);
  }
  SECTION("a refused stream has one message and no records; a signed one is signed") {
    TransferContext ctx;
    ctx.update(*snap, std::make_shared<std::vector<TsigKey>>(keys));
    TransferStream s(snap, axfr, kLoop, &ctx, kNow);
    auto c = collect(s);
    CHECK(c.messages == 1);
    CHECK(c.records.empty());
    CHECK(c.rcode == kRcodeRefused);
  }
}

TEST_CASE("a signed response stream verifies message by message") {
  auto snap = testing::snapshot_of(with_transfer("127.0.0.0/8"));
  const auto good = key("pub-key", "0123456789abcdef0123456789abcdef");
  TransferContext ctx;
  ctx.update(*snap, std::make_shared<std::vector<TsigKey>>(std::vector<TsigKey>{good}));
  auto q = sign_query(testing::make_query(kApex, kTypeAxfr), good, kNow);
  TransferStream s(snap, q, kLoop, &ctx, kNow);
  std::vector<uint8_t> msg;
  REQUIRE(s.next(msg, kNow));
  ldns_pkt* p = nullptr;
  REQUIRE(ldns_wire2pkt(&p, msg.data(), msg.size()) == LDNS_STATUS_OK);
  ldns::PktPtr pkt(p);
  // ldns checks the first response against the request MAC.
  auto req = plan_transfer(*snap, std::vector<TsigKey>{good}, q, kLoop, kNow);
  ldns_rdf* mac = ldns_native2rdf_int16_data(req.tsig.mac.size(), req.tsig.mac.data());
  bool ok = ldns_pkt_tsig_verify(p, msg.data(), msg.size(), "pub-key.",
                                 base64_encode(good.secret).c_str(), mac);
  ldns_rdf_deep_free(mac);
  CHECK(ok);
}

TEST_CASE("a BADTIME transfer answer carries the server's time as Other Data (RFC 8945 §5.2.3)") {
  auto snap = testing::snapshot_of(with_transfer("127.0.0.0/8"));
  const auto good = key("pub-key", "0123456789abcdef0123456789abcdef");
  TransferContext ctx;
  ctx.update(*snap, std::make_shared<std::vector<TsigKey>>(std::vector<TsigKey>{good}));
  const uint64_t now = static_cast<uint64_t>(std::time(nullptr));
  auto q = sign_query(testing::make_query(kApex, kTypeAxfr), good, now - 3600);
  TransferStream s(snap, q, kLoop, &ctx, now);
  std::vector<uint8_t> msg;
  REQUIRE(s.next(msg, now));
  CHECK_FALSE(s.next(msg, now + 1));
  ldns_pkt* p = nullptr;
  REQUIRE(ldns_wire2pkt(&p, msg.data(), msg.size()) == LDNS_STATUS_OK);
  ldns::PktPtr pkt(p);
  CHECK(ldns_pkt_get_rcode(p) == kRcodeNotAuth);
  CHECK(ldns_pkt_ancount(p) == 0);
  const ldns_rr* tsig = ldns_pkt_tsig(p);
  REQUIRE(tsig);
  CHECK(ldns_rdf2native_int16(ldns_rr_rdf(tsig, 5)) == kTsigBadTime);
  uint64_t time_signed = 0;
  for (size_t i = 0; i < 6; ++i) time_signed = (time_signed << 8) | ldns_rdf_data(ldns_rr_rdf(tsig, 1))[i];
  CHECK(time_signed == now - 3600);  // the client's time signed
  const ldns_rdf* other = ldns_rr_rdf(tsig, 6);  // other len (2 octets), then other data
  REQUIRE(ldns_rdf_size(other) == 8);
  CHECK(ldns_read_uint16(ldns_rdf_data(other)) == 6);
  uint64_t server_time = 0;
  for (size_t i = 2; i < 8; ++i) server_time = (server_time << 8) | ldns_rdf_data(other)[i];
  const uint64_t after = static_cast<uint64_t>(std::time(nullptr));
  CHECK(server_time + 5 >= after);
  CHECK(server_time <= after);
  // Signed with the key over the request MAC, Other Data included: ldns verifies it.
  auto req = plan_transfer(*snap, std::vector<TsigKey>{good}, q, kLoop, now);
  ldns_rdf* mac = ldns_native2rdf_int16_data(req.tsig.mac.size(), req.tsig.mac.data());
  const bool ok = ldns_pkt_tsig_verify(p, msg.data(), msg.size(), "pub-key.", base64_encode(good.secret).c_str(), mac);
  ldns_rdf_deep_free(mac);
  CHECK(ok);
}

TEST_CASE("IXFR: the difference when the serial is in history, else the whole zone") {
  const std::string a = with_transfer("127.0.0.0/8");
  auto s1 = testing::snapshot_of(a, 100);
  // A second version: the TTL changes every record.
  std::string b = a;
  b.replace(b.find("ttl = 60"), 8, "ttl = 61");
  auto s2 = testing::snapshot_of(b, 101);
  TransferContext ctx;
  ctx.update(*s1, nullptr);
  ctx.update(*s2, nullptr);

  SECTION("known serial → SOA new, SOA old, removed, SOA new, added, SOA new") {
    TransferStream s(s2, ixfr_query(kApex, 100), kLoop, &ctx, kNow);
    CHECK(s.plan().verdict == TransferVerdict::Ixfr);
    auto c = collect(s);
    const size_t n = s1->zones(0).front().records.size() - 1;
    REQUIRE(c.records.size() == 4 + 2 * n);
    CHECK(c.records[0].find(" 101 ") != std::string::npos);
    CHECK(c.records[1].find(" 100 ") != std::string::npos);
    CHECK(c.records[2 + n].find(" 101 ") != std::string::npos);
    CHECK(c.records.back() == c.records.front());
  }
  SECTION("unknown serial → AXFR form") {
    TransferStream s(s2, ixfr_query(kApex, 7), kLoop, &ctx, kNow);
    CHECK(s.plan().verdict == TransferVerdict::IxfrFallback);
    auto c = collect(s);
    CHECK(c.records.size() == s2->zones(0).front().records.size() + 1);
  }
  SECTION("current serial → the SOA alone") {
    TransferStream s(s2, ixfr_query(kApex, 101), kLoop, &ctx, kNow);
    auto c = collect(s);
    CHECK(s.plan().verdict == TransferVerdict::IxfrUpToDate);
    CHECK(c.records.size() == 1);
  }
}

TEST_CASE("TSIG secret files: BIND key block or bare base64") {
  auto dir = std::filesystem::temp_directory_path() / "vpced-test-tsig";
  std::filesystem::create_directories(dir);
  std::string err, warn;
  {
    std::ofstream(dir / "bind") << "key \"k\" {\n\talgorithm hmac-sha256;\n\tsecret \"AAECAw==\";\n};\n";
    std::filesystem::permissions(dir / "bind", std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    auto s = read_tsig_secret(dir / "bind", err, warn);
    REQUIRE(s);
    CHECK(*s == std::vector<uint8_t>{0, 1, 2, 3});
    CHECK(warn.empty());
  }
  {
    std::ofstream(dir / "bare") << "AAECAw==\n";
    std::filesystem::permissions(dir / "bare", std::filesystem::perms::all);
    auto s = read_tsig_secret(dir / "bare", err, warn);
    REQUIRE(s);
    CHECK_FALSE(warn.empty());
  }
  {
    std::ofstream(dir / "junk") << "not base64!!\n";
    CHECK_FALSE(read_tsig_secret(dir / "junk", err, warn));
  }
  std::filesystem::remove_all(dir);
}
