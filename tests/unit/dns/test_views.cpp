// Table tests of split-horizon views (design §5): view choice by listener, client prefix and trusted ECS;
// private zones exact and wildcard (RFC 4592), NXDOMAIN below a private apex, NODATA, names outside.
#include <catch2/catch.hpp>
#include <regex>
#include <set>

#include "../fixture.hpp"
#include "dns/respond.hpp"
#include "dns/wire.hpp"
#include "dns_test_util.hpp"
#include "zones/ldns.hpp"

using namespace vpced;
using namespace vpced::dns;

namespace {

// kSmallConfig plus: a second VPC (127.17.0.0/16) with an endpoint to "orders"; a service "wild" with a
// wildcard private name and an endpoint to it from the first VPC; the first VPC also has a dedicated
// listener 127.0.0.53:5353; ECS is trusted from 127.0.0.99/32.
std::string views_config() {
  std::string s = testing::kSmallConfig;
  s = std::regex_replace(s, std::regex("ttl = 60\n"), "ttl = 60\ntrust_ecs_from = [\"127.0.0.99/32\"]\n");
  s = std::regex_replace(s, std::regex("dns_clients = \\[\"127.16.0.0/16\"\\]"),
                         "dns_clients = [\"127.16.0.0/16\"]\ndns_listen = [\"127.0.0.53:5353\"]");
  s = std::regex_replace(s, std::regex("\\[\\[endpoints\\]\\]\nname = \"app\""), R"([[services]]
name = "wild"
owner = "111122223333"
azs = ["use1-az1", "use1-az2"]
acceptance_required = false
allowed_principals = ["*"]
private_dns_name = "*.wild.example.net"
  [services.load_balancer]
  listeners = [80]
  targets = [{ address = "127.0.0.3:80", az = "use1-az1" }, { address = "127.0.0.4:80", az = "use1-az2" }]

[[vpcs]]
id = "vpc-0b000000000000002"
account = "444455556666"
dns_clients = ["127.17.0.0/16"]
subnets = [{ id = "subnet-0b000000000000001", az = "us-east-1a", cidr = "127.17.1.0/24" }]

[[endpoints]]
name = "wild-app"
vpc = "vpc-0a000000000000001"
service = "wild"
principal = "arn:aws:iam::444455556666:root"
subnets = ["subnet-0a000000000000001"]
addresses = { "subnet-0a000000000000001" = "127.16.1.20" }

[[endpoints]]
name = "b"
vpc = "vpc-0b000000000000002"
service = "orders"
principal = "arn:aws:iam::444455556666:root"
subnets = ["subnet-0b000000000000001"]
addresses = { "subnet-0b000000000000001" = "127.17.1.30" }

[[endpoints]]
name = "app")");
  s = std::regex_replace(s, std::regex("accepted = \\[\"app\"\\]"), "accepted = [\"app\", \"b\"]");
  return s;
}

zones::RuntimeInputs verified(std::initializer_list<const char*> services) {
  zones::RuntimeInputs r;
  for (auto s : services) r.verification[s] = zones::DnsNameState::Verified;
  return r;
}

std::vector<uint8_t> query(const std::string& name, uint16_t qtype) { return testing::make_query(name, qtype); }

std::vector<uint8_t> query_ecs(const std::string& name, const std::vector<uint8_t>& ecs_option) {
  return testing::make_query(name, kTypeA, testing::with_edns(1232, 0, ecs_option));
}

struct Answer {
  uint8_t rcode = 0;
  std::vector<std::string> answer;
  std::vector<std::string> authority;
  Outcome oc;
  size_t size = 0;
  std::vector<uint8_t> wire;
};

Answer ask(const zones::Snapshot& snap, const std::vector<uint8_t>& q, const char* from, int32_t listener_view = -1) {
  Answer a;
  a.wire.resize(4096);
  Client c{*zones::parse_ip(from), Transport::Udp, listener_view};
  a.size = respond(snap, q, c, a.wire, &a.oc);
  a.wire.resize(a.size);
  if (a.size == 0) return a;
  ldns_pkt* p = nullptr;
  REQUIRE(ldns_wire2pkt(&p, a.wire.data(), a.size) == LDNS_STATUS_OK);
  ldns::PktPtr pkt(p);
  a.rcode = ldns_pkt_get_rcode(p);
  a.answer = testing::sorted_section(p, LDNS_SECTION_ANSWER);
  a.authority = testing::sorted_section(p, LDNS_SECTION_AUTHORITY);
  return a;
}

}  // namespace

TEST_CASE("view choice: listener, client prefix, public fallback", "[views]") {
  auto snap = testing::snapshot_of(views_config(), 7, verified({"orders", "wild"}));
  REQUIRE(snap->view_count() == 3);
  const int32_t a = snap->view_index("vpc-0a000000000000001"), b = snap->view_index("vpc-0b000000000000002");
  REQUIRE(a == 1);
  REQUIRE(b == 2);
  CHECK(snap->view_for_client(*zones::parse_ip("127.16.9.9")) == 1u);
  CHECK(snap->view_for_client(*zones::parse_ip("127.17.0.1")) == 2u);
  CHECK(snap->view_for_client(*zones::parse_ip("127.18.0.1")) == 0u);
  CHECK(snap->view_for_client(*zones::parse_ip("::1")) == 0u);
  CHECK(snap->view_for_listener(*zones::parse_host_port("127.0.0.53:5353")) == a);
  CHECK(snap->view_for_listener(*zones::parse_host_port("127.0.0.1:5300")) == -1);
  auto choice = snap->choose_view(*zones::parse_ip("127.16.9.9"));
  CHECK(choice.by == zones::ViewChoice::By::ClientPrefix);
  CHECK(zones::to_string(choice.prefix) == "127.16.0.0/16");
}

TEST_CASE("private zones answer only in their VPC's view", "[views]") {
  auto snap = testing::snapshot_of(views_config(), 7, verified({"orders", "wild"}));
  const std::string soa_a = "api.example.com. 60 IN SOA ns1.us-east-1.vpce.amazonaws.com. hostmaster.api.example.com. 7 ";
  const std::string soa_w = "wild.example.net. 60 IN SOA ns1.us-east-1.vpce.amazonaws.com. hostmaster.wild.example.net. 7 ";
  struct Case {
    const char* from;
    int32_t listener;
    std::string qname;
    uint16_t qtype;
    uint8_t rcode;
    std::vector<std::string> answer;
    std::string authority_prefix;  // empty: no authority
  };
  const std::vector<Case> cases = {
      // The owning VPC, by source address and by its dedicated listener whatever the source.
      {"127.16.0.5", -1, "api.example.com", kTypeA, 0,
       {"api.example.com. 60 IN A 127.16.1.10", "api.example.com. 60 IN A 127.16.3.10"}, ""},
      {"127.99.0.1", 1, "API.Example.COM", kTypeA, 0,
       {"API.Example.COM. 60 IN A 127.16.1.10", "API.Example.COM. 60 IN A 127.16.3.10"}, ""},
      // The second VPC's endpoint to the same service has its own addresses.
      {"127.17.3.3", -1, "api.example.com", kTypeA, 0, {"api.example.com. 60 IN A 127.17.1.30"}, ""},
      // Other names inside a private zone: NXDOMAIN with that zone's SOA (Route 53); other types NODATA.
      {"127.16.0.5", -1, "x.api.example.com", kTypeA, 3, {}, soa_a},
      {"127.16.0.5", -1, "api.example.com", kTypeAaaa, 0, {}, soa_a},
      // Siblings of a private zone are outside it: refused here (forwarded when forwarders exist).
      {"127.16.0.5", -1, "www.example.com", kTypeA, 5, {}, ""},
      // Wildcard: any depth below the apex is synthesized; the apex itself is NODATA.
      {"127.16.0.5", -1, "a.wild.example.net", kTypeA, 0, {"a.wild.example.net. 60 IN A 127.16.1.20"}, ""},
      {"127.16.0.5", -1, "b.c.wild.example.net", kTypeA, 0, {"b.c.wild.example.net. 60 IN A 127.16.1.20"}, ""},
      {"127.16.0.5", -1, "a.wild.example.net", 16, 0, {}, soa_w},
      {"127.16.0.5", -1, "wild.example.net", kTypeA, 0, {}, soa_w},
      // The VPC without an endpoint to "wild" and the public view see no private zones.
      {"127.17.3.3", -1, "a.wild.example.net", kTypeA, 5, {}, ""},
      {"127.1.2.3", -1, "api.example.com", kTypeA, 5, {}, ""},
  };
  for (const auto& c : cases) {
    INFO(c.qname << " from " << c.from << " listener " << c.listener);
    auto r = ask(*snap, query(c.qname, c.qtype), c.from, c.listener);
    REQUIRE(r.size > 0);
    CHECK(r.rcode == c.rcode);
    CHECK(r.answer == c.answer);
    if (c.authority_prefix.empty()) {
      CHECK(r.authority.empty());
    } else {
      REQUIRE(r.authority.size() == 1);
      CHECK_THAT(r.authority[0], Catch::StartsWith(c.authority_prefix));
    }
  }
  // Public generated names keep answering in every view.
  const auto& app = snap->model().endpoints.at(2);
  REQUIRE(app.config->name == "app");
  for (const char* from : {"127.16.0.5", "127.17.3.3", "127.1.2.3"})
    CHECK(ask(*snap, query(app.regional_name(), kTypeA), from).answer.size() == 2);
}

TEST_CASE("unverified or failed names give no override anywhere", "[views]") {
  for (auto state : {zones::DnsNameState::PendingVerification, zones::DnsNameState::Failed}) {
    zones::RuntimeInputs r;
    r.verification["orders"] = state;
    auto snap = testing::snapshot_of(views_config(), 7, r);
    for (const char* from : {"127.16.0.5", "127.17.3.3", "127.1.2.3"})
      CHECK(ask(*snap, query("api.example.com", kTypeA), from).rcode == kRcodeRefused);
    CHECK(snap->zones(1).size() == 0);
  }
}

TEST_CASE("a trusted resolver's EDNS Client Subnet picks the view; untrusted ones are ignored", "[views][ecs]") {
  auto snap = testing::snapshot_of(views_config(), 7, verified({"orders", "wild"}));
  // ECS option: family 1, source /24, scope 0, address 127.16.7.0 (3 octets).
  const std::vector<uint8_t> ecs = {0, 8, 0, 7, 0, 1, 24, 0, 127, 16, 7};
  auto trusted = ask(*snap, query_ecs("api.example.com", ecs), "127.0.0.99");
  CHECK(trusted.rcode == 0);
  CHECK(trusted.answer.size() == 2);
  CHECK(trusted.oc.ecs_used);
  // The OPT echoes the option with SCOPE = the matched prefix length (/16).
  const std::vector<uint8_t> echoed = {0, 8, 0, 7, 0, 1, 24, 16, 127, 16, 7};
  REQUIRE(trusted.wire.size() > echoed.size());
  CHECK(std::equal(echoed.begin(), echoed.end(), trusted.wire.end() - static_cast<long>(echoed.size())));

  auto untrusted = ask(*snap, query_ecs("api.example.com", ecs), "127.0.0.98");
  CHECK(untrusted.rcode == kRcodeRefused);
  CHECK_FALSE(untrusted.oc.ecs_used);

  // A malformed ECS from a trusted source is FORMERR (RFC 7871 §7.1.1): SCOPE must be 0 in a query.
  const std::vector<uint8_t> bad = {0, 8, 0, 7, 0, 1, 24, 8, 127, 16, 7};
  CHECK(ask(*snap, query_ecs("api.example.com", bad), "127.0.0.99").rcode == kRcodeFormErr);
}

TEST_CASE("names outside every zone are handed to the forwarders when there are some", "[views][forward]") {
  std::string text = std::regex_replace(views_config(), std::regex("ttl = 60\n"), "ttl = 60\nforwarders = [\"127.0.0.1:5399\"]\n");
  auto snap = testing::snapshot_of(text, 7, verified({"orders", "wild"}));
  auto r = ask(*snap, query("www.example.com", kTypeA), "127.16.0.5");
  CHECK(r.size == 0);
  CHECK(r.oc.forward);
  CHECK_FALSE(r.oc.dropped);
  auto in_zone = ask(*snap, query("x.api.example.com", kTypeA), "127.16.0.5");
  CHECK(in_zone.rcode == kRcodeNxDomain);  // inside a private zone: never forwarded
}

namespace {

// The lowercase wire form of a dotted name ("" and "." are the root).
std::vector<uint8_t> wire_of(const std::string& dotted) {
  std::vector<uint8_t> w;
  size_t start = 0;
  while (start < dotted.size()) {
    size_t dot = dotted.find('.', start);
    if (dot == std::string::npos) dot = dotted.size();
    w.push_back(static_cast<uint8_t>(dot - start));
    for (size_t i = start; i < dot; ++i) w.push_back(static_cast<uint8_t>(std::tolower(static_cast<unsigned char>(dotted[i]))));
    start = dot + 1;
  }
  w.push_back(0);
  return w;
}

}  // namespace

TEST_CASE("answers compiled by two threads are the answers compiled by one", "[views][compile]") {
  // views_config with 150 more endpoints of "wild" in the first VPC (public names, NODATA and NXDOMAIN in
  // every view) and 24 services with a wildcard private name, each with an endpoint there: two-name private
  // zones (apex, wildcard), so that wildcards fall in either half of a split.
  std::string text = views_config();
  for (int i = 0; i < 150; ++i)
    text += "\n[[endpoints]]\nname = \"extra" + std::to_string(i) +
            "\"\nvpc = \"vpc-0a000000000000001\"\nservice = \"wild\"\nprincipal = \"arn:aws:iam::444455556666:root\"\n"
            "subnets = [\"subnet-0a000000000000001\"]\nprivate_dns_enabled = false\n";
  zones::RuntimeInputs runtime = verified({"orders", "wild"});
  for (int i = 0; i < 24; ++i) {
    const std::string w = std::string(1, 'w').append(std::to_string(i));  // not "w" + …: GCC 12 -Wrestrict false positive
    text += "\n[[services]]\nname = \"" + w +
            "\"\nowner = \"111122223333\"\nazs = [\"use1-az1\", \"use1-az2\"]\nacceptance_required = false\nallowed_principals = [\"*\"]\n"
            "private_dns_name = \"*." + w + ".example.org\"\n  [services.load_balancer]\n  listeners = [80]\n"
            "  targets = [{ address = \"127.0.0.3:80\", az = \"use1-az1\" }]\n"
            "\n[[endpoints]]\nname = \"to-" + w + "\"\nvpc = \"vpc-0a000000000000001\"\nservice = \"" + w +
            "\"\nprincipal = \"arn:aws:iam::444455556666:root\"\nsubnets = [\"subnet-0a000000000000001\"]\n";
    runtime.verification[w] = zones::DnsNameState::Verified;
  }
  zones::IdentityState state;
  auto model = testing::model_of(text, state, runtime);
  // split_names 1: every zone, however small, is compiled in two halves; SIZE_MAX: never.
  auto one = zones::compile_snapshot(model, 7, zones::all_zones(*model, 7), true, SIZE_MAX);
  auto two = zones::compile_snapshot(model, 7, zones::all_zones(*model, 7), true, 1);
  REQUIRE(one->view_count() == two->view_count());
  std::set<std::string> names;
  for (uint32_t v = 0; v < one->view_count(); ++v)
    for (const auto& z : one->zones(v))
      for (const auto& r : z.records) {
        // The owner, its ancestors (empty non-terminals among them), a child that does not exist, and a
        // name two labels below (wildcard coverage).
        std::string n(r.owner);
        names.insert("nx." + n);
        names.insert("a.b." + n);
        for (size_t at = 0; at != std::string::npos; at = n.find('.', at + 1)) names.insert(n.substr(at == 0 ? 0 : at + 1));
      }
  REQUIRE(names.size() > 600);
  size_t compared = 0, hits = 0;
  for (uint32_t v = 0; v < one->view_count(); ++v)
    for (const auto& n : names)
      for (uint16_t qtype : {kTypeA, kTypeAaaa, kTypeNs, kTypeSoa, uint16_t{16}, uint16_t{255}}) {
        const auto w = wire_of(n);
        const auto a = one->lookup(v, w, qtype), b = two->lookup(v, w, qtype);
        INFO("view " << v << " " << n << " type " << qtype);
        REQUIRE(a.kind == b.kind);
        CHECK(a.zone_view == b.zone_view);
        CHECK(a.zone == b.zone);
        CHECK(a.wildcard == b.wildcard);
        REQUIRE((a.answer == nullptr) == (b.answer == nullptr));
        if (a.answer) {
          CHECK(a.answer->rcode == b.answer->rcode);
          CHECK(a.answer->ancount == b.answer->ancount);
          CHECK(a.answer->nscount == b.answer->nscount);
          CHECK(a.answer->arcount == b.answer->arcount);
          CHECK(one->bytes(*a.answer) == two->bytes(*b.answer));
          if (a.kind == zones::Lookup::Hit) ++hits;
        }
        ++compared;
      }
  CHECK(compared > 10000);
  CHECK(hits > 1000);
  size_t wildcard_hits = 0;
  for (int i = 0; i < 24; ++i) {
    const auto w = wire_of("x.w" + std::to_string(i) + ".example.org.");
    const auto a = one->lookup(1, w, kTypeA), b = two->lookup(1, w, kTypeA);
    REQUIRE(a.kind == zones::Lookup::Hit);
    CHECK(a.wildcard);
    REQUIRE(b.kind == zones::Lookup::Hit);
    CHECK(one->bytes(*a.answer) == two->bytes(*b.answer));
    ++wildcard_hits;
  }
  CHECK(wildcard_hits == 24);
}
