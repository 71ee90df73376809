// Sending the verifier's queries as they are, through a forwarder per server set.
#include "cmd/verify_transport.hpp"

namespace vpced::cmd {

namespace {
constexpr size_t kMaxIdleSets = 32;
}  // namespace

void ForwarderTransport::send(const std::vector<zones::HostPort>& servers, std::span<const uint8_t> query, Done done) {
  // Each name server the verifier discovers is a server set of its own: forget idle ones beyond a few.
  if (forwarders_.size() > kMaxIdleSets)
    std::erase_if(forwarders_, [&](const auto& kv) { return kv.first != servers && kv.second->in_flight() == 0; });
  auto& f = forwarders_[servers];
  if (!f) {
    dns::ForwarderOptions o;
    o.servers = servers;
    o.timeout_ms = 2000;
    o.tries = 2;
    o.max_in_flight = 1024;
    f = std::make_unique<dns::Forwarder>(ctx_, o);
  }
  f->forward(query, std::move(done));
}

}  // namespace vpced::cmd
