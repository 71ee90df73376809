// Tests of the model: AZ names per account, the common-AZ rule, states, regional answers and health.
#include <catch2/catch.hpp>
#include <regex>

#include "../fixture.hpp"
#include "zones/describe.hpp"
#include "zones/records.hpp"

using namespace vpced::zones;
using vpced::testing::kSmallConfig;
using vpced::testing::model_of;

namespace {

const EndpointModel& endpoint(const Model& m, const std::string& name) {
  for (const auto& e : m.endpoints)
    if (e.config->name == name) return e;
  FAIL("no endpoint " << name);
  throw;
}

}  // namespace

TEST_CASE("AZ names are the consumer account's, IDs are physical", "[model]") {
  IdentityState state;
  auto m = model_of(kSmallConfig, state);
  const auto& app = endpoint(*m, "app");
  REQUIRE(app.enis.size() == 2);
  // Consumer's us-east-1a is use1-az2; its us-east-1c is use1-az1.
  CHECK(app.enis[0].az->name == "us-east-1a");
  CHECK(app.enis[0].az->id == "use1-az2");
  CHECK(app.enis[1].az->name == "us-east-1c");
  CHECK(app.enis[1].az->id == "use1-az1");
  // The provider sees its own names for the same IDs.
  const auto& svc = m->services.at(0);
  REQUIRE(svc.azs.size() == 2);
  CHECK(svc.azs[0].id == "use1-az1");
  CHECK(svc.azs[0].name == "us-east-1a");
  CHECK(svc.azs[1].id == "use1-az2");
  CHECK(svc.azs[1].name == "us-east-1b");
  // Zonal names carry the consumer's AZ name.
  CHECK(app.zonal_name(0) == app.id + "-" + app.dns_suffix + "-us-east-1a." + svc.base_name);
}

TEST_CASE("endpoint states follow acceptance", "[model]") {
  IdentityState state;
  auto m = model_of(kSmallConfig, state);
  CHECK(endpoint(*m, "app").state == EndpointState::Available);
  CHECK(endpoint(*m, "pending").state == EndpointState::PendingAcceptance);
  CHECK(endpoint(*m, "gone").state == EndpointState::Rejected);
  CHECK(to_string(EndpointState::PendingAcceptance) == "pendingAcceptance");
  // Without acceptance required, every endpoint not rejected is available.
  std::string auto_accept = std::regex_replace(kSmallConfig, std::regex("acceptance_required = true"),
                                               "acceptance_required = false");
  IdentityState s2;
  auto m2 = model_of(auto_accept, s2);
  CHECK(endpoint(*m2, "pending").state == EndpointState::Available);
  CHECK(endpoint(*m2, "gone").state == EndpointState::Rejected);
}

TEST_CASE("the regional name answers with ENIs whose AZ reaches a healthy target, failing open", "[model]") {
  IdentityState state;
  auto all = model_of(kSmallConfig, state);
  CHECK(endpoint(*all, "app").regional_count() == 2);

  RuntimeInputs one_down;
  one_down.unhealthy_targets.insert({"orders", *parse_host_port("127.0.0.1:9443")});  // use1-az1's only target
  IdentityState s1;
  auto m1 = model_of(kSmallConfig, s1, one_down);
  const auto& app = endpoint(*m1, "app");
  REQUIRE(app.regional_count() == 1);
  CHECK(app.answers_regional(0));  // the use1-az2 ENI

  RuntimeInputs all_down = one_down;
  all_down.unhealthy_targets.insert({"orders", *parse_host_port("127.0.0.2:9443")});
  IdentityState s2;
  auto m2 = model_of(kSmallConfig, s2, all_down);
  CHECK(endpoint(*m2, "app").regional_count() == 2);  // NLB fails open

  // Cross-zone: one healthy target anywhere serves every AZ.
  std::string cross = std::regex_replace(kSmallConfig, std::regex("listeners = \\[443\\]"),
                                         "listeners = [443]\n  cross_zone = true");
  IdentityState s3;
  auto m3 = model_of(cross, s3, one_down);
  CHECK(endpoint(*m3, "app").regional_count() == 2);
}

TEST_CASE("private DNS is on by default only where the service has a name", "[model]") {
  IdentityState state;
  auto m = model_of(kSmallConfig, state);
  CHECK(endpoint(*m, "app").private_dns_enabled);
  CHECK_FALSE(endpoint(*m, "pending").private_dns_enabled);
}

TEST_CASE("describe JSON carries AWS's field names and DnsEntries order", "[model][describe]") {
  IdentityState state;
  auto m = model_of(kSmallConfig, state);
  auto j = describe_json(*m);
  REQUIRE(j["ServiceConfigurations"].size() == 1);
  const auto& s = j["ServiceConfigurations"][0];
  CHECK(s["ServiceName"] == "com.amazonaws.vpce.us-east-1." + s["ServiceId"].get<std::string>());
  CHECK(s["BaseEndpointDnsNames"][0] == s["ServiceId"].get<std::string>() + ".us-east-1.vpce.amazonaws.com");
  CHECK(s["AvailabilityZones"] == nlohmann::json::array({"us-east-1a", "us-east-1b"}));
  CHECK(s["AvailabilityZoneIds"] == nlohmann::json::array({"use1-az1", "use1-az2"}));
  CHECK(s["AcceptanceRequired"] == true);
  CHECK(s["PrivateDnsName"] == "api.example.com");
  CHECK(s["PrivateDnsNameConfiguration"]["State"] == "pendingVerification");
  CHECK(s["PrivateDnsNameConfiguration"]["Type"] == "TXT");
  CHECK(s["Tags"][0]["Value"] == "orders");
  REQUIRE(j["VpcEndpoints"].size() == 3);
  const auto& e = j["VpcEndpoints"][0];
  CHECK(e["VpcEndpointId"] == "vpce-0123456789abcdef0");
  CHECK(e["State"] == "available");
  REQUIRE(e["DnsEntries"].size() == 3);  // regional, two zonal; the private name is not verified yet
  const auto& app = endpoint(*m, "app");
  CHECK(e["DnsEntries"][0]["DnsName"] == app.regional_name());
  CHECK(e["DnsEntries"][1]["DnsName"] == app.zonal_name(0));
  CHECK(e["DnsEntries"][2]["DnsName"] == app.zonal_name(1));
  // Once verified, the private name follows the zonal ones (AWS order).
  RuntimeInputs verified;
  verified.verification["orders"] = DnsNameState::Verified;
  IdentityState s2;
  auto mv = model_of(kSmallConfig, s2, verified);
  auto jv = describe_json(*mv);
  REQUIRE(jv["VpcEndpoints"][0]["DnsEntries"].size() == 4);
  CHECK(jv["VpcEndpoints"][0]["DnsEntries"][3]["DnsName"] == "api.example.com");
  CHECK(jv["ServiceConfigurations"][0]["PrivateDnsNameConfiguration"]["State"] == "verified");
  CHECK(jv["VpcEndpoints"][1]["DnsEntries"].size() == 2);  // pending: no private entry
  CHECK(e["NetworkInterfaces"][0]["PrivateIpAddress"] == "127.16.1.10");
  CHECK(e["NetworkInterfaces"][0]["AvailabilityZoneId"] == "use1-az2");
  CHECK(j["VpcEndpoints"][1]["State"] == "pendingAcceptance");
  CHECK(j["VpcEndpoints"][2]["State"] == "rejected");
}

TEST_CASE("the public zone holds names of available endpoints only", "[model][records]") {
  IdentityState state;
  auto m = model_of(kSmallConfig, state);
  auto z = public_zone(*m, 7);
  REQUIRE(z.records.front().type == "SOA");
  CHECK_THAT(std::string(z.records.front().rdata), Catch::Contains(" 7 "));
  size_t a = 0;
  for (const auto& r : z.records) {
    CHECK(r.ttl == 60);
    if (r.type == "A" && r.owner.starts_with("vpce-")) {
      ++a;
      CHECK(r.owner.starts_with("vpce-0123456789abcdef0-"));
    }
  }
  CHECK(a == 4);  // regional ×2 + zonal ×2 of "app"
  // The digest ignores the serial but sees content.
  CHECK(zone_digest(public_zone(*m, 7)) == zone_digest(public_zone(*m, 8)));
}

TEST_CASE("the public zone written by two threads is the zone written by one", "[model][records]") {
  // kSmallConfig and 200 endpoints more (a /24 subnet holds them): one or two ENIs each, every seventh of them
  // pending (no names), so that skipped endpoints and groups of either size fall in both halves of a split.
  std::string text = kSmallConfig;
  text += R"(
[[services]]
name = "bulk"
owner = "111122223333"
azs = ["use1-az1", "use1-az2", "use1-az4"]
acceptance_required = false
allowed_principals = ["*"]
  [services.load_balancer]
  listeners = [80]
  targets = [{ address = "127.0.0.3:80", az = "use1-az1" }]
)";
  for (int i = 0; i < 200; ++i) {
    const bool pending = i % 7 == 3;  // "orders" needs acceptance and accepts only "app"
    text += "\n[[endpoints]]\nname = \"b" + std::to_string(i) + "\"\nvpc = \"vpc-0a000000000000001\"\nservice = \"" +
            (pending ? "orders" : "bulk") + "\"\nprincipal = \"arn:aws:iam::444455556666:root\"\nsubnets = [" +
            (i % 3 == 0 ? "\"subnet-0a000000000000001\", \"subnet-0a000000000000003\"" : "\"subnet-0a000000000000003\"") +
            "]\nprivate_dns_enabled = false\n";
  }
  IdentityState state;
  auto m = model_of(text, state);
  const auto one = public_zone(*m, 7, SIZE_MAX);
  REQUIRE(one.records.size() > 300);
  CHECK(std::is_sorted(one.records.begin() + 1, one.records.end()));
  {
    const RecordList exact = one.records;
    CHECK(one.records.bytes() <= exact.bytes() * 5 / 4);  // the room reserved up front, one thread
  }
  // split_endpoints 1 and 2: split at half of the 203 endpoints; 203: at the threshold exactly.
  for (size_t split : {size_t{1}, size_t{2}, m->endpoints.size()}) {
    const auto two = public_zone(*m, 7, split);
    CHECK(two.apex == one.apex);
    CHECK(two.records == one.records);
    // The room reserved for the records is close to what they take (a copy takes exactly that): a list
    // that had grown by doubling would hold up to twice as much.
    const RecordList exact = two.records;
    CHECK(two.records.bytes() <= exact.bytes() * 5 / 4);
  }
  // The SOA serial rewritten in place of the one written (set_serial) gives the zone written with it.
  std::vector<ViewZones> views{{"public", {public_zone(*m, 0, 2)}}};
  set_serial(views, 2026112701);
  const RecordList& rewritten = views[0].zones[0].records;
  CHECK(rewritten == public_zone(*m, 2026112701).records);
  const RecordList exact = rewritten;
  CHECK(rewritten.bytes() <= exact.bytes() * 5 / 4);
}
