// Table tests of respond(): {qname, qtype, transport, EDNS} → {rcode, flags, answer, authority}, no sockets.
#include <catch2/catch.hpp>
#include <regex>
#include <set>
#include <vector>

#include "../fixture.hpp"
#include "dns/respond.hpp"
#include "dns/wire.hpp"
#include "dns_test_util.hpp"
#include "zones/ldns.hpp"

using namespace vpced;
using namespace vpced::dns;

namespace {

std::vector<uint8_t> query(const std::string& name, uint16_t qtype, const testing::QueryOptions& o = {}) {
  return testing::make_query(name, qtype, o);
}

struct Response {
  size_t size = 0;
  std::vector<uint8_t> wire;
  ldns::PktPtr pkt;
  uint8_t rcode() const { return ldns_pkt_get_rcode(pkt.get()); }
  std::vector<std::string> section(ldns_pkt_section s) const { return testing::sorted_section(pkt.get(), s); }
};

Response ask(const zones::Snapshot& snap, const std::vector<uint8_t>& q, Transport t = Transport::Udp,
             size_t out_size = 65535) {
  Response r;
  r.wire.resize(out_size);
  Client c{*zones::parse_ip("127.0.0.1"), t, -1};
  r.size = respond(snap, q, c, r.wire, nullptr);
  r.wire.resize(r.size);
  if (r.size > 0) {
    ldns_pkt* p = nullptr;
    REQUIRE(ldns_wire2pkt(&p, r.wire.data(), r.size) == LDNS_STATUS_OK);
    r.pkt.reset(p);
  }
  return r;
}

const zones::EndpointModel& app(const zones::Snapshot& s) { return s.model().endpoints.at(0); }

}  // namespace

TEST_CASE("respond: the rcode paths of the public view", "[respond]") {
  auto snap = testing::snapshot_of(testing::kSmallConfig);
  const auto& e = app(*snap);
  const std::string apex = "us-east-1.vpce.amazonaws.com";
  const std::string base = snap->model().services[0].base_name;
  const std::string soa_prefix = apex + ". 60 IN SOA ns1." + apex + ". hostmaster." + apex + ". 2026112701 ";

  struct Case {
    std::string qname;
    uint16_t qtype;
    uint8_t rcode;
    bool aa;
    std::vector<std::string> answer;
    size_t authority;  // number of records; an SOA when 1
  };
  const std::vector<Case> cases = {
      {e.regional_name(), kTypeA, 0, true,
       {e.regional_name() + ". 60 IN A 127.16.1.10", e.regional_name() + ". 60 IN A 127.16.3.10"}, 0},
      {e.zonal_name(0), kTypeA, 0, true, {e.zonal_name(0) + ". 60 IN A 127.16.1.10"}, 0},
      {e.zonal_name(1), kTypeA, 0, true, {e.zonal_name(1) + ". 60 IN A 127.16.3.10"}, 0},
      {e.regional_name(), kTypeAaaa, 0, true, {}, 1},                            // IPv4 only: NODATA
      {e.regional_name(), 16 /*TXT*/, 0, true, {}, 1},                           // other type: NODATA
      {e.regional_name(), kTypeAny, 0, true,                                      // ANY → the A set
       {e.regional_name() + ". 60 IN A 127.16.1.10", e.regional_name() + ". 60 IN A 127.16.3.10"}, 0},
      {base, kTypeA, 0, true, {}, 1},                                           // empty non-terminal: NODATA
      {"vpce-0123456789abcdef1-x." + base, kTypeA, 3, true, {}, 1},             // pending endpoint: NXDOMAIN
      {"nothing-here." + apex, kTypeA, 3, true, {}, 1},
      {apex, kTypeA, 0, true, {}, 1},
      {apex, kTypeNs, 0, true, {apex + ". 60 IN NS ns1." + apex + "."}, 0},
      {"api.example.com", kTypeA, 5, false, {}, 0},                             // outside every zone: REFUSED
      {"com", kTypeA, 5, false, {}, 0},
  };
  for (const auto& c : cases) {
    INFO(c.qname << " type " << c.qtype);
    auto r = ask(*snap, query(c.qname, c.qtype));
    REQUIRE(r.size > 0);
    CHECK(r.rcode() == c.rcode);
    CHECK(ldns_pkt_aa(r.pkt.get()) == c.aa);
    CHECK(ldns_pkt_qr(r.pkt.get()));
    CHECK(ldns_pkt_rd(r.pkt.get()));  // RD copied
    CHECK_FALSE(ldns_pkt_ra(r.pkt.get()));
    CHECK(r.section(LDNS_SECTION_ANSWER) == c.answer);
    auto auth = r.section(LDNS_SECTION_AUTHORITY);
    REQUIRE(auth.size() == c.authority);
    if (c.authority == 1) CHECK_THAT(auth[0], Catch::StartsWith(soa_prefix));
  }

  SECTION("SOA at the apex, NS with glue") {
    auto soa = ask(*snap, query(apex, kTypeSoa));
    REQUIRE(soa.section(LDNS_SECTION_ANSWER).size() == 1);
    CHECK_THAT(soa.section(LDNS_SECTION_ANSWER)[0], Catch::StartsWith(soa_prefix));
    CHECK_THAT(soa.section(LDNS_SECTION_ANSWER)[0], Catch::EndsWith(" 3600 600 1209600 60"));
    auto ns = ask(*snap, query(apex, kTypeNs));
    CHECK(ns.section(LDNS_SECTION_ADDITIONAL) == std::vector<std::string>{"ns1." + apex + ". 60 IN A 127.0.0.1"});
  }
}

TEST_CASE("respond: the question is echoed as sent, names match case-insensitively", "[respond]") {
  auto snap = testing::snapshot_of(testing::kSmallConfig);
  std::string mixed = app(*snap).zonal_name(0);
  for (size_t i = 0; i < mixed.size(); i += 2) mixed[i] = static_cast<char>(std::toupper(mixed[i]));
  auto q = query(mixed, kTypeA);
  auto r = ask(*snap, q);
  CHECK(r.rcode() == 0);
  CHECK(r.section(LDNS_SECTION_ANSWER).size() == 1);
  CHECK(std::equal(q.begin() + 12, q.end(), r.wire.begin() + 12));  // question bytes identical
}

TEST_CASE("respond: header-only errors and drops", "[respond]") {
  auto snap = testing::snapshot_of(testing::kSmallConfig);
  auto good = query(app(*snap).regional_name(), kTypeA);

  auto short_header = std::vector<uint8_t>(good.begin(), good.begin() + 11);
  CHECK(ask(*snap, short_header).size == 0);

  auto response = good;
  response[2] |= kFlagQr;
  CHECK(ask(*snap, response).size == 0);

  auto two = good;
  two[5] = 2;
  auto formerr = ask(*snap, two);
  REQUIRE(formerr.size == 12);
  CHECK(formerr.rcode() == kRcodeFormErr);
  CHECK(formerr.wire[0] == 0xbe);
  CHECK(formerr.wire[1] == 0xef);

  auto notify = good;
  notify[2] = static_cast<uint8_t>((notify[2] & 0x87) | (4 << 3));  // opcode NOTIFY
  auto notimp = ask(*snap, notify);
  REQUIRE(notimp.size == 12);
  CHECK(notimp.rcode() == kRcodeNotImp);
  CHECK(ldns_pkt_get_opcode(notimp.pkt.get()) == LDNS_PACKET_NOTIFY);

  auto chaos = ask(*snap, query("version.bind", 16, testing::with_class(3)));
  CHECK(chaos.rcode() == kRcodeRefused);

  auto axfr_udp = ask(*snap, query("us-east-1.vpce.amazonaws.com", kTypeAxfr));
  CHECK(axfr_udp.rcode() == kRcodeNotImp);
}

TEST_CASE("respond: EDNS0", "[respond][edns]") {
  auto snap = testing::snapshot_of(testing::kSmallConfig);
  const auto& e = app(*snap);

  auto r = ask(*snap, query(e.regional_name(), kTypeA, testing::with_edns(4096)));
  CHECK(r.rcode() == 0);
  REQUIRE(ldns_pkt_edns(r.pkt.get()));
  CHECK(ldns_pkt_edns_udp_size(r.pkt.get()) == kEdnsUdpSize);
  CHECK(ldns_pkt_edns_version(r.pkt.get()) == 0);
  CHECK(r.section(LDNS_SECTION_ANSWER).size() == 2);

  auto badvers = ask(*snap, query(e.regional_name(), kTypeA, testing::with_edns(1232, 1)));
  REQUIRE(ldns_pkt_edns(badvers.pkt.get()));
  CHECK(ldns_pkt_edns_extended_rcode(badvers.pkt.get()) == 1);  // BADVERS = 16: upper bits 1, header rcode 0
  CHECK(badvers.rcode() == 0);
  CHECK(ldns_pkt_edns_version(badvers.pkt.get()) == 0);
  CHECK(badvers.section(LDNS_SECTION_ANSWER).empty());

  auto plain = ask(*snap, query(e.regional_name(), kTypeA));
  CHECK_FALSE(ldns_pkt_edns(plain.pkt.get()));
}

TEST_CASE("respond: TC when the answer exceeds the client's size, full answer over TCP", "[respond][tc]") {
  // Compressed answers of at most six ENIs never reach 512 bytes, so the output buffer is squeezed instead
  // to drive the truncation path.
  auto snap = testing::snapshot_of(testing::kSmallConfig);
  const auto& e = app(*snap);
  auto q = query(e.regional_name(), kTypeA);
  auto full = ask(*snap, q);
  REQUIRE(full.size > 0);
  CHECK_FALSE(ldns_pkt_tc(full.pkt.get()));

  const size_t question_end = q.size();
  auto cut = ask(*snap, q, Transport::Udp, full.size - 1);
  REQUIRE(cut.size == question_end);  // header + question only
  CHECK(ldns_pkt_tc(cut.pkt.get()));
  CHECK(ldns_pkt_ancount(cut.pkt.get()) == 0);
  CHECK(cut.rcode() == 0);

  auto tcp = ask(*snap, q, Transport::Tcp);
  CHECK(tcp.wire == full.wire);
}

TEST_CASE("respond: answers are compressed against the question", "[respond]") {
  // Each A record after the question costs 16 bytes: a 2-byte pointer to the QNAME at offset 12, type, class,
  // TTL, RDLENGTH and 4 address bytes (RFC 1035 §4.1.4).
  auto snap = testing::snapshot_of(testing::kSmallConfig);
  const auto& e = app(*snap);
  auto q = query(e.regional_name(), kTypeA);
  auto r = ask(*snap, q);
  CHECK(r.size == q.size() + 2 * 16);
  CHECK(r.wire[q.size()] == 0xC0);
  CHECK(r.wire[q.size() + 1] == 12);
}
