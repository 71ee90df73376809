// The DNS server: UDP and TCP listeners on every dns_listen address, one receive loop per thread.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "dns/metrics.hpp"
#include "dns/transfer.hpp"
#include "zones/net.hpp"
#include "zones/snapshot.hpp"

namespace vpced::dns {

struct ServerOptions {
  unsigned threads = 0;                   // 0: one per core
  unsigned tcp_idle_timeout_ms = 10000;   // RFC 7766 §6.2.3; Knot's default
  unsigned tcp_max_connections_per_thread = 512;
  unsigned drain_timeout_ms = 2000;       // graceful stop: how long in-flight TCP work may take
  unsigned forward_timeout_ms = 1000;     // first try per forwarder; c-ares doubles it on the second round
  // When set, every answered query is described to it in one line (the query log; off by default).
  std::function<void(std::string_view)> query_log;
  // TSIG keys and IXFR history for zone transfers; null: every transfer is refused unless transfer.allow
  // admits it with no key configured, and IXFR always falls back to AXFR.
  const TransferContext* transfer = nullptr;
};

class DnsServer {
 public:
  DnsServer(const zones::SnapshotHolder& holder, DnsMetrics& metrics, ServerOptions options);
  ~DnsServer();
  DnsServer(const DnsServer&) = delete;
  DnsServer& operator=(const DnsServer&) = delete;

  // Starts the worker threads (with no listeners yet).
  void start();
  // Makes the served addresses exactly `listen`: binds the new ones on every worker, closes the ones no
  // longer listed. All-or-nothing: if a new address cannot be bound (std::system_error naming it), nothing
  // changes. Call from one control thread.
  void set_listeners(const std::vector<zones::HostPort>& listen);
  const std::vector<zones::HostPort>& listeners() const;
  // The upstreams for names outside every zone (server.forwarders); empty: such names are REFUSED.
  void set_forwarders(const std::vector<zones::HostPort>& servers);
  // Call after publishing a snapshot to the holder: every UDP thread takes it now, so that an idle thread does
  // not keep the previous snapshot (and its model) alive until its next query.
  void snapshot_published();
  // Graceful stop: closes the listeners, lets open TCP connections finish the query in hand (up to
  // drain_timeout_ms), then joins the threads.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vpced::dns
