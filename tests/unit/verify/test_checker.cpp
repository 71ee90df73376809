// One check over a fake transport: server discovery, authoritative vs recursive mode, pins, CNAMEs,
// failures, and the reasons and hints a provider reads.
#include <catch2/catch.hpp>

#include <optional>
#include <random>

#include "fake_dns.hpp"
#include "verify/checker.hpp"

using namespace vpced::verify;
using namespace vpced::verify::testing;
namespace asio = boost::asio;

namespace {

constexpr const char* kName = "_6e86v84tqgqubxbwii1m";
constexpr const char* kValue = "vpce:l6p0ERxlTt45jevFwOCp";
constexpr const char* kResolver = "127.0.0.53:53";

Target target(const std::string& name = "api.example.com") {
  return Target{"orders", name, {name, kName, kValue}};
}

std::string rec(const std::string& domain) { return std::string(kName) + "." + domain; }

struct Env {
  asio::io_context ctx;
  FakeDns dns{ctx};
  vpced::zones::VerifyConfig cfg;

  CheckReport run(const Target& t = target()) {
    std::optional<CheckReport> out;
    run_check(dns, t, cfg, [&](CheckReport r) {
      REQUIRE_FALSE(out);  // exactly once
      out = std::move(r);
    });
    ctx.run();
    ctx.restart();
    REQUIRE(out);
    return *out;
  }

  // example.com served by ns1.example.com (192.0.2.1) and ns2.example.net (192.0.2.2), found via the resolver.
  void delegate_example_com() {
    cfg.resolvers = {hp(kResolver)};
    FakeAnswer nodata;
    nodata.spec.aa = false;
    nodata.spec.authority = {soa_rr("example.com")};
    dns.set(kResolver, "api.example.com", kTypeNs, nodata);
    FakeAnswer ns;
    ns.spec.aa = false;
    ns.spec.answer = {name_rr("example.com", kTypeNs, "ns1.example.com"), name_rr("example.com", kTypeNs, "ns2.example.net")};
    dns.set(kResolver, "example.com", kTypeNs, ns);
    FakeAnswer a1, a2;
    a1.spec.answer = {a_rr("ns1.example.com", ip("192.0.2.1"))};
    a2.spec.answer = {a_rr("ns2.example.net", ip("192.0.2.2"))};
    dns.set(kResolver, "ns1.example.com", kTypeA, a1);
    dns.set(kResolver, "ns2.example.net", kTypeA, a2);
  }
};

const ReportLine* find_line(const CheckReport& r, const std::string& record, const std::string& server) {
  for (const auto& l : r.lines)
    if (l.record == record && l.server.find(server) != std::string::npos) return &l;
  return nullptr;
}

bool contains(const std::vector<std::string>& lines, const std::string& part) {
  for (const auto& l : lines)
    if (l.find(part) != std::string::npos) return true;
  return false;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string s;
  for (const auto& l : lines) s += l + "\n";
  return s;
}

}  // namespace

TEST_CASE("checker: authoritative mode asks every server; a stale one keeps the name pending") {
  Env env;
  env.delegate_example_com();
  env.dns.txt("192.0.2.1:53", rec("api.example.com"), {kValue});
  // 192.0.2.2 has not loaded the record yet: NXDOMAIN (the fake's default answer).

  const CheckReport r = env.run();
  const auto reasons = r.reasons(target());
  INFO(joined(reasons));
  CHECK_FALSE(r.matched);
  const ReportLine* fresh = find_line(r, rec("api.example.com"), "192.0.2.1:53");
  const ReportLine* stale = find_line(r, rec("api.example.com"), "192.0.2.2:53");
  REQUIRE(fresh);
  REQUIRE(stale);
  CHECK(fresh->outcome == Outcome::Match);
  CHECK(stale->outcome == Outcome::NxDomain);
  CHECK(stale->server == "192.0.2.2:53 (ns2.example.net)");
  CHECK(contains(reasons, "is served by 1 of 2 servers; not yet by 192.0.2.2:53 (ns2.example.net)"));
  CHECK(contains(reasons, "servers of zone example.com"));

  // Discovery through the resolver with RD=1; the servers themselves with RD=0.
  for (const auto& q : env.dns.sent) {
    const bool to_resolver = vpced::zones::to_string(q.servers.front()) == kResolver;
    CHECK(q.question.rd == to_resolver);
    CHECK(to_resolver == (q.question.qtype != kTypeTxt));
  }
  CHECK(env.dns.count("example.com", kTypeNs) == 1);  // shared by both candidates within one check

  SECTION("once every server serves it, it is verified") {
    env.dns.txt("192.0.2.2:53", rec("api.example.com"), {kValue});
    const CheckReport ok = env.run();
    CHECK(ok.matched);
    CHECK(ok.matched_record == rec("api.example.com"));
    CHECK(ok.reasons(target()).front().starts_with("verified: TXT " + rec("api.example.com")));
  }
}

TEST_CASE("checker: a server that answers without AA is not authoritative") {
  Env env;
  env.delegate_example_com();
  env.dns.txt("192.0.2.1:53", rec("api.example.com"), {kValue});
  env.dns.txt("192.0.2.2:53", rec("api.example.com"), {kValue}, /*aa=*/false);  // a cache, or a lame server
  const CheckReport r = env.run();
  CHECK_FALSE(r.matched);
  REQUIRE(find_line(r, rec("api.example.com"), "192.0.2.2:53"));
  CHECK(find_line(r, rec("api.example.com"), "192.0.2.2:53")->outcome == Outcome::NotAuthoritative);
}

TEST_CASE("checker: NS discovery walks up past names without a zone and skips NS names without an address") {
  Env env;
  env.cfg.resolvers = {hp(kResolver)};
  // api.example.com: NXDOMAIN with no SOA (a terse resolver); example.com: NS ns1 (an address) + ns6 (none).
  FakeAnswer ns;
  ns.spec.answer = {name_rr("example.com", kTypeNs, "ns1.example.com"), name_rr("example.com", kTypeNs, "ns6.example.com")};
  env.dns.set(kResolver, "example.com", kTypeNs, ns);
  FakeAnswer a1;
  a1.spec.answer = {a_rr("ns1.example.com", ip("192.0.2.1"))};
  env.dns.set(kResolver, "ns1.example.com", kTypeA, a1);
  env.dns.set(kResolver, "ns6.example.com", kTypeA, FakeAnswer{});  // NODATA: IPv6 only
  env.dns.txt("192.0.2.1:53", rec("example.com"), {kValue});
  const CheckReport r = env.run();
  INFO(joined(r.reasons(target())));
  CHECK(r.matched);
  CHECK(r.matched_candidate == "example.com");
  CHECK(contains(r.notes, "ns6.example.com → no IPv4 address (NODATA)"));
  CHECK(contains(r.reasons(target()), "the parent domain example.com covers api.example.com"));
}

TEST_CASE("checker: pinned nameservers replace discovery, the longest pin wins") {
  Env env;
  env.cfg.nameservers["example.com"] = {hp("127.0.0.1:5399")};
  env.cfg.nameservers["api.example.com"] = {hp("127.0.0.2:5399")};
  env.dns.txt("127.0.0.1:5399", rec("example.com"), {kValue});
  const CheckReport r = env.run();
  INFO(joined(r.reasons(target())));
  CHECK(r.matched);
  CHECK(r.matched_record == rec("example.com"));
  for (const auto& q : env.dns.sent) {
    CHECK_FALSE(q.question.rd);
    CHECK(q.question.qtype == kTypeTxt);
  }
  REQUIRE(find_line(r, rec("api.example.com"), "127.0.0.2:5399"));
  CHECK(find_line(r, rec("api.example.com"), "127.0.0.2:5399")->outcome == Outcome::NxDomain);
  CHECK(env.dns.count("api.example.com", kTypeNs) == 0);
}

TEST_CASE("checker: recursive mode asks the resolvers with RD=1") {
  Env env;
  env.cfg.mode = vpced::zones::VerifyMode::Recursive;
  env.cfg.resolvers = {hp(kResolver), hp("127.0.0.54:53")};
  env.dns.txt(kResolver, rec("example.com"), {"vpce:l6p0ER", "xlTt45jevFwOCp"}, /*aa=*/false);
  const CheckReport r = env.run();
  INFO(joined(r.reasons(target())));
  CHECK(r.matched);
  CHECK(r.matched_candidate == "example.com");
  for (const auto& q : env.dns.sent) {
    CHECK(q.question.rd);
    CHECK(q.servers.size() == 2);  // the whole list, tried in order by the transport
  }
  REQUIRE(find_line(r, rec("example.com"), "resolvers 127.0.0.53:53, 127.0.0.54:53"));

  SECTION("a resolver's answer carrying the CNAME and the target's TXT is followed without another query") {
    Env env2;
    env2.cfg = env.cfg;
    FakeAnswer chain;
    chain.spec.aa = false;
    chain.spec.answer = {name_rr(rec("api.example.com"), kTypeCname, "v.example.net"), txt_rr("v.example.net", {kValue})};
    env2.dns.set(kResolver, rec("api.example.com"), kTypeTxt, chain);
    const CheckReport c = env2.run();
    CHECK(c.matched);
    CHECK(c.matched_record == rec("api.example.com"));
    CHECK(env2.dns.count("v.example.net") == 0);
  }

  SECTION("no resolvers: nothing to ask, reported, and done still runs once") {
    Env none;
    none.cfg.mode = vpced::zones::VerifyMode::Recursive;
    const CheckReport n = none.run();
    CHECK_FALSE(n.matched);
    CHECK(contains(n.reasons(target()), "verify.resolvers is empty"));
    CHECK(none.dns.sent.empty());
  }
}

TEST_CASE("checker: a CNAME at the record name is followed once") {
  Env env;
  env.cfg.nameservers["example.com"] = {hp("127.0.0.1:5399")};
  env.cfg.nameservers["example.net"] = {hp("127.0.0.9:5399")};
  FakeAnswer cname;
  cname.spec.answer = {name_rr(rec("api.example.com"), kTypeCname, "api.verify.example.net")};
  env.dns.set("127.0.0.1:5399", rec("api.example.com"), kTypeTxt, cname);

  SECTION("to a TXT served by the target's servers") {
    env.dns.txt("127.0.0.9:5399", "api.verify.example.net", {kValue});
    const CheckReport r = env.run();
    INFO(joined(r.reasons(target())));
    CHECK(r.matched);
    CHECK(r.matched_record == rec("api.example.com"));
    REQUIRE(find_line(r, rec("api.example.com"), "127.0.0.1:5399"));
    CHECK(find_line(r, rec("api.example.com"), "127.0.0.1:5399")->outcome == Outcome::Cname);
    REQUIRE(find_line(r, "api.verify.example.net", "127.0.0.9:5399"));
    CHECK(find_line(r, "api.verify.example.net", "127.0.0.9:5399")->outcome == Outcome::Match);
  }
  SECTION("but not a second time") {
    FakeAnswer again;
    again.spec.answer = {name_rr("api.verify.example.net", kTypeCname, "deeper.example.net")};
    env.dns.set("127.0.0.9:5399", "api.verify.example.net", kTypeTxt, again);
    env.dns.txt("127.0.0.9:5399", "deeper.example.net", {kValue});
    const CheckReport r = env.run();
    CHECK_FALSE(r.matched);
    REQUIRE(find_line(r, "api.verify.example.net", "127.0.0.9:5399"));
    CHECK(find_line(r, "api.verify.example.net", "127.0.0.9:5399")->outcome == Outcome::CnameChain);
    CHECK(env.dns.count("deeper.example.net") == 0);
  }
}

TEST_CASE("checker: timeouts, SERVFAIL, REFUSED and garbage each get their line") {
  Env env;
  env.cfg.nameservers["example.com"] = {hp("127.0.0.1:5399"), hp("127.0.0.2:5399"), hp("127.0.0.3:5399"),
                                        hp("127.0.0.4:5399")};
  env.dns.timeout("127.0.0.1:5399", rec("api.example.com"), kTypeTxt);
  env.dns.rcode("127.0.0.2:5399", rec("api.example.com"), kTypeTxt, kRcodeServFail);
  env.dns.rcode("127.0.0.3:5399", rec("api.example.com"), kTypeTxt, kRcodeRefused);
  FakeAnswer garbage;
  garbage.raw = std::vector<uint8_t>{0, 0, 0x84, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0};
  env.dns.set("127.0.0.4:5399", rec("api.example.com"), kTypeTxt, garbage);
  const CheckReport r = env.run();
  const auto reasons = r.reasons(target());
  INFO(joined(reasons));
  CHECK_FALSE(r.matched);
  CHECK(find_line(r, rec("api.example.com"), "127.0.0.1:5399")->outcome == Outcome::Timeout);
  CHECK(find_line(r, rec("api.example.com"), "127.0.0.2:5399")->outcome == Outcome::ServFail);
  CHECK(find_line(r, rec("api.example.com"), "127.0.0.3:5399")->outcome == Outcome::Refused);
  CHECK(find_line(r, rec("api.example.com"), "127.0.0.4:5399")->outcome == Outcome::Malformed);
  CHECK(contains(reasons, rec("api.example.com") + " @ 127.0.0.1:5399 (pinned): timeout"));
  CHECK(contains(reasons, "SERVFAIL"));
  CHECK(contains(reasons, "REFUSED"));
  const auto details = r.details();
  CHECK(std::any_of(details.begin(), details.end(), [](const auto& d) { return d.result == "timeout"; }));
}

TEST_CASE("checker: a failed NS lookup is reported, not fatal") {
  Env env;
  env.cfg.resolvers = {hp(kResolver)};
  env.dns.timeout(kResolver, "api.example.com", kTypeNs);
  env.dns.timeout(kResolver, "example.com", kTypeNs);
  const CheckReport r = env.run();
  const auto reasons = r.reasons(target());
  INFO(joined(reasons));
  CHECK_FALSE(r.matched);
  CHECK(contains(reasons, "NS api.example.com via resolver 127.0.0.53:53: timeout"));
  CHECK(contains(reasons, "no servers to ask"));
}

TEST_CASE("checker: hints for the usual mistakes") {
  Env env;
  env.cfg.nameservers["example.com"] = {hp("127.0.0.1:5399")};

  SECTION("the value on the private DNS name itself (AWS's fallback, unsupported)") {
    env.dns.txt("127.0.0.1:5399", "api.example.com", {kValue});
    const auto reasons = env.run().reasons(target());
    INFO(joined(reasons));
    CHECK(contains(reasons, "hint: the value is published at api.example.com (the private DNS name itself)"));
    CHECK(contains(reasons, "AWS accepts that as a fallback"));
    CHECK(contains(reasons, "vpced does not; publish it at " + rec("api.example.com")));
  }
  SECTION("the value on a parent without the label") {
    env.dns.txt("127.0.0.1:5399", "example.com", {"v=spf1 -all"});
    FakeAnswer two;
    two.spec.answer = {txt_rr("example.com", {"v=spf1 -all"}), txt_rr("example.com", {kValue})};
    env.dns.set("127.0.0.1:5399", "example.com", kTypeTxt, two);
    const auto reasons = env.run().reasons(target());
    INFO(joined(reasons));
    CHECK(contains(reasons, "hint: the value is published at example.com, without the " + std::string(kName) + " label"));
  }
  SECTION("a lowercased value at the right name: shown and explained") {
    env.dns.txt("127.0.0.1:5399", rec("api.example.com"), {"vpce:l6p0erxltt45jevfwocp"});
    const CheckReport r = env.run();
    const auto reasons = r.reasons(target());
    INFO(joined(reasons));
    CHECK(contains(reasons, rec("api.example.com") + " @ 127.0.0.1:5399 (pinned): different value: found \"vpce:l6p0erxltt45jevfwocp\""));
    CHECK(contains(reasons, "letter case"));
  }
  SECTION("nothing anywhere: say where to publish") {
    const auto reasons = env.run().reasons(target());
    CHECK(contains(reasons, "hint: no server has any TXT record at " + rec("api.example.com")));
  }
}

TEST_CASE("checker: a wildcard name checks its domain; an overlong record name is reported per candidate") {
  Env env;
  env.cfg.nameservers["example.com"] = {hp("127.0.0.1:5399")};
  env.dns.txt("127.0.0.1:5399", rec("example.com"), {kValue});
  CHECK(env.run(target("*.example.com")).matched);
  for (const auto& q : env.dns.sent) CHECK(q.question.qname.find('*') == std::string::npos);

  std::string deep;
  for (int i = 0; i < 4; ++i) deep += std::string(58, 'a' + i) + ".";
  deep += "example.com";  // 4*59 + 11 = 247 characters: with the 21-character label, too long
  const CheckReport r = env.run(target(deep));
  CHECK(r.matched);  // the shorter candidates still work
  bool too_long = false;
  for (const auto& l : r.lines) too_long |= l.outcome == Outcome::NameTooLong;
  CHECK(too_long);
}

TEST_CASE("checker: mutated answers to every query never crash or wedge a check") {
  for (unsigned seed = 0; seed < 300; ++seed) {
    Env env;
    env.delegate_example_com();
    env.cfg.nameservers["example.net"] = {hp("127.0.0.9:5399")};
    FakeAnswer cname;
    cname.spec.answer = {name_rr(rec("api.example.com"), kTypeCname, "v.example.net")};
    env.dns.set("192.0.2.1:53", rec("api.example.com"), kTypeTxt, cname);
    env.dns.txt("192.0.2.2:53", rec("api.example.com"), {kValue, "x"});
    env.dns.txt("127.0.0.9:5399", "v.example.net", {kValue});
    std::mt19937 rng(seed);
    env.dns.mutate = [&rng](std::vector<uint8_t>& m) {
      if (rng() % 3 == 0) return;  // some answers stay intact, so later steps run too
      for (int k = 0; k < 3; ++k) {
        const size_t at = 2 + rng() % (m.size() - 2);  // keep the ID: the content is under test
        if (at < m.size()) m[at] = static_cast<uint8_t>(rng());
      }
      if (rng() % 4 == 0) m.resize(2 + rng() % (m.size() - 1));
    };
    const CheckReport r = env.run();  // REQUIREs that done ran exactly once
    CHECK_FALSE(r.reasons(target()).empty());
  }
}
