// The relay's listeners, sessions and pumps, and the control-thread reconciliation with each snapshot.
#include "proxy/relay.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
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
    case RelayError::EndpointLimit: return "endpoint_limit";
  }
  return "?";
}

namespace {

constexpr size_t kRelayErrors = 4;

zones::HostPort peer_of(const sockaddr_storage& ss) {
  zones::HostPort hp;
  if (ss.ss_family == AF_INET6) {
    const auto& a = reinterpret_cast<const sockaddr_in6&>(ss);
    hp.addr.v6 = true;
    std::memcpy(hp.addr.bytes.data(), &a.sin6_addr, 16);
    hp.port = ntohs(a.sin6_port);
  } else {
    const auto& a = reinterpret_cast<const sockaddr_in&>(ss);
    hp.addr = zones::IpAddr::from_v4({ntohl(a.sin_addr.s_addr)});
    hp.port = ntohs(a.sin_port);
  }
  return hp;
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
  // Accepted sockets inherit TCP_NODELAY: one setsockopt per listener instead of one per connection.
  if (::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0) fail("TCP_NODELAY");
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
  uint32_t max_per_endpoint = 0;  // 0: no limit
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

// A pipe for splice(2): data moves socket → pipe → socket inside the kernel. Empty pipes are pooled.
struct Pipe {
  int r = -1, w = -1;
};

// A worker's open connections and its pools of idle buffers and empty pipes; shared with each connection so
// that a connection freed during io_context teardown never touches a destroyed worker. A connection holds a
// buffer or a pipe only while bytes are in flight: an idle connection costs its two sockets and little else.
struct ConnSet {
  std::set<Conn*> all;
  size_t buffer_size = 16384;
  std::vector<std::unique_ptr<uint8_t[]>> buffers;
  std::vector<Pipe> pipes;
  static constexpr size_t kPoolMax = 64;  // per worker: at most 128 fds of idle pipes

  ~ConnSet() {
    for (const Pipe& p : pipes) {
      ::close(p.r);
      ::close(p.w);
    }
  }
  std::unique_ptr<uint8_t[]> take_buffer() {
    if (buffers.empty()) return std::unique_ptr<uint8_t[]>(new uint8_t[buffer_size]);
    auto b = std::move(buffers.back());
    buffers.pop_back();
    return b;
  }
  void give_buffer(std::unique_ptr<uint8_t[]> b) {
    if (b && buffers.size() < kPoolMax) buffers.push_back(std::move(b));
  }
  bool take_pipe(Pipe& out) {
    if (!pipes.empty()) {
      out = pipes.back();
      pipes.pop_back();
      return true;
    }
    int fds[2];
    if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) return false;  // EMFILE…: the caller copies instead
    out = {fds[0], fds[1]};
    return true;
  }
  void give_pipe(Pipe p, bool empty) {
    if (p.r < 0) return;
    if (empty && pipes.size() < kPoolMax) {
      pipes.push_back(p);
      return;
    }
    ::close(p.r);
    ::close(p.w);
  }
};

// One direction of a connection: bytes read from one socket and not yet written to the other, either in a
// pooled buffer [begin, end) or in a pooled pipe (`in_pipe` bytes).
struct Flow {
  std::unique_ptr<uint8_t[]> buffer;
  size_t begin = 0, end = 0;
  Pipe pipe;
  size_t in_pipe = 0;
  bool done = false;  // EOF seen and passed on (shutdown of the other side's send direction)
};

// One relayed connection: the consumer's socket, the target's, the idle and connect timers, both flows.
struct Conn {
  Conn(asio::io_context& ctx, tcp::socket c) : client(std::move(c)), target(ctx), idle(ctx), connect_timer(ctx) {}
  ~Conn() {
    for (Flow& f : flows) {
      set->give_buffer(std::move(f.buffer));
      set->give_pipe(f.pipe, f.in_pipe == 0);
    }
    set->all.erase(this);
    if (target_stats) target_stats->active.fetch_sub(1, std::memory_order_relaxed);
    endpoint->stats->active.fetch_sub(1, std::memory_order_relaxed);
  }

  tcp::socket client;
  tcp::socket target;
  asio::steady_timer idle;
  asio::steady_timer connect_timer;
  Flow flows[2];  // [0] consumer → target, [1] target → consumer
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
  zones::HostPort peer;   // the consumer, from accept4()
  zones::HostPort local;  // the listener's ENI address and port
  bool splice = true;
  int open_flows = 0;
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

  // --- the two flows of a connection, driven by readiness callbacks (no buffer held while waiting) ----------
  //
  // A flow waits until its source is readable, then moves what is there: with splice(2) through a pooled
  // pipe (the bytes stay in the kernel), or, when no pipe can be had, through a pooled buffer. What the
  // destination does not take at once waits for it to become writable, and the source is not read
  // meanwhile (back-pressure). EOF is passed on as a half-close of the destination; an error resets both.

  static constexpr size_t kSpliceChunk = 1 << 16;
  static constexpr int kBurst = 16;  // transfers per wake-up before yielding to other connections

  static int fd_of(tcp::socket& s) { return s.native_handle(); }

  // Waits for a new readiness edge of the flow's source. Asio's epoll reactor does not remember an edge that
  // came while no operation waited, so this is only called once the source returned EAGAIN (or, after the
  // PROXY header, was drained by a short read); a flow that may hold unread bytes calls move() instead.
  static void arm_read(const std::shared_ptr<Conn>& c, int i) {
    tcp::socket& from = i == 0 ? c->client : c->target;
    from.async_wait(tcp::socket::wait_read, [c, i](const boost::system::error_code& ec) {
      if (ec || c->closed) return;
      move(c, i);
    });
  }

  static void arm_write(const std::shared_ptr<Conn>& c, int i) {
    tcp::socket& to = i == 0 ? c->target : c->client;
    to.async_wait(tcp::socket::wait_write, [c, i](const boost::system::error_code& ec) {
      if (ec || c->closed) return;
      int r = flush(*c, i);
      if (r < 0) return abort_conn(*c);
      if (r > 0) return arm_write(c, i);
      move(c, i);
    });
  }

  // Writes what the flow holds: 0 drained, 1 the destination is full, -1 an error.
  static int flush(Conn& c, int i) {
    Flow& f = c.flows[i];
    const int to = fd_of(i == 0 ? c.target : c.client);
    while (f.in_pipe > 0) {
      ssize_t n = ::splice(f.pipe.r, nullptr, to, nullptr, f.in_pipe, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (n < 0) return errno == EAGAIN ? 1 : -1;
      f.in_pipe -= static_cast<size_t>(n);
    }
    while (f.begin < f.end) {
      ssize_t n = ::send(to, f.buffer.get() + f.begin, f.end - f.begin, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0) return errno == EAGAIN ? 1 : -1;
      f.begin += static_cast<size_t>(n);
    }
    return 0;
  }

  // The source of flow i is readable (or was): move bytes until it would block, the destination fills up,
  // EOF, an error, or kBurst transfers.
  static void move(const std::shared_ptr<Conn>& c, int i) {
    Flow& f = c->flows[i];
    const int from = fd_of(i == 0 ? c->client : c->target);
    std::atomic<uint64_t>& bytes = i == 0 ? c->endpoint->stats->to_target : c->endpoint->stats->to_client;
    for (int burst = 0; burst < kBurst; ++burst) {
      ssize_t n;
      if (c->splice && (f.pipe.r >= 0 || c->set->take_pipe(f.pipe))) {
        n = ::splice(from, nullptr, f.pipe.w, nullptr, kSpliceChunk, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        if (n > 0) f.in_pipe = static_cast<size_t>(n);
      } else {
        if (!f.buffer) f.buffer = c->set->take_buffer();
        n = ::recv(from, f.buffer.get(), c->set->buffer_size, MSG_DONTWAIT);
        if (n > 0) f.begin = 0, f.end = static_cast<size_t>(n);
      }
      if (n <= 0) {
        const int err = n < 0 ? errno : 0;
        c->set->give_pipe(f.pipe, true);  // empty: everything spliced in was spliced out
        f.pipe = {};
        if (n < 0 && err == EAGAIN) break;
        if (n < 0) return abort_conn(*c);  // a reset: reset the other side too
        return end_of_flow(c, i);
      }
      add(bytes, static_cast<uint64_t>(n));
      c->last_activity = Clock::now();
      int r = flush(*c, i);
      if (r < 0) return abort_conn(*c);
      if (r > 0) return arm_write(c, i);
      // Drained: the pipe goes back to the pool at once, so only flows waiting on a full destination hold one.
      c->set->give_pipe(f.pipe, true);
      f.pipe = {};
      if (burst + 1 == kBurst) {
        // The source may still hold bytes, and Asio's wait completes only on a new readiness edge: go on
        // after the other ready handlers instead of waiting.
        asio::post(c->client.get_executor(), [c, i] {
          if (!c->closed) move(c, i);
        });
        return;
      }
    }
    // Drained: the buffer goes back too while the flow waits (an idle connection holds neither).
    c->set->give_buffer(std::move(f.buffer));
    f.begin = f.end = 0;
    arm_read(c, i);
  }

  // EOF from the source: half-close the destination and let the other flow go on. When both flows ended,
  // both FINs went through: close quietly.
  static void end_of_flow(const std::shared_ptr<Conn>& c, int i) {
    Flow& f = c->flows[i];
    f.done = true;
    // The last flow to end skips the shutdown: both sockets close next, and close() sends that FIN.
    if (c->open_flows > 1) ::shutdown(fd_of(i == 0 ? c->target : c->client), SHUT_WR);
    if (--c->open_flows == 0) {
      boost::system::error_code ignored;
      c->client.close(ignored);
      c->target.close(ignored);
      c->idle.cancel();
    }
  }

  // The idle timeout: wakes at last_activity + idle_timeout and resets both sides if nothing moved since.
  static void arm_idle(const std::shared_ptr<Conn>& c) {
    c->idle.expires_at(c->last_activity + c->idle_timeout);
    c->idle.async_wait([c](const boost::system::error_code& ec) {
      if (ec || c->closed || c->open_flows == 0) return;
      if (Clock::now() >= c->last_activity + c->idle_timeout) return abort_conn(*c);
      arm_idle(c);
    });
  }

  static awaitable<void> session(std::shared_ptr<Conn> c) {
    const EndpointTable& ep = *c->endpoint;
    const ServiceTable& svc = *ep.service;
    boost::system::error_code ec;
    const zones::HostPort src = c->peer;
    const zones::HostPort dst = c->local;

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

    // The consumer's socket inherited TCP_NODELAY from the listener; its flows use non-blocking syscalls.
    c->target.set_option(tcp::no_delay(true), ec);
    c->last_activity = Clock::now();
    c->open_flows = 2;
    if (svc.proxy_protocol_v2) {
      // Before any consumer byte (design §7): source = the consumer, destination = ENI address:listener port.
      // The header and whatever the consumer already sent leave in one send().
      const std::vector<uint8_t> header = encode_proxy_v2(src, dst, ep.id);
      Flow& f = c->flows[0];
      f.buffer = c->set->take_buffer();
      std::memcpy(f.buffer.get(), header.data(), header.size());
      f.end = header.size();
      const size_t space = c->set->buffer_size - f.end;
      ssize_t n = ::recv(fd_of(c->client), f.buffer.get() + f.end, space, MSG_DONTWAIT);
      if (n > 0) {
        f.end += static_cast<size_t>(n);
        add(ep.stats->to_target, static_cast<uint64_t>(n));
      }
      const int err = n < 0 ? errno : 0;
      int r = (n < 0 && err != EAGAIN) ? -1 : flush(*c, 0);
      if (r < 0) {
        abort_conn(*c);
        co_return;
      }
      if (r > 0) {
        arm_write(c, 0);
      } else {
        c->set->give_buffer(std::move(f.buffer));
        f.begin = f.end = 0;
        if (n == 0)
          end_of_flow(c, 0);  // the consumer already half-closed
        else if (n > 0 && static_cast<size_t>(n) == space)
          move(c, 0);  // maybe more
        else
          arm_read(c, 0);  // drained just now: the next bytes bring a new edge
      }
    } else {
      move(c, 0);  // the consumer usually spoke first; its edge may have gone by during the connect
    }
    if (!c->closed) move(c, 1);  // a server-first target (a banner) may have spoken during the connect
    if (!c->closed) arm_idle(c);
  }

  // Waits for the listener to be readable, then accepts what is queued with accept4(): the new socket comes
  // non-blocking with the consumer's address, so setting a connection up costs no fcntl, getpeername or
  // getsockname (the local address is the listener's own).
  awaitable<void> accept_loop(Worker& w, std::shared_ptr<Listener> l) {
    asio::steady_timer backoff(w.ctx);
    const int family = l->address.addr.v6 ? AF_INET6 : AF_INET;
    for (;;) {
      boost::system::error_code ec;
      co_await l->acceptor.async_wait(tcp::acceptor::wait_read, asio::redirect_error(use_awaitable, ec));
      if (ec == asio::error::operation_aborted || !l->acceptor.is_open()) co_return;
      for (int burst = 0; burst < 64 && l->acceptor.is_open(); ++burst) {
        sockaddr_storage ss;
        socklen_t len = sizeof ss;
        int fd = ::accept4(l->acceptor.native_handle(), reinterpret_cast<sockaddr*>(&ss), &len,
                           SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
          if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED) break;
          // EMFILE and friends: back off instead of spinning (Asio's throttling_proxy example).
          log("relay: accept on " + zones::to_string(l->address) + ": " + std::strerror(errno));
          backoff.expires_after(milliseconds(options.accept_backoff_ms));
          co_await backoff.async_wait(asio::redirect_error(use_awaitable, ec));
          break;
        }
        if (w.stopping) {
          ::close(fd);
          continue;
        }
        // The endpoint's slot is reserved before anything else (the Conn gives it back); over the limit the
        // consumer gets a reset.
        EndpointStats& es = *l->endpoint->stats;
        const uint32_t cap = l->endpoint->service->max_per_endpoint;
        if (es.active.fetch_add(1, std::memory_order_relaxed) >= cap && cap != 0) {
          es.active.fetch_sub(1, std::memory_order_relaxed);
          add(es.rejected[static_cast<size_t>(RelayError::EndpointLimit)]);
          const linger lg{1, 0};
          ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
          ::close(fd);
          continue;
        }
        tcp::socket socket(w.ctx);
        socket.assign(family == AF_INET6 ? tcp::v6() : tcp::v4(), fd, ec);
        if (ec) {
          es.active.fetch_sub(1, std::memory_order_relaxed);
          ::close(fd);
          continue;
        }
        auto c = std::make_shared<Conn>(w.ctx, std::move(socket));
        c->peer = peer_of(ss);
        c->local = l->address;
        c->splice = options.splice;
        c->set = w.conns;
        c->endpoint = l->endpoint;
        c->eni = l->address.addr;
        c->eni_az = l->eni_az;
        c->idle_timeout = c->endpoint->service->idle_timeout;
        w.conns->all.insert(c.get());
        add(c->endpoint->stats->total);
        asio::co_spawn(w.ctx, session(c), asio::detached);
      }
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
  for (unsigned i = 0; i < impl_->options.threads; ++i) {
    impl_->workers.push_back(std::make_unique<Worker>());
    impl_->workers.back()->conns->buffer_size = impl_->options.buffer_size;
  }
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
      st->max_per_endpoint = lb.max_connections_per_endpoint;
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
