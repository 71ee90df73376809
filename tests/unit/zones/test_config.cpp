// Tests for the config loader: every error class with its exact position and message, defaults, paths.
#include "zones/config.hpp"

#include <catch2/catch.hpp>

#include <fstream>
#include <optional>
#include <sstream>
#include <string>

using namespace vpced::zones;
using namespace std::chrono_literals;

namespace {

// A small valid config. Account 444455556666 maps us-east-1a → use1-az2, us-east-1b → use1-az4,
// us-east-1c → use1-az1, so subnet-0a00001b lies in an AZ that service "orders" does not offer.
const std::string kBase = R"([region]
name = "us-east-1"
azs = ["use1-az1", "use1-az2", "use1-az4"]

[server]
dns_listen = ["127.0.0.1:5300"]

[[accounts]]
id = "111122223333"
az_names = { "us-east-1a" = "use1-az1", "us-east-1b" = "use1-az2" }

[[accounts]]
id = "444455556666"
az_names = { "us-east-1a" = "use1-az2", "us-east-1b" = "use1-az4", "us-east-1c" = "use1-az1" }

[[services]]
name = "orders"
owner = "111122223333"
azs = ["use1-az1", "use1-az2"]
allowed_principals = ["arn:aws:iam::444455556666:root"]
private_dns_name = "api.example.com"

  [services.load_balancer]
  listeners = [443]
  targets = [{ address = "127.0.0.11:9443", az = "use1-az1" }]

[[vpcs]]
id = "vpc-0a000001"
account = "444455556666"
dns_clients = ["127.16.0.0/16"]
subnets = [
  { id = "subnet-0a00001a", az = "us-east-1a", cidr = "127.16.1.0/24" },
  { id = "subnet-0a00001b", az = "us-east-1b", cidr = "127.16.2.0/24" },
  { id = "subnet-0a00001c", az = "us-east-1c", cidr = "127.16.3.0/24" },
]

[[endpoints]]
name = "app-to-orders"
vpc = "vpc-0a000001"
service = "orders"
principal = "arn:aws:iam::444455556666:root"
subnets = ["subnet-0a00001a", "subnet-0a00001c"]
)";

// A second VPC of the same account, for cross-VPC rules.
const std::string kSecondVpc = R"(
[[vpcs]]
id = "vpc-0b000002"
account = "444455556666"
dns_clients = ["127.17.0.0/16"]
subnets = [{ id = "subnet-0b00002a", az = "us-east-1a", cidr = "127.17.1.0/24" }]
)";

// `text` with the single occurrence of `from` replaced by `to`.
std::string replace(std::string text, std::string_view from, std::string_view to) {
  auto at = text.find(from);
  REQUIRE(at != std::string::npos);
  REQUIRE(text.find(from, at + 1) == std::string::npos);
  return text.replace(at, from.size(), to);
}

// Top-level keys must come before the first table header.
std::string prepend(std::string_view head, const std::string& text) { return std::string(head) + text; }

struct Where {
  uint32_t line = 0, column = 0;
};

// Line and column of `token` inside the single occurrence of `context` in `text` (token defaults to context).
Where where(const std::string& text, std::string_view context, std::string_view token = {}) {
  auto at = text.find(context);
  REQUIRE(at != std::string::npos);
  REQUIRE(text.find(context, at + 1) == std::string::npos);
  if (!token.empty()) {
    auto inner = context.find(token);
    REQUIRE(inner != std::string_view::npos);
    at += inner;
  }
  Where w{1, 1};
  for (size_t i = 0; i < at; ++i) {
    if (text[i] == '\n')
      ++w.line, w.column = 1;
    else
      ++w.column;
  }
  return w;
}

struct Loaded {
  std::optional<Config> config;
  Diagnostics diags;
};

Loaded load(const std::string& text, const std::filesystem::path& file = "test.toml") {
  Loaded l;
  l.config = load_config_text(text, file, l.diags);
  return l;
}

Config load_ok(const std::string& text, const std::filesystem::path& file = "test.toml") {
  Loaded l = load(text, file);
  INFO(l.diags.format());
  REQUIRE(l.config);
  REQUIRE_FALSE(l.diags.has_errors());
  return *l.config;
}

// Asserts that `text` fails with exactly one error, at `at`, saying `message`.
void expect_error(const std::string& text, Where at, std::string_view message) {
  Loaded l = load(text);
  INFO(l.diags.format());
  CHECK_FALSE(l.config);
  REQUIRE(l.diags.items().size() == 1);
  const Diagnostic& d = l.diags.items()[0];
  CHECK(d.pos.file == "test.toml");
  CHECK(d.pos.line == at.line);
  CHECK(d.pos.column == at.column);
  CHECK(d.message == message);
}

}  // namespace

TEST_CASE("parse_duration accepts counts with s, m, h, d in descending order") {
  CHECK(parse_duration("30s") == 30s);
  CHECK(parse_duration("5m") == 300s);
  CHECK(parse_duration("2h") == 7200s);
  CHECK(parse_duration("7d") == Seconds{7 * 86400});
  CHECK(parse_duration("1h30m") == 5400s);
  CHECK(parse_duration("1d2h3m4s") == Seconds{86400 + 7200 + 180 + 4});
  CHECK(parse_duration("0s") == 0s);
  for (const char* bad : {"", "30", "-5s", "+5s", "5", "s", "5x", "5 s", " 5s", "5s ", "1.5h", "5m1h", "1m1m",
                          "5ms", "99999999999999999999s", "1000000d"})
    CHECK_FALSE(parse_duration(bad));
}

TEST_CASE("the base config loads and takes the defaults") {
  Config c = load_ok(kBase);
  CHECK(c.file == "test.toml");
  CHECK(c.region.name == "us-east-1");
  CHECK(c.region.dns_suffix == "vpce.amazonaws.com");
  CHECK(c.region.pos.line == 1);
  CHECK(c.server.state_dir == (std::filesystem::current_path() / "state"));
  REQUIRE(c.server.dns_listen.size() == 1);
  CHECK(to_string(c.server.dns_listen[0]) == "127.0.0.1:5300");
  CHECK(to_string(c.server.admin_listen) == "127.0.0.1:8053");
  CHECK(c.server.ttl == 60);
  CHECK(c.server.forwarders.empty());
  CHECK(c.transfer.keys.empty());
  CHECK(c.verify.mode == VerifyMode::Authoritative);
  CHECK(c.verify.interval == 60s);
  CHECK(c.verify.give_up_after == 72h);
  CHECK(c.verify.recheck_every == 24h);

  REQUIRE(c.services.size() == 1);
  const ServiceConfig& s = c.services[0];
  CHECK(s.pos.line == where(kBase, "[[services]]").line);
  CHECK_FALSE(s.id);
  CHECK(s.acceptance_required);
  CHECK(s.private_dns_name == "api.example.com");
  const LoadBalancerConfig& lb = s.load_balancer;
  CHECK_FALSE(lb.cross_zone);
  CHECK_FALSE(lb.proxy_protocol_v2);
  CHECK(lb.idle_timeout == 350s);
  CHECK(lb.connect_timeout == 10s);
  CHECK(lb.max_connections_per_target == 55000);
  CHECK(lb.health_check.interval == 30s);
  CHECK(lb.health_check.timeout == 10s);
  CHECK(lb.health_check.healthy_threshold == 5);
  CHECK(lb.health_check.unhealthy_threshold == 2);
  REQUIRE(lb.targets.size() == 1);
  CHECK(to_string(lb.targets[0].address) == "127.0.0.11:9443");

  REQUIRE(c.vpcs.size() == 1);
  CHECK(c.vpcs[0].subnets.size() == 3);
  CHECK(to_string(c.vpcs[0].subnets[2].cidr) == "127.16.3.0/24");
  REQUIRE(c.endpoints.size() == 1);
  CHECK_FALSE(c.endpoints[0].id);
  CHECK_FALSE(c.endpoints[0].private_dns_enabled);  // unset: follows the service
  CHECK(c.endpoints[0].addresses.empty());
}

TEST_CASE("endpoints share one copy of the strings they repeat, and copies of a config keep it") {
  // A second endpoint in the same VPC with the same principal and one of the same subnets.
  const std::string text = kBase + R"(
[[endpoints]]
name = "batch-to-orders"
vpc = "vpc-0a000001"
service = "orders"
principal = "arn:aws:iam::444455556666:root"
subnets = ["subnet-0a00001c"]
private_dns_enabled = false
)";
  // A third with the second's subnet list: the list itself is held once.
  const std::string third = R"(
[[endpoints]]
name = "reports-to-orders"
vpc = "vpc-0a000001"
service = "orders"
principal = "arn:aws:iam::444455556666:root"
subnets = ["subnet-0a00001c"]
private_dns_enabled = false
addresses = { "subnet-0a00001c" = "127.16.3.20" }
)";
  std::optional<Config> copy;
  {
    Config c = load_ok(text + third);
    REQUIRE(c.endpoints.size() == 3);
    const EndpointConfig &a = c.endpoints[0], &b = c.endpoints[1], &t = c.endpoints[2];
    CHECK(a.vpc.data() == b.vpc.data());
    CHECK(a.principal.data() == b.principal.data());
    CHECK(a.service.data() == b.service.data());
    REQUIRE(a.subnets.size() == 2);
    CHECK(a.subnets[1].data() == b.subnets[0].data());
    CHECK(a.subnets[0].data() != b.subnets[0].data());
    CHECK(b.subnets.data() == t.subnets.data());
    CHECK(a.subnets.data() != b.subnets.data());
    REQUIRE(t.pinned("subnet-0a00001c"));
    CHECK(*t.pinned("subnet-0a00001c") == *parse_ipv4("127.16.3.20"));
    CHECK(t.pinned("subnet-0a00001a") == nullptr);
    copy = c;
  }  // the loaded config is gone; the copy's views point into the pool both shared
  const EndpointConfig& b = copy->endpoints[1];
  CHECK(b.vpc == "vpc-0a000001");
  CHECK(b.service == "orders");
  CHECK(b.principal == "arn:aws:iam::444455556666:root");
  CHECK(std::vector<std::string_view>(b.subnets.begin(), b.subnets.end()) ==
        std::vector<std::string_view>{"subnet-0a00001c"});
  CHECK(copy->endpoints[2].addresses.front().first == "subnet-0a00001c");
}

TEST_CASE("explicit values are read") {
  std::string text = replace(kBase, "[server]\n", R"([server]
admin_listen = "[::1]:9000"
ttl = 300
forwarders = ["127.0.0.53", "[::1]:5353"]
trust_ecs_from = ["127.0.0.0/8", "fd00::/8"]
)");
  text = replace(text, "  listeners = [443]", R"(  cross_zone = true
  proxy_protocol_v2 = true
  idle_timeout = "1h30m"
  max_connections_per_target = 100
  health_check = { interval = "10s", timeout = "5s", healthy_threshold = 3, unhealthy_threshold = 4 }
  listeners = [443, 8443])");
  text = replace(text, "subnets = [\"subnet-0a00001a\", \"subnet-0a00001c\"]\n",
                 "subnets = [\"subnet-0a00001a\", \"subnet-0a00001c\"]\nid = \"vpce-0123456789abcdef0\"\n"
                 "private_dns_enabled = false\naddresses = { \"subnet-0a00001a\" = \"127.16.1.10\" }\n");
  text += R"(
[verify]
resolvers = ["127.0.0.1"]
nameservers = { "example.com" = ["127.0.0.1:5399"] }
mode = "recursive"
interval = "30s"
)";
  Config c = load_ok(text);
  CHECK(to_string(c.server.admin_listen) == "[::1]:9000");
  CHECK(c.server.ttl == 300);
  REQUIRE(c.server.forwarders.size() == 2);
  CHECK(to_string(c.server.forwarders[0]) == "127.0.0.53:53");  // port 53 when missing
  CHECK(to_string(c.server.forwarders[1]) == "[::1]:5353");
  CHECK(c.server.trust_ecs_from.size() == 2);
  const LoadBalancerConfig& lb = c.services[0].load_balancer;
  CHECK(lb.cross_zone);
  CHECK(lb.proxy_protocol_v2);
  CHECK(lb.idle_timeout == 5400s);
  CHECK(lb.max_connections_per_target == 100);
  CHECK(lb.health_check.interval == 10s);
  CHECK(lb.health_check.unhealthy_threshold == 4);
  CHECK(lb.listeners == std::vector<uint16_t>{443, 8443});
  const EndpointConfig& ep = c.endpoints[0];
  CHECK(ep.id == "vpce-0123456789abcdef0");
  CHECK(ep.private_dns_enabled == false);
  REQUIRE(ep.pinned("subnet-0a00001a"));
  CHECK(to_string(*ep.pinned("subnet-0a00001a")) == "127.16.1.10");
  CHECK(to_string(c.verify.resolvers.at(0)) == "127.0.0.1:53");
  CHECK(to_string(c.verify.nameservers.at("example.com").at(0)) == "127.0.0.1:5399");
  CHECK(c.verify.mode == VerifyMode::Recursive);
  CHECK(c.verify.interval == 30s);
}

TEST_CASE("relative paths are resolved against the config file's folder") {
  std::string text = replace(kBase, "[server]\n", "[server]\nstate_dir = \"../lib/vpced/\"\n");
  text += R"(
[transfer]
keys = [
  { name = "vpc-a-key", algorithm = "hmac-sha256", secret_file = "keys/vpc-a", view = "vpc-0a000001" },
  { name = "abs", algorithm = "hmac-sha512", secret_file = "/run/secrets/abs" },
]
)";
  Config c = load_ok(text, "/etc/vpced/vpced.toml");
  CHECK(c.file == "/etc/vpced/vpced.toml");
  CHECK(c.server.state_dir == "/etc/lib/vpced");
  REQUIRE(c.transfer.keys.size() == 2);
  CHECK(c.transfer.keys[0].secret_file == "/etc/vpced/keys/vpc-a");
  CHECK(c.transfer.keys[0].view == "vpc-0a000001");
  CHECK(c.transfer.keys[1].secret_file == "/run/secrets/abs");
  CHECK(c.transfer.keys[1].view.empty());

  // A relative config path is made absolute from the working directory first.
  Config rel = load_ok(kBase, "conf/vpced.toml");
  CHECK(rel.server.state_dir == std::filesystem::current_path() / "conf" / "state");
  CHECK(rel.server.state_dir.is_absolute());
}

TEST_CASE("conf/example.toml loads without errors") {
  Diagnostics diags;
  auto c = load_config(VPCED_SOURCE_DIR "/conf/example.toml", diags);
  INFO(diags.format());
  REQUIRE(c);
  CHECK_FALSE(diags.has_errors());
  CHECK(c->server.state_dir == std::filesystem::path(VPCED_SOURCE_DIR "/conf/state").lexically_normal());
  CHECK(c->accounts.size() == 3);
  CHECK(c->services.size() == 2);
  CHECK(c->vpcs.size() == 3);
  CHECK(c->endpoints.size() >= 5);
}

TEST_CASE("every TOML example in docs/config.md loads without errors") {
  std::ifstream in(VPCED_SOURCE_DIR "/docs/config.md");
  REQUIRE(in);
  std::string line, block;
  bool in_block = false;
  int blocks = 0;
  while (std::getline(in, line)) {
    if (!in_block && line == "```toml") {
      in_block = true, block.clear();
    } else if (in_block && line == "```") {
      in_block = false, ++blocks;
      Loaded l = load(block, "/etc/vpced/vpced.toml");
      INFO(block);
      INFO(l.diags.format());
      CHECK(l.config);
    } else if (in_block) {
      block += line + "\n";
    }
  }
  CHECK(blocks >= 1);
}

TEST_CASE("a missing file is one error without a position") {
  Diagnostics diags;
  CHECK_FALSE(load_config("/nonexistent/vpced.toml", diags));
  REQUIRE(diags.items().size() == 1);
  CHECK(diags.format() == "/nonexistent/vpced.toml: error: cannot read config file: No such file or directory\n");
}

TEST_CASE("a syntax error is reported once, at its position") {
  std::string text = replace(kBase, "[server]\n", "[server\n");
  expect_error(text, {5, 8}, "TOML syntax: parsing table header: expected ']', saw '\\n'");
  expect_error("[region]\nname = \"us-east-1\"\nname = \"us-east-2\"\n", {3, 8},
               "TOML syntax: parsing key-value pair: cannot redefine existing string 'name'");
}

TEST_CASE("unknown keys are errors wherever they are") {
  SECTION("top level") {
    std::string text = prepend("lisen = 1\n", kBase);
    expect_error(text, {1, 1}, "unknown key 'lisen' at top level");
  }
  SECTION("a table, with a hint") {
    std::string text = replace(kBase, "dns_listen = [", "dns_lisen = [\"127.0.0.1:5301\"]\ndns_listen = [");
    expect_error(text, where(text, "dns_lisen"), "unknown key 'dns_lisen' in [server] (did you mean 'dns_listen'?)");
  }
  SECTION("a sub-table of an array of tables") {
    std::string text = replace(kBase, "  listeners = [443]", "  listeners = [443]\n  sticky = true");
    expect_error(text, where(text, "sticky"), "unknown key 'sticky' in [services.load_balancer]");
  }
  SECTION("an inline table in an array") {
    std::string text = replace(kBase, "{ address = ", "{ adress = \"127.0.0.12:9443\", address = ");
    expect_error(text, where(text, "adress"),
                 "unknown key 'adress' in services.load_balancer.targets (did you mean 'address'?)");
  }
  SECTION("an entry of an array of tables") {
    std::string text = replace(kBase, "name = \"app-to-orders\"", "name = \"app-to-orders\"\nzone = \"x\"");
    expect_error(text, where(text, "zone = "), "unknown key 'zone' in [[endpoints]]");
  }
  SECTION("a dotted key names its first part") {
    std::string text = replace(kBase, "[server]\n", "[server]\nhealth.check = 1\n");
    expect_error(text, where(text, "health.check"), "unknown key 'health' in [server]");
  }
}

TEST_CASE("wrong types are errors, never coerced") {
  SECTION("integer expected") {
    std::string text = replace(kBase, "[server]\n", "[server]\nttl = \"60\"\n");
    expect_error(text, where(text, "ttl = \"60\"", "\"60\""), "server.ttl: expected an integer, got string");
  }
  SECTION("float is not an integer") {
    std::string text = replace(kBase, "[server]\n", "[server]\nttl = 60.0\n");
    expect_error(text, where(text, "60.0"), "server.ttl: expected an integer, got float");
  }
  SECTION("1 is not a boolean") {
    std::string text = replace(kBase, "  listeners = [443]", "  cross_zone = 1\n  listeners = [443]");
    expect_error(text, where(text, "cross_zone = 1", "1"),
                 "services.load_balancer.cross_zone: expected a boolean, got integer");
  }
  SECTION("array expected") {
    std::string text = replace(kBase, "dns_listen = [\"127.0.0.1:5300\"]", "dns_listen = \"127.0.0.1:5300\"");
    expect_error(text, where(text, "\"127.0.0.1:5300\""), "server.dns_listen: expected an array, got string");
  }
  SECTION("array element") {
    std::string text = replace(kBase, "azs = [\"use1-az1\", \"use1-az2\"]", "azs = [\"use1-az1\", \"use1-az2\", 2]");
    expect_error(text, where(text, ", 2]", "2"), "services.azs: expected a string, got integer");
  }
  SECTION("a table where an array of tables belongs") {
    std::string text = replace(kBase, "[[accounts]]\nid = \"111122223333\"", "[accounts.a]\nid = \"111122223333\"");
    text = replace(text, "[[accounts]]\nid = \"444455556666\"", "[accounts.b]\nid = \"444455556666\"");
    Loaded l = load(text);
    REQUIRE_FALSE(l.diags.items().empty());
    const Diagnostic& d = l.diags.items()[0];
    CHECK(d.message == "accounts: expected an array of tables ([[accounts]]), got table");
    CHECK(d.pos.line == where(text, "[accounts.a]").line);
  }
}

TEST_CASE("numbers out of range name the allowed range") {
  SECTION("ttl") {
    std::string text = replace(kBase, "[server]\n", "[server]\nttl = 0\n");
    expect_error(text, where(text, "ttl = 0", "0"), "server.ttl: must be between 1 and 604800, got 0");
  }
  SECTION("listener port") {
    std::string text = replace(kBase, "listeners = [443]", "listeners = [443, 70000]");
    expect_error(text, where(text, "70000"), "services.load_balancer.listeners: must be between 1 and 65535, got 70000");
  }
  SECTION("health check threshold") {
    std::string text =
        replace(kBase, "  listeners = [443]", "  health_check = { healthy_threshold = 11 }\n  listeners = [443]");
    expect_error(text, where(text, "healthy_threshold = 11", "11"),
                 "services.load_balancer.health_check.healthy_threshold: must be between 2 and 10, got 11");
  }
  SECTION("max connections") {
    std::string text =
        replace(kBase, "  listeners = [443]", "  max_connections_per_target = 0\n  listeners = [443]");
    expect_error(text, where(text, "max_connections_per_target = 0", "0"),
                 "services.load_balancer.max_connections_per_target: must be between 1 and 1000000, got 0");
  }
  SECTION("duration below the minimum") {
    std::string text = replace(kBase, "  listeners = [443]", "  idle_timeout = \"30s\"\n  listeners = [443]");
    expect_error(text, where(text, "\"30s\""),
                 "services.load_balancer.idle_timeout: must be between 1m and 100m, got '30s'");
  }
  SECTION("health check timeout above the interval") {
    std::string text = replace(kBase, "  listeners = [443]",
                               "  health_check = { interval = \"10s\", timeout = \"20s\" }\n  listeners = [443]");
    expect_error(text, where(text, "\"20s\""),
                 "services.load_balancer.health_check.timeout: 20s must not exceed the interval 10s");
    text = replace(kBase, "  listeners = [443]", "  health_check = { timeout = \"40s\" }\n  listeners = [443]");
    expect_error(text, where(text, "\"40s\""),
                 "services.load_balancer.health_check.timeout: 40s must not exceed the interval 30s");
  }
  SECTION("the default health check timeout shrinks to a shorter interval") {
    std::string text = replace(kBase, "  listeners = [443]", "  health_check = { interval = \"5s\" }\n  listeners = [443]");
    Config c = load_ok(text);
    CHECK(c.services[0].load_balancer.health_check.interval == 5s);
    CHECK(c.services[0].load_balancer.health_check.timeout == 5s);
  }
}

TEST_CASE("bad durations") {
  for (const char* bad : {"5 minutes", "-5s", "300"}) {
    std::string text = kBase + "\n[verify]\ninterval = \"" + bad + "\"\n";
    expect_error(text, where(text, "interval = \"", "\""),
                 std::string("verify.interval: expected a duration like \"30s\", \"5m\", \"7d\", got '") + bad + "'");
  }
}

TEST_CASE("bad addresses") {
  SECTION("the DNS listen address needs a port") {
    std::string text = replace(kBase, "[\"127.0.0.1:5300\"]", "[\"127.0.0.1\"]");
    expect_error(text, where(text, "\"127.0.0.1\""),
                 "server.dns_listen: expected an address with a port like \"127.0.0.1:5300\" or \"[::1]:5300\", "
                 "got '127.0.0.1'");
  }
  SECTION("host names are not addresses") {
    std::string text = replace(kBase, "[server]\n", "[server]\nadmin_listen = \"localhost:8053\"\n");
    expect_error(text, where(text, "\"localhost:8053\""),
                 "server.admin_listen: expected an address with a port like \"127.0.0.1:5300\" or \"[::1]:5300\", "
                 "got 'localhost:8053'");
  }
  SECTION("port 0") {
    std::string text = replace(kBase, "[server]\n", "[server]\nforwarders = [\"1.2.3.4:0\"]\n");
    expect_error(text, where(text, "\"1.2.3.4:0\""),
                 "server.forwarders: expected an address like \"127.0.0.1\" or \"127.0.0.1:53\" (IPv6 as "
                 "\"[::1]:53\"), got '1.2.3.4:0'");
  }
  SECTION("unbracketed IPv6 with a port") {
    std::string text = kBase + "\n[transfer]\nsecondaries = [\"::1:53\", \"::1]:53\"]\n";
    Loaded l = load(text);
    // "::1:53" is a valid IPv6 address (port 53 by default); "::1]:53" is not.
    REQUIRE(l.diags.items().size() == 1);
    CHECK(l.diags.items()[0].pos.column == where(text, "\"::1]:53\"").column);
  }
  SECTION("ENI pins are IPv4") {
    std::string text = replace(kBase, "subnets = [\"subnet-0a00001a\", \"subnet-0a00001c\"]\n",
                               "subnets = [\"subnet-0a00001a\", \"subnet-0a00001c\"]\n"
                               "addresses = { \"subnet-0a00001a\" = \"::1\" }\n");
    expect_error(text, where(text, "\"::1\""),
                 "endpoints.addresses: expected an IPv4 address like \"10.0.1.10\", got '::1'");
  }
}

TEST_CASE("bad CIDR prefixes") {
  SECTION("not a prefix") {
    std::string text = replace(kBase, "\"127.16.0.0/16\"", "\"127.16.0.0/33\"");
    expect_error(text, where(text, "\"127.16.0.0/33\""),
                 "vpcs.dns_clients: expected a CIDR prefix like \"10.0.0.0/8\", got '127.16.0.0/33'");
  }
  SECTION("host bits set") {
    std::string text = replace(kBase, "\"127.16.0.0/16\"", "\"127.16.0.1/16\"");
    expect_error(text, where(text, "\"127.16.0.1/16\""),
                 "vpcs.dns_clients: '127.16.0.1/16' has host bits set (did you mean '127.16.0.0/16'?)");
  }
  SECTION("subnets are IPv4") {
    std::string text = replace(kBase, "\"127.16.2.0/24\"", "\"fd00::/64\"");
    expect_error(text, where(text, "\"fd00::/64\""), "vpcs.subnets.cidr: subnets are IPv4, got 'fd00::/64'");
  }
  SECTION("subnet sizes follow AWS") {
    std::string text = replace(kBase, "\"127.16.2.0/24\"", "\"127.16.2.0/30\"");
    expect_error(text, where(text, "\"127.16.2.0/30\""),
                 "vpcs.subnets.cidr: prefix length must be between /16 and /28, got '127.16.2.0/30'");
  }
}

TEST_CASE("identifier formats") {
  SECTION("account id") {
    std::string text = replace(kBase, "id = \"111122223333\"", "id = \"11112222333\"");
    text = replace(text, "owner = \"111122223333\"", "owner = \"11112222333\"");
    Loaded l = load(text);
    REQUIRE(l.diags.items().size() == 2);
    CHECK(l.diags.items()[0].message == "accounts.id: expected a 12-digit account id, got '11112222333'");
    CHECK(l.diags.items()[1].message == "services.owner: expected a 12-digit account id, got '11112222333'");
  }
  SECTION("AZ ID") {
    std::string text = replace(kBase, "azs = [\"use1-az1\", \"use1-az2\", \"use1-az4\"]",
                               "azs = [\"use1-az1\", \"use1-az2\", \"use1-az4\", \"us-east-1a\"]");
    expect_error(text, where(text, "\"us-east-1a\"]"),
                 "region.azs: expected an AZ ID like \"use1-az1\", got 'us-east-1a'");
  }
  SECTION("more than 64 AZs") {
    std::string azs = "azs = [\"use1-az1\", \"use1-az2\", \"use1-az4\"";
    for (int i = 5; i <= 66; ++i) azs += ", \"use1-az" + std::to_string(i) + "\"";
    std::string text = replace(kBase, "azs = [\"use1-az1\", \"use1-az2\", \"use1-az4\"]", azs + "]");
    expect_error(text, where(text, "\"use1-az66\""), "region.azs: at most 64 AZ IDs, 'use1-az66' is one more");
  }
  SECTION("subnet id") {
    std::string text = replace(kBase, "\"subnet-0a00001a\", \"subnet-0a00001c\"", "\"subnet-xyz\", \"subnet-0a00001c\"");
    expect_error(text, where(text, "\"subnet-xyz\""),
                 "endpoints.subnets: expected a subnet id: \"subnet-\" and 8 or 17 lowercase hex digits, got "
                 "'subnet-xyz'");
  }
  SECTION("pinned service id") {
    std::string text = replace(kBase, "name = \"orders\"", "name = \"orders\"\nid = \"vpce-svc-123\"");
    expect_error(text, where(text, "\"vpce-svc-123\""),
                 "services.id: expected a service id: \"vpce-svc-\" and 17 lowercase hex digits, got "
                 "'vpce-svc-123'");
  }
  SECTION("principal") {
    std::string text = replace(kBase, "principal = \"arn:aws:iam::444455556666:root\"",
                               "principal = \"arn:aws:iam::444455556666:group/x\"");
    expect_error(text, where(text, "\"arn:aws:iam::444455556666:group/x\""),
                 "endpoints.principal: expected an IAM principal like \"arn:aws:iam::123456789012:root\", "
                 "\"…:role/NAME\" or \"…:user/NAME\", got 'arn:aws:iam::444455556666:group/x'");
  }
  SECTION("a wildcard principal only on the service side") {
    std::string text = replace(kBase, "principal = \"arn:aws:iam::444455556666:root\"", "principal = \"*\"");
    expect_error(text, where(text, "\"*\""),
                 "endpoints.principal: \"*\" is allowed only in services.allowed_principals");
  }
  SECTION("private DNS names") {
    const std::pair<const char*, const char*> cases[] = {
        {"API.example.com", "it must be lowercase"},
        {"example", "it needs at least 2 labels"},
        {"*.com", "it needs at least 2 labels"},
        {"api.*.example.com", "'*' is allowed only as the whole first label (\"*.example.com\")"},
        {"*api.example.com", "'*' is allowed only as the whole first label (\"*.example.com\")"},
        {"api.example.com.", "write it without the trailing dot"},
        {"-api.example.com", "label '-api' starts or ends with '-'"},
        {"api_v1.example.com", "label 'api_v1' has a character other than a-z, 0-9 and '-'"},
    };
    for (auto [name, why] : cases) {
      std::string text = replace(kBase, "\"api.example.com\"", std::string("\"") + name + "\"");
      expect_error(text, where(text, std::string("\"") + name + "\""),
                   std::string("services.private_dns_name: '") + name + "' is not a valid private DNS name: " + why);
    }
    std::string long_label(64, 'a');
    std::string text = replace(kBase, "\"api.example.com\"", "\"" + long_label + ".example.com\"");
    expect_error(text, where(text, "\"" + long_label),
                 "services.private_dns_name: '" + long_label + ".example.com' is not a valid private DNS name: label '" +
                     long_label + "' is longer than 63 characters");
  }
  SECTION("TSIG algorithm") {
    std::string text =
        kBase + "\n[transfer]\nkeys = [{ name = \"k\", algorithm = \"hmac-sha3\", secret_file = \"k\" }]\n";
    expect_error(text, where(text, "\"hmac-sha3\""),
                 "transfer.keys.algorithm: expected one of hmac-md5, hmac-sha1, hmac-sha224, hmac-sha256, "
                 "hmac-sha384, hmac-sha512, got 'hmac-sha3'");
  }
  SECTION("verify mode") {
    std::string text = kBase + "\n[verify]\nmode = \"dns\"\n";
    expect_error(text, where(text, "\"dns\""), "verify.mode: expected \"authoritative\" or \"recursive\", got 'dns'");
  }
}

TEST_CASE("transfer.secondaries: addresses, or tables with an address and a key") {
  std::string text = kBase + R"(
[transfer]
secondaries = ["127.0.0.1:5301", { address = "127.0.0.1:5302", key = "vpc-a-key" }, { address = "::1" }]
keys = [{ name = "vpc-a-key", algorithm = "hmac-sha256", secret_file = "k", view = "vpc-0a000001" }]
)";
  Config c = load_ok(text);
  REQUIRE(c.transfer.secondaries.size() == 3);
  CHECK(to_string(c.transfer.secondaries[0].address) == "127.0.0.1:5301");
  CHECK(c.transfer.secondaries[0].key.empty());
  CHECK(to_string(c.transfer.secondaries[1].address) == "127.0.0.1:5302");
  CHECK(c.transfer.secondaries[1].key == "vpc-a-key");
  CHECK(to_string(c.transfer.secondaries[2].address) == "[::1]:53");
  CHECK(c.transfer.secondaries[2].key.empty());

  SECTION("a key that is not in transfer.keys") {
    std::string bad = replace(text, "key = \"vpc-a-key\" }", "key = \"nope\" }");
    expect_error(bad, where(bad, "\"nope\""), "transfer.secondaries.key: unknown key 'nope' (not in transfer.keys)");
  }
  SECTION("a table without address") {
    std::string bad = replace(text, "{ address = \"::1\" }", "{ key = \"vpc-a-key\" }");
    expect_error(bad, where(bad, "{ key = \"vpc-a-key\" }"), "missing key 'address' in transfer.secondaries");
  }
  SECTION("an unknown key in the table") {
    std::string bad = replace(text, "{ address = \"::1\" }", "{ address = \"::1\", view = \"x\" }");
    Loaded l = load(bad);
    REQUIRE(l.diags.has_errors());
    CHECK(l.diags.items()[0].message.find("view") != std::string::npos);
  }
  SECTION("the same address with another key: a second NOTIFY stream (one per view of a BIND)") {
    std::string two = replace(text, "{ address = \"::1\" }", "{ address = \"127.0.0.1:5302\" }");
    CHECK(load_ok(two).transfer.secondaries.size() == 3);
  }
  SECTION("the same address with the same key twice") {
    std::string bad = replace(text, "{ address = \"::1\" }", "{ address = \"127.0.0.1:5302\", key = \"vpc-a-key\" }");
    expect_error(bad, where(bad, "\"127.0.0.1:5302\", key = \"vpc-a-key\" }]"),
                 "transfer.secondaries: duplicate address '127.0.0.1:5302' with key 'vpc-a-key'");
  }
}

TEST_CASE("missing required keys and tables") {
  SECTION("a key") {
    std::string text = replace(kBase, "owner = \"111122223333\"\n", "");
    expect_error(text, where(text, "[[services]]"), "missing key 'owner' in [[services]]");
  }
  SECTION("a key of an inline table") {
    std::string text = replace(kBase, "{ address = \"127.0.0.11:9443\", az = \"use1-az1\" }",
                               "{ address = \"127.0.0.11:9443\" }");
    expect_error(text, where(text, "{ address"), "missing key 'az' in services.load_balancer.targets");
  }
  SECTION("a table") {
    std::string text = replace(kBase, "[server]\ndns_listen = [\"127.0.0.1:5300\"]\n", "");
    Loaded l = load(text);
    REQUIRE(l.diags.items().size() == 1);
    CHECK(l.diags.format() == "test.toml: error: missing table [server] (server.dns_listen is required)\n");
  }
  SECTION("required lists must not be empty") {
    std::string text = replace(kBase, "dns_listen = [\"127.0.0.1:5300\"]", "dns_listen = []");
    expect_error(text, where(text, "[]"), "server.dns_listen: must not be empty");
  }
}

TEST_CASE("duplicates are errors at the second definition") {
  SECTION("account ids") {
    std::string text = kBase + "\n[[accounts]] # again\nid = \"111122223333\"\n";
    expect_error(text, where(text, "# again\nid = \"111122223333\"", "\"111122223333\""),
                 "duplicate account id '111122223333' (first defined on line 9)");
  }
  SECTION("service names") {
    std::string text = kBase + "\n[[services]]\nname = \"orders\" # again\nowner = \"111122223333\"\nazs = [\"use1-az1\"]\n";
    expect_error(text, where(text, "\"orders\" # again", "\"orders\""),
                 "duplicate service name 'orders' (first defined on line 17)");
  }
  SECTION("pinned service ids") {
    std::string text = replace(kBase, "name = \"orders\"", "name = \"orders\"\nid = \"vpce-svc-0123456789abcdef0\"");
    text += "\n[[services]]\nname = \"billing\"\nid = \"vpce-svc-0123456789abcdef0\" # again\n"
            "owner = \"111122223333\"\nazs = [\"use1-az1\"]\n";
    expect_error(text, where(text, "\"vpce-svc-0123456789abcdef0\" # again", "\""),
                 "duplicate service id 'vpce-svc-0123456789abcdef0' (first defined on line 18)");
  }
  SECTION("vpc ids") {
    std::string text = kBase + "\n[[vpcs]]\nid = \"vpc-0a000001\" # again\naccount = \"444455556666\"\n";
    expect_error(text, where(text, "\"vpc-0a000001\" # again", "\""),
                 "duplicate vpc id 'vpc-0a000001' (first defined on line 28)");
  }
  SECTION("subnet ids across VPCs") {
    std::string text = replace(kBase + kSecondVpc, "{ id = \"subnet-0b00002a\"", "{ id = \"subnet-0a00001c\"");
    expect_error(text, where(text, "{ id = \"subnet-0a00001c\", az = \"us-east-1a\"", "\"subnet"),
                 "duplicate subnet id 'subnet-0a00001c' (first defined on line 34)");
  }
  SECTION("endpoint names") {
    std::string text = kBase + R"(
[[endpoints]]
name = "app-to-orders" # again
vpc = "vpc-0a000001"
service = "orders"
principal = "arn:aws:iam::444455556666:root"
subnets = ["subnet-0a00001a"]
private_dns_enabled = false
)";
    expect_error(text, where(text, "\"app-to-orders\" # again", "\""),
                 "duplicate endpoint name 'app-to-orders' (first defined on line 38)");
  }
  SECTION("overlapping subnets of one VPC") {
    std::string text = replace(kBase, "\"127.16.2.0/24\"", "\"127.16.1.0/25\"");
    expect_error(text, where(text, "\"127.16.1.0/25\""),
                 "vpcs.subnets.cidr: '127.16.1.0/25' overlaps '127.16.1.0/24' of subnet 'subnet-0a00001a' in the "
                 "same vpc");
  }
  SECTION("list entries") {
    std::string text = replace(kBase, "listeners = [443]", "listeners = [443, 443]");
    expect_error(text, where(text, "443]"), "services.load_balancer.listeners: duplicate port 443");
    text = replace(kBase, "\"subnet-0a00001a\", \"subnet-0a00001c\"]", "\"subnet-0a00001a\", \"subnet-0a00001a\"]");
    expect_error(text, where(text, "\"subnet-0a00001a\"]"),
                 "endpoints.subnets: subnet 'subnet-0a00001a' is listed twice");
    text = replace(kBase, "dns_clients = [\"127.16.0.0/16\"]", "dns_clients = [\"127.16.0.0/16\", \"127.16.0.0/16\"]");
    expect_error(text, where(text, "\"127.16.0.0/16\"]"), "vpcs.dns_clients: duplicate prefix '127.16.0.0/16'");
  }
}

TEST_CASE("unknown references") {
  SECTION("service owner") {
    std::string text = replace(kBase, "owner = \"111122223333\"", "owner = \"999988887777\"");
    expect_error(text, where(text, "\"999988887777\""),
                 "services.owner: unknown account '999988887777' (not in [[accounts]])");
  }
  SECTION("vpc account") {
    std::string text = replace(kBase, "account = \"444455556666\"", "account = \"999988887777\"");
    expect_error(text, where(text, "\"999988887777\""),
                 "vpcs.account: unknown account '999988887777' (not in [[accounts]])");
  }
  SECTION("an account's AZ name maps to an AZ ID outside the region") {
    std::string text = replace(kBase, "\"us-east-1b\" = \"use1-az2\" }", "\"us-east-1b\" = \"use1-az3\" }");
    expect_error(text, where(text, "\"use1-az3\""),
                 "accounts.az_names: 'us-east-1b' maps to 'use1-az3', which is not in region.azs");
  }
  SECTION("two AZ names of one account map to one AZ ID") {
    std::string text = replace(kBase, "\"us-east-1b\" = \"use1-az2\" }", "\"us-east-1b\" = \"use1-az1\" }");
    expect_error(text, where(text, "\"us-east-1b\" = \"use1-az1\"", "\"use1-az1\""),
                 "accounts.az_names: 'us-east-1b' and 'us-east-1a' both map to 'use1-az1'");
  }
  SECTION("subnet AZ name unknown to the VPC's account") {
    std::string text = replace(kBase, "az = \"us-east-1c\"", "az = \"us-east-1d\"");
    expect_error(text, where(text, "\"us-east-1d\""),
                 "vpcs.subnets.az: 'us-east-1d' is not an AZ name of account '444455556666' (see its az_names)");
  }
  SECTION("service AZ outside the region") {
    std::string text = replace(kBase, "azs = [\"use1-az1\", \"use1-az2\"]", "azs = [\"use1-az1\", \"use1-az2\", \"use1-az3\"]");
    expect_error(text, where(text, "\"use1-az3\""), "services.azs: 'use1-az3' is not in region.azs");
  }
  SECTION("target AZ outside the service") {
    std::string text = replace(kBase, "az = \"use1-az1\" }]", "az = \"use1-az4\" }]");
    expect_error(text, where(text, "\"use1-az4\" }]", "\""),
                 "services.load_balancer.targets.az: 'use1-az4' is not one of the service's azs");
  }
  SECTION("endpoint vpc") {
    std::string text = replace(kBase, "vpc = \"vpc-0a000001\"", "vpc = \"vpc-0f000009\"");
    expect_error(text, where(text, "\"vpc-0f000009\""), "endpoints.vpc: unknown vpc 'vpc-0f000009' (not in [[vpcs]])");
  }
  SECTION("endpoint service") {
    std::string text = replace(kBase, "service = \"orders\"", "service = \"payments\"");
    expect_error(text, where(text, "\"payments\""),
                 "endpoints.service: unknown service 'payments' (neither a service name nor a pinned service id)");
  }
  SECTION("an endpoint may name its service by pinned id") {
    std::string text = replace(kBase, "name = \"orders\"", "name = \"orders\"\nid = \"vpce-svc-0123456789abcdef0\"");
    text = replace(text, "service = \"orders\"", "service = \"vpce-svc-0123456789abcdef0\"");
    load_ok(text);
  }
  SECTION("endpoint subnet of another VPC") {
    std::string text = replace(kBase, "\"subnet-0a00001c\"]", "\"subnet-0b00002a\"]") + kSecondVpc;
    expect_error(text, where(text, "\"subnet-0b00002a\"]"),
                 "endpoints.subnets: subnet 'subnet-0b00002a' is in vpc 'vpc-0b000002', not in the endpoint's vpc "
                 "'vpc-0a000001'");
  }
  SECTION("endpoint subnet that does not exist") {
    std::string text = replace(kBase, "\"subnet-0a00001c\"]", "\"subnet-0a0000ff\"]");
    expect_error(text, where(text, "\"subnet-0a0000ff\""),
                 "endpoints.subnets: unknown subnet 'subnet-0a0000ff' (not in any vpcs.subnets)");
  }
  SECTION("pinned address for a subnet the endpoint does not use") {
    std::string text = kBase + "addresses = { \"subnet-0a00001b\" = \"127.16.2.10\" }\n";
    expect_error(text, where(text, "{ \"subnet-0a00001b\"", "\""),
                 "endpoints.addresses: 'subnet-0a00001b' is not one of the endpoint's subnets");
  }
  SECTION("accepted names no endpoint of the service") {
    std::string text = replace(kBase, "private_dns_name =", "accepted = [\"nobody\"]\nprivate_dns_name =");
    expect_error(text, where(text, "\"nobody\""), "services.accepted: 'nobody' names no endpoint of service 'orders'");
  }
  SECTION("rejected names an endpoint of another service") {
    std::string text = replace(kBase, "private_dns_name =", "rejected = [\"app-to-billing\"]\nprivate_dns_name =");
    text += R"(
[[services]]
name = "billing"
owner = "111122223333"
azs = ["use1-az1"]
allowed_principals = ["*"]

[[endpoints]]
name = "app-to-billing"
vpc = "vpc-0a000001"
service = "billing"
principal = "arn:aws:iam::444455556666:root"
subnets = ["subnet-0a00001c"]
)";
    expect_error(text, where(text, "[\"app-to-billing\"]", "\""),
                 "services.rejected: 'app-to-billing' names no endpoint of service 'orders'");
  }
  SECTION("an endpoint both accepted (by id) and rejected (by name)") {
    std::string text = replace(kBase, "private_dns_name =",
                               "accepted = [\"vpce-0123456789abcdef0\"]\nrejected = [\"app-to-orders\"]\n"
                               "private_dns_name =");
    text += "id = \"vpce-0123456789abcdef0\"\n";
    expect_error(text, where(text, "[\"app-to-orders\"]", "\""),
                 "services.rejected: endpoint 'app-to-orders' is both accepted and rejected by service 'orders'");
  }
  SECTION("transfer key view") {
    std::string text = kBase + "\n[transfer]\nkeys = [{ name = \"k\", algorithm = \"hmac-sha256\", "
                               "secret_file = \"k\", view = \"vpc-0f000009\" }]\n";
    expect_error(text, where(text, "\"vpc-0f000009\""),
                 "transfer.keys.view: unknown vpc 'vpc-0f000009' (not in [[vpcs]])");
  }
}

TEST_CASE("endpoint subnets") {
  SECTION("in an AZ the service does not offer") {
    std::string text = replace(kBase, "\"subnet-0a00001c\"]", "\"subnet-0a00001b\"]");
    expect_error(text, where(text, "\"subnet-0a00001b\"]"),
                 "endpoints.subnets: subnet 'subnet-0a00001b' is in 'us-east-1b' (use1-az4 for account "
                 "'444455556666'), which service 'orders' does not offer (its azs: use1-az1, use1-az2)");
  }
  SECTION("two in one AZ") {
    std::string text = replace(kBase, "  { id = \"subnet-0a00001c\"",
                               "  { id = \"subnet-0a00002a\", az = \"us-east-1a\", cidr = \"127.16.4.0/24\" },\n"
                               "  { id = \"subnet-0a00001c\"");
    text = replace(text, "\"subnet-0a00001c\"]", "\"subnet-0a00002a\"]");
    expect_error(text, where(text, "\"subnet-0a00002a\"]"),
                 "endpoints.subnets: subnets 'subnet-0a00001a' and 'subnet-0a00002a' are both in 'us-east-1a'; an "
                 "endpoint takes one subnet per AZ");
  }
  SECTION("none") {
    std::string text = replace(kBase, "[\"subnet-0a00001a\", \"subnet-0a00001c\"]", "[]");
    expect_error(text, where(text, "[]"),
                 "endpoints.subnets: must not be empty (an endpoint needs a subnet in at least one AZ)");
  }
}

TEST_CASE("service shape") {
  SECTION("no azs") {
    std::string text = replace(kBase, "azs = [\"use1-az1\", \"use1-az2\"]", "azs = []");
    expect_error(text, where(text, "azs = []", "["),
                 "services.azs: must not be empty (a service needs at least one AZ)");
  }
  SECTION("targets without listeners") {
    std::string text = replace(kBase, "listeners = [443]", "listeners = []");
    expect_error(text, where(text, "[]"),
                 "services.load_balancer.listeners: must not be empty when targets are configured");
    text = replace(kBase, "  listeners = [443]\n", "");
    expect_error(text, where(text, "[{ address", "["),
                 "services.load_balancer.listeners: must not be empty when targets are configured");
  }
  SECTION("no load balancer at all is allowed") {
    std::string text = replace(kBase, "  [services.load_balancer]\n  listeners = [443]\n", "");
    text = replace(text, "  targets = [{ address = \"127.0.0.11:9443\", az = \"use1-az1\" }]\n", "");
    Config c = load_ok(text);
    CHECK(c.services[0].load_balancer.targets.empty());
  }
  SECTION("duplicate targets") {
    std::string text = replace(kBase, "az = \"use1-az1\" }]",
                               "az = \"use1-az1\" }, { address = \"127.0.0.11:9443\", az = \"use1-az2\" }]");
    expect_error(text, where(text, "{ address = \"127.0.0.11:9443\", az = \"use1-az2\"", "\"127"),
                 "services.load_balancer.targets.address: duplicate target '127.0.0.11:9443'");
  }
}

TEST_CASE("principals") {
  auto with_principal = [](std::string_view allowed, std::string_view principal) {
    std::string text = replace(kBase, "allowed_principals = [\"arn:aws:iam::444455556666:root\"]",
                               "allowed_principals = [" + std::string(allowed) + "]");
    return replace(text, "principal = \"arn:aws:iam::444455556666:root\"",
                   "principal = \"" + std::string(principal) + "\"");
  };
  SECTION("allowed: exact match, the account's root, or *") {
    load_ok(with_principal("\"arn:aws:iam::444455556666:role/app\"", "arn:aws:iam::444455556666:role/app"));
    load_ok(with_principal("\"arn:aws:iam::444455556666:root\"", "arn:aws:iam::444455556666:user/ops/alice"));
    load_ok(with_principal("\"*\"", "arn:aws:iam::777788889999:root"));
    // Neither is the principal's account required to own the VPC.
    load_ok(with_principal("\"arn:aws:iam::777788889999:root\"", "arn:aws:iam::777788889999:role/x"));
  }
  SECTION("not allowed") {
    std::string text =
        with_principal("\"arn:aws:iam::444455556666:role/app\"", "arn:aws:iam::444455556666:role/other");
    expect_error(text, where(text, "\"arn:aws:iam::444455556666:role/other\""),
                 "endpoints.principal: 'arn:aws:iam::444455556666:role/other' is not in allowed_principals of "
                 "service 'orders'");
  }
  SECTION("an empty list allows nobody") {
    std::string text = with_principal("", "arn:aws:iam::444455556666:root");
    expect_error(text, where(text, "principal = \"arn", "\""),
                 "endpoints.principal: 'arn:aws:iam::444455556666:root' is not in allowed_principals of service "
                 "'orders' (the list is empty, so nobody is allowed)");
  }
}

TEST_CASE("private DNS") {
  SECTION("explicitly enabled on a service without a name") {
    std::string text = replace(kBase, "private_dns_name = \"api.example.com\"\n", "");
    text += "private_dns_enabled = true\n";
    expect_error(text, where(text, "private_dns_enabled = true", "true"),
                 "endpoints.private_dns_enabled: service 'orders' has no private_dns_name");
    load_ok(replace(kBase, "private_dns_name = \"api.example.com\"\n", ""));  // unset is fine
  }

  // Adds service "billing" with `name` and an endpoint to it in the base VPC.
  auto with_second = [](std::string_view name, std::string_view endpoint_extra = "") {
    return kBase + R"(
[[services]]
name = "billing"
owner = "111122223333"
azs = ["use1-az1"]
allowed_principals = ["*"]
private_dns_name = ")" + std::string(name) + R"("

[[endpoints]]
name = "app-to-billing"
vpc = "vpc-0a000001"
service = "billing"
principal = "arn:aws:iam::444455556666:root"
subnets = ["subnet-0a00001c"]
)" + std::string(endpoint_extra);
  };
  SECTION("two endpoints of one VPC with overlapping names") {
    std::string text = with_second("*.example.com");
    expect_error(text, where(text, "service = \"billing\"", "\""),
                 "endpoints 'app-to-orders' and 'app-to-billing' in vpc 'vpc-0a000001' both enable overlapping "
                 "private DNS names '*.example.com' and 'api.example.com' (set private_dns_enabled = false on one)");
    text = with_second("api.example.com");
    expect_error(text, where(text, "service = \"billing\"", "\""),
                 "endpoints 'app-to-orders' and 'app-to-billing' in vpc 'vpc-0a000001' both enable the same private "
                 "DNS name 'api.example.com' (set private_dns_enabled = false on one)");
  }
  SECTION("which names overlap") {
    const std::pair<const char*, bool> cases[] = {
        {"api.example.com", true},    {"*.example.com", true},     {"example.com", false},
        {"v1.api.example.com", false}, {"*.api.example.com", true}, {"*.com.example", false},
        {"web.example.com", false},   {"*.v1.api.example.com", false},
    };
    for (auto [name, overlaps] : cases) {
      INFO(name);
      CHECK(load(with_second(name)).diags.has_errors() == overlaps);
    }
    // A wildcard covers every name below its domain, and shares its zone apex with the domain itself.
    std::string text = replace(with_second("*.a.example.com"), "\"api.example.com\"", "\"*.example.com\"");
    CHECK(load(text).diags.has_errors());
    text = replace(with_second("example.com"), "\"api.example.com\"", "\"*.example.com\"");
    CHECK(load(text).diags.has_errors());
  }
  SECTION("no conflict when one endpoint disables private DNS, or in another VPC") {
    load_ok(with_second("api.example.com", "private_dns_enabled = false\n"));
    std::string text = replace(with_second("api.example.com"), "name = \"app-to-billing\"\nvpc = \"vpc-0a000001\"",
                               "name = \"app-to-billing\"\nvpc = \"vpc-0b000002\"");
    text = replace(text, "subnets = [\"subnet-0a00001c\"]\n", "subnets = [\"subnet-0b00002a\"]\n") + kSecondVpc;
    text = replace(text, "azs = [\"use1-az1\"]\nallowed", "azs = [\"use1-az2\"]\nallowed");
    load_ok(text);
  }
}

TEST_CASE("view selection must be unambiguous") {
  SECTION("dns_clients of two VPCs overlap") {
    std::string text = kBase + replace(kSecondVpc, "\"127.17.0.0/16\"", "\"127.16.128.0/17\"");
    expect_error(text, where(text, "\"127.16.128.0/17\""),
                 "vpcs.dns_clients: '127.16.128.0/17' overlaps '127.16.0.0/16' of vpc 'vpc-0a000001'");
  }
  SECTION("nested prefixes inside one VPC are fine") {
    load_ok(replace(kBase, "[\"127.16.0.0/16\"]", "[\"127.16.0.0/16\", \"127.16.1.0/24\"]"));
  }
  SECTION("dns_listen of a VPC") {
    std::string text = replace(kBase, "dns_clients = [\"127.16.0.0/16\"]",
                               "dns_clients = [\"127.16.0.0/16\"]\ndns_listen = [\"127.0.0.1:5300\"]");
    expect_error(text, where(text, "dns_listen = [\"127.0.0.1:5300\"]\nsubnets", "\"127"),
                 "vpcs.dns_listen: '127.0.0.1:5300' is also in server.dns_listen; a listen address belongs to one "
                 "view");
    text = replace(kBase, "dns_clients = [\"127.16.0.0/16\"]",
                   "dns_clients = [\"127.16.0.0/16\"]\ndns_listen = [\"127.0.0.2\"]") +
           replace(kSecondVpc, "dns_clients = [\"127.17.0.0/16\"]", "dns_listen = [\"127.0.0.2:53\"]");
    expect_error(text, where(text, "\"127.0.0.2:53\""),
                 "vpcs.dns_listen: '127.0.0.2:53' is already a dns_listen address of vpc 'vpc-0a000001'");
  }
}

TEST_CASE("pinned ENI addresses") {
  auto pin = [](std::string_view address) {
    return kBase + "addresses = { \"subnet-0a00001a\" = \"" + std::string(address) + "\" }\n";
  };
  SECTION("a usable address") {
    Config c = load_ok(pin("127.16.1.4"));
    CHECK(to_string(*c.endpoints[0].pinned("subnet-0a00001a")) == "127.16.1.4");
    load_ok(pin("127.16.1.254"));
  }
  SECTION("outside the subnet") {
    std::string text = pin("127.16.2.10");
    expect_error(text, where(text, "\"127.16.2.10\""),
                 "endpoints.addresses: '127.16.2.10' is outside subnet 'subnet-0a00001a' (127.16.1.0/24)");
  }
  SECTION("reserved by AWS") {
    for (const char* reserved : {"127.16.1.0", "127.16.1.1", "127.16.1.3", "127.16.1.255"}) {
      std::string text = pin(reserved);
      expect_error(text, where(text, std::string("\"") + reserved + "\""),
                   std::string("endpoints.addresses: '") + reserved +
                       "' is reserved in subnet 'subnet-0a00001a' (127.16.1.0/24): the first four addresses and "
                       "the last one are not usable");
    }
  }
  SECTION("taken by another endpoint") {
    std::string text = pin("127.16.1.10") + R"(
[[endpoints]]
name = "second"
vpc = "vpc-0a000001"
service = "orders"
principal = "arn:aws:iam::444455556666:root"
subnets = ["subnet-0a00001a"]
private_dns_enabled = false
addresses = { "subnet-0a00001a" = "127.16.1.10" } # again
)";
    expect_error(text, where(text, "\"127.16.1.10\" } # again", "\""),
                 "endpoints.addresses: '127.16.1.10' is already pinned by endpoint 'app-to-orders'");
  }
}

TEST_CASE("all errors of a file are reported, in file order") {
  // toml++ walks tables in key order (admin_listen before ttl, accounts before region); the report is by position.
  const std::string text = R"([region]
name = "us-east-1"
azs = ["use1-az1", "use1-az9x"]

[server]
ttl = 0
admin_listen = "127.0.0.1"
dns_listen = ["127.0.0.1:5300"]

[[accounts]]
id = "1234"

[[services]]
name = "orders"
owner = "111122223333"
azs = ["use1-az1"]
)";
  Loaded l = load(text);
  CHECK_FALSE(l.config);
  CHECK(l.diags.format() ==
        "test.toml:3:20: error: region.azs: expected an AZ ID like \"use1-az1\", got 'use1-az9x'\n"
        "test.toml:6:7: error: server.ttl: must be between 1 and 604800, got 0\n"
        "test.toml:7:16: error: server.admin_listen: expected an address with a port like \"127.0.0.1:5300\" or "
        "\"[::1]:5300\", got '127.0.0.1'\n"
        "test.toml:11:6: error: accounts.id: expected a 12-digit account id, got '1234'\n"
        "test.toml:15:9: error: services.owner: unknown account '111122223333' (not in [[accounts]])\n");
}

TEST_CASE("server.rrl and the admin timeouts: defaults, values, errors") {
  SECTION("defaults: RRL off, slip 2, /24 and /56, admin timeouts 10s") {
    Config c = load_ok(kBase);
    CHECK(c.server.rrl.rate == 0);
    CHECK(c.server.rrl.slip == 2);
    CHECK(c.server.rrl.ipv4_prefix == 24);
    CHECK(c.server.rrl.ipv6_prefix == 56);
    CHECK(c.server.rrl.exempt.empty());
    CHECK(c.server.admin_read_timeout == 10s);
    CHECK(c.server.admin_write_timeout == 10s);
    CHECK(c.server.tcp_max_connections_per_source == 64);
  }
  SECTION("explicit values") {
    std::string text = replace(kBase, "dns_listen = [\"127.0.0.1:5300\"]\n",
                               "dns_listen = [\"127.0.0.1:5300\"]\nadmin_read_timeout = \"3s\"\n"
                               "admin_write_timeout = \"1m\"\n\n[server.rrl]\nrate = 20\nslip = 0\n"
                               "ipv4_prefix = 32\nipv6_prefix = 64\nexempt = [\"127.9.0.0/16\"]\n");
    Config c = load_ok(text);
    CHECK(c.server.rrl.rate == 20);
    CHECK(c.server.rrl.slip == 0);
    CHECK(c.server.rrl.ipv4_prefix == 32);
    CHECK(c.server.rrl.ipv6_prefix == 64);
    REQUIRE(c.server.rrl.exempt.size() == 1);
    CHECK(to_string(c.server.rrl.exempt[0]) == "127.9.0.0/16");
    CHECK(c.server.admin_read_timeout == 3s);
    CHECK(c.server.admin_write_timeout == 60s);
  }
  SECTION("errors are positioned") {
    std::string text = replace(kBase, "dns_listen = [\"127.0.0.1:5300\"]\n",
                               "dns_listen = [\"127.0.0.1:5300\"]\n\n[server.rrl]\nslip = 101\n");
    expect_error(text, where(text, "slip = 101", "101"), "server.rrl.slip: must be between 0 and 100, got 101");
    text = replace(kBase, "dns_listen = [\"127.0.0.1:5300\"]\n",
                   "dns_listen = [\"127.0.0.1:5300\"]\n\n[server.rrl]\nipv6_prefix = 128\n");
    expect_error(text, where(text, "ipv6_prefix = 128", "128"),
                 "server.rrl.ipv6_prefix: must be between 16 and 64, got 128");
    text = replace(kBase, "dns_listen = [\"127.0.0.1:5300\"]\n",
                   "dns_listen = [\"127.0.0.1:5300\"]\n\n[server.rrl]\nrate = \"5\"\n");
    expect_error(text, where(text, "rate = \"5\"", "\"5\""), "server.rrl.rate: expected an integer, got string");
    text = replace(kBase, "dns_listen = [\"127.0.0.1:5300\"]\n",
                   "dns_listen = [\"127.0.0.1:5300\"]\n\n[server.rrl]\nwindow = 15\n");
    Loaded l = load(text);
    REQUIRE(l.diags.items().size() == 1);
    CHECK(l.diags.items()[0].message.starts_with("unknown key 'window' in [server.rrl]"));
    text = replace(kBase, "dns_listen = [\"127.0.0.1:5300\"]\n",
                   "dns_listen = [\"127.0.0.1:5300\"]\nadmin_read_timeout = \"2h\"\n");
    expect_error(text, where(text, "\"2h\""), "server.admin_read_timeout: must be between 1s and 1h, got '2h'");
    text = replace(kBase, "dns_listen = [\"127.0.0.1:5300\"]\n",
                   "dns_listen = [\"127.0.0.1:5300\"]\ntcp_max_connections_per_source = 70000\n");
    expect_error(text, where(text, "70000"), "server.tcp_max_connections_per_source: must be between 0 and 65535, got 70000");
  }
  SECTION("tcp_max_connections_per_source: 0 turns the limit off") {
    std::string text = replace(kBase, "dns_listen = [\"127.0.0.1:5300\"]\n",
                               "dns_listen = [\"127.0.0.1:5300\"]\ntcp_max_connections_per_source = 0\n");
    CHECK(load_ok(text).server.tcp_max_connections_per_source == 0);
    text = replace(kBase, "dns_listen = [\"127.0.0.1:5300\"]\n",
                   "dns_listen = [\"127.0.0.1:5300\"]\ntcp_max_connections_per_source = 8\n");
    CHECK(load_ok(text).server.tcp_max_connections_per_source == 8);
  }
}
