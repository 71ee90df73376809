// UDP and TCP transport for the responder: SO_REUSEPORT sockets, one io_context per thread.
#include "dns/server.hpp"

#include <sys/socket.h>

#include <array>
#include <atomic>
#include <system_error>
#include <thread>

#include "dns/asio.hpp"
#include "dns/respond.hpp"

namespace vpced::dns {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;
using asio::ip::udp;
using ReusePort = asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;

namespace {

asio::ip::address to_asio(const zones::IpAddr& a) {
  if (a.v6) {
    asio::ip::address_v6::bytes_type b;
    std::copy(a.bytes.begin(), a.bytes.end(), b.begin());
    return asio::ip::address_v6(b);
  }
  return asio::ip::address_v4(a.v4()->value);
}

zones::IpAddr from_asio(const asio::ip::address& a) {
  zones::IpAddr r;
  if (a.is_v6() && a.to_v6().is_v4_mapped()) return zones::IpAddr::from_v4({a.to_v6().to_v4().to_uint()});
  if (a.is_v6()) {
    r.v6 = true;
    auto b = a.to_v6().to_bytes();
    std::copy(b.begin(), b.end(), r.bytes.begin());
    return r;
  }
  return zones::IpAddr::from_v4({a.to_v4().to_uint()});
}

[[noreturn]] void bind_failed(const boost::system::error_code& ec, const zones::HostPort& hp, const char* proto) {
  throw std::system_error(ec.value(), std::generic_category(),
                          std::string("cannot listen on ") + proto + " " + zones::to_string(hp));
}

awaitable<void> udp_loop(udp::socket socket, const zones::SnapshotHolder& holder) {
  zones::SnapshotReader reader(holder);
  std::array<uint8_t, 65536> in;
  std::array<uint8_t, 4096> out;
  udp::endpoint sender;
  Client client;
  for (;;) {
    boost::system::error_code ec;
    size_t n = co_await socket.async_receive_from(asio::buffer(in), sender, asio::redirect_error(use_awaitable, ec));
    if (ec == asio::error::operation_aborted) co_return;
    if (ec) continue;  // ICMP errors surface here on Linux; keep serving
    client.address = from_asio(sender.address());
    client.transport = Transport::Udp;
    size_t m = respond(reader.current(), std::span(in.data(), n), client, out);
    if (m > 0) socket.send_to(asio::buffer(out.data(), m), sender, 0, ec);
  }
}

struct TcpLimits {
  unsigned idle_timeout_ms;
  unsigned max_connections;
  std::shared_ptr<std::atomic<unsigned>> open;
};

// A connection's socket and idle timer, shared by the session and its watchdog so neither outlives them.
struct TcpConn {
  tcp::socket socket;
  asio::steady_timer timer;
};

awaitable<void> tcp_watchdog(std::shared_ptr<TcpConn> c) {
  // Closes the connection when the idle timer fires without having been pushed back.
  for (;;) {
    boost::system::error_code ec;
    co_await c->timer.async_wait(asio::redirect_error(use_awaitable, ec));
    if (!c->socket.is_open()) co_return;
    if (c->timer.expiry() <= asio::steady_timer::clock_type::now()) {
      c->socket.close(ec);
      co_return;
    }
  }
}

awaitable<void> tcp_session(tcp::socket socket, const zones::SnapshotHolder& holder, TcpLimits limits) {
  struct Count {
    std::atomic<unsigned>& n;
    ~Count() { n.fetch_sub(1); }
  } count{*limits.open};
  zones::SnapshotReader reader(holder);
  boost::system::error_code ec;
  auto peer = socket.remote_endpoint(ec);
  if (ec) co_return;
  Client client{from_asio(peer.address()), Transport::Tcp, -1};
  auto executor = socket.get_executor();
  auto c = std::make_shared<TcpConn>(TcpConn{std::move(socket), asio::steady_timer(executor)});
  const auto idle = std::chrono::milliseconds(limits.idle_timeout_ms);
  c->timer.expires_after(idle);
  asio::co_spawn(executor, tcp_watchdog(c), asio::detached);
  std::vector<uint8_t> in(65535), out(65537);
  for (;;) {
    uint8_t len_buf[2];
    co_await asio::async_read(c->socket, asio::buffer(len_buf), asio::redirect_error(use_awaitable, ec));
    if (ec) break;
    const size_t len = (size_t{len_buf[0]} << 8) | len_buf[1];
    if (len < 12) break;  // shorter than a header: close at once, as Knot, NSD and BIND do
    co_await asio::async_read(c->socket, asio::buffer(in.data(), len), asio::redirect_error(use_awaitable, ec));
    if (ec) break;
    size_t m = respond(reader.current(), std::span(in.data(), len), client, std::span(out.data() + 2, 65535));
    if (m == 0) break;  // a dropped query ends the connection (NSD)
    out[0] = static_cast<uint8_t>(m >> 8);
    out[1] = static_cast<uint8_t>(m);
    co_await asio::async_write(c->socket, asio::buffer(out.data(), m + 2), asio::redirect_error(use_awaitable, ec));
    if (ec) break;
    c->timer.expires_after(idle);  // RFC 7766 §6.2.3: the idle timer restarts after each answer
  }
  c->socket.close(ec);
  c->timer.cancel();
}

awaitable<void> tcp_accept_loop(tcp::acceptor acceptor, const zones::SnapshotHolder& holder, TcpLimits limits) {
  asio::steady_timer backoff(acceptor.get_executor());
  for (;;) {
    boost::system::error_code ec;
    tcp::socket socket = co_await acceptor.async_accept(asio::redirect_error(use_awaitable, ec));
    if (ec == asio::error::operation_aborted) co_return;
    if (ec) {
      // EMFILE and friends: back off instead of spinning (Asio's throttling_proxy example).
      backoff.expires_after(std::chrono::milliseconds(100));
      co_await backoff.async_wait(asio::redirect_error(use_awaitable, ec));
      continue;
    }
    if (limits.open->load() >= limits.max_connections) {
      socket.close(ec);
      continue;
    }
    limits.open->fetch_add(1);
    asio::co_spawn(acceptor.get_executor(), tcp_session(std::move(socket), holder, limits), asio::detached);
  }
}

}  // namespace

struct DnsServer::Impl {
  const zones::SnapshotHolder& holder;
  ServerOptions options;
  std::vector<std::unique_ptr<asio::io_context>> contexts;
  std::vector<std::thread> threads;
};

DnsServer::DnsServer(const zones::SnapshotHolder& holder, ServerOptions options)
    : impl_(std::make_unique<Impl>(Impl{holder, std::move(options), {}, {}})) {}

DnsServer::~DnsServer() { stop(); }

void DnsServer::start() {
  unsigned n = impl_->options.threads ? impl_->options.threads : std::max(1u, std::thread::hardware_concurrency());
  for (unsigned t = 0; t < n; ++t) {
    auto ctx = std::make_unique<asio::io_context>(1);
    TcpLimits limits{impl_->options.tcp_idle_timeout_ms, impl_->options.tcp_max_connections_per_thread,
                     std::make_shared<std::atomic<unsigned>>(0)};
    for (const auto& hp : impl_->options.listen) {
      boost::system::error_code ec;
      const auto addr = to_asio(hp.addr);
      udp::endpoint uep(addr, hp.port);
      udp::socket us(*ctx);
      us.open(uep.protocol(), ec);
      if (!ec) us.set_option(ReusePort(true), ec);
      if (!ec && addr.is_v6()) us.set_option(asio::ip::v6_only(true), ec);
      if (!ec) us.bind(uep, ec);
      if (ec) bind_failed(ec, hp, "udp");
      tcp::endpoint tep(addr, hp.port);
      tcp::acceptor acc(*ctx);
      acc.open(tep.protocol(), ec);
      if (!ec) acc.set_option(tcp::acceptor::reuse_address(true), ec);
      if (!ec) acc.set_option(ReusePort(true), ec);
      if (!ec && addr.is_v6()) acc.set_option(asio::ip::v6_only(true), ec);
      if (!ec) acc.bind(tep, ec);
      if (!ec) acc.listen(asio::socket_base::max_listen_connections, ec);
      if (ec) bind_failed(ec, hp, "tcp");
      asio::co_spawn(*ctx, udp_loop(std::move(us), impl_->holder), asio::detached);
      asio::co_spawn(*ctx, tcp_accept_loop(std::move(acc), impl_->holder, limits), asio::detached);
    }
    impl_->contexts.push_back(std::move(ctx));
  }
  for (auto& ctx : impl_->contexts) impl_->threads.emplace_back([c = ctx.get()] { c->run(); });
}

void DnsServer::stop() {
  if (!impl_) return;
  for (auto& ctx : impl_->contexts) ctx->stop();
  for (auto& t : impl_->threads)
    if (t.joinable()) t.join();
  impl_->threads.clear();
  impl_->contexts.clear();
}

}  // namespace vpced::dns
