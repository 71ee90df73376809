// How the verifier's DNS queries leave the process. The daemon implements it over dns::Forwarder (c-ares on
// Asio) in cmd/; tests use a table of canned answers. verify/ itself never opens a socket.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "zones/net.hpp"

namespace vpced::verify {

struct Transport {
  using Done = std::function<void(std::span<const uint8_t> response)>;  // empty span: timeout or failure
  virtual ~Transport() = default;
  // Sends the whole DNS message `query` unchanged (its RD bit and ID are the verifier's; the ID of the
  // response must be the query's again) to `servers`, tried in order, with the transport's own timeouts
  // and retries (UDP, TCP on TC=1). `query` is only valid during the call. Calls `done` exactly once, later
  // (never inside send), on the io_context thread, with the response or an empty span.
  virtual void send(const std::vector<zones::HostPort>& servers, std::span<const uint8_t> query, Done done) = 0;
};

}  // namespace vpced::verify
