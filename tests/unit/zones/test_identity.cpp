// Tests of identity generation, stability across restarts and edits, and crash-safe persistence (design §4).
#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <variant>

#include "../fixture.hpp"
#include "zones/identity.hpp"
#include "zones/naming.hpp"

using namespace vpced::zones;
using vpced::testing::kSmallConfig;
using vpced::testing::load_text;

namespace {

// The small config without pinned IDs and addresses: everything is generated.
std::string unpinned() {
  std::string s = std::regex_replace(kSmallConfig, std::regex("\nid = \"vpce-[0-9a-f]+\""), "");
  return std::regex_replace(s, std::regex("\naddresses = \\{[^}]*\\}"), "");
}

std::filesystem::path temp_dir() {
  auto p = std::filesystem::temp_directory_path() / ("vpced-identity-" + new_dns_suffix());
  std::filesystem::create_directories(p);
  return p;
}

IdentityState assign(const std::string& text, IdentityState state = {}) {
  Diagnostics diags;
  assign_identity(load_text(text), state, diags);
  INFO(diags.format());
  REQUIRE_FALSE(diags.has_errors());
  return state;
}

const std::string kExtraEndpoint = R"(
[[endpoints]]
name = "extra"
vpc = "vpc-0a000000000000001"
service = "orders"
principal = "arn:aws:iam::444455556666:root"
subnets = ["subnet-0a000000000000001", "subnet-0a000000000000003"]
private_dns_enabled = false
)";

}  // namespace

TEST_CASE("generated identity is well formed and avoids reserved addresses", "[identity]") {
  auto state = assign(unpinned());
  REQUIRE(state.endpoints.size() == 3);
  REQUIRE(state.services.size() == 1);
  CHECK(is_service_id(state.services.at("orders").id));
  REQUIRE(state.services.at("orders").token);
  CHECK(state.services.at("orders").token->domain_name == "api.example.com");
  for (const auto& [name, e] : state.endpoints) {
    CHECK(is_endpoint_id(e.id));
    CHECK(is_dns_suffix(e.dns_suffix));
    for (const auto& [subnet, a] : e.addresses) {
      const uint32_t net = subnet == "subnet-0a000000000000001" ? 0x7f100100u : 0x7f100300u;
      CHECK(a.value >= net + 4);     // .0-.3 are reserved
      CHECK(a.value <= net + 254);  // .255 is reserved
    }
  }
  CHECK(state.endpoints.at("app").addresses.size() == 2);
}

TEST_CASE("identity survives a restart through the state file", "[identity]") {
  auto dir = temp_dir();
  auto state = assign(unpinned());
  save_identity(dir, state);
  CHECK_FALSE(std::filesystem::exists(dir / "identity.json.tmp"));
  auto loaded = load_identity(dir);
  CHECK(loaded == state);
  auto again = assign(unpinned(), loaded);
  CHECK(again == state);
  std::filesystem::remove_all(dir);
}

TEST_CASE("adding and removing other objects moves nothing", "[identity]") {
  auto before = assign(unpinned());
  auto added = assign(unpinned() + kExtraEndpoint, before);
  CHECK(added.endpoints.size() == 4);
  for (const auto& name : {"app", "pending", "gone"}) CHECK(added.endpoints.at(name) == before.endpoints.at(name));
  CHECK(added.services == before.services);
  // Remove "pending": the others stay put, the removed one is forgotten.
  std::string without = std::regex_replace(unpinned() + kExtraEndpoint,
                                           std::regex("\\[\\[endpoints\\]\\]\nname = \"pending\"[\\s\\S]*?(?=\\[\\[endpoints\\]\\])"), "");
  auto removed = assign(without, added);
  CHECK_FALSE(removed.endpoints.contains("pending"));
  for (const auto& name : {"app", "gone", "extra"}) CHECK(removed.endpoints.at(name) == added.endpoints.at(name));
}

TEST_CASE("a new private DNS name gets a new token; the same name keeps it", "[identity]") {
  auto before = assign(unpinned());
  auto same = assign(unpinned(), before);
  CHECK(same.services.at("orders").token == before.services.at("orders").token);
  std::string renamed = std::regex_replace(unpinned(), std::regex("api\\.example\\.com"), "api2.example.com");
  auto after = assign(renamed, before);
  REQUIRE(after.services.at("orders").token);
  CHECK(after.services.at("orders").token->domain_name == "api2.example.com");
  CHECK(after.services.at("orders").token->value != before.services.at("orders").token->value);
  CHECK(after.services.at("orders").id == before.services.at("orders").id);
}

TEST_CASE("pins win, and a pin on an address another endpoint holds is an error", "[identity]") {
  auto state = assign(unpinned());
  Ipv4 held = state.endpoints.at("app").addresses.at("subnet-0a000000000000001");
  // "pending" pins app's address.
  std::string text = std::regex_replace(unpinned(), std::regex("name = \"pending\"\n"),
                                        "name = \"pending\"\naddresses = { \"subnet-0a000000000000001\" = \"" +
                                            to_string(held) + "\" }\n");
  Diagnostics diags;
  assign_identity(load_text(text), state, diags);
  REQUIRE(diags.items().size() == 1);
  CHECK_THAT(diags.items()[0].message, Catch::Contains("endpoint 'app' already holds " + to_string(held)));
  CHECK_THAT(diags.items()[0].message, Catch::Contains("endpoint 'pending' pins it"));
}

TEST_CASE("a corrupt state file stops the load and is left untouched", "[identity]") {
  auto dir = temp_dir();
  const std::string garbage = "{\n  \"format\": 1,\n  \"serial\": oops\n}\n";
  {
    std::ofstream(dir / "identity.json") << garbage;
  }
  try {
    load_identity(dir);
    FAIL("a corrupt state file loaded");
  } catch (const LoadError& e) {
    REQUIRE(e.diags.items().size() == 1);
    CHECK(e.diags.items()[0].pos.file == (dir / "identity.json").string());
    CHECK(e.diags.items()[0].pos.line == 3);
    CHECK_THAT(e.diags.items()[0].message, Catch::StartsWith("corrupt state file: not valid JSON"));
  }
  std::ifstream in(dir / "identity.json");
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(content == garbage);
  std::filesystem::remove_all(dir);
}

TEST_CASE("the serial moves exactly when the zone content changes", "[identity]") {
  IdentityState s;
  CHECK(update_serial(s, "aaaa", 1000));
  CHECK(s.serial == 1000);
  CHECK_FALSE(update_serial(s, "aaaa", 2000));
  CHECK(s.serial == 1000);
  CHECK(update_serial(s, "bbbb", 900));  // the clock went back: still increases
  CHECK(s.serial == 1001);
  CHECK(update_serial(s, "cccc", 5000));
  CHECK(s.serial == 5000);
}

namespace {

// The state file as a JSON document dumped by nlohmann (what identity_to_json wrote before it wrote directly).
std::string dom_dump(const IdentityState& state) {
  using nlohmann::json;
  json services = json::object();
  for (const auto& [name, s] : state.services) {
    json j = {{"id", s.id}};
    if (s.token) j["verification"] = {{"domain_name", s.token->domain_name}, {"name", s.token->name}, {"value", s.token->value}};
    services[name] = std::move(j);
  }
  json endpoints = json::object();
  for (const auto& [name, e] : state.endpoints) {
    json addrs = json::object();
    for (const auto& [subnet, a] : e.addresses) addrs[subnet] = to_string(a);
    endpoints[name] = {{"id", e.id}, {"dns_suffix", e.dns_suffix}, {"addresses", std::move(addrs)}};
  }
  json root = {{"format", 1}, {"serial", state.serial}, {"zone_digest", state.zone_digest},
               {"services", std::move(services)}, {"endpoints", std::move(endpoints)}};
  return root.dump(2) + "\n";
}

}  // namespace

TEST_CASE("the state file text is what a JSON library writes for the same document", "[identity]") {
  CHECK(identity_to_json(IdentityState{}) == dom_dump(IdentityState{}));  // empty objects print as {}

  IdentityState s = assign(unpinned() + kExtraEndpoint);
  s.serial = 2026112701;
  s.zone_digest = "0123456789abcdef";
  REQUIRE(s.endpoints.size() >= 3);
  REQUIRE(!s.services.empty());
  CHECK(identity_to_json(s) == dom_dump(s));

  // Names that need escaping, an endpoint without addresses, a service with and without a token.
  s.endpoints["quote\"back\\slash\ttab\x01ctl é"] = EndpointIdentity{"vpce-0123456789abcdef9", "abcdefgh", {}};
  s.services["plain"] = ServiceIdentity{"vpce-svc-0123456789abcdef9", std::nullopt};
  s.services["with token"] =
      ServiceIdentity{"vpce-svc-0123456789abcdef8", VerificationToken{"api.example.com", "_abc", "vpce:xyz"}};
  const std::string text = identity_to_json(s);
  CHECK(text == dom_dump(s));
  CHECK(nlohmann::json::parse(text).at("endpoints").size() == s.endpoints.size());
}

namespace {

// load_identity of `text` written as the state file of a fresh directory: the state, or the first error's text.
std::variant<IdentityState, std::string> read_state(const std::string& text) {
  auto dir = temp_dir();
  std::ofstream(dir / "identity.json") << text;
  std::variant<IdentityState, std::string> out;
  try {
    out = load_identity(dir);
  } catch (const LoadError& e) {
    out = e.diags.items().at(0).message;
  }
  std::filesystem::remove_all(dir);
  return out;
}

// The state read from `text`, which must load.
IdentityState loaded(const std::string& text) {
  auto r = read_state(text);
  if (auto* why = std::get_if<std::string>(&r)) FAIL("did not load: " << *why);
  return std::get<IdentityState>(r);
}

std::string error_of(const std::string& text) {
  auto r = read_state(text);
  if (auto* why = std::get_if<std::string>(&r)) return *why;
  return "(loaded)";
}

const char* kGoodState = R"({
  "endpoints": {
    "app": {"addresses": {"subnet-01": "10.0.0.5", "subnet-02": "10.0.1.5"}, "dns_suffix": "abcd1234",
            "id": "vpce-0123456789abcdef0"}
  },
  "format": 1,
  "serial": 4000000000,
  "services": {
    "orders": {"id": "vpce-svc-0123456789abcdef0",
               "verification": {"domain_name": "api.example.com", "name": "_abcdefghij0123456789",
                                "value": "vpce:ABCDEFGHIJabcdefghij"}},
    "plain": {"id": "vpce-svc-0123456789abcdef1"}
  },
  "zone_digest": "00ff"
})";

std::string with(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  REQUIRE(at != std::string::npos);
  return text.replace(at, from.size(), to);
}

}  // namespace

TEST_CASE("the state file reader gives back every field, and a written state round-trips", "[identity]") {
  const auto s = loaded(kGoodState);
  CHECK(s.serial == 4000000000u);
  CHECK(s.zone_digest == "00ff");
  REQUIRE(s.services.size() == 2);
  REQUIRE(s.services.at("orders").token);
  CHECK(s.services.at("orders").token->domain_name == "api.example.com");
  CHECK(s.services.at("orders").token->value == "vpce:ABCDEFGHIJabcdefghij");
  CHECK_FALSE(s.services.at("plain").token);
  const auto& app = s.endpoints.at("app");
  CHECK(app.id == "vpce-0123456789abcdef0");
  CHECK(app.dns_suffix == "abcd1234");
  CHECK(to_string(app.addresses.at("subnet-02")) == "10.0.1.5");
  // Unknown members, arrays and nested objects among them, are skipped wherever they are.
  auto extra = with(with(kGoodState, "\"format\": 1,", "\"format\": 1, \"future\": [1, {\"a\": [2]}], \"more\": {\"x\": {}},"),
                    "\"dns_suffix\"", "\"notes\": {\"k\": [\"v\"]}, \"dns_suffix\"");
  CHECK(loaded(extra) == s);
  // What save_identity writes reads back the same.
  CHECK(loaded(identity_to_json(s)) == s);
}

TEST_CASE("the state file reader refuses what does not follow the format", "[identity]") {
  // kGoodState with one text replaced, and what the refusal says. The last group: a key given twice counts
  // with its last value, as in a document tree.
  struct Case {
    const char* from;
    const char* to;
    const char* says;
  };
  const Case cases[] = {
      {"\"format\": 1", "\"format\": 2", "unknown format version"},
      {"\"format\": 1,", "", "unknown format version"},
      {"4000000000", "-1", "serial"},
      {"4000000000", "4294967296", "serial"},
      {"\"zone_digest\": \"00ff\"", "\"zone_digest\": 5", "zone_digest"},
      {"\"id\": \"vpce-0123456789abcdef0\"", "\"id\": 7", "missing string 'id'"},
      {"\"dns_suffix\": \"abcd1234\",", "", "missing string 'dns_suffix'"},
      {"abcd1234", "ABCD", "endpoint 'app' has a malformed id or DNS suffix"},
      {"10.0.1.5", "10.0.1.500", "malformed address for subnet-02"},
      {"\"subnet-01\": \"10.0.0.5\"", "\"subnet-01\": [\"10.0.0.5\"]", "malformed address for subnet-01"},
      {"{\"subnet-01\": \"10.0.0.5\", \"subnet-02\": \"10.0.1.5\"}", "[]", "endpoint 'app' has no address table"},
      {"vpce-svc-0123456789abcdef1", "vpce-svc-xyz", "service 'plain' has a malformed id"},
      {"\"name\": \"_abcdefghij0123456789\",", "", "missing string 'name'"},
      {"vpce:ABCDEFGHIJabcdefghij", "nope", "service 'orders' has a malformed verification token"},
      {"\"services\": {", "\"services\": 3, \"x\": {", "services is not an object"},
      {"\"endpoints\": {", "\"endpoints\": [], \"y\": {", "endpoints is not an object"},
      {"\"endpoints\": {", "\"y\": {", "missing object 'endpoints'"},
      {"\"id\": \"vpce-0123456789abcdef0\"", "\"id\": \"vpce-0123456789abcdef0\", \"id\": {}", "missing string 'id'"},
      {"\"value\": \"vpce:ABCDEFGHIJabcdefghij\"", "\"value\": \"vpce:ABCDEFGHIJabcdefghij\", \"value\": 1", "missing string 'value'"},
  };
  for (const auto& c : cases) {
    INFO(c.from << " -> " << c.to);
    CHECK_THAT(error_of(with(kGoodState, c.from, c.to)), Catch::Contains(c.says));
  }
  CHECK_THAT(error_of("[1, 2]"), Catch::Contains("top level is not an object"));
  CHECK(loaded(with(kGoodState, "\"id\": \"vpce-0123456789abcdef0\"", "\"id\": 7, \"id\": \"vpce-0123456789abcdef9\""))
            .endpoints.at("app")
            .id == "vpce-0123456789abcdef9");
  // An unknown format version is the reason given, whatever else looks wrong before it in the file.
  CHECK_THAT(error_of(with(with(kGoodState, "\"format\": 1", "\"format\": 2"), "\"dns_suffix\": \"abcd1234\",", "")),
             Catch::Contains("unknown format version"));
  // A syntax error wins over an earlier semantic one, as a whole-document parse would report it.
  CHECK_THAT(error_of(with(with(kGoodState, "4000000000", "-1"), "\"zone_digest\": \"00ff\"", "\"zone_digest\": ")),
             Catch::StartsWith("corrupt state file: not valid JSON"));
  CHECK_THAT(error_of(""), Catch::StartsWith("corrupt state file: not valid JSON"));
  CHECK_THAT(error_of(std::string(kGoodState) + " trailing"), Catch::StartsWith("corrupt state file: not valid JSON"));
}

TEST_CASE("a full subnet places every address once and reports the endpoint left over", "[identity]") {
  // subnet-…001 as a /28: 11 usable addresses (.4-.14); "app", "pending" and ten more endpoints want one each.
  std::string text = unpinned();
  text.replace(text.find("127.16.1.0/24"), 13, "127.16.1.0/28");
  for (int i = 0; i < 10; ++i)
    text += "\n[[endpoints]]\nname = \"more" + std::to_string(i) +
            "\"\nvpc = \"vpc-0a000000000000001\"\nservice = \"orders\"\n"
            "principal = \"arn:aws:iam::444455556666:root\"\nsubnets = [\"subnet-0a000000000000001\"]\n"
            "private_dns_enabled = false\n";
  IdentityState state;
  Diagnostics diags;
  assign_identity(load_text(text), state, diags);
  REQUIRE(diags.items().size() == 1);
  CHECK_THAT(diags.items()[0].message, Catch::Contains("subnet 'subnet-0a000000000000001' is full"));
  std::set<uint32_t> placed;
  for (const auto& [name, e] : state.endpoints)
    if (auto a = e.addresses.find("subnet-0a000000000000001"); a != e.addresses.end()) {
      CHECK(a->second.value >= 0x7f100104u);
      CHECK(a->second.value <= 0x7f10010eu);
      CHECK(placed.insert(a->second.value).second);  // no address twice
    }
  CHECK(placed.size() == 11);
}
