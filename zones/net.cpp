// Parsing and printing of addresses, host:port pairs and prefixes.
#include "zones/net.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <charconv>
#include <cstring>

namespace vpced::zones {

IpAddr IpAddr::from_v4(Ipv4 a) {
  IpAddr r;
  r.bytes[0] = static_cast<uint8_t>(a.value >> 24);
  r.bytes[1] = static_cast<uint8_t>(a.value >> 16);
  r.bytes[2] = static_cast<uint8_t>(a.value >> 8);
  r.bytes[3] = static_cast<uint8_t>(a.value);
  return r;
}

std::optional<Ipv4> IpAddr::v4() const {
  if (v6) return std::nullopt;
  return Ipv4{(uint32_t{bytes[0]} << 24) | (uint32_t{bytes[1]} << 16) | (uint32_t{bytes[2]} << 8) | bytes[3]};
}

static bool prefix_bits_equal(const IpAddr& a, const IpAddr& b, unsigned bits) {
  unsigned full = bits / 8, rest = bits % 8;
  if (std::memcmp(a.bytes.data(), b.bytes.data(), full) != 0) return false;
  if (rest == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (a.bytes[full] & mask) == (b.bytes[full] & mask);
}

bool Cidr::contains(const IpAddr& a) const {
  return a.v6 == addr.v6 && prefix_bits_equal(addr, a, length);
}

bool Cidr::overlaps(const Cidr& other) const {
  if (addr.v6 != other.addr.v6) return false;
  return prefix_bits_equal(addr, other.addr, std::min(length, other.length));
}

uint32_t Cidr::first_v4() const { return addr.v4().value_or(Ipv4{}).value; }

uint32_t Cidr::last_v4() const {
  uint32_t host = length >= 32 ? 0 : (0xffffffffu >> length);
  return first_v4() | host;
}

std::optional<Ipv4> parse_ipv4(std::string_view s) {
  auto ip = parse_ip(s);
  if (!ip || ip->v6) return std::nullopt;
  return ip->v4();
}

std::optional<IpAddr> parse_ip(std::string_view s) {
  if (s.empty() || s.size() > 45) return std::nullopt;
  char buf[64];
  std::memcpy(buf, s.data(), s.size());
  buf[s.size()] = '\0';
  IpAddr r;
  if (s.find(':') != std::string_view::npos) {
    if (inet_pton(AF_INET6, buf, r.bytes.data()) != 1) return std::nullopt;
    r.v6 = true;
    return r;
  }
  if (inet_pton(AF_INET, buf, r.bytes.data()) != 1) return std::nullopt;
  return r;
}

static std::optional<uint16_t> parse_port(std::string_view s) {
  unsigned v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty() || v == 0 || v > 65535) return std::nullopt;
  return static_cast<uint16_t>(v);
}

std::optional<HostPort> parse_host_port(std::string_view s, uint16_t default_port) {
  std::string_view host = s, port;
  if (!s.empty() && s.front() == '[') {
    auto close = s.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = s.substr(1, close - 1);
    auto rest = s.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return std::nullopt;
      port = rest.substr(1);
      if (port.empty()) return std::nullopt;
    }
  } else if (s.find(':') != s.rfind(':')) {
    host = s;  // a bare IPv6 address, no port
  } else if (auto colon = s.find(':'); colon != std::string_view::npos) {
    host = s.substr(0, colon);
    port = s.substr(colon + 1);
    if (port.empty()) return std::nullopt;
  }
  auto ip = parse_ip(host);
  if (!ip) return std::nullopt;
  HostPort hp{*ip, default_port};
  if (!port.empty()) {
    auto p = parse_port(port);
    if (!p) return std::nullopt;
    hp.port = *p;
  }
  if (hp.port == 0) return std::nullopt;
  return hp;
}

std::optional<Cidr> parse_prefix_clearing_host_bits(std::string_view s) {
  auto slash = s.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto ip = parse_ip(s.substr(0, slash));
  if (!ip) return std::nullopt;
  auto len_s = s.substr(slash + 1);
  unsigned len = 0;
  auto [p, ec] = std::from_chars(len_s.data(), len_s.data() + len_s.size(), len);
  if (ec != std::errc() || p != len_s.data() + len_s.size() || len_s.empty()) return std::nullopt;
  const unsigned bits = ip->v6 ? 128u : 32u;
  if (len > bits) return std::nullopt;
  Cidr c{*ip, static_cast<uint8_t>(len)};
  for (unsigned bit = len; bit < bits; ++bit) c.addr.bytes[bit / 8] &= static_cast<uint8_t>(~(0x80u >> (bit % 8)));
  return c;
}

std::optional<Cidr> parse_cidr(std::string_view s) {
  auto c = parse_prefix_clearing_host_bits(s);
  if (!c || c->addr != parse_ip(s.substr(0, s.find('/')))) return std::nullopt;  // host bits were set
  return c;
}

socklen_t to_sockaddr(const HostPort& hp, sockaddr_storage& ss) {
  ss = {};
  if (hp.addr.v6) {
    auto* sa = reinterpret_cast<sockaddr_in6*>(&ss);
    sa->sin6_family = AF_INET6;
    sa->sin6_port = htons(hp.port);
    std::copy(hp.addr.bytes.begin(), hp.addr.bytes.end(), sa->sin6_addr.s6_addr);
    return sizeof *sa;
  }
  auto* sa = reinterpret_cast<sockaddr_in*>(&ss);
  sa->sin_family = AF_INET;
  sa->sin_port = htons(hp.port);
  sa->sin_addr.s_addr = htonl(hp.addr.v4()->value);
  return sizeof *sa;
}

std::string to_string(Ipv4 a) { return to_string(IpAddr::from_v4(a)); }

std::string to_string(const IpAddr& a) {
  char buf[INET6_ADDRSTRLEN];
  if (!a.v6) {
    // Dotted quad by hand: inet_ntop formats IPv4 through snprintf, and a big config's zone text has an
    // address in every record (100,000 endpoints: ~50 ms of a build).
    size_t n = 0;
    for (size_t i = 0; i < 4; ++i) {
      if (i) buf[n++] = '.';
      const unsigned b = a.bytes[i];
      if (b >= 100) buf[n++] = static_cast<char>('0' + b / 100);
      if (b >= 10) buf[n++] = static_cast<char>('0' + b / 10 % 10);
      buf[n++] = static_cast<char>('0' + b % 10);
    }
    return std::string(buf, n);
  }
  inet_ntop(AF_INET6, a.bytes.data(), buf, sizeof buf);
  return buf;
}

std::string to_string(const HostPort& hp) {
  std::string h = to_string(hp.addr);
  if (hp.addr.v6) h = "[" + h + "]";
  return h + ":" + std::to_string(hp.port);
}

std::string to_string(const Cidr& c) { return to_string(c.addr) + "/" + std::to_string(c.length); }

}  // namespace vpced::zones
