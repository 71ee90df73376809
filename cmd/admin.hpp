// The admin HTTP API (docs/admin-api.md) on the control io_context.
#pragma once

#include <memory>

#include "zones/net.hpp"

namespace boost::asio {
class io_context;
}

namespace vpced::cmd {

class Daemon;

class AdminServer {
 public:
  AdminServer(boost::asio::io_context& ctx, Daemon& daemon);
  ~AdminServer();
  // Listens on `address`, replacing the previous listener. Throws std::system_error if it cannot bind
  // (the previous listener then stays).
  void listen(const zones::HostPort& address);
  const zones::HostPort& address() const;
  void close();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vpced::cmd
