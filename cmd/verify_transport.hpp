// The verifier's DNS transport in the daemon: c-ares on Asio through dns::Forwarder, one per server set.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "dns/forwarder.hpp"
#include "verify/transport.hpp"

namespace vpced::cmd {

class ForwarderTransport : public verify::Transport {
 public:
  explicit ForwarderTransport(boost::asio::io_context& ctx) : ctx_(ctx) {}
  void send(const std::vector<zones::HostPort>& servers, std::span<const uint8_t> query, Done done) override;

 private:
  boost::asio::io_context& ctx_;
  // Keyed by the server list; c-ares channels hold their server list, and the verifier asks a few sets only
  // (the resolvers, and the name servers of each domain it checks).
  std::map<std::vector<zones::HostPort>, std::unique_ptr<dns::Forwarder>> forwarders_;
};

}  // namespace vpced::cmd
