// libFuzzer target: the responder (dns/respond.hpp respond) against a snapshot of conf/example.toml, with the
// client address, transport and listener view taken from the first bytes of the input.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <span>
#include <vector>

#include "dns/respond.hpp"
#include "dns/wire.hpp"
#include "zones/load.hpp"

using namespace vpced;

namespace {

std::shared_ptr<const zones::Snapshot> g_snapshot;

// Client prefixes of conf/example.toml's VPC views, the public view, and an ECS-trusting source.
const uint8_t kClients[][4] = {{127, 0, 0, 1}, {127, 16, 1, 9}, {127, 17, 2, 9}, {127, 18, 3, 9}, {10, 0, 0, 1}};

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* config = std::getenv("VPCED_FUZZ_CONFIG");
  zones::LoadOptions options;
  options.persist = false;  // never touch conf/state
  options.now_unix = 1700000000;
  // Serve the private zones too: both example services count as verified.
  options.runtime.verification["orders"] = zones::DnsNameState::Verified;
  options.runtime.verification["inventory"] = zones::DnsNameState::Verified;
  zones::Diagnostics diags;
  g_snapshot = zones::load_snapshot(config ? config : VPCED_SOURCE_DIR "/conf/example.toml", options, diags);
  if (!g_snapshot) {
    std::fprintf(stderr, "fuzz_respond: cannot load the example config\n");
    std::abort();
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t selector = data[0];
  std::span<const uint8_t> query(data + 1, size - 1);
  dns::Client client;
  client.address = zones::IpAddr{};
  const auto& c = kClients[(selector & 0x07) % 5];
  for (int i = 0; i < 4; ++i) client.address.bytes[i] = c[i];
  client.transport = (selector & 0x08) ? dns::Transport::Tcp : dns::Transport::Udp;
  client.listener_view = (selector & 0x10) ? static_cast<int32_t>((selector >> 5) % (g_snapshot->view_count() + 1)) - 1
                                           : -1;
  // The smallest buffer respond() accepts and the TCP maximum: truncation paths and full answers.
  static std::vector<uint8_t> small(512), large(65535);
  std::span<uint8_t> out = (selector & 0x80) ? std::span<uint8_t>(large) : std::span<uint8_t>(small);
  dns::Outcome outcome;
  const size_t n = dns::respond(*g_snapshot, query, client, out, &outcome);
  if (n > out.size()) std::abort();
  if (n != 0) {
    if (n < dns::kHeaderSize) std::abort();
    if (!(out[2] & dns::kFlagQr)) std::abort();              // every answer is a response
    if (out[0] != query[0] || out[1] != query[1]) std::abort();  // with the query's ID
    // What we send must parse as a DNS message; the query parser refuses responses, so flip QR back.
  }
  if (outcome.dropped && n != 0) std::abort();
  return 0;
}
