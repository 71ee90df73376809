// The admin HTTP API (docs/admin-api.md) on the control io_context.
#pragma once

#include <chrono>
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
  // Deadlines of one request read and one response write (server.admin_read_timeout, admin_write_timeout);
  // open connections use the new values from their next request on.
  void set_timeouts(std::chrono::seconds read, std::chrono::seconds write);
  void close();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vpced::cmd
