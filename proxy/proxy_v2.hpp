// PROXY protocol version 2 codec (haproxy's proxy-protocol.txt §2.2) with the AWS VPC endpoint TLV.
// Pure: no sockets. The relay encodes; tests, fuzzers and health-check receivers decode.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "zones/net.hpp"

namespace vpced::proxy {

// §2.2: the 12-byte signature "\r\n\r\n\0\r\nQUIT\n".
inline constexpr std::array<uint8_t, 12> kProxyV2Signature = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                                              0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
// Signature, ver_cmd, fam and the 2-byte len: the fixed part before the address block.
inline constexpr size_t kProxyV2FixedLen = 16;
inline constexpr uint8_t kProxyV2Version = 0x2;  // high nibble of ver_cmd
inline constexpr uint8_t kProxyV2CmdLocal = 0x0;  // low nibble: health checks, no client information
inline constexpr uint8_t kProxyV2CmdProxy = 0x1;
// High nibble of fam: address family.
inline constexpr uint8_t kProxyV2AfUnspec = 0x0;
inline constexpr uint8_t kProxyV2AfInet = 0x1;
inline constexpr uint8_t kProxyV2AfInet6 = 0x2;
inline constexpr uint8_t kProxyV2AfUnix = 0x3;
// Low nibble of fam: transport protocol.
inline constexpr uint8_t kProxyV2TransportUnspec = 0x0;
inline constexpr uint8_t kProxyV2TransportStream = 0x1;
inline constexpr uint8_t kProxyV2TransportDgram = 0x2;
// Address block sizes (§2.2 "struct proxy_addr").
inline constexpr size_t kProxyV2AddrLenInet = 12;
inline constexpr size_t kProxyV2AddrLenInet6 = 36;
inline constexpr size_t kProxyV2AddrLenUnix = 216;
// A TLV: type (1 byte), length_hi, length_lo, then the value.
inline constexpr size_t kProxyV2TlvHeaderLen = 3;
// AWS's custom TLV (range 0xE0–0xEF, §2.2.7): the value is a subtype byte then the data; subtype 0x01 carries
// the VPC endpoint id in ASCII (Elastic Load Balancing "Proxy protocol" docs; aws/elastic-load-balancing-tools).
inline constexpr uint8_t kPp2TypeAws = 0xEA;
inline constexpr uint8_t kPp2SubtypeAwsVpceId = 0x01;

enum class DecodeResult { Done, NeedMore, Invalid };
std::string_view to_string(DecodeResult r);

struct Tlv {
  uint8_t type = 0;
  std::vector<uint8_t> value;
};

struct Header {
  uint8_t command = kProxyV2CmdProxy;    // kProxyV2CmdLocal or kProxyV2CmdProxy
  uint8_t family = kProxyV2AfUnspec;     // kProxyV2Af*
  uint8_t transport = kProxyV2TransportUnspec;
  bool has_addresses = false;            // PROXY over INET or INET6: source and destination are set
  zones::HostPort source;
  zones::HostPort destination;
  std::optional<std::string> vpce_id;    // the 0xEA TLV with subtype 0x01
  std::vector<Tlv> tlvs;                 // every TLV, in wire order
  size_t consumed = 0;                   // bytes of the input the header used (16 + len)
};

// PROXY command, TCP over IPv4 (fam 0x11) or IPv6 (0x21), followed by the AWS VPC endpoint TLV when
// `endpoint_id` is not empty. When one address is IPv6 and the other IPv4, the IPv4 one is sent as
// ::ffff:a.b.c.d so both share a family.
std::vector<uint8_t> encode_proxy_v2(const zones::HostPort& src, const zones::HostPort& dst,
                                     std::string_view endpoint_id);
// LOCAL command (0x20), fam 0x00, len 0: what a load balancer's health check sends (the receiver must use the
// connection's real addresses).
std::vector<uint8_t> encode_proxy_v2_local();

// Decodes a header at the start of `in`. NeedMore while `in` is a strict prefix of a header that could still
// be valid (a wrong signature byte is Invalid at once); Done fills `out` (out.consumed = bytes used). Any TLV
// order is accepted; TLVs must exactly fill the space after the address block. LOCAL headers skip their
// address block, as §2.2 tells receivers to.
DecodeResult decode_proxy_v2(std::span<const uint8_t> in, Header& out);

}  // namespace vpced::proxy
