// Relays queries for names outside every zone to `server.forwarders` (design §5), with c-ares on Asio.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "zones/net.hpp"

namespace boost::asio {
class io_context;
}

namespace vpced::dns {

struct ForwarderOptions {
  std::vector<zones::HostPort> servers;  // tried in order; IPv4 or IPv6, any port
  unsigned timeout_ms = 2000;            // first try; c-ares doubles it on each later round over the servers
  unsigned tries = 2;                    // rounds over the whole server list
  size_t max_in_flight = 4096;           // beyond this, forward() fails at once
};

// One per worker thread: c-ares 1.18 channels are not thread-safe, and every call, every socket wait and
// every callback here runs on that thread's io_context.
class Forwarder {
 public:
  using Done = std::function<void(std::span<const uint8_t> response)>;

  // Throws std::runtime_error if c-ares cannot be initialised.
  Forwarder(boost::asio::io_context& ctx, ForwarderOptions options);
  // Cancels pending queries: their `done` is posted with an empty response.
  ~Forwarder();
  Forwarder(const Forwarder&) = delete;
  Forwarder& operator=(const Forwarder&) = delete;

  // Sends `query` (a whole DNS message as the client sent it, EDNS included) to the forwarders. `done` runs
  // exactly once, posted to the io_context (never inside forward()), with the upstream response whose ID is
  // the client's again, or with an empty span on timeout, failure, no servers, a query shorter than a header,
  // or when max_in_flight queries are already pending. Upstream SERVFAIL/REFUSED are relayed, not turned into failure.
  void forward(std::span<const uint8_t> query, Done done);

  // On reload. Queries already sent finish on the old server list.
  void set_servers(const std::vector<zones::HostPort>& servers);

  size_t in_flight() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vpced::dns
