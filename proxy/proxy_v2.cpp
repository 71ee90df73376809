// PROXY protocol v2 encoder and decoder (haproxy proxy-protocol.txt §2.2).
#include "proxy/proxy_v2.hpp"

#include <algorithm>

namespace vpced::proxy {

namespace {

uint16_t get16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }

// IPv4 as ::ffff:a.b.c.d (RFC 4291 §2.5.5.2), for headers that must carry one family.
std::array<uint8_t, 16> as_v6(const zones::IpAddr& a) {
  if (a.v6) return a.bytes;
  std::array<uint8_t, 16> r{};
  r[10] = r[11] = 0xFF;
  std::copy(a.bytes.begin(), a.bytes.begin() + 4, r.begin() + 12);
  return r;
}

}  // namespace

std::string_view to_string(DecodeResult r) {
  switch (r) {
    case DecodeResult::Done: return "done";
    case DecodeResult::NeedMore: return "need-more";
    case DecodeResult::Invalid: return "invalid";
  }
  return "?";
}

std::vector<uint8_t> encode_proxy_v2(const zones::HostPort& src, const zones::HostPort& dst,
                                     std::string_view endpoint_id) {
  const bool v6 = src.addr.v6 || dst.addr.v6;
  const size_t addr_len = v6 ? kProxyV2AddrLenInet6 : kProxyV2AddrLenInet;
  const size_t tlv_len = endpoint_id.empty() ? 0 : kProxyV2TlvHeaderLen + 1 + endpoint_id.size();
  // Written through an index into a sized buffer (GCC 12 warns falsely on repeated inserts).
  std::vector<uint8_t> out(kProxyV2FixedLen + addr_len + tlv_len);
  size_t i = 0;
  auto put = [&](uint8_t b) { out[i++] = b; };
  auto put16 = [&](size_t v) {
    put(static_cast<uint8_t>(v >> 8));
    put(static_cast<uint8_t>(v));
  };
  for (uint8_t b : kProxyV2Signature) put(b);
  put(static_cast<uint8_t>(kProxyV2Version << 4 | kProxyV2CmdProxy));
  put(static_cast<uint8_t>((v6 ? kProxyV2AfInet6 : kProxyV2AfInet) << 4 | kProxyV2TransportStream));
  put16(addr_len + tlv_len);
  if (v6) {
    for (uint8_t b : as_v6(src.addr)) put(b);
    for (uint8_t b : as_v6(dst.addr)) put(b);
  } else {
    for (size_t k = 0; k < 4; ++k) put(src.addr.bytes[k]);
    for (size_t k = 0; k < 4; ++k) put(dst.addr.bytes[k]);
  }
  put16(src.port);
  put16(dst.port);
  if (!endpoint_id.empty()) {
    put(kPp2TypeAws);
    put16(1 + endpoint_id.size());
    put(kPp2SubtypeAwsVpceId);
    for (char ch : endpoint_id) put(static_cast<uint8_t>(ch));
  }
  return out;
}

std::vector<uint8_t> encode_proxy_v2_local() {
  std::vector<uint8_t> out(kProxyV2Signature.begin(), kProxyV2Signature.end());
  out.resize(kProxyV2FixedLen);  // len stays 0
  out[12] = static_cast<uint8_t>(kProxyV2Version << 4 | kProxyV2CmdLocal);
  out[13] = static_cast<uint8_t>(kProxyV2AfUnspec << 4 | kProxyV2TransportUnspec);
  return out;
}

DecodeResult decode_proxy_v2(std::span<const uint8_t> in, Header& out) {
  out = Header{};
  // A wrong signature byte is Invalid as soon as it arrives: a receiver can reject plain traffic early.
  const size_t sig = std::min(in.size(), kProxyV2Signature.size());
  if (!std::equal(in.begin(), in.begin() + static_cast<std::ptrdiff_t>(sig), kProxyV2Signature.begin()))
    return DecodeResult::Invalid;
  if (in.size() < kProxyV2Signature.size() + 1) return DecodeResult::NeedMore;
  const uint8_t ver_cmd = in[12];
  if ((ver_cmd >> 4) != kProxyV2Version) return DecodeResult::Invalid;
  const uint8_t command = ver_cmd & 0x0F;
  if (command != kProxyV2CmdLocal && command != kProxyV2CmdProxy) return DecodeResult::Invalid;
  if (in.size() < kProxyV2Signature.size() + 2) return DecodeResult::NeedMore;
  const uint8_t family = in[13] >> 4, transport = in[13] & 0x0F;
  if (family > kProxyV2AfUnix || transport > kProxyV2TransportDgram) return DecodeResult::Invalid;
  if (in.size() < kProxyV2FixedLen) return DecodeResult::NeedMore;
  const size_t len = get16(&in[14]);

  size_t addr_len = 0;
  if (command == kProxyV2CmdProxy) {
    switch (family) {
      case kProxyV2AfInet: addr_len = kProxyV2AddrLenInet; break;
      case kProxyV2AfInet6: addr_len = kProxyV2AddrLenInet6; break;
      case kProxyV2AfUnix: addr_len = kProxyV2AddrLenUnix; break;
      default: addr_len = 0; break;  // UNSPEC: the receiver uses the connection's addresses
    }
    // The length is known from the fixed part: a block too short for its family is Invalid before the rest
    // arrives.
    if (len < addr_len) return DecodeResult::Invalid;
  }
  if (in.size() < kProxyV2FixedLen + len) return DecodeResult::NeedMore;

  out.command = command;
  out.family = family;
  out.transport = transport;
  out.consumed = kProxyV2FixedLen + len;
  if (command == kProxyV2CmdLocal) return DecodeResult::Done;  // §2.2: discard the block, family included

  const uint8_t* a = in.data() + kProxyV2FixedLen;
  if (family == kProxyV2AfInet || family == kProxyV2AfInet6) {
    const size_t n = family == kProxyV2AfInet ? 4 : 16;
    out.source.addr.v6 = out.destination.addr.v6 = family == kProxyV2AfInet6;
    std::copy(a, a + n, out.source.addr.bytes.begin());
    std::copy(a + n, a + 2 * n, out.destination.addr.bytes.begin());
    out.source.port = get16(a + 2 * n);
    out.destination.port = get16(a + 2 * n + 2);
    out.has_addresses = true;
  }

  size_t pos = addr_len;
  while (pos < len) {
    if (len - pos < kProxyV2TlvHeaderLen) return DecodeResult::Invalid;
    const uint8_t type = a[pos];
    const size_t vlen = get16(a + pos + 1);
    pos += kProxyV2TlvHeaderLen;
    if (len - pos < vlen) return DecodeResult::Invalid;
    Tlv t{type, std::vector<uint8_t>(a + pos, a + pos + vlen)};
    if (type == kPp2TypeAws && vlen >= 1 && a[pos] == kPp2SubtypeAwsVpceId)
      out.vpce_id = std::string(reinterpret_cast<const char*>(a + pos + 1), vlen - 1);
    out.tlvs.push_back(std::move(t));
    pos += vlen;
  }
  return DecodeResult::Done;
}

}  // namespace vpced::proxy
