// The relay's listeners, connections and flows on one epoll loop per relay thread, and the control-thread
// reconciliation with each snapshot.
#include "proxy/relay.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <array>
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
#include <tuple>
#include <unordered_map>

#include "proxy/asio.hpp"
#include "proxy/balancer.hpp"
#include "proxy/health.hpp"
#include "proxy/proxy_v2.hpp"

namespace vpced::proxy {

namespace asio = boost::asio;
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
  std::string az;  // written under Relay::Impl::mu
  std::atomic<uint32_t> active{0};
  std::atomic<uint64_t> total{0};
  std::atomic<uint64_t> connect_failures{0};
  std::atomic<bool> healthy{true};
};

// Connections from one endpoint to one target address: a node of the endpoint's list, which only grows.
struct TargetCounter {
  explicit TargetCounter(const zones::HostPort& a) : address(a) {}
  const zones::HostPort address;
  std::atomic<uint64_t> connections{0};
  std::atomic<TargetCounter*> next{nullptr};
};

// An endpoint ID ("vpce-" + 17 hex digits: the config and the state file accept no other form) held inline,
// without the heap block a std::string of 22 characters needs; a longer one would be kept whole on the heap.
class EndpointId {
 public:
  void assign(std::string_view s) {
    if (s.size() <= inline_.size()) {
      std::copy(s.begin(), s.end(), inline_.begin());
      size_ = static_cast<uint8_t>(s.size());
      long_.reset();
    } else {
      long_ = std::make_unique<std::string>(s);
    }
  }
  std::string_view view() const { return long_ ? std::string_view(*long_) : std::string_view(inline_.data(), size_); }

 private:
  std::array<char, 23> inline_{};
  uint8_t size_ = 0;
  std::unique_ptr<std::string> long_;
};

// Counters of one endpoint, kept across snapshots while the endpoint is configured. Its name, service and
// state are not here: status() reads them from the relay's snapshot at `model_index` (a copy of each per
// endpoint was 68 bytes of 5,000 endpoints' counters).
struct EndpointStats {
  EndpointStats() = default;
  EndpointStats(const EndpointStats&) = delete;
  EndpointStats& operator=(const EndpointStats&) = delete;
  ~EndpointStats() {
    for (TargetCounter* t = targets.load(std::memory_order_relaxed); t;) {
      TargetCounter* next = t->next.load(std::memory_order_relaxed);
      delete t;
      t = next;
    }
  }

  EndpointId id_;            // set once: Relay::Impl::endpoint_stats is sorted by it
  std::string_view id() const { return id_.view(); }
  uint32_t model_index = 0;  // into the relay's snapshot's model.endpoints; written and read under Relay::Impl::mu
  std::atomic<uint32_t> active{0};
  std::atomic<uint64_t> total{0};
  std::atomic<uint64_t> to_target{0};
  std::atomic<uint64_t> to_client{0};
  std::array<std::atomic<uint64_t>, kRelayErrors> rejected{};
  // Connections per target address, sorted by address. Nodes are linked in under Relay::Impl::mu (released)
  // and never removed while the stats live; a worker walks the list without the lock (acquired). Most
  // services have a target or two: a node each, no vector and no table of pointers per snapshot.
  std::atomic<TargetCounter*> targets{nullptr};

  void add_target(const zones::HostPort& address) {
    std::atomic<TargetCounter*>* link = &targets;
    TargetCounter* at = link->load(std::memory_order_relaxed);
    while (at && at->address < address) {
      link = &at->next;
      at = link->load(std::memory_order_relaxed);
    }
    if (at && at->address == address) return;
    auto* node = new TargetCounter(address);
    node->next.store(at, std::memory_order_relaxed);
    link->store(node, std::memory_order_release);
  }
  // The counter of a target added before (any thread), or null.
  std::atomic<uint64_t>* counter(const zones::HostPort& address) const {
    for (TargetCounter* t = targets.load(std::memory_order_acquire); t; t = t->next.load(std::memory_order_acquire))
      if (t->address == address) return &t->connections;
    return nullptr;
  }
  template <typename F>
  void for_each_target(F&& f) const {
    for (TargetCounter* t = targets.load(std::memory_order_acquire); t; t = t->next.load(std::memory_order_acquire))
      f(t->address, t->connections.load(std::memory_order_relaxed));
  }
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
  std::string_view id() const { return stats->id(); }
  std::shared_ptr<const ServiceTable> service;
  std::shared_ptr<EndpointStats> stats;  // holds a counter for each of the service's targets
};

// A pipe for splice(2): data moves socket → pipe → socket inside the kernel. Empty pipes are pooled.
struct Pipe {
  int r = -1, w = -1;
};

// One direction of a connection: bytes read from one socket and not yet written to the other, either in a
// pooled buffer [begin, end) or in a pooled pipe (`in_pipe` bytes).
struct Flow {
  std::unique_ptr<uint8_t[]> buffer;
  size_t begin = 0, end = 0;
  Pipe pipe;
  size_t in_pipe = 0;
  bool bulk = false;  // a read filled the buffer: from now on the flow splices through a pipe
  bool eof = false;   // the source reached EOF: pass it on once the bytes held are written
  bool done = false;  // EOF passed on (shutdown of the destination's send direction)
  bool holds_bytes() const { return in_pipe > 0 || begin < end; }
};

struct Conn;

// Connections waiting for a deadline, in deadline order. All entries of one queue share one timeout, so a new
// deadline (now + timeout) nearly always goes at the tail: no heap and no allocation per connection. A worker
// keeps one queue per distinct timeout (a few: the services' connect and idle timeouts).
struct TimerQueue {
  Conn* head = nullptr;
  Conn* tail = nullptr;
};

enum class ConnState { Connecting, Open, Closed };

// One relayed connection. Its worker owns it (an intrusive list) and frees it at the end of the loop iteration
// in which it closed, so a later event of the same epoll batch never meets a freed connection.
struct Conn {
  int fd[2] = {-1, -1};  // [0] the consumer, [1] the target
  Flow flows[2];         // [0] consumer → target, [1] target → consumer
  // What the epoll edges said about each socket and no system call contradicted since (EAGAIN clears a flag).
  // Edge-triggered epoll reports a change once; these flags remember it until it is used up.
  bool readable[2] = {false, false};
  bool writable[2] = {false, false};
  bool fin[2] = {false, false};     // EPOLLRDHUP seen: the peer's FIN is queued behind its last byte
  bool queued[2] = {false, false};  // flow i waits in the worker's ready list (it yielded after a burst)
  ConnState state = ConnState::Connecting;
  int open_flows = 2;
  bool splice = true;
  bool limited = false;  // a candidate was skipped at its connection limit
  std::shared_ptr<const EndpointTable> endpoint;
  TargetStats* target = nullptr;  // holds one `active` slot of it (reserved before connecting); kept by endpoint
  std::vector<size_t> order;      // candidates in the order to try; emptied once connected
  size_t next_candidate = 0;
  zones::HostPort peer;   // the consumer, from accept4()
  zones::HostPort local;  // the listener's ENI address and port
  Clock::time_point last_activity;
  // The one pending deadline: the connect timeout while connecting, then the idle timeout.
  TimerQueue* timer = nullptr;
  Conn* timer_prev = nullptr;
  Conn* timer_next = nullptr;
  Clock::time_point deadline;
  // The worker's list of open connections.
  Conn* prev = nullptr;
  Conn* next = nullptr;
};

// A listener's address and port in one integer. ENIs are IPv4, so every listener address is; the key sorts as
// the HostPort it stands for (address, then port).
using ListenKey = uint64_t;
ListenKey listen_key(zones::Ipv4 a, uint16_t port) { return uint64_t{a.value} << 16 | port; }
zones::HostPort host_port(ListenKey k) {
  return {zones::IpAddr::from_v4({static_cast<uint32_t>(k >> 16)}), static_cast<uint16_t>(k)};
}

// The AZ IDs listeners name, by a one-byte index. Entries are only added, by the control thread, before the
// batch that uses them is posted to the workers; a worker reads only entries it was handed. The last slot
// stays empty: the index of an AZ past 255 distinct ones (a region has at most 64), which then has no
// same-AZ targets.
using AzIds = std::array<std::string, 256>;
constexpr uint8_t kNoAz = 255;

// 32 bytes, the key included: a relay listens on every ENI × listener port (15,000 listeners for the
// 20,000-name bench config). A worker holds its listeners in one vector sorted by key (32 bytes a listener;
// a hash set's node and bucket were ~56), which an update merges its changes into; epoll events name a
// listener by its key, not by its address in that vector.
struct Listener {
  std::shared_ptr<const EndpointTable> endpoint;  // replaced by later snapshots; read at each accept
  ListenKey key = 0;
  int fd = -1;
  uint8_t az = kNoAz;  // the ENI's AZ ID, in the relay's AzIds
};
static_assert(sizeof(Listener) == 32);
// A listener paused after an accept error (EMFILE…), and when it resumes.
struct Paused {
  ListenKey key;
  Clock::time_point resume;
};

// Tags in the low bits of epoll_event.data.u64: connections are at least 8-aligned, a listener's key (48
// bits) is shifted past the tag.
constexpr uint64_t kTagClient = 0, kTagTarget = 1, kTagListener = 2, kTagWake = 3;
constexpr uint64_t kTagMask = 3;

uint64_t tagged(const void* p, uint64_t tag) { return reinterpret_cast<uintptr_t>(p) | tag; }
uint64_t listener_tag(ListenKey key) { return key << 2 | kTagListener; }

// What an update does to one listener of a worker; a worker's batch is sorted by key.
struct ListenerChange {
  ListenKey key;
  uint8_t az;
  std::shared_ptr<const EndpointTable> table;
  int fd;  // a new listening socket for the worker to adopt; -1: the worker's own one takes the new table
};

// Every accepted and target socket is registered once with all the events it will ever need, edge-triggered:
// no EPOLL_CTL_MOD when a flow changes direction, no EPOLL_CTL_DEL: close() removes it, since no other process
// holds the file (vpced never forks, and every socket is SOCK_CLOEXEC).
constexpr uint32_t kSocketEvents = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;

// A non-blocking socket connecting to `hp` (TCP_NODELAY set before the connect), or -1. `speaks_first`: the
// relay writes as soon as the connect completes (a PROXY v2 header), so the handshake's last ACK is not sent on
// its own but rides on that first segment (TCP_QUICKACK off, HAProxy's "tcp-smart-connect"): one packet less
// for both ends. Without it the ACK must go at once: a server-first target cannot accept() before it arrives.
int start_connect(const zones::HostPort& hp, bool speaks_first) {
  int fd = ::socket(hp.addr.v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (speaks_first) {
    int zero = 0;
    ::setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &zero, sizeof zero);
  }
  sockaddr_storage ss;
  socklen_t len = zones::to_sockaddr(hp, ss);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&ss), len) == 0 || errno == EINPROGRESS) return fd;
  ::close(fd);
  return -1;
}

// RST: SO_LINGER 0 then close (NLB: an expired flow answers the next packet with a reset).
void close_with_reset(int fd) {
  const linger lg{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  ::close(fd);
}

// One relay thread: its listening sockets, its connections and their timers, its pools of idle buffers and
// empty pipes, all driven by one epoll loop. Other threads reach it only through post(), whose tasks run on
// the loop between two epoll_wait calls.
class Worker {
 public:
  Worker(const RelayOptions& options, const AzIds& az_ids, std::function<void(const std::string&)> log)
      : az_ids_(az_ids),
        splice_(options.splice),
        buffer_size_(options.buffer_size),
        accept_backoff_(options.accept_backoff_ms),
        log_(std::move(log)) {
    epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (epoll_fd_ < 0) throw std::system_error(errno, std::generic_category(), "relay: epoll_create1");
    wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wake_fd_ < 0) throw std::system_error(errno, std::generic_category(), "relay: eventfd");
    epoll_event ev{EPOLLIN, {.u64 = kTagWake}};
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
  }

  // Runs after the thread ended (or never started): what is still posted runs now (listeners handed over
  // are closed at once), then every socket and pipe closes.
  ~Worker() {
    stopping = true;
    run_tasks();
    for (const Listener& l : listeners_) ::close(l.fd);
    listeners_.clear();
    abort_all();
    reap();
    for (const Pipe& p : pipes_) {
      ::close(p.r);
      ::close(p.w);
    }
    ::close(wake_fd_);
    ::close(epoll_fd_);
  }

  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // From any thread: runs `task` on the worker's loop.
  void post(std::function<void()> task) {
    {
      std::lock_guard lk(tasks_mu_);
      tasks_.push_back(std::move(task));
    }
    const uint64_t one = 1;
    (void)!::write(wake_fd_, &one, sizeof one);
  }

  // The loop. Returns once stopping and the last connection has closed, or when exit_now is set.
  void run() {
    std::array<epoll_event, 256> events;
    while (!exit_now.load(std::memory_order_relaxed) && !(stopping && conn_count_ == 0)) {
      const int n = ::epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()), wait_ms());
      now_ = Clock::now();
      bool woken = false;
      for (int k = 0; k < n; ++k) {
        const uint64_t data = events[k].data.u64;
        void* p = reinterpret_cast<void*>(data & ~kTagMask);
        switch (data & kTagMask) {
          case kTagClient: on_event(*static_cast<Conn*>(p), 0, events[k].events); break;
          case kTagTarget: on_event(*static_cast<Conn*>(p), 1, events[k].events); break;
          case kTagListener:
            // A listener an update closed in the meantime is no longer found.
            if (const Listener* l = find_listener(data >> 2)) on_accept(*l);
            break;
          case kTagWake: {
            uint64_t count;
            (void)!::read(wake_fd_, &count, sizeof count);
            woken = true;
            break;
          }
        }
      }
      run_ready();
      run_timers();
      if (woken) run_tasks();
      reap();
    }
  }

  std::atomic<bool> exit_now{false};

  // --- control (posted tasks, on the worker's thread) ----------------------------------------------------

  // One update's changes, `batch` and `to_close` each sorted by key, merged into the sorted listeners in one
  // pass (inserting each into a sorted vector would move half of it per listener). A change with a socket
  // adopts it, replacing a listener of the same key; one without gives a kept listener the new table (new
  // service settings, or another endpoint on this address); keys in `to_close` are closed. The sockets in
  // `batch` are the worker's from here: each is adopted or closed.
  // Preconditions, met by Relay::update: keys unique within `batch` and within `to_close`, none in both. Past
  // the reserve nothing throws but an allocation for a log line, which ends the process anyway (run_tasks does
  // not catch).
  void apply(const std::vector<ListenerChange>& batch, const std::vector<ListenKey>& to_close) {
    std::vector<Listener> next;
    try {
      const auto adopted = std::count_if(batch.begin(), batch.end(), [](const ListenerChange& c) { return c.fd >= 0; });
      next.reserve(listeners_.size() + static_cast<size_t>(adopted));
    } catch (...) {
      for (const ListenerChange& c : batch)
        if (c.fd >= 0) ::close(c.fd);
      throw;
    }
    auto closing = to_close.begin();
    auto old = listeners_.begin();
    // An old listener no change names: kept unless the update closes it.
    auto pass = [&](Listener& l) {
      while (closing != to_close.end() && *closing < l.key) ++closing;
      if (closing != to_close.end() && *closing == l.key)
        drop(l);
      else
        next.push_back(std::move(l));
    };
    for (const ListenerChange& c : batch) {
      for (; old != listeners_.end() && old->key < c.key; ++old) pass(*old);
      const bool have = old != listeners_.end() && old->key == c.key;
      if (c.fd < 0) {
        if (have) {
          old->endpoint = c.table;
          old->az = c.az;
          next.push_back(std::move(*old++));
        }
        continue;
      }
      if (have) drop(*old++);
      if (stopping) {
        ::close(c.fd);
        continue;
      }
      // Level-triggered: a listener that stops after a burst of accepts is reported again by the next wait.
      epoll_event ev{EPOLLIN, {.u64 = listener_tag(c.key)}};
      if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, c.fd, &ev) != 0) {
        log_("relay: cannot watch listener " + zones::to_string(host_port(c.key)) + ": " + std::strerror(errno));
        ::close(c.fd);
        continue;
      }
      next.push_back(Listener{c.table, c.key, c.fd, c.az});
    }
    for (; old != listeners_.end(); ++old) pass(*old);
    listeners_ = std::move(next);
  }

  const Listener* find_listener(ListenKey key) const {
    auto it = std::lower_bound(listeners_.begin(), listeners_.end(), key,
                               [](const Listener& l, ListenKey k) { return l.key < k; });
    return it != listeners_.end() && it->key == key ? &*it : nullptr;
  }

  void drop(const Listener& l) {
    std::erase_if(paused_, [&](const Paused& p) { return p.key == l.key; });
    ::close(l.fd);  // also leaves the epoll set
  }

  void reset_connections(const std::set<std::pair<std::string, zones::IpAddr>>& gone) {
    for (Conn* c = conns_; c; c = c->next)
      if (gone.contains({std::string(c->endpoint->id()), c->local.addr})) abort(*c);
  }

  // stop(): no new connections; the loop ends when the open ones have finished.
  void begin_stop() {
    stopping = true;
    for (const Listener& l : listeners_) ::close(l.fd);
    listeners_.clear();
    paused_.clear();
  }

  void abort_all() {
    for (Conn* c = conns_; c; c = c->next) abort(*c);
  }

  bool stopping = false;

 private:
  // A flow moves at most this many chunks per wake-up, then yields to the thread's other connections.
  static constexpr int kBurst = 16;
  // A bulk flow's pipe: 256 KiB moves about 20 % more than the default 64 KiB through a loopback relay on two
  // cores (performance.md), as much as 1 MiB did. Larger would count more pages against an unprivileged
  // user's pipe-user-pages-soft (16384 by default: 256 such pipes), past which new pipes get 8 KiB.
  static constexpr size_t kPipeSize = 1 << 18;
  static constexpr size_t kSpliceChunk = kPipeSize;
  static constexpr int kAcceptBurst = 64;
  static constexpr size_t kPoolMax = 64;  // per worker: at most 128 fds of idle pipes

  // --- the loop's parts ------------------------------------------------------------------------------------

  // Until the earliest deadline (connect or idle timeout, a paused listener), 0 when a flow yielded, -1 when
  // nothing waits for time.
  int wait_ms() const {
    if (!ready_.empty()) return 0;
    std::optional<Clock::time_point> next;
    auto earlier = [&](Clock::time_point t) {
      if (!next || t < *next) next = t;
    };
    for (const auto& [timeout, q] : timers_)
      if (q.head) earlier(q.head->deadline);
    for (const Paused& p : paused_) earlier(p.resume);
    if (!next) return -1;
    const auto left = std::chrono::ceil<milliseconds>(*next - Clock::now()).count();
    return left <= 0 ? 0 : static_cast<int>(std::min<int64_t>(left, INT32_MAX));
  }

  void on_event(Conn& c, int side, uint32_t ev) {
    if (c.state == ConnState::Closed) return;
    if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) c.readable[side] = true;
    if (ev & (EPOLLOUT | EPOLLHUP | EPOLLERR)) c.writable[side] = true;
    if (ev & EPOLLRDHUP) c.fin[side] = true;
    if (c.state == ConnState::Connecting) {
      // The consumer's events only set the flags meanwhile; the target's first event ends the connect.
      if (side == 1) {
        if (ev & (EPOLLERR | EPOLLHUP)) return connect_failed(c);
        if (ev & EPOLLOUT) return connected(c);
      }
      return;
    }
    pump(c, side);                                      // the flow that reads this socket
    if (c.state == ConnState::Open) pump(c, 1 - side);  // the flow that writes to it
    // A reset from either peer resets the other, after what arrived before it went on (the pumps above end
    // at the error when they reach it; a flow that is done or has nothing to write would not).
    if ((ev & EPOLLERR) && c.state == ConnState::Open) abort(c);
  }

  void run_ready() {
    if (ready_.empty()) return;
    std::vector<std::pair<Conn*, int>> now;
    now.swap(ready_);
    for (auto [c, i] : now) {
      c->queued[i] = false;
      if (c->state == ConnState::Open) pump(*c, i);
    }
  }

  void run_timers() {
    for (auto& [timeout, q] : timers_)
      while (q.head && q.head->deadline <= now_) {
        Conn& c = *q.head;
        unset_timer(c);
        if (c.state == ConnState::Connecting) {
          connect_failed(c);  // the connect timeout: on to the next candidate
        } else if (c.state == ConnState::Open) {
          // The idle timeout, checked lazily: a transfer only moves last_activity.
          const Clock::time_point due = c.last_activity + timeout;
          if (now_ >= due)
            abort(c);
          else
            set_timer(c, q, due);
        }
      }
    for (auto it = paused_.begin(); it != paused_.end();) {
      if (it->resume > now_) {
        ++it;
        continue;
      }
      if (const Listener* l = find_listener(it->key)) {
        epoll_event ev{EPOLLIN, {.u64 = listener_tag(l->key)}};
        ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, l->fd, &ev);
      }
      it = paused_.erase(it);
    }
  }

  void run_tasks() {
    std::vector<std::function<void()>> tasks;
    {
      std::lock_guard lk(tasks_mu_);
      tasks.swap(tasks_);
    }
    for (auto& t : tasks) t();
  }

  // Frees the connections that closed in this iteration: their buffers and empty pipes go back to the pools,
  // their slots (endpoint, target) are released.
  void reap() {
    if (graveyard_.empty()) return;
    std::erase_if(ready_, [](const auto& e) { return e.first->state == ConnState::Closed; });
    for (Conn* c : graveyard_) {
      for (Flow& f : c->flows) {
        give_buffer(std::move(f.buffer));
        give_pipe(f.pipe, f.in_pipe == 0);
      }
      if (c->target) c->target->active.fetch_sub(1, std::memory_order_relaxed);
      c->endpoint->stats->active.fetch_sub(1, std::memory_order_relaxed);
      (c->prev ? c->prev->next : conns_) = c->next;
      if (c->next) c->next->prev = c->prev;
      --conn_count_;
      delete c;
    }
    graveyard_.clear();
  }

  // --- timers ----------------------------------------------------------------------------------------------

  TimerQueue& timer_queue(milliseconds timeout) { return timers_[timeout]; }

  void set_timer(Conn& c, TimerQueue& q, Clock::time_point deadline) {
    unset_timer(c);
    c.timer = &q;
    c.deadline = deadline;
    Conn* after = q.tail;
    while (after && after->deadline > deadline) after = after->timer_prev;
    c.timer_prev = after;
    c.timer_next = after ? after->timer_next : q.head;
    (after ? after->timer_next : q.head) = &c;
    (c.timer_next ? c.timer_next->timer_prev : q.tail) = &c;
  }

  void unset_timer(Conn& c) {
    if (!c.timer) return;
    (c.timer_prev ? c.timer_prev->timer_next : c.timer->head) = c.timer_next;
    (c.timer_next ? c.timer_next->timer_prev : c.timer->tail) = c.timer_prev;
    c.timer = nullptr;
    c.timer_prev = c.timer_next = nullptr;
  }

  // --- setting a connection up -------------------------------------------------------------------------------

  // Accepts what is queued with accept4(): the new socket comes non-blocking with the consumer's address, so
  // setting a connection up costs no fcntl, getpeername or getsockname (the local address is the listener's
  // own), and it inherits TCP_NODELAY from the listener.
  void on_accept(const Listener& l) {
    for (int burst = 0; burst < kAcceptBurst; ++burst) {
      sockaddr_storage ss;
      socklen_t len = sizeof ss;
      const int fd = ::accept4(l.fd, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED) return;
        // EMFILE and friends: pause the listener instead of spinning (Asio's throttling_proxy example).
        log_("relay: accept on " + zones::to_string(host_port(l.key)) + ": " + std::strerror(errno));
        ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, l.fd, nullptr);
        paused_.push_back({l.key, now_ + accept_backoff_});
        return;
      }
      // The endpoint's slot is reserved before anything else (reap() gives it back); over the limit the
      // consumer gets a reset.
      EndpointStats& es = *l.endpoint->stats;
      const uint32_t cap = l.endpoint->service->max_per_endpoint;
      if (es.active.fetch_add(1, std::memory_order_relaxed) >= cap && cap != 0) {
        es.active.fetch_sub(1, std::memory_order_relaxed);
        add(es.rejected[static_cast<size_t>(RelayError::EndpointLimit)]);
        close_with_reset(fd);
        continue;
      }
      add(es.total);
      Conn* c = new Conn;
      c->next = conns_;
      if (conns_) conns_->prev = c;
      conns_ = c;
      ++conn_count_;
      c->fd[0] = fd;
      c->peer = peer_of(ss);
      c->local = host_port(l.key);
      c->splice = splice_;
      c->endpoint = l.endpoint;
      epoll_event ev{kSocketEvents, {.u64 = tagged(c, kTagClient)}};
      if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
        abort(*c);
        continue;
      }
      choose(*c, az_ids_[l.az]);
    }
  }

  void choose(Conn& c, const std::string& eni_az) {
    const EndpointTable& ep = *c.endpoint;
    const ServiceTable& svc = *ep.service;
    std::vector<Candidate> candidates;
    candidates.reserve(svc.targets.size());
    for (size_t i = 0; i < svc.targets.size(); ++i)
      candidates.push_back({svc.target_azs[i], svc.targets[i]->healthy.load(std::memory_order_relaxed),
                            svc.targets[i]->active.load(std::memory_order_relaxed)});
    Choice choice = choose_targets(candidates, eni_az, svc.cross_zone, svc.max_connections,
                                   flow_hash(c.peer.addr, c.peer.port, c.local.addr, c.local.port, connection_random()));
    if (choice.order.empty()) {
      add(ep.stats->rejected[static_cast<size_t>(
          choice.outcome == ChoiceOutcome::LimitReached ? RelayError::LimitReached : RelayError::NoHealthyTarget)]);
      return abort(c);
    }
    c.order = std::move(choice.order);
    try_connect(c);
  }

  // Connects to the next candidate that has a free slot; a refused or timed-out connect comes back here
  // (connect_failed), at most once per target.
  void try_connect(Conn& c) {
    const ServiceTable& svc = *c.endpoint->service;
    while (c.next_candidate < c.order.size()) {
      const size_t idx = c.order[c.next_candidate++];
      TargetStats& t = *svc.targets[idx];
      // Reserve a slot first: another worker may have taken the last one since the choice was made.
      if (t.active.fetch_add(1, std::memory_order_relaxed) >= svc.max_connections) {
        t.active.fetch_sub(1, std::memory_order_relaxed);
        c.limited = true;
        continue;
      }
      const int fd = start_connect(t.address, svc.proxy_protocol_v2);
      if (fd >= 0) {
        epoll_event ev{kSocketEvents, {.u64 = tagged(&c, kTagTarget)}};
        if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) == 0) {
          c.fd[1] = fd;
          c.target = &t;
          // EPOLLOUT on the target's edge reports the finished connect, EPOLLERR/EPOLLHUP a failed one: no
          // poll() and no getsockopt(SO_ERROR) on the way.
          set_timer(c, timer_queue(svc.connect_timeout), now_ + svc.connect_timeout);
          return;
        }
        ::close(fd);
      }
      t.active.fetch_sub(1, std::memory_order_relaxed);
      add(t.connect_failures);
    }
    add(c.endpoint->stats->rejected[static_cast<size_t>(c.limited ? RelayError::LimitReached
                                                                  : RelayError::ConnectFailed)]);
    abort(c);
  }

  void connect_failed(Conn& c) {
    ::close(c.fd[1]);
    c.fd[1] = -1;
    c.readable[1] = c.writable[1] = c.fin[1] = false;
    c.target->active.fetch_sub(1, std::memory_order_relaxed);
    add(c.target->connect_failures);
    c.target = nullptr;
    try_connect(c);
  }

  void connected(Conn& c) {
    const EndpointTable& ep = *c.endpoint;
    const ServiceTable& svc = *ep.service;
    c.state = ConnState::Open;
    add(c.target->total);
    if (std::atomic<uint64_t>* n = ep.stats->counter(c.target->address)) add(*n);
    std::vector<size_t>().swap(c.order);
    c.last_activity = now_;
    set_timer(c, timer_queue(svc.idle_timeout), now_ + svc.idle_timeout);
    // The consumer usually spoke during the connect, and its edge may have gone by unused: read it once more.
    // A fresh socket is writable.
    c.readable[0] = true;
    c.writable[0] = true;
    if (svc.proxy_protocol_v2) {
      // Before any consumer byte (design §7): source = the consumer, destination = ENI address:listener port.
      // The header and whatever the consumer already sent leave in one send().
      const std::vector<uint8_t> header = encode_proxy_v2(c.peer, c.local, ep.id());
      Flow& f = c.flows[0];
      f.buffer = take_buffer();
      std::memcpy(f.buffer.get(), header.data(), header.size());
      f.begin = 0;
      f.end = header.size();
      const size_t space = buffer_size_ - f.end;
      const ssize_t n = ::recv(c.fd[0], f.buffer.get() + f.end, space, MSG_DONTWAIT);
      if (n < 0 && errno != EAGAIN) return abort(c);
      if (n > 0) {
        f.end += static_cast<size_t>(n);
        add(ep.stats->to_target, static_cast<uint64_t>(n));
        f.bulk = static_cast<size_t>(n) == space;
      }
      if (n == 0) f.eof = true;  // the consumer already half-closed
      if (n < 0 || (n > 0 && static_cast<size_t>(n) < space)) drained(c, 0);
    }
    pump(c, 0);
    if (c.state == ConnState::Open) pump(c, 1);  // a server-first target (a banner) may have spoken already
  }

  // A read returned less than asked (or EAGAIN): the socket is empty now, and the next byte brings a new edge.
  // When its FIN had already arrived, nothing can follow: EOF without another read.
  static void drained(Conn& c, int i) {
    c.readable[i] = false;
    if (c.fin[i]) c.flows[i].eof = true;
  }

  // --- moving bytes ----------------------------------------------------------------------------------------
  //
  // Flow i reads socket i and writes socket 1-i. It starts copying through a pooled buffer: most flows are a
  // request or a reply of a few bytes, for which recv/send cost less than splicing through a pipe, and a short
  // read tells the socket is empty (with its FIN already seen: EOF without another read). Once a read fills
  // the buffer the flow is bulk and moves with splice(2) through a pooled pipe, the bytes staying in the kernel
  // (through the buffer still when no pipe can be had). What the destination does not take at once waits for
  // its EPOLLOUT edge, and the source is not read meanwhile (back-pressure through TCP's window). EOF is passed
  // on as a half-close of the destination; an error resets both sides.

  void pump(Conn& c, int i) {
    Flow& f = c.flows[i];
    std::atomic<uint64_t>& bytes = i == 0 ? c.endpoint->stats->to_target : c.endpoint->stats->to_client;
    for (int reads = 0; !f.done;) {
      if (f.holds_bytes()) {
        if (!c.writable[1 - i]) return;  // keeps its pipe or buffer until the destination drains
        const int r = flush(c, i);
        if (r < 0) return abort(c);
        if (r > 0) {
          c.writable[1 - i] = false;
          return;
        }
      }
      if (f.eof) {
        release(f);
        return end_of_flow(c, i);
      }
      if (!c.readable[i]) break;
      if (reads++ == kBurst) {  // the source may hold more: go on after the other connections' events
        if (!c.queued[i]) {
          c.queued[i] = true;
          ready_.emplace_back(&c, i);
        }
        break;
      }
      ssize_t n;
      bool short_read = false;
      if (f.bulk && c.splice && (f.pipe.r >= 0 || take_pipe(f.pipe))) {
        // A short splice may mean a pipe full of small segments rather than an empty socket: not a drain.
        n = ::splice(c.fd[i], nullptr, f.pipe.w, nullptr, kSpliceChunk, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        if (n > 0) f.in_pipe = static_cast<size_t>(n);
      } else {
        if (!f.buffer) f.buffer = take_buffer();
        n = ::recv(c.fd[i], f.buffer.get(), buffer_size_, MSG_DONTWAIT);
        if (n > 0) f.begin = 0, f.end = static_cast<size_t>(n);
        short_read = n > 0 && static_cast<size_t>(n) < buffer_size_;
        if (n > 0 && !short_read) f.bulk = true;
      }
      if (n < 0) {
        if (errno != EAGAIN) return abort(c);
        drained(c, i);
        continue;  // with fin seen: EOF
      }
      if (n == 0) {
        f.eof = true;
        continue;
      }
      add(bytes, static_cast<uint64_t>(n));
      c.last_activity = now_;
      if (short_read) drained(c, i);
    }
    release(f);  // nothing in flight: an idle flow holds neither pipe nor buffer
  }

  // Writes what flow i holds: 0 drained, 1 the destination is full, -1 an error. When the source's EOF is
  // already known, its FIN follows these bytes at once (end_of_flow): MSG_MORE keeps the last segment back
  // until shutdown()/close() sends it with the FIN on it, one packet instead of two.
  int flush(Conn& c, int i) {
    Flow& f = c.flows[i];
    const int to = c.fd[1 - i];
    const int more = f.eof ? MSG_MORE : 0;
    while (f.in_pipe > 0) {
      ssize_t n = ::splice(f.pipe.r, nullptr, to, nullptr, f.in_pipe,
                           SPLICE_F_MOVE | SPLICE_F_NONBLOCK | (more ? SPLICE_F_MORE : 0));
      if (n < 0) return errno == EAGAIN ? 1 : -1;
      f.in_pipe -= static_cast<size_t>(n);
    }
    while (f.begin < f.end) {
      ssize_t n = ::send(to, f.buffer.get() + f.begin, f.end - f.begin, MSG_NOSIGNAL | MSG_DONTWAIT | more);
      if (n < 0) return errno == EAGAIN ? 1 : -1;
      f.begin += static_cast<size_t>(n);
    }
    return 0;
  }

  void release(Flow& f) {
    if (f.holds_bytes()) return;
    give_pipe(f.pipe, true);
    f.pipe = {};
    give_buffer(std::move(f.buffer));
    f.begin = f.end = 0;
  }

  // EOF from the source: half-close the destination and let the other flow go on. When both flows ended, both
  // FINs went through: close quietly. The last flow to end skips the shutdown: close() sends that FIN.
  void end_of_flow(Conn& c, int i) {
    c.flows[i].done = true;
    if (c.open_flows > 1) ::shutdown(c.fd[1 - i], SHUT_WR);
    if (--c.open_flows > 0) return;
    ::close(c.fd[0]);
    ::close(c.fd[1]);
    c.fd[0] = c.fd[1] = -1;
    retire(c);
  }

  // Reset on both sides: by the idle timeout, an error, the endpoint going away, or stop().
  void abort(Conn& c) {
    if (c.state == ConnState::Closed) return;
    for (int& fd : c.fd)
      if (fd >= 0) {
        close_with_reset(fd);
        fd = -1;
      }
    retire(c);
  }

  void retire(Conn& c) {
    c.state = ConnState::Closed;
    unset_timer(c);
    graveyard_.push_back(&c);
  }

  // --- pools: a connection holds a buffer or a pipe only while bytes are in flight ---------------------------

  std::unique_ptr<uint8_t[]> take_buffer() {
    if (buffers_.empty()) return std::unique_ptr<uint8_t[]>(new uint8_t[buffer_size_]);
    auto b = std::move(buffers_.back());
    buffers_.pop_back();
    return b;
  }
  void give_buffer(std::unique_ptr<uint8_t[]> b) {
    if (b && buffers_.size() < kPoolMax) buffers_.push_back(std::move(b));
  }
  bool take_pipe(Pipe& out) {
    if (!pipes_.empty()) {
      out = pipes_.back();
      pipes_.pop_back();
      return true;
    }
    int fds[2];
    if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) return false;  // EMFILE…: the caller copies instead
    ::fcntl(fds[1], F_SETPIPE_SZ, static_cast<int>(kPipeSize));  // on failure (EPERM) it stays at 64 KiB
    out = {fds[0], fds[1]};
    return true;
  }
  void give_pipe(Pipe p, bool empty) {
    if (p.r < 0) return;
    if (empty && pipes_.size() < kPoolMax) {
      pipes_.push_back(p);
      return;
    }
    ::close(p.r);
    ::close(p.w);
  }

  const AzIds& az_ids_;
  const bool splice_;
  const size_t buffer_size_;
  const milliseconds accept_backoff_;
  const std::function<void(const std::string&)> log_;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  Clock::time_point now_ = Clock::now();  // as of the last epoll_wait: a coarse clock for the whole batch

  std::mutex tasks_mu_;
  std::vector<std::function<void()>> tasks_;

  std::vector<Listener> listeners_;  // sorted by key
  std::vector<Paused> paused_;
  Conn* conns_ = nullptr;
  size_t conn_count_ = 0;
  std::vector<Conn*> graveyard_;
  std::vector<std::pair<Conn*, int>> ready_;
  std::map<milliseconds, TimerQueue> timers_;
  std::vector<std::unique_ptr<uint8_t[]>> buffers_;
  std::vector<Pipe> pipes_;
};

// A listener the relay holds, and the endpoint it serves (whose table the workers' listeners share).
struct Listening {
  ListenKey key;
  // Its endpoint's counters (for the id), held by Relay::Impl::endpoint_stats, which an update replaces in
  // the same call as this list (keeping the previous counters alive until then). 16 bytes an entry.
  const EndpointStats* endpoint;
};

// An ENI of an available endpoint: its connections live while the pair stays in the snapshot.
struct LiveEni {
  // The endpoint's counters, for its id. Held by Relay::Impl::endpoint_stats; an update keeps the previous
  // ones alive until it has compared the old list with the new. 16 bytes an entry.
  const EndpointStats* endpoint;
  zones::Ipv4 address;  // ENIs are IPv4
  // By the counters' identity: an endpoint keeps its counters across updates (they carry over by id), and
  // the old ones stay alive while old and new lists are compared, so equal pointers mean the same endpoint.
  bool operator<(const LiveEni& o) const {
    if (endpoint != o.endpoint) return std::less<>{}(endpoint, o.endpoint);
    return address < o.address;
  }
};

}  // namespace

struct Relay::Impl {
  RelayOptions options;
  RelayCallbacks callbacks;
  // The AZ IDs the listeners name (a worker's Listener holds an index). Declared before `workers`, which
  // read it, so it outlives them.
  AzIds az_ids;
  uint8_t az_count = 0;
  uint8_t intern_az(std::string_view az) {
    for (uint8_t i = 0; i < az_count; ++i)
      if (az_ids[i] == az) return i;
    if (az_count == kNoAz) return kNoAz;
    az_ids[az_count] = std::string(az);
    return az_count++;
  }
  std::vector<std::unique_ptr<Worker>> workers;
  std::vector<std::thread> threads;
  std::vector<std::future<void>> done;
  bool stopped = false;

  // Health checks run on their own Asio thread: they are few and slow, and keep the relay threads' loops to
  // the connections.
  asio::io_context health_ctx{1};
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> health_guard{health_ctx.get_executor()};
  std::unique_ptr<HealthChecker> health;
  std::thread health_thread;

  // Control-thread state: which (endpoint, ENI) pairs may carry connections (sorted), and the listeners the
  // last update closed (their sockets may still be open on a worker for a moment). Flat vectors, not node
  // containers: 15,000 listeners cost ~40 bytes each here.
  std::vector<LiveEni> live_enis;
  std::set<ListenKey> closed_recently;

  // Shared with readers (collect, status, unhealthy_targets, the health callback).
  mutable std::mutex mu;
  // Sorted by id: an update finds each endpoint's counters by binary search, readers list them in order, and an
  // entry is one pointer (a hash map of views was 72 bytes an endpoint).
  std::vector<std::shared_ptr<EndpointStats>> endpoint_stats;
  // Counters an update dropped, kept until it has replaced live_enis and listening, which point at them
  // (until the next update completes, should one stop half-way).
  std::vector<std::shared_ptr<EndpointStats>> previous_stats;
  // The snapshot of the last update, set with endpoint_stats: an endpoint's name, service and state for
  // status() (EndpointStats::model_index points into its model).
  std::shared_ptr<const zones::Snapshot> snapshot;

  std::shared_ptr<EndpointStats> find_endpoint(std::string_view id) const {
    auto it = std::lower_bound(endpoint_stats.begin(), endpoint_stats.end(), id,
                               [](const auto& es, std::string_view i) { return es->id() < i; });
    return it != endpoint_stats.end() && (*it)->id() == id ? *it : nullptr;
  }
  // Sorted by (service, address), the key its counters carry over by: one pointer an entry (a map node was
  // ~110 bytes a target).
  std::vector<std::shared_ptr<TargetStats>> target_stats;
  static bool target_less(const std::shared_ptr<TargetStats>& a, const std::shared_ptr<TargetStats>& b) {
    return std::tie(a->service, a->address) < std::tie(b->service, b->address);
  }
  std::shared_ptr<TargetStats> find_target(std::string_view service, const zones::HostPort& address) const {
    auto it = std::lower_bound(target_stats.begin(), target_stats.end(), std::tie(service, address),
                               [](const auto& ts, const auto& key) {
                                 return std::tie(ts->service, ts->address) < key;
                               });
    return it != target_stats.end() && (*it)->service == service && (*it)->address == address ? *it : nullptr;
  }
  std::vector<Listening> listening;  // sorted by address; written by the control thread under mu
  std::map<ListenKey, std::string> listener_errors;

  void log(const std::string& line) const {
    if (callbacks.log) callbacks.log(line);
  }

  void on_health(const std::string& service, const zones::HostPort& target, bool healthy) {
    {
      std::lock_guard lk(mu);
      const auto ts = find_target(service, target);
      if (!ts) return;  // no longer configured
      ts->healthy.store(healthy, std::memory_order_relaxed);
    }
    // The callback's owner logs the change (with its own context, e.g. the republished snapshot).
    if (callbacks.health_changed) callbacks.health_changed(service, target, healthy);
  }
};

Relay::Relay(RelayOptions options, RelayCallbacks callbacks) : impl_(std::make_unique<Impl>()) {
  Impl* impl = impl_.get();
  impl->options = std::move(options);
  impl->callbacks = std::move(callbacks);
  if (impl->options.threads == 0) impl->options.threads = 1;
  if (impl->options.buffer_size < 1024) impl->options.buffer_size = 1024;
  for (unsigned i = 0; i < impl->options.threads; ++i)
    impl->workers.push_back(
        std::make_unique<Worker>(impl->options, impl->az_ids, [impl](const std::string& l) { impl->log(l); }));
  impl->health = std::make_unique<HealthChecker>(
      impl->health_ctx,
      [impl](const std::string& s, const zones::HostPort& t, bool healthy) { impl->on_health(s, t, healthy); });
}

Relay::~Relay() { stop(); }

void Relay::start() {
  Impl& d = *impl_;
  if (!d.threads.empty() || d.stopped) return;
  for (auto& w : d.workers) {
    std::promise<void> finished;
    d.done.push_back(finished.get_future());
    d.threads.emplace_back([w = w.get(), p = std::move(finished)]() mutable {
      w->run();
      p.set_value();
    });
  }
  d.health_thread = std::thread([&d] { d.health_ctx.run(); });
}

std::vector<std::string> Relay::update(std::shared_ptr<const zones::Snapshot> snapshot) {
  Impl& d = *impl_;
  std::vector<std::string> errors;
  if (d.stopped || !snapshot) return errors;
  const zones::Model& m = snapshot->model();

  struct Wanted {
    uint8_t az;
    std::shared_ptr<const EndpointTable> table;
  };
  // Sorted by address once filled; where two endpoints want one address, the later in the model wins.
  std::vector<std::pair<ListenKey, Wanted>> wanted;
  std::vector<LiveEni> live;
  std::vector<HealthCheckSpec> checks;

  {
    std::lock_guard lk(d.mu);
    // Services and their targets; counters carry over by (service, target).
    std::vector<std::shared_ptr<TargetStats>> targets;
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
        std::shared_ptr<TargetStats> ts = d.find_target(sc.name, t.address);
        if (!ts) {
          ts = std::make_shared<TargetStats>();
          ts->service = sc.name;
          ts->address = t.address;
        }
        ts->az = t.az;
        targets.push_back(ts);
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

    // Endpoints: counters carry over by id; available ones get a table and listeners. An endpoint of a
    // service without a load balancer (no listeners, hence no targets: one that only publishes names) has no
    // relay, so it gets no counters, no status entry and no metric series (at 100,000 such endpoints they
    // were ~29 MB and most of /metrics, all zeros). If a reload removes a service's load balancer, its
    // endpoints' open connections are reset below, as for an endpoint that leaves `available`.
    auto listeners_of = [&m](const zones::EndpointModel& em) -> const std::vector<uint16_t>& {
      return m.services[em.service].config->load_balancer.listeners;
    };
    std::vector<std::shared_ptr<EndpointStats>> endpoints;
    endpoints.reserve(static_cast<size_t>(std::count_if(m.endpoints.begin(), m.endpoints.end(),
                                                        [&](const auto& em) { return !listeners_of(em).empty(); })));
    for (const auto& em : m.endpoints) {
      const auto& listeners = listeners_of(em);
      if (listeners.empty()) continue;
      std::shared_ptr<EndpointStats> es = d.find_endpoint(em.id);
      if (!es) {
        es = std::make_shared<EndpointStats>();
        es->id_.assign(em.id);
      }
      const auto& service = services.at(em.service);
      es->model_index = static_cast<uint32_t>(&em - m.endpoints.data());
      endpoints.push_back(es);
      if (em.state != zones::EndpointState::Available) continue;

      auto table = std::make_shared<EndpointTable>();
      table->service = service;
      table->stats = es;
      for (const auto& t : service->targets) es->add_target(t->address);
      for (const auto& eni : em.enis) {
        live.push_back({es.get(), eni.address});
        for (uint16_t port : listeners)
          wanted.push_back({listen_key(eni.address, port), Wanted{d.intern_az(eni.az->id), table}});
      }
    }
    std::sort(targets.begin(), targets.end(), Impl::target_less);
    // The config refuses a target listed twice in one service; should one get through, one counter per
    // (service, address) stays, the key find_target looks up by.
    targets.erase(std::unique(targets.begin(), targets.end(),
                              [](const auto& a, const auto& b) { return !Impl::target_less(a, b) && !Impl::target_less(b, a); }),
                  targets.end());
    targets.shrink_to_fit();
    d.target_stats = std::move(targets);
    std::sort(endpoints.begin(), endpoints.end(), [](const auto& a, const auto& b) { return a->id() < b->id(); });
    // The old live_enis and listening point at these: kept until both are replaced, at the end.
    for (auto& es : d.endpoint_stats) d.previous_stats.push_back(std::move(es));
    d.endpoint_stats = std::move(endpoints);
    d.snapshot = snapshot;
  }

  const auto by_address = [](const auto& a, const auto& b) { return a.first < b.first; };
  std::stable_sort(wanted.begin(), wanted.end(), by_address);
  {
    // Keep the last of each run of one address.
    size_t out = 0;
    for (size_t i = 0; i < wanted.size(); ++i) {
      if (i + 1 < wanted.size() && !(wanted[i].first < wanted[i + 1].first)) continue;
      if (out != i) wanted[out] = std::move(wanted[i]);
      ++out;
    }
    wanted.resize(out);
  }
  const auto is_wanted = [&wanted](ListenKey key) {
    auto it = std::lower_bound(wanted.begin(), wanted.end(), key, [](const auto& w, ListenKey k) { return w.first < k; });
    return it != wanted.end() && it->first == key;
  };

  // Listeners: bind the new addresses here (errors are reported now), hand the sockets to the workers.
  // `next` replaces d.listening under the mutex at the end (status() reads it from other threads); it is
  // built in `wanted`'s order, so it is sorted too.
  const auto held = [&d](ListenKey key) {
    auto it = std::lower_bound(d.listening.begin(), d.listening.end(), key,
                               [](const Listening& l, ListenKey k) { return l.key < k; });
    return it != d.listening.end() && it->key == key;
  };
  std::vector<Listening> next;
  next.reserve(wanted.size());
  std::map<ListenKey, std::string> errs;
  std::set<ListenKey> closed;
  // What each worker is to do with its listeners, handed over in one task per worker (a task per listener
  // was an allocation and an eventfd write each: 300,000 of them in a reload of 100,000 endpoints), sorted
  // by key as `wanted` is.
  std::vector<std::vector<ListenerChange>> changes(d.workers.size());
  // Sockets opened for the workers are theirs once the batches are posted; should anything throw before
  // (an allocation), they are closed here instead of leaking.
  struct CloseUnposted {
    std::vector<std::vector<ListenerChange>>& changes;
    ~CloseUnposted() {
      for (auto& batch : changes)
        for (auto& c : batch)
          if (c.fd >= 0) ::close(c.fd);
    }
  } close_unposted{changes};
  for (const auto& [key, want] : wanted) {
    if (held(key)) {
      // Kept: new connections use the new table (service settings, or another endpoint on this address).
      next.push_back({key, want.table->stats.get()});
      for (auto& c : changes) c.push_back({key, want.az, want.table, -1});
      continue;
    }
    std::vector<int> fds;
    const zones::HostPort hp = host_port(key);
    try {
      // Our own socket closed by the previous update may still be open on a worker: skip the probe then.
      if (!d.closed_recently.contains(key)) probe_unused(hp);
      for (size_t i = 0; i < d.workers.size(); ++i) fds.push_back(open_listener(hp));
    } catch (const std::system_error& e) {
      for (int fd : fds) ::close(fd);
      errs[key] = e.what();
      errors.push_back(std::string(e.what()) + " for endpoint " + std::string(want.table->id()));
      if (!d.listener_errors.contains(key)) d.log("relay: " + errors.back());  // once, not at every update
      continue;
    }
    next.push_back({key, want.table->stats.get()});
    for (size_t i = 0; i < d.workers.size(); ++i) changes[i].push_back({key, want.az, want.table, fds[i]});
  }
  for (const auto& l : d.listening)
    if (!is_wanted(l.key)) closed.insert(l.key);
  auto to_close = std::make_shared<const std::vector<ListenKey>>(closed.begin(), closed.end());
  for (size_t i = 0; i < d.workers.size(); ++i) {
    if (changes[i].empty() && to_close->empty()) continue;
    Worker& w = *d.workers[i];
    auto batch = std::make_shared<std::vector<ListenerChange>>(std::move(changes[i]));
    changes[i].clear();  // moved from: now empty for close_unposted
    w.post([&w, batch = std::move(batch), to_close] { w.apply(*batch, *to_close); });
  }
  d.closed_recently = std::move(closed);

  // Connections of endpoints that left `available` (or of ENIs that went away) are reset.
  std::sort(live.begin(), live.end());
  live.erase(std::unique(live.begin(), live.end(),
                         [](const LiveEni& a, const LiveEni& b) { return !(a < b) && !(b < a); }),
             live.end());
  live.shrink_to_fit();
  std::set<std::pair<std::string, zones::IpAddr>> gone;
  for (const auto& p : d.live_enis)
    if (!std::binary_search(live.begin(), live.end(), p))
      gone.insert({std::string(p.endpoint->id()), zones::IpAddr::from_v4(p.address)});
  d.live_enis = std::move(live);
  if (!gone.empty())
    for (auto& wp : d.workers) {
      Worker& w = *wp;
      w.post([&w, gone] { w.reset_connections(gone); });
    }

  asio::post(d.health_ctx, [&d, checks = std::move(checks)] {
    if (d.health) d.health->set_targets(checks);
  });

  std::lock_guard lk(d.mu);
  d.listening = std::move(next);
  d.listener_errors = std::move(errs);
  d.previous_stats.clear();  // nothing points at the old counters now (a worker's table holds its own)
  return errors;
}

void Relay::stop() {
  if (!impl_ || impl_->stopped) return;
  Impl& d = *impl_;
  d.stopped = true;
  for (auto& wp : d.workers) {
    Worker& w = *wp;
    w.post([&w] { w.begin_stop(); });  // the loop ends once the open connections have finished
  }
  asio::post(d.health_ctx, [&d] {
    d.health->stop();
    d.health_guard.reset();
  });
  if (!d.threads.empty()) {
    const auto deadline = Clock::now() + milliseconds(d.options.drain_timeout_ms);
    for (size_t i = 0; i < d.workers.size(); ++i) {
      if (d.done[i].wait_until(deadline) == std::future_status::ready) continue;
      Worker& w = *d.workers[i];
      w.post([&w] { w.abort_all(); });
      if (d.done[i].wait_for(std::chrono::seconds(1)) == std::future_status::ready) continue;
      w.exit_now = true;
      w.post([] {});  // wakes the loop
    }
    for (auto& t : d.threads)
      if (t.joinable()) t.join();
    d.threads.clear();
    d.done.clear();
    d.health_thread.join();
  }
  // Tear down on this thread now that no worker runs. A worker that never ran closes what update() handed
  // it (listeners) in its destructor; the checker goes before its context.
  d.health.reset();
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
  for (const auto& es : eps)
    es->for_each_target([&](const zones::HostPort& addr, uint64_t n) {
      const std::string t = zones::to_string(addr);
      w.sample("vpced_relay_connections_total", {{"endpoint", es->id()}, {"target", t}}, double(n));
    });
  w.family("vpced_relay_active_connections", "gauge", "Open consumer connections, per endpoint.");
  for (const auto& es : eps)
    w.sample("vpced_relay_active_connections", {{"endpoint", es->id()}}, double(es->active.load()));
  w.family("vpced_relay_bytes_total", "counter", "Bytes relayed, per endpoint and direction.");
  for (const auto& es : eps) {
    w.sample("vpced_relay_bytes_total", {{"endpoint", es->id()}, {"direction", "to_target"}}, double(es->to_target.load()));
    w.sample("vpced_relay_bytes_total", {{"endpoint", es->id()}, {"direction", "to_client"}}, double(es->to_client.load()));
  }
  w.family("vpced_relay_rejected_connections_total", "counter",
           "Consumer connections reset before reaching a target, per endpoint and reason.");
  for (const auto& es : eps)
    for (size_t r = 0; r < kRelayErrors; ++r)
      w.sample("vpced_relay_rejected_connections_total", {{"endpoint", es->id()}, {"reason", to_string(RelayError(r))}},
               double(es->rejected[r].load()));
  // A target address may serve several services: failures are summed per address.
  std::map<std::string, uint64_t> failures;
  for (const auto& ts : tgs) failures[zones::to_string(ts->address)] += ts->connect_failures.load();
  w.family("vpced_relay_connect_failures_total", "counter", "Failed or timed-out connects to a target.");
  for (const auto& [t, n] : failures) w.sample("vpced_relay_connect_failures_total", {{"target", t}}, double(n));
  w.family("vpced_relay_target_healthy", "gauge", "1 when the target passes its health checks.");
  for (const auto& ts : tgs)
    w.sample("vpced_relay_target_healthy", {{"service", ts->service}, {"target", zones::to_string(ts->address)}},
             ts->healthy.load() ? 1.0 : 0.0);
  w.family("vpced_relay_target_active_connections", "gauge", "Open connections to a target, per service.");
  for (const auto& ts : tgs)
    w.sample("vpced_relay_target_active_connections",
             {{"service", ts->service}, {"target", zones::to_string(ts->address)}}, double(ts->active.load()));
}

nlohmann::json Relay::status() const {
  std::lock_guard lk(impl_->mu);
  nlohmann::json endpoints = nlohmann::json::array();
  std::map<std::string, std::vector<std::string>> listeners;
  for (const auto& l : impl_->listening)
    listeners[std::string(l.endpoint->id())].push_back(zones::to_string(host_port(l.key)));
  for (const auto& es : impl_->endpoint_stats) {
    const zones::Model& m = impl_->snapshot->model();  // set with endpoint_stats
    const zones::EndpointModel& em = m.endpoints.at(es->model_index);
    const std::string id(es->id());
    nlohmann::json rejected = nlohmann::json::object();
    for (size_t r = 0; r < kRelayErrors; ++r) rejected[std::string(to_string(RelayError(r)))] = es->rejected[r].load();
    nlohmann::json per_target = nlohmann::json::object();
    es->for_each_target([&](const zones::HostPort& addr, uint64_t n) { per_target[zones::to_string(addr)] = n; });
    endpoints.push_back({{"id", id},
                         {"name", em.config->name},
                         {"service", m.services[em.service].config->name},
                         {"state", std::string(zones::to_string(em.state))},
                         {"listeners", listeners[id]},
                         {"active_connections", es->active.load()},
                         {"connections_total", es->total.load()},
                         {"connections_per_target", per_target},
                         {"bytes_to_target", es->to_target.load()},
                         {"bytes_to_client", es->to_client.load()},
                         {"rejected", rejected}});
  }
  nlohmann::json targets = nlohmann::json::array();
  for (const auto& ts : impl_->target_stats)
    targets.push_back({{"service", ts->service},
                       {"address", zones::to_string(ts->address)},
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
  for (const auto& ts : impl_->target_stats)
    if (!ts->healthy.load()) out.insert({ts->service, ts->address});
  return out;
}

}  // namespace vpced::proxy
