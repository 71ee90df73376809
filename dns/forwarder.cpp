// Relays queries outside every zone to the forwarders: c-ares 1.18 driven by the worker's io_context.
#include "dns/forwarder.hpp"

#include <ares.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>
#include <unordered_map>

#include "dns/asio.hpp"

#include <boost/asio/posix/stream_descriptor.hpp>

namespace vpced::dns {

namespace asio = boost::asio;
using boost::system::error_code;

namespace {

constexpr size_t kHeaderSize = 12;        // RFC 1035 §4.1.1
constexpr size_t kMaxMessageSize = 65535;  // RFC 1035 §4.2.2: TCP length prefix

void init_library() {
  static std::once_flag once;
  static int status = ARES_SUCCESS;
  // Never paired with ares_library_cleanup: channels live until the process exits.
  std::call_once(once, [] { status = ares_library_init(ARES_LIB_INIT_ALL); });
  if (status != ARES_SUCCESS) throw std::runtime_error(std::string("c-ares library init: ") + ares_strerror(status));
}

// One c-ares socket as Asio sees it. c-ares owns the fd: it is released when c-ares is done, never closed here.
struct Socket {
  explicit Socket(asio::io_context& ctx) : descriptor(ctx) {}
  ares_socket_t fd = ARES_SOCKET_BAD;
  asio::posix::stream_descriptor descriptor;
  bool want_read = false, want_write = false;  // what c-ares last asked for
  bool reading = false, writing = false;       // an async_wait is outstanding
  bool released = false;                       // c-ares closed it; pending handlers must do nothing
};

}  // namespace

struct Forwarder::Impl {
  class Channel;

  Impl(asio::io_context& ctx, ForwarderOptions options);
  ~Impl();
  void forward(std::span<const uint8_t> query, Done done);
  void set_servers(const std::vector<zones::HostPort>& servers);
  // Destroys replaced channels whose last query has finished.
  void sweep();

  asio::io_context& ctx_;
  ForwarderOptions options_;
  size_t in_flight_ = 0;
  std::unique_ptr<Channel> current_;
  // c-ares 1.18 refuses ares_set_servers* while queries are pending (ARES_ENOTIMP), so a reload under load
  // opens a fresh channel and lets the old one drain here.
  std::vector<std::unique_ptr<Channel>> retiring_;
};

class Forwarder::Impl::Channel {
 public:
  Channel(Impl& owner, const std::vector<zones::HostPort>& servers);
  ~Channel();
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;

  int set_servers(const std::vector<zones::HostPort>& servers);
  void send(std::span<const uint8_t> query, Done done);
  size_t pending() const { return pending_; }

 private:
  struct Query {
    Channel* channel;
    uint16_t client_id;
    Done done;
  };

  static void on_sock_state(void* data, ares_socket_t fd, int readable, int writable);
  static void on_answer(void* arg, int status, int timeouts, unsigned char* abuf, int alen);
  void sock_state(ares_socket_t fd, bool readable, bool writable);
  void arm(const std::shared_ptr<Socket>& s);
  void on_ready(const std::shared_ptr<Socket>& s, bool read, const error_code& ec);
  void schedule_timeout();
  void on_timeout(const error_code& ec);

  Impl& owner_;
  ares_channel channel_ = nullptr;
  asio::steady_timer timer_;
  bool timer_armed_ = false;
  asio::steady_timer::time_point timer_deadline_{};
  std::unordered_map<ares_socket_t, std::shared_ptr<Socket>> sockets_;
  size_t pending_ = 0;
};

Forwarder::Impl::Channel::Channel(Impl& owner, const std::vector<zones::HostPort>& servers)
    : owner_(owner), timer_(owner.ctx_) {
  ares_options opts{};
  // NOCHECKRESP: SERVFAIL/REFUSED/NOTIMP are the upstream's answer to relay, not a reason to try the next server.
  // No ARES_FLAG_EDNS: with it, c-ares answers a FORMERR by cutting 11 bytes off the query and zeroing ARCOUNT,
  // assuming it added the OPT itself. The client's own OPT goes out untouched; the price is that c-ares takes
  // UDP answers over 512 bytes as truncated and asks again over TCP.
  opts.flags = ARES_FLAG_NOCHECKRESP;
  opts.timeout = static_cast<int>(std::max(owner.options_.timeout_ms, 1u));
  opts.tries = static_cast<int>(std::max(owner.options_.tries, 1u));
  opts.sock_state_cb = &Channel::on_sock_state;
  opts.sock_state_cb_data = this;
  opts.servers = nullptr;  // set below with ports; none from /etc/resolv.conf meanwhile
  opts.nservers = 0;
  // Forwarders are tried in the configured order whatever resolv.conf's "options rotate" says.
  int mask = ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_SOCK_STATE_CB | ARES_OPT_SERVERS |
             ARES_OPT_NOROTATE;
  if (int st = ares_init_options(&channel_, &opts, mask); st != ARES_SUCCESS)
    throw std::runtime_error(std::string("c-ares channel init: ") + ares_strerror(st));
  if (int st = set_servers(servers); st != ARES_SUCCESS) {
    ares_destroy(channel_);
    throw std::runtime_error(std::string("c-ares set servers: ") + ares_strerror(st));
  }
}

Forwarder::Impl::Channel::~Channel() {
  // Runs every pending on_answer with ARES_EDESTRUCTION and reports each socket closed (released below).
  ares_destroy(channel_);
  for (auto& [fd, s] : sockets_) {
    s->released = true;
    s->descriptor.release();
  }
}

int Forwarder::Impl::Channel::set_servers(const std::vector<zones::HostPort>& servers) {
  // The node list, not ares_set_servers_ports_csv: an empty csv string leaves 1.18's servers as they were.
  std::vector<ares_addr_port_node> nodes(servers.size());
  for (size_t i = 0; i < servers.size(); ++i) {
    ares_addr_port_node& n = nodes[i];
    const zones::HostPort& hp = servers[i];
    n.next = i + 1 < nodes.size() ? &nodes[i + 1] : nullptr;
    n.family = hp.addr.v6 ? AF_INET6 : AF_INET;
    if (hp.addr.v6)
      std::memcpy(&n.addr.addr6, hp.addr.bytes.data(), 16);
    else
      std::memcpy(&n.addr.addr4, hp.addr.bytes.data(), 4);  // IpAddr keeps IPv4 in network order
    n.udp_port = hp.port;
    n.tcp_port = hp.port;
  }
  return ares_set_servers_ports(channel_, nodes.empty() ? nullptr : nodes.data());
}

void Forwarder::Impl::Channel::send(std::span<const uint8_t> query, Done done) {
  auto* q = new Query{this, static_cast<uint16_t>(query[0] << 8 | query[1]), std::move(done)};
  ++pending_;
  ++owner_.in_flight_;
  // c-ares copies the buffer and gives it an ID of its own; on_answer may run inside this call (on failure).
  ares_send(channel_, query.data(), static_cast<int>(query.size()), &Channel::on_answer, q);
  schedule_timeout();
}

void Forwarder::Impl::Channel::on_answer(void* arg, int status, int /*timeouts*/, unsigned char* abuf, int alen) {
  std::unique_ptr<Query> q(static_cast<Query*>(arg));
  Channel& ch = *q->channel;
  --ch.pending_;
  --ch.owner_.in_flight_;
  std::vector<uint8_t> response;
  if (status == ARES_SUCCESS && abuf != nullptr && alen >= static_cast<int>(kHeaderSize)) {
    response.assign(abuf, abuf + alen);
    response[0] = static_cast<uint8_t>(q->client_id >> 8);
    response[1] = static_cast<uint8_t>(q->client_id);
  }
  // Posted, never called here: we are inside ares_process_fd/ares_send/ares_destroy, and `done` may forward
  // again or tear down its caller.
  asio::post(ch.owner_.ctx_, [done = std::move(q->done), response = std::move(response)] { done(response); });
}

void Forwarder::Impl::Channel::on_sock_state(void* data, ares_socket_t fd, int readable, int writable) {
  static_cast<Channel*>(data)->sock_state(fd, readable != 0, writable != 0);
}

void Forwarder::Impl::Channel::sock_state(ares_socket_t fd, bool readable, bool writable) {
  auto it = sockets_.find(fd);
  if (!readable && !writable) {
    // c-ares closes the fd right after this call, and may reuse the number for its next socket.
    if (it == sockets_.end()) return;
    it->second->released = true;
    it->second->descriptor.release();  // aborts outstanding waits; their handlers see `released`
    sockets_.erase(it);
    return;
  }
  if (it == sockets_.end()) {
    auto s = std::make_shared<Socket>(owner_.ctx_);
    s->fd = fd;
    error_code ec;
    s->descriptor.assign(fd, ec);
    // Unwatchable socket: left unarmed, its queries end by timeout.
    if (ec) return;
    it = sockets_.emplace(fd, std::move(s)).first;
  }
  it->second->want_read = readable;
  it->second->want_write = writable;
  arm(it->second);
}

void Forwarder::Impl::Channel::arm(const std::shared_ptr<Socket>& s) {
  // Asio re-registers the fd (EPOLL_CTL_MOD) for each new wait, so readiness that ares_process_fd left
  // unconsumed (it reads a TCP answer's length and body in separate calls) is reported again.
  if (s->want_read && !s->reading) {
    s->reading = true;
    s->descriptor.async_wait(asio::posix::stream_descriptor::wait_read,
                             [this, s](const error_code& ec) { on_ready(s, true, ec); });
  }
  if (s->want_write && !s->writing) {
    s->writing = true;
    s->descriptor.async_wait(asio::posix::stream_descriptor::wait_write,
                             [this, s](const error_code& ec) { on_ready(s, false, ec); });
  }
}

void Forwarder::Impl::Channel::on_ready(const std::shared_ptr<Socket>& s, bool read, const error_code& ec) {
  (read ? s->reading : s->writing) = false;
  // Released: c-ares closed the socket, and this channel may be gone too.
  if (s->released) return;
  if (ec != asio::error::operation_aborted && (read ? s->want_read : s->want_write)) {
    ares_process_fd(channel_, read ? s->fd : ARES_SOCKET_BAD, read ? ARES_SOCKET_BAD : s->fd);
  }
  if (!s->released) arm(s);
  schedule_timeout();
  owner_.sweep();  // may destroy *this: nothing after it
}

void Forwarder::Impl::Channel::schedule_timeout() {
  timeval tv{};
  if (ares_timeout(channel_, nullptr, &tv) == nullptr) {
    if (timer_armed_) {
      timer_.cancel();
      timer_armed_ = false;
    }
    return;
  }
  // ares_timeout truncates to milliseconds; waking a little late beats spinning on a not-yet-expired query.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(tv.tv_sec) +
                  std::chrono::microseconds(tv.tv_usec) + std::chrono::milliseconds(1);
  // An armed timer that fires no later is kept: an early wake-up only asks ares_timeout again.
  if (timer_armed_ && timer_deadline_ <= deadline) return;
  timer_armed_ = true;
  timer_deadline_ = deadline;
  timer_.expires_at(deadline);
  timer_.async_wait([this](const error_code& ec) { on_timeout(ec); });
}

void Forwarder::Impl::Channel::on_timeout(const error_code& ec) {
  if (ec) return;  // re-armed, cancelled, or the channel is being destroyed
  timer_armed_ = false;
  ares_process_fd(channel_, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
  schedule_timeout();
  owner_.sweep();  // may destroy *this: nothing after it
}

Forwarder::Impl::Impl(asio::io_context& ctx, ForwarderOptions options) : ctx_(ctx), options_(std::move(options)) {
  init_library();
  current_ = std::make_unique<Channel>(*this, options_.servers);
}

Forwarder::Impl::~Impl() {
  retiring_.clear();
  current_.reset();
}

void Forwarder::Impl::forward(std::span<const uint8_t> query, Done done) {
  sweep();
  // No servers is answered here: c-ares 1.18's ares_send fails it too, but leaks its copy of the query.
  if (query.size() < kHeaderSize || query.size() > kMaxMessageSize || in_flight_ >= options_.max_in_flight ||
      options_.servers.empty()) {
    asio::post(ctx_, [done = std::move(done)] { done({}); });
    return;
  }
  current_->send(query, std::move(done));
}

void Forwarder::Impl::set_servers(const std::vector<zones::HostPort>& servers) {
  options_.servers = servers;
  if (current_->pending() == 0 && current_->set_servers(servers) == ARES_SUCCESS) return;
  auto fresh = std::make_unique<Channel>(*this, servers);
  retiring_.push_back(std::move(current_));
  current_ = std::move(fresh);
  sweep();
}

void Forwarder::Impl::sweep() {
  std::erase_if(retiring_, [](const std::unique_ptr<Channel>& c) { return c->pending() == 0; });
}

Forwarder::Forwarder(asio::io_context& ctx, ForwarderOptions options)
    : impl_(std::make_unique<Impl>(ctx, std::move(options))) {}

Forwarder::~Forwarder() = default;

void Forwarder::forward(std::span<const uint8_t> query, Done done) { impl_->forward(query, std::move(done)); }

void Forwarder::set_servers(const std::vector<zones::HostPort>& servers) { impl_->set_servers(servers); }

size_t Forwarder::in_flight() const { return impl_->in_flight_; }

}  // namespace vpced::dns
