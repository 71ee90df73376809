// libFuzzer target: the PROXY protocol v2 decoder (proxy/proxy_v2.hpp decode_proxy_v2) incl. the TLV walk.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "proxy/proxy_v2.hpp"

using namespace vpced::proxy;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> in(data, size);
  Header h;
  const DecodeResult r = decode_proxy_v2(in, h);
  (void)to_string(r);
  if (r == DecodeResult::NeedMore) {
    // A prefix that could still be valid: never as long as a complete header would have to be.
    if (size >= kProxyV2FixedLen && size >= kProxyV2FixedLen + ((size_t{data[14]} << 8) | data[15])) std::abort();
    return 0;
  }
  if (r != DecodeResult::Done) return 0;
  if (h.consumed < kProxyV2FixedLen || h.consumed > size) std::abort();
  // Every prefix of a complete header is NeedMore (never Invalid, never Done).
  for (size_t cut : {size_t{0}, size_t{1}, kProxyV2FixedLen - 1, h.consumed - 1}) {
    if (cut >= h.consumed) continue;
    Header partial;
    if (decode_proxy_v2(in.first(cut), partial) != DecodeResult::NeedMore) std::abort();
  }
  // Round trip: what we encode for a decoded TCP PROXY header decodes to the same addresses and endpoint id.
  if (h.command == kProxyV2CmdProxy && h.has_addresses && h.transport == kProxyV2TransportStream &&
      h.source.addr.v6 == h.destination.addr.v6) {
    const std::string id = h.vpce_id.value_or("");
    const auto wire = encode_proxy_v2(h.source, h.destination, id);
    Header back;
    if (decode_proxy_v2(wire, back) != DecodeResult::Done) std::abort();
    if (back.source != h.source || back.destination != h.destination) std::abort();
    if (!id.empty() && back.vpce_id != h.vpce_id) std::abort();
  }
  return 0;
}
