// Tests of address, host:port and prefix parsing.
#include <catch2/catch.hpp>

#include <arpa/inet.h>

#include <string>

#include "zones/net.hpp"

using namespace vpced::zones;

TEST_CASE("host:port parsing", "[net]") {
  auto hp = parse_host_port("127.0.0.1:5300");
  REQUIRE(hp);
  CHECK(to_string(*hp) == "127.0.0.1:5300");
  auto v6 = parse_host_port("[::1]:53");
  REQUIRE(v6);
  CHECK(v6->addr.v6);
  CHECK(to_string(*v6) == "[::1]:53");
  CHECK(parse_host_port("127.0.0.1", 53)->port == 53);
  CHECK_FALSE(parse_host_port("127.0.0.1"));
  CHECK_FALSE(parse_host_port("127.0.0.1:0"));
  CHECK_FALSE(parse_host_port("127.0.0.1:65536"));
  CHECK_FALSE(parse_host_port("127.0.0.1:"));
  CHECK_FALSE(parse_host_port("localhost:53"));
  CHECK_FALSE(parse_host_port("[::1"));
  CHECK_FALSE(parse_host_port("300.0.0.1:53"));
}

TEST_CASE("CIDR parsing and containment", "[net]") {
  auto c = parse_cidr("127.16.0.0/16");
  REQUIRE(c);
  CHECK(c->contains(*parse_ip("127.16.200.3")));
  CHECK_FALSE(c->contains(*parse_ip("127.17.0.1")));
  CHECK_FALSE(c->contains(*parse_ip("::1")));
  CHECK(c->first_v4() == 0x7f100000u);
  CHECK(c->last_v4() == 0x7f10ffffu);
  CHECK_FALSE(parse_cidr("127.16.0.1/16"));  // host bits set
  CHECK_FALSE(parse_cidr("127.16.0.0/33"));
  CHECK_FALSE(parse_cidr("127.16.0.0"));
  CHECK(parse_cidr("::/0"));
  CHECK(parse_cidr("10.0.0.0/8")->overlaps(*parse_cidr("10.1.0.0/16")));
  CHECK_FALSE(parse_cidr("10.0.0.0/16")->overlaps(*parse_cidr("10.1.0.0/16")));
}

TEST_CASE("IPv4 addresses print as inet_ntop prints them", "[net]") {
  // to_string formats IPv4 by hand; every octet value in every position, and a spread of whole addresses.
  auto ntop = [](const IpAddr& a) {
    char buf[INET_ADDRSTRLEN];
    REQUIRE(inet_ntop(AF_INET, a.bytes.data(), buf, sizeof buf) != nullptr);
    return std::string(buf);
  };
  for (unsigned pos = 0; pos < 4; ++pos)
    for (unsigned v = 0; v < 256; ++v) {
      IpAddr a = IpAddr::from_v4({0x7f000001u});
      a.bytes[pos] = static_cast<uint8_t>(v);
      REQUIRE(to_string(a) == ntop(a));
    }
  uint32_t x = 0x9e3779b9u;
  for (int i = 0; i < 10000; ++i) {
    x = x * 1664525u + 1013904223u;
    const IpAddr a = IpAddr::from_v4({x});
    REQUIRE(to_string(a) == ntop(a));
    REQUIRE(to_string(Ipv4{x}) == ntop(a));
  }
  CHECK(to_string(IpAddr::from_v4({0})) == "0.0.0.0");
  CHECK(to_string(IpAddr::from_v4({0xffffffffu})) == "255.255.255.255");
}
