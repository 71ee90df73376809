// The DNS server: UDP and TCP listeners on every dns_listen address, one receive loop per thread.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "zones/net.hpp"
#include "zones/snapshot.hpp"

namespace vpced::dns {

struct ServerOptions {
  std::vector<zones::HostPort> listen;
  unsigned threads = 0;  // 0: one per core
  unsigned tcp_idle_timeout_ms = 10000;  // RFC 7766 §6.2.3; Knot's default
  unsigned tcp_max_connections_per_thread = 512;
};

class DnsServer {
 public:
  DnsServer(const zones::SnapshotHolder& holder, ServerOptions options);
  ~DnsServer();
  DnsServer(const DnsServer&) = delete;
  DnsServer& operator=(const DnsServer&) = delete;

  // Binds every socket (throws std::system_error naming the address on failure), then starts the threads.
  void start();
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vpced::dns
