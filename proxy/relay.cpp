// The relay's listeners, sessions and pumps, and the control-thread reconciliation with each snapshot.
#include "proxy/relay.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <system_error>
#include <thread>

#include "proxy/asio.hpp"
#include "proxy/balancer.hpp"
#include "proxy/health.hpp"
#include "proxy/proxy_v2.hpp"

namespace vpced::proxy {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

std::string_view to_string(RelayError e) {
  switch (e) {
    case RelayError::NoHealthyTarget: return "no_healthy_target";
    case RelayError::LimitReached: return "limit_reached";
    case RelayError::ConnectFailed: return "connect_failed";
  }
  return "?";
}

namespace {

constexpr size_t kRelayErrors = 3;

zones::IpAddr from_asio(const asio::ip::address& a) {
  if (a.is_v6() && a.to_v6().is_v4_mapped()) return zones::IpAddr::from_v4({a.to_v6().to_v4().to_uint()});
  if (a.is_v6()) {
    zones::IpAddr r;
    r.v6 = true;
    auto b = a.to_v6().to_bytes();
    std::copy(b.begin(), b.end(), r.bytes.begin());
    return r;
  }
  return zones::IpAddr::from_v4({a.to_v4().to_uint()});
}

tcp::endpoint to_endpoint(const zones::HostPort& hp) {
  if (hp.addr.v6) {
    asio::ip::address_v6::bytes_type b;
    std::copy(hp.addr.bytes.begin(), hp.addr.bytes.end(), b.begin());
    return {asio::ip::address_v6(b), hp.port};
  }
  return {asio::ip::address_v4(hp.addr.v4()->value), hp.port};
}


// Fails when another process already listens on `hp`: the workers' sockets share the address through
// SO_REUSEPORT, which would otherwise let a second relay bind it silently and split the connections.
void probe_unused(const zones::HostPort& hp) {
  int fd = ::socket(hp.addr.v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);  // a TIME_WAIT socket owns nothing
  sockaddr_storage ss;
  socklen_t len = zones::to_sockaddr(hp, ss);
  int rc = ::bind(fd, reinterpret_cast<sockaddr*>(&ss), len);
  int e = errno;
  ::close(fd);
  if (rc != 0 && e == EADDRINUSE)
    throw std::system_error(e, std::generic_category(),
                            "cannot listen on tcp " + zones::to_string(hp) + " (another process serves it)");
}

// A listening socket on `hp`. SO_REUSEADDR lets a restarted relay bind over TIME_WAIT connections; ENI
// addresses are 127.x.y.z in tests, which Linux binds without an alias.
int open_listener(const zones::HostPort& hp) {
  const int family = hp.addr.v6 ? AF_INET6 : AF_INET;
  int fd = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  auto fail = [&](const char* what) {
    int e = errno;
    if (fd >= 0) ::close(fd);
    throw std::system_error(e, std::generic_category(),
                            "cannot listen on tcp " + zones::to_string(hp) + " (" + what + ")");
  };
  if (fd < 0) fail("socket");
  int one = 1;
  if (::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) fail("SO_REUSEADDR");
  if (::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) fail("SO_REUSEPORT");
  if (family == AF_INET6 && ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) != 0) fail("IPV6_V6ONLY");
  sockaddr_storage ss;
  socklen_t len = zones::to_sockaddr(hp, ss);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) fail("bind");
  if (::listen(fd, SOMAXCONN) != 0) fail("listen");
  return fd;
}

uint64_t connection_random() {
  thread_local std::mt19937_64 rng(std::random_device{}());
  return rng();
}

template <typename T>
void add(std::atomic<T>& a, T n = 1) {
  a.fetch_add(n, std::memory_order_relaxed);
}

// Counters of one (service, target), shared by every worker and kept across snapshots while the target is
// configured.
struct TargetStats {
  std::string service;
  zones::HostPort address;
  std::string address_text;
  std::string az;  // written under Relay::Impl::mu
  std::atomic<uint32_t> active{0};
  std::atomic<uint64_t> total{0};
  std::atomic<uint64_t> connect_failures{0};
  std::atomic<bool> healthy{true};
};

// Counters of one endpoint, kept across snapshots while the endpoint is configured.
struct EndpointStats {
  std::string id;
  std::string name, service, state;  // written and read under Relay::Impl::mu
  std::atomic<uint32_t> active{0};
  std::atomic<uint64_t> total{0};
  std::atomic<uint64_t> to_target{0};
  std::atomic<uint64_t> to_client{0};
  std::array<std::atomic<uint64_t>, kRelayErrors> rejected{};
  // Connections per target address: nodes are inserted under Relay::Impl::mu and never removed while the
  // stats live, so workers may keep pointers to the counters.
  std::map<zones::HostPort, std::unique_ptr<std::atomic<uint64_t>>> per_target;
};

// A service's relay settings as of one snapshot; immutable once built.
struct ServiceTable {
  std::string name;
  bool cross_zone = false;
  bool proxy_protocol_v2 = false;
  milliseconds idle_timeout{350000};
  milliseconds connect_timeout{10000};
  uint32_t max_connections = 55000;
  std::vector<std::shared_ptr<TargetStats>> targets;
  std::vector<std::string> target_azs;  // parallel to targets
};

// An available endpoint as of one snapshot; immutable once built.
struct EndpointTable {
  std::string id;
  std::shared_ptr<const ServiceTable> service;
  std::shared_ptr<EndpointStats> stats;
  std::vector<std::atomic<uint64_t>*> per_target;  // parallel to service->targets
};

struct Conn;
// A worker's open connections; shared with each connection so that a connection freed during io_context
// teardown never touches a destroyed worker.
struct ConnSet {
  std::set<Conn*> all;
};

// One relayed connection: the consumer's socket, the target's, the idle and connect timers and both buffers.
struct Conn {
  Conn(asio::io_context& ctx, tcp::socket c, size_t buffer_size)
      : client(std::move(c)), target(ctx), idle(ctx), connect_timer(ctx),
        buffer(new uint8_t[2 * buffer_size]), buffer_size(buffer_size) {}
  ~Conn() {
    set->all.erase(this);
    if (target_stats) target_stats->active.fetch_sub(1, std::memory_order_relaxed);
    endpoint->stats->active.fetch_sub(1, std::memory_order_relaxed);
  }

  tcp::socket client;
  tcp::socket target;
  asio::steady_timer idle;
  asio::steady_timer connect_timer;
  std::unique_ptr<uint8_t[]> buffer;
  size_t buffer_size;
  std::shared_ptr<ConnSet> set;
  std::shared_ptr<const EndpointTable> endpoint;
  std::shared_ptr<TargetStats> target_stats;  // set once connected (holds one `active` slot)
  zones::IpAddr eni;
  std::string eni_az;
  milliseconds idle_timeout{0};
  Clock::time_point last_activity = Clock::now();
  uint64_t attempt = 0;
  bool timed_out = false;
  bool closed = false;  // reset: by idle timeout, an error, or the endpoint going away
  int open_pumps = 0;
};

// RST on both sides: SO_LINGER 0 then close (NLB: an expired flow answers the next packet with a reset).
void abort_conn(Conn& c) {
  if (c.closed) return;
  c.closed = true;
  boost::system::error_code ignored;
  for (tcp::socket* s : {&c.client, &c.target}) {
    if (!s->is_open()) continue;
    s->set_option(asio::socket_base::linger(true, 0), ignored);
    s->close(ignored);
  }
  c.idle.cancel();
  c.connect_timer.cancel();
}

struct Listener {
  zones::HostPort address;
  std::string eni_az;
  std::shared_ptr<const EndpointTable> endpoint;  // replaced by later snapshots; read at each accept
  tcp::acceptor acceptor;
};

// Everything one relay thread owns. After start() only that thread touches it, through posted handlers.
struct Worker {
  asio::io_context ctx{1};
  std::map<zones::HostPort, std::shared_ptr<Listener>> listeners;
  std::shared_ptr<ConnSet> conns = std::make_shared<ConnSet>();
  std::unique_ptr<HealthChecker> health;  // worker 0 only
  bool stopping = false;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard{ctx.get_executor()};
};

struct ListenerState {
  std::string endpoint_id;
};

}  // namespace

struct Relay::Impl {
  RelayOptions options;
  RelayCallbacks callbacks;
  std::vector<std::unique_ptr<Worker>> workers;
  std::vector<std::thread> threads;
  std::vector<std::future<void>> done;
  bool stopped = false;

  // Control-thread state: which (endpoint, ENI) pairs may carry connections, and the listeners the last
  // update closed (their sockets may still be open on a worker for a moment).
  std::set<std::pair<std::string, zones::IpAddr>> live_enis;
  std::set<zones::HostPort> closed_recently;

  // Shared with readers (collect, status, unhealthy_targets, the health callback).
  mutable std::mutex mu;
  std::map<std::string, std::shared_ptr<EndpointStats>> endpoint_stats;  // by endpoint id
  std::map<std::pair<std::string, zones::HostPort>, std::shared_ptr<TargetStats>> target_stats;
  std::map<zones::HostPort, ListenerState> listening;  // written by the control thread under mu
  std::map<zones::HostPort, std::string> listener_errors;

  void log(const std::string& line) const {
    if (callbacks.log) callbacks.log(line);
  }

  // --- data path (runs on a worker thread) -----------------------------------------------------------

  // Connects c.target within `timeout`; false on refusal, timeout or when the connection was reset meanwhile.
  static awaitable<bool> connect_target(std::shared_ptr<Conn> c, zones::HostPort hp, milliseconds timeout) {
    boost::system::error_code ec;
    c->target = tcp::socket(c->client.get_executor());
    const uint64_t attempt = ++c->attempt;
    c->timed_out = false;
    c->connect_timer.expires_after(timeout);
    c->connect_timer.async_wait([c, attempt](const boost::system::error_code& e) {
      if (e || c->attempt != attempt) return;  // cancelled, or a late handler of an earlier attempt
      c->timed_out = true;
      boost::system::error_code ignored;
      c->target.cancel(ignored);
    });
    co_await c->target.async_connect(to_endpoint(hp), asio::redirect_error(use_awaitable, ec));
    c->connect_timer.cancel();
    if (ec || c->timed_out || c->closed) {
      boost::system::error_code ignored;
      c->target.close(ignored);
      co_return false;
    }
    co_return true;
  }

  // Copies one direction with a fixed buffer. EOF half-closes the other side (shutdown of its send
  // direction) and leaves the opposite direction running; any error resets both sides.
  static awaitable<void> pump(std::shared_ptr<Conn> c, bool to_target) {
    tcp::socket& from = to_target ? c->client : c->target;
    tcp::socket& to = to_target ? c->target : c->client;
    uint8_t* buf = c->buffer.get() + (to_target ? 0 : c->buffer_size);
    std::atomic<uint64_t>& bytes = to_target ? c->endpoint->stats->to_target : c->endpoint->stats->to_client;
    boost::system::error_code ec;
    for (;;) {
      size_t n = co_await from.async_read_some(asio::buffer(buf, c->buffer_size), asio::redirect_error(use_awaitable, ec));
      if (ec) {
        if (ec == asio::error::eof && !c->closed) {
          boost::system::error_code ignored;
          to.shutdown(tcp::socket::shutdown_send, ignored);
        } else {
          abort_conn(*c);  // a reset, the idle timeout or the endpoint closing: reset the other side too
        }
        break;
      }
      c->last_activity = Clock::now();
      co_await asio::async_write(to, asio::buffer(buf, n), asio::redirect_error(use_awaitable, ec));
      if (ec) {
        abort_conn(*c);
        break;
      }
      add(bytes, uint64_t{n});
      c->last_activity = Clock::now();
    }
    if (--c->open_pumps == 0) {
      // Both directions saw EOF: both FINs went through, close quietly.
      boost::system::error_code ignored;
      c->client.close(ignored);
      c->target.close(ignored);
      c->idle.cancel();
    }
  }

  // The idle timeout: wakes at last_activity + idle_timeout and resets both sides if nothing moved since.
  static awaitable<void> watchdog(std::shared_ptr<Conn> c) {
    boost::system::error_code ec;
    while (!c->closed && c->open_pumps > 0) {
      c->idle.expires_at(c->last_activity + c->idle_timeout);
      co_await c->idle.async_wait(asio::redirect_error(use_awaitable, ec));
      if (c->closed || c->open_pumps == 0) break;
      if (Clock::now() >= c->last_activity + c->idle_timeout) abort_conn(*c);
    }
  }

  static awaitable<void> session(std::shared_ptr<Conn> c) {
    const EndpointTable& ep = *c->endpoint;
    const ServiceTable& svc = *ep.service;
    boost::system::error_code ec;
    const auto peer = c->client.remote_endpoint(ec);
    const auto local = ec ? tcp::endpoint() : c->client.local_endpoint(ec);
    if (ec) {
      abort_conn(*c);
      co_return;
    }
    const zones::HostPort src{from_asio(peer.address()), peer.port()};
    const zones::HostPort dst{from_asio(local.address()), local.port()};

    std::vector<Candidate> candidates;
    candidates.reserve(svc.targets.size());
    for (size_t i = 0; i < svc.targets.size(); ++i)
      candidates.push_back({svc.target_azs[i], svc.targets[i]->healthy.load(std::memory_order_relaxed),
                            svc.targets[i]->active.load(std::memory_order_relaxed)});
    const Choice choice = choose_targets(candidates, c->eni_az, svc.cross_zone, svc.max_connections,
                                         flow_hash(src.addr, src.port, dst.addr, dst.port, connection_random()));
    if (choice.order.empty()) {
      add(ep.stats->rejected[static_cast<size_t>(choice.outcome == ChoiceOutcome::LimitReached
                                                     ? RelayError::LimitReached
                                                     : RelayError::NoHealthyTarget)]);
      abort_conn(*c);
      co_return;
    }

    size_t chosen = SIZE_MAX;
    bool limited = false;
    for (size_t idx : choice.order) {
      if (c->closed) break;
      TargetStats& t = *svc.targets[idx];
      // Reserve a slot first: another worker may have taken the last one since the choice was made.
      if (t.active.fetch_add(1, std::memory_order_relaxed) >= svc.max_connections) {
        t.active.fetch_sub(1, std::memory_order_relaxed);
        limited = true;
        continue;
      }
      if (co_await connect_target(c, t.address, svc.connect_timeout)) {
        chosen = idx;
        c->target_stats = svc.targets[idx];
        break;
      }
      t.active.fetch_sub(1, std::memory_order_relaxed);
      add(t.connect_failures);
    }
    if (chosen == SIZE_MAX) {
      if (!c->closed)
        add(ep.stats->rejected[static_cast<size_t>(limited ? RelayError::LimitReached : RelayError::ConnectFailed)]);
      abort_conn(*c);
      co_return;
    }
    add(c->target_stats->total);
    add(*ep.per_target[chosen]);

    c->client.set_option(tcp::no_delay(true), ec);
    c->target.set_option(tcp::no_delay(true), ec);
    if (svc.proxy_protocol_v2) {
      // Before any consumer byte (design §7): source = the consumer, destination = ENI address:listener port.
      const std::vector<uint8_t> header = encode_proxy_v2(src, dst, ep.id);
      co_await asio::async_write(c->target, asio::buffer(header), asio::redirect_error(use_awaitable, ec));
      if (ec || c->closed) {
        abort_conn(*c);
        co_return;
      }
    }
    c->last_activity = Clock::now();
    c->open_pumps = 2;
    auto ex = c->client.get_executor();
    asio::co_spawn(ex, pump(c, true), asio::detached);
    asio::co_spawn(ex, pump(c, false), asio::detached);
    asio::co_spawn(ex, watchdog(c), asio::detached);
  }

  awaitable<void> accept_loop(Worker& w, std::shared_ptr<Listener> l) {
    asio::steady_timer backoff(w.ctx);
    for (;;) {
      boost::system::error_code ec;
      tcp::socket socket = co_await l->acceptor.async_accept(asio::redirect_error(use_awaitable, ec));
      if (ec == asio::error::operation_aborted || !l->acceptor.is_open()) co_return;
      if (ec) {
        // EMFILE and friends: back off instead of spinning (Asio's throttling_proxy example).
        log("relay: accept on " + zones::to_string(l->address) + ": " + ec.message());
        backoff.expires_after(milliseconds(options.accept_backoff_ms));
        co_await backoff.async_wait(asio::redirect_error(use_awaitable, ec));
        continue;
      }
      if (w.stopping) {
        socket.close(ec);
        continue;
      }
      auto c = std::make_shared<Conn>(w.ctx, std::move(socket), options.buffer_size);
      c->set = w.conns;
      c->endpoint = l->endpoint;
      c->eni = l->address.addr;
      c->eni_az = l->eni_az;
      c->idle_timeout = c->endpoint->service->idle_timeout;
      w.conns->all.insert(c.get());
      add(c->endpoint->stats->active, 1u);
      add(c->endpoint->stats->total);
      asio::co_spawn(w.ctx, session(c), asio::detached);
    }
  }

  // --- reconciliation helpers (posted to workers) ------------------------------------------------------

  void adopt(Worker& w, const zones::HostPort& hp, const std::string& az, std::shared_ptr<const EndpointTable> table,
             int fd) {
    auto l = std::make_shared<Listener>(
        Listener{hp, az, std::move(table), tcp::acceptor(w.ctx, hp.addr.v6 ? tcp::v6() : tcp::v4(), fd)});
    w.listeners[hp] = l;
    asio::co_spawn(w.ctx, accept_loop(w, l), asio::detached);
  }

  static void close_listener(Worker& w, const zones::HostPort& hp) {
    auto it = w.listeners.find(hp);
    if (it == w.listeners.end()) return;
    boost::system::error_code ignored;
    it->second->acceptor.close(ignored);
    w.listeners.erase(it);
  }

  static void reset_connections(Worker& w, const std::set<std::pair<std::string, zones::IpAddr>>& gone) {
    std::vector<Conn*> victims;
    for (Conn* c : w.conns->all)
      if (gone.contains({c->endpoint->id, c->eni})) victims.push_back(c);
    for (Conn* c : victims) abort_conn(*c);
  }

  void on_health(const std::string& service, const zones::HostPort& target, bool healthy) {
    {
      std::lock_guard lk(mu);
      auto it = target_stats.find({service, target});
      if (it == target_stats.end()) return;  // no longer configured
      it->second->healthy.store(healthy, std::memory_order_relaxed);
    }
    // The callback's owner logs the change (with its own context, e.g. the republished snapshot).
    if (callbacks.health_changed) callbacks.health_changed(service, target, healthy);
  }
};

Relay::Relay(RelayOptions options, RelayCallbacks callbacks) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  impl_->callbacks = std::move(callbacks);
  if (impl_->options.threads == 0) impl_->options.threads = 1;
  if (impl_->options.buffer_size < 1024) impl_->options.buffer_size = 1024;
  for (unsigned i = 0; i < impl_->options.threads; ++i) impl_->workers.push_back(std::make_unique<Worker>());
  Impl* impl = impl_.get();
  impl_->workers[0]->health = std::make_unique<HealthChecker>(
      impl_->workers[0]->ctx,
      [impl](const std::string& s, const zones::HostPort& t, bool healthy) { impl->on_health(s, t, healthy); });
}

Relay::~Relay() { stop(); }

void Relay::start() {
  if (!impl_->threads.empty() || impl_->stopped) return;
  for (auto& w : impl_->workers) {
    std::promise<void> finished;
    impl_->done.push_back(finished.get_future());
    impl_->threads.emplace_back([w = w.get(), p = std::move(finished)]() mutable {
      w->ctx.run();
      p.set_value();
    });
  }
}

std::vector<std::string> Relay::update(std::shared_ptr<const zones::Snapshot> snapshot) {
  Impl& d = *impl_;
  std::vector<std::string> errors;
  if (d.stopped || !snapshot) return errors;
  const zones::Model& m = snapshot->model();

  struct Wanted {
    std::string az;
    std::shared_ptr<const EndpointTable> table;
  };
  std::map<zones::HostPort, Wanted> wanted;
  std::set<std::pair<std::string, zones::IpAddr>> live;
  std::vector<HealthCheckSpec> checks;

  {
    std::lock_guard lk(d.mu);
    // Services and their targets; counters carry over by (service, target).
    std::map<std::pair<std::string, zones::HostPort>, std::shared_ptr<TargetStats>> targets;
    std::vector<std::shared_ptr<const ServiceTable>> services;
    for (const auto& sm : m.services) {
      const zones::ServiceConfig& sc = *sm.config;
      const zones::LoadBalancerConfig& lb = sc.load_balancer;
      auto st = std::make_shared<ServiceTable>();
      st->name = sc.name;
      st->cross_zone = lb.cross_zone;
      st->proxy_protocol_v2 = lb.proxy_protocol_v2;
      st->idle_timeout = milliseconds(lb.idle_timeout);
      st->connect_timeout = milliseconds(lb.connect_timeout);
      st->max_connections = lb.max_connections_per_target;
      for (const auto& t : lb.targets) {
        auto key = std::make_pair(sc.name, t.address);
        std::shared_ptr<TargetStats> ts;
        if (auto it = d.target_stats.find(key); it != d.target_stats.end()) {
          ts = it->second;
        } else {
          ts = std::make_shared<TargetStats>();
          ts->service = sc.name;
          ts->address = t.address;
          ts->address_text = zones::to_string(t.address);
        }
        ts->az = t.az;
        targets[key] = ts;
        st->targets.push_back(ts);
        st->target_azs.push_back(t.az);

        HealthCheckSpec spec;
        spec.service = sc.name;
        spec.target = t.address;
        spec.interval = milliseconds(lb.health_check.interval);
        spec.timeout = milliseconds(lb.health_check.timeout);
        spec.timeout = std::min(spec.timeout, spec.interval);
        spec.thresholds = {lb.health_check.healthy_threshold, lb.health_check.unhealthy_threshold};
        spec.proxy_protocol_v2 = lb.proxy_protocol_v2;
        checks.push_back(std::move(spec));
      }
      services.push_back(std::move(st));
    }

    // Endpoints: counters carry over by id; available ones get a table and listeners.
    std::map<std::string, std::shared_ptr<EndpointStats>> endpoints;
    for (const auto& em : m.endpoints) {
      std::shared_ptr<EndpointStats> es;
      if (auto it = d.endpoint_stats.find(em.id); it != d.endpoint_stats.end()) {
        es = it->second;
      } else {
        es = std::make_shared<EndpointStats>();
        es->id = em.id;
      }
      const auto& service = services.at(em.service);
      es->name = em.config->name;
      es->service = service->name;
      es->state = std::string(zones::to_string(em.state));
      endpoints[em.id] = es;
      if (em.state != zones::EndpointState::Available) continue;

      auto table = std::make_shared<EndpointTable>();
      table->id = em.id;
      table->service = service;
      table->stats = es;
      for (const auto& t : service->targets) {
        auto& slot = es->per_target[t->address];
        if (!slot) slot = std::make_unique<std::atomic<uint64_t>>(0);
        table->per_target.push_back(slot.get());
      }
      for (const auto& eni : em.enis) {
        const zones::IpAddr addr = zones::IpAddr::from_v4(eni.address);
        live.insert({em.id, addr});
        for (uint16_t port : m.services[em.service].config->load_balancer.listeners)
          wanted[zones::HostPort{addr, port}] = Wanted{eni.az.id, table};
      }
    }
    d.target_stats = std::move(targets);
    d.endpoint_stats = std::move(endpoints);
  }

  // Listeners: bind the new addresses here (errors are reported now), hand the sockets to the workers.
  // `next` replaces d.listening under the mutex at the end (status() reads it from other threads).
  std::map<zones::HostPort, ListenerState> next = d.listening;
  std::map<zones::HostPort, std::string> errs;
  std::set<zones::HostPort> closed;
  for (const auto& [hp, want] : wanted) {
    auto cur = next.find(hp);
    if (cur != next.end()) {
      // Kept: new connections use the new table (service settings, or another endpoint on this address).
      cur->second.endpoint_id = want.table->id;
      for (auto& wp : d.workers) {
        Worker& w = *wp;
        asio::post(w.ctx, [&w, hp = hp, table = want.table, az = want.az] {
          if (auto it = w.listeners.find(hp); it != w.listeners.end()) {
            it->second->endpoint = table;
            it->second->eni_az = az;
          }
        });
      }
      continue;
    }
    std::vector<int> fds;
    try {
      // Our own socket closed by the previous update may still be open on a worker: skip the probe then.
      if (!d.closed_recently.contains(hp)) probe_unused(hp);
      for (size_t i = 0; i < d.workers.size(); ++i) fds.push_back(open_listener(hp));
    } catch (const std::system_error& e) {
      for (int fd : fds) ::close(fd);
      errs[hp] = e.what();
      errors.push_back(std::string(e.what()) + " for endpoint " + want.table->id);
      if (!d.listener_errors.contains(hp)) d.log("relay: " + errors.back());  // once, not at every update
      continue;
    }
    next[hp] = ListenerState{want.table->id};
    for (size_t i = 0; i < d.workers.size(); ++i) {
      Worker& w = *d.workers[i];
      asio::post(w.ctx, [impl = impl_.get(), &w, hp = hp, az = want.az, table = want.table, fd = fds[i]] {
        if (w.stopping) {
          ::close(fd);
          return;
        }
        impl->adopt(w, hp, az, table, fd);
      });
    }
  }
  for (auto it = next.begin(); it != next.end();) {
    if (wanted.contains(it->first)) {
      ++it;
      continue;
    }
    for (auto& wp : d.workers) {
      Worker& w = *wp;
      asio::post(w.ctx, [&w, hp = it->first] { Impl::close_listener(w, hp); });
    }
    closed.insert(it->first);
    it = next.erase(it);
  }
  d.closed_recently = std::move(closed);

  // Connections of endpoints that left `available` (or of ENIs that went away) are reset.
  std::set<std::pair<std::string, zones::IpAddr>> gone;
  for (const auto& p : d.live_enis)
    if (!live.contains(p)) gone.insert(p);
  d.live_enis = std::move(live);
  if (!gone.empty())
    for (auto& wp : d.workers) {
      Worker& w = *wp;
      asio::post(w.ctx, [&w, gone] { Impl::reset_connections(w, gone); });
    }

  Worker& w0 = *d.workers[0];
  asio::post(w0.ctx, [&w0, checks = std::move(checks)] {
    if (!w0.stopping && w0.health) w0.health->set_targets(checks);
  });

  std::lock_guard lk(d.mu);
  d.listening = std::move(next);
  d.listener_errors = std::move(errs);
  return errors;
}

void Relay::stop() {
  if (!impl_ || impl_->stopped) return;
  Impl& d = *impl_;
  d.stopped = true;
  for (auto& wp : d.workers) {
    Worker& w = *wp;
    asio::post(w.ctx, [&w] {
      w.stopping = true;
      for (auto& [hp, l] : w.listeners) {
        boost::system::error_code ignored;
        l->acceptor.close(ignored);
      }
      w.listeners.clear();
      if (w.health) w.health->stop();
      w.guard.reset();  // run() returns once the open connections have finished
    });
  }
  if (!d.threads.empty()) {
    const auto deadline = Clock::now() + milliseconds(d.options.drain_timeout_ms);
    for (size_t i = 0; i < d.workers.size(); ++i) {
      if (d.done[i].wait_until(deadline) == std::future_status::ready) continue;
      Worker& w = *d.workers[i];
      asio::post(w.ctx, [&w] {
        std::vector<Conn*> all(w.conns->all.begin(), w.conns->all.end());
        for (Conn* c : all) abort_conn(*c);
      });
      if (d.done[i].wait_for(std::chrono::seconds(1)) != std::future_status::ready) w.ctx.stop();
    }
    for (auto& t : d.threads)
      if (t.joinable()) t.join();
    d.threads.clear();
    d.done.clear();
  } else {
    // Never started: run what update() posted (adopting and closing listeners) here, so no socket leaks.
    for (auto& wp : d.workers) wp->ctx.run_for(std::chrono::seconds(1));
  }
  // Tear down on this thread now that no worker runs: the checker first (it refers to worker 0's context).
  d.workers[0]->health.reset();
  d.workers.clear();
  d.live_enis.clear();
  std::lock_guard lk(d.mu);
  d.listening.clear();
}

void Relay::collect(zones::MetricsWriter& w) const {
  std::lock_guard lk(impl_->mu);
  const auto& eps = impl_->endpoint_stats;
  const auto& tgs = impl_->target_stats;

  w.family("vpced_relay_connections_total", "counter", "Connections relayed to a target, per endpoint.");
  for (const auto& [id, es] : eps)
    for (const auto& [addr, n] : es->per_target) {
      const std::string t = zones::to_string(addr);
      w.sample("vpced_relay_connections_total", {{"endpoint", id}, {"target", t}}, double(n->load()));
    }
  w.family("vpced_relay_active_connections", "gauge", "Open consumer connections, per endpoint.");
  for (const auto& [id, es] : eps)
    w.sample("vpced_relay_active_connections", {{"endpoint", id}}, double(es->active.load()));
  w.family("vpced_relay_bytes_total", "counter", "Bytes relayed, per endpoint and direction.");
  for (const auto& [id, es] : eps) {
    w.sample("vpced_relay_bytes_total", {{"endpoint", id}, {"direction", "to_target"}}, double(es->to_target.load()));
    w.sample("vpced_relay_bytes_total", {{"endpoint", id}, {"direction", "to_client"}}, double(es->to_client.load()));
  }
  w.family("vpced_relay_rejected_connections_total", "counter",
           "Consumer connections reset before reaching a target, per endpoint and reason.");
  for (const auto& [id, es] : eps)
    for (size_t r = 0; r < kRelayErrors; ++r)
      w.sample("vpced_relay_rejected_connections_total", {{"endpoint", id}, {"reason", to_string(RelayError(r))}},
               double(es->rejected[r].load()));
  // A target address may serve several services: failures are summed per address.
  std::map<std::string, uint64_t> failures;
  for (const auto& [key, ts] : tgs) failures[ts->address_text] += ts->connect_failures.load();
  w.family("vpced_relay_connect_failures_total", "counter", "Failed or timed-out connects to a target.");
  for (const auto& [t, n] : failures) w.sample("vpced_relay_connect_failures_total", {{"target", t}}, double(n));
  w.family("vpced_relay_target_healthy", "gauge", "1 when the target passes its health checks.");
  for (const auto& [key, ts] : tgs)
    w.sample("vpced_relay_target_healthy", {{"service", ts->service}, {"target", ts->address_text}},
             ts->healthy.load() ? 1.0 : 0.0);
  w.family("vpced_relay_target_active_connections", "gauge", "Open connections to a target, per service.");
  for (const auto& [key, ts] : tgs)
    w.sample("vpced_relay_target_active_connections", {{"service", ts->service}, {"target", ts->address_text}},
             double(ts->active.load()));
}

nlohmann::json Relay::status() const {
  std::lock_guard lk(impl_->mu);
  nlohmann::json endpoints = nlohmann::json::array();
  std::map<std::string, std::vector<std::string>> listeners;
  for (const auto& [hp, l] : impl_->listening) listeners[l.endpoint_id].push_back(zones::to_string(hp));
  for (const auto& [id, es] : impl_->endpoint_stats) {
    nlohmann::json rejected = nlohmann::json::object();
    for (size_t r = 0; r < kRelayErrors; ++r) rejected[std::string(to_string(RelayError(r)))] = es->rejected[r].load();
    nlohmann::json per_target = nlohmann::json::object();
    for (const auto& [addr, n] : es->per_target) per_target[zones::to_string(addr)] = n->load();
    endpoints.push_back({{"id", id},
                         {"name", es->name},
                         {"service", es->service},
                         {"state", es->state},
                         {"listeners", listeners[id]},
                         {"active_connections", es->active.load()},
                         {"connections_total", es->total.load()},
                         {"connections_per_target", per_target},
                         {"bytes_to_target", es->to_target.load()},
                         {"bytes_to_client", es->to_client.load()},
                         {"rejected", rejected}});
  }
  nlohmann::json targets = nlohmann::json::array();
  for (const auto& [key, ts] : impl_->target_stats)
    targets.push_back({{"service", ts->service},
                       {"address", ts->address_text},
                       {"az", ts->az},
                       {"healthy", ts->healthy.load()},
                       {"active_connections", ts->active.load()},
                       {"connections_total", ts->total.load()},
                       {"connect_failures", ts->connect_failures.load()}});
  nlohmann::json errors = nlohmann::json::array();
  for (const auto& [hp, e] : impl_->listener_errors) errors.push_back(e);
  return {{"endpoints", endpoints}, {"targets", targets}, {"listener_errors", errors}};
}

std::set<std::pair<std::string, zones::HostPort>> Relay::unhealthy_targets() const {
  std::lock_guard lk(impl_->mu);
  std::set<std::pair<std::string, zones::HostPort>> out;
  for (const auto& [key, ts] : impl_->target_stats)
    if (!ts->healthy.load()) out.insert(key);
  return out;
}

}  // namespace vpced::proxy
