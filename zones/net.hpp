// IPv4/IPv6 addresses, host:port pairs and CIDR prefixes as plain values (no sockets here).
#pragma once

#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vpced::zones {

// An IPv4 address in host byte order.
struct Ipv4 {
  uint32_t value = 0;
  auto operator<=>(const Ipv4&) const = default;
};

// An IPv4 or IPv6 address; IPv4 is stored as-is in the first 4 bytes.
struct IpAddr {
  bool v6 = false;
  std::array<uint8_t, 16> bytes{};
  auto operator<=>(const IpAddr&) const = default;
  static IpAddr from_v4(Ipv4 a);
  std::optional<Ipv4> v4() const;
};

struct HostPort {
  IpAddr addr;
  uint16_t port = 0;
  auto operator<=>(const HostPort&) const = default;
};

struct Cidr {
  IpAddr addr;          // the network address (host bits cleared)
  uint8_t length = 0;   // prefix length
  auto operator<=>(const Cidr&) const = default;
  bool contains(const IpAddr& a) const;
  bool overlaps(const Cidr& other) const;
  // IPv4 helpers; only meaningful when !addr.v6.
  uint32_t first_v4() const;
  uint32_t last_v4() const;
};

std::optional<Ipv4> parse_ipv4(std::string_view s);
std::optional<IpAddr> parse_ip(std::string_view s);
// "1.2.3.4:53", "[::1]:53"; a missing port takes default_port when it is nonzero, else fails.
std::optional<HostPort> parse_host_port(std::string_view s, uint16_t default_port = 0);
// "10.0.0.0/8"; host bits set are rejected (an operator typo, as in NSD's ACLs).
std::optional<Cidr> parse_cidr(std::string_view s);
// The same, but host bits are cleared instead of rejected ("10.0.0.1/8" → 10.0.0.0/8): for "did you mean".
std::optional<Cidr> parse_prefix_clearing_host_bits(std::string_view s);

// The socket address of `hp` (sockaddr_in or sockaddr_in6 in `ss`); returns its length. A plain data
// conversion for the socket code of dns/ and proxy/.
socklen_t to_sockaddr(const HostPort& hp, sockaddr_storage& ss);

std::string to_string(Ipv4 a);
std::string to_string(const IpAddr& a);
std::string to_string(const HostPort& hp);
std::string to_string(const Cidr& c);

}  // namespace vpced::zones
