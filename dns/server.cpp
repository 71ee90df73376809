// UDP and TCP transport for the responder: SO_REUSEPORT sockets, one io_context per worker thread.
#include "dns/server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <ctime>
#include <cstring>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <system_error>
#include <thread>
#include <vector>

#include "dns/asio.hpp"
#include "dns/forwarder.hpp"
#include "dns/respond.hpp"
#include "dns/rrl.hpp"
#include "dns/signed_answer.hpp"
#include "dns/tcp_buffer.hpp"
#include "dns/tcp_sources.hpp"
#include "dns/wire.hpp"

namespace vpced::dns {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;
using asio::ip::udp;

namespace {

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


// Fails (std::system_error) when another process already serves `hp`. The workers' sockets share the address
// through SO_REUSEPORT, which would otherwise let a second daemon bind it silently and split the traffic.
void probe_unused(const zones::HostPort& hp) {
  for (int type : {SOCK_DGRAM, SOCK_STREAM}) {
    const int family = hp.addr.v6 ? AF_INET6 : AF_INET;
    int fd = ::socket(family, type | SOCK_CLOEXEC, 0);
    if (fd < 0) continue;
    int one = 1;
    if (type == SOCK_STREAM) ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);  // TIME_WAIT is no owner
    if (family == AF_INET6) ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    sockaddr_storage ss{};
    int rc = ::bind(fd, reinterpret_cast<sockaddr*>(&ss), zones::to_sockaddr(hp, ss));
    int e = errno;
    ::close(fd);
    if (rc != 0 && e == EADDRINUSE)
      throw std::system_error(e, std::generic_category(),
                              std::string("cannot listen on ") + (type == SOCK_DGRAM ? "udp " : "tcp ") +
                                  zones::to_string(hp) + " (another process serves it)");
  }
}

// A socket bound to `hp` with SO_REUSEPORT, so every worker binds its own and the kernel spreads the load.
int open_bound(const zones::HostPort& hp, int type) {
  const int family = hp.addr.v6 ? AF_INET6 : AF_INET;
  int fd = ::socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  auto fail = [&](const char* what) {
    int e = errno;
    if (fd >= 0) ::close(fd);
    throw std::system_error(e, std::generic_category(),
                            std::string("cannot listen on ") + (type == SOCK_DGRAM ? "udp " : "tcp ") +
                                zones::to_string(hp) + " (" + what + ")");
  };
  if (fd < 0) fail("socket");
  int one = 1;
  if (::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) fail("SO_REUSEPORT");
  if (type == SOCK_STREAM && ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) fail("SO_REUSEADDR");
  if (family == AF_INET6 && ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) != 0) fail("IPV6_V6ONLY");
  sockaddr_storage ss{};
  if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), zones::to_sockaddr(hp, ss)) != 0) fail("bind");
  if (type == SOCK_STREAM && ::listen(fd, SOMAXCONN) != 0) fail("listen");
  return fd;
}

std::string name_to_text(std::span<const uint8_t> wire) {
  std::string out;
  size_t i = 0;
  while (i < wire.size() && wire[i] != 0) {
    uint8_t len = wire[i++];
    for (uint8_t k = 0; k < len && i < wire.size(); ++k, ++i) {
      char c = static_cast<char>(wire[i]);
      if (c == '.' || c == '\\' || c <= ' ' || c > '~') {
        char buf[5];
        std::snprintf(buf, sizeof buf, "\\%03u", static_cast<unsigned>(wire[i]));
        out += buf;
      } else {
        out += c;
      }
    }
    out += '.';
  }
  return out.empty() ? "." : out;
}

// The UDP size limit a query allows (RFC 6891 §6.2.5; 512 without EDNS).
size_t udp_limit(std::span<const uint8_t> query) {
  Query q;
  if (parse_query(query, q) != ParseResult::Ok || !q.edns) return kClassicUdpSize;
  return std::clamp<size_t>(q.udp_size, kClassicUdpSize, kEdnsUdpSize);
}

// A forwarded answer for the client: as received when it fits, else header + question with TC=1, so the
// client retries over TCP. An empty upstream answer (timeout, failure) becomes SERVFAIL.
size_t fit_forwarded(std::span<const uint8_t> query, std::span<const uint8_t> answer, size_t limit,
                     std::span<uint8_t> out) {
  if (answer.empty()) return servfail(query, out);
  if (answer.size() <= limit && answer.size() <= out.size()) {
    std::copy(answer.begin(), answer.end(), out.begin());
    return answer.size();
  }
  Query q;
  if (parse_query(query, q) != ParseResult::Ok || q.question_end > out.size()) return servfail(query, out);
  std::copy(query.begin(), query.begin() + static_cast<long>(q.question_end), out.begin());
  out[2] = static_cast<uint8_t>(answer[2] | kFlagTc);
  out[3] = answer[3];
  for (size_t i = 6; i < 12; ++i) out[i] = 0;
  return q.question_end;
}

constexpr int kUdpBatch = 32;
constexpr uint32_t kMaxQueuedForwards = 8192;  // twice a Forwarder's max_in_flight
constexpr int kUdpRoundsPerWake = 4;
constexpr int kTcpRoundsPerWake = 4;

zones::IpAddr from_sockaddr(const sockaddr_storage& ss) {
  if (ss.ss_family == AF_INET6) {
    const auto& a = reinterpret_cast<const sockaddr_in6&>(ss).sin6_addr;
    if (IN6_IS_ADDR_V4MAPPED(&a)) {
      uint32_t v4;
      std::memcpy(&v4, a.s6_addr + 12, 4);
      return zones::IpAddr::from_v4({ntohl(v4)});
    }
    zones::IpAddr r;
    r.v6 = true;
    std::copy(a.s6_addr, a.s6_addr + 16, r.bytes.begin());
    return r;
  }
  return zones::IpAddr::from_v4({ntohl(reinterpret_cast<const sockaddr_in&>(ss).sin_addr.s_addr)});
}

// The buffers of one recvmmsg/sendmmsg round, allocated once per UDP listener and worker. Query slots are
// 64 KiB (the largest datagram) so no query is ever cut; pages a short query never touches stay unmapped.
struct UdpBatch {
  static constexpr size_t kQuerySize = 65536;
  static constexpr size_t kAnswerSize = 4096;  // respond() writes at most kEdnsUdpSize over UDP

  std::unique_ptr<uint8_t[]> queries{new uint8_t[kUdpBatch * kQuerySize]};  // default-initialised: not touched
  std::array<std::array<uint8_t, kAnswerSize>, kUdpBatch> answers;
  std::array<sockaddr_storage, kUdpBatch> senders;
  std::array<iovec, kUdpBatch> in_iov, out_iov;
  std::array<mmsghdr, kUdpBatch> in_msgs, out_msgs;
  std::array<size_t, kUdpBatch> answer_len;
  std::array<Outcome, kUdpBatch> outcome;
  std::array<RrlAction, kUdpBatch> rrl;

  // Receives up to kUdpBatch datagrams without blocking; 0 when none is waiting or on error.
  int receive(int fd) {
    for (int i = 0; i < kUdpBatch; ++i) {
      in_iov[i] = {queries.get() + i * kQuerySize, kQuerySize};
      in_msgs[i].msg_hdr = msghdr{};
      in_msgs[i].msg_hdr.msg_name = &senders[i];
      in_msgs[i].msg_hdr.msg_namelen = sizeof senders[i];
      in_msgs[i].msg_hdr.msg_iov = &in_iov[i];
      in_msgs[i].msg_hdr.msg_iovlen = 1;
      in_msgs[i].msg_len = 0;
    }
    int n;
    do n = ::recvmmsg(fd, in_msgs.data(), kUdpBatch, MSG_DONTWAIT, nullptr);
    while (n < 0 && errno == EINTR);
    return n < 0 ? 0 : n;
  }

  std::span<const uint8_t> query(int i) const {
    return {queries.get() + i * kQuerySize, in_msgs[i].msg_len};
  }
  std::span<uint8_t> answer(int i) { return answers[i]; }
  zones::IpAddr sender_address(int i) const { return from_sockaddr(senders[i]); }
  udp::endpoint sender_endpoint(int i) const {
    udp::endpoint ep;
    std::memcpy(ep.data(), &senders[i], in_msgs[i].msg_hdr.msg_namelen);
    ep.resize(in_msgs[i].msg_hdr.msg_namelen);
    return ep;
  }

  // Sends every non-empty answer to its sender. A message the kernel refuses is skipped (as the single
  // send_to ignored its error); a full send buffer is waited out briefly, as Asio's blocking send_to did.
  void send(int fd, int n) {
    int count = 0;
    for (int i = 0; i < n; ++i) {
      if (answer_len[i] == 0) continue;
      out_iov[count] = {answers[i].data(), answer_len[i]};
      out_msgs[count].msg_hdr = msghdr{};
      out_msgs[count].msg_hdr.msg_name = &senders[i];
      out_msgs[count].msg_hdr.msg_namelen = in_msgs[i].msg_hdr.msg_namelen;
      out_msgs[count].msg_hdr.msg_iov = &out_iov[count];
      out_msgs[count].msg_hdr.msg_iovlen = 1;
      ++count;
    }
    int sent = 0;
    while (sent < count) {
      // A lone answer (a steady, light load) goes out with sendto(2): the kernel's sendmmsg path copies and
      // walks a message vector for it.
      int r;
      if (count - sent == 1) {
        const msghdr& h = out_msgs[static_cast<size_t>(sent)].msg_hdr;
        r = ::sendto(fd, h.msg_iov->iov_base, h.msg_iov->iov_len, 0, static_cast<const sockaddr*>(h.msg_name),
                     h.msg_namelen) >= 0 ? 1 : -1;
      } else {
        r = ::sendmmsg(fd, out_msgs.data() + sent, static_cast<unsigned>(count - sent), 0);
      }
      if (r > 0) {
        sent += r;
        continue;
      }
      if (r < 0 && errno == EINTR) continue;
      if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        pollfd p{fd, POLLOUT, 0};
        if (::poll(&p, 1, 100) > 0) continue;
      }
      ++sent;  // drop this one answer, keep the rest of the batch
    }
  }
};

}  // namespace

struct TcpConn {
  tcp::socket socket;
  asio::steady_timer timer;
  size_t source_slot = 0;  // in Impl::tcp_sources, released when the session ends
  bool writing = false;    // an answer waits for the client to take it (the timeout is then a write timeout)
  // When the connection times out. Only ever pushed later; the watchdog's timer catches up when it fires, so a
  // write costs a clock read, not a timer cancel and a wake-up of the watchdog.
  asio::steady_timer::time_point deadline{};
};

struct Listener {
  zones::HostPort address;
  tcp::acceptor acceptor;
};

// One UDP socket of a worker. Its UDP thread reads and answers on it; answers from the forwarders are sent
// from the worker's io_context through the same descriptor, so it closes when the last holder lets go.
struct UdpSocket : std::enable_shared_from_this<UdpSocket> {
  zones::HostPort address;
  int fd = -1;
  uint64_t seen = 0;  // Snapshot::id() listener_view was taken from (UDP thread only)
  int32_t listener_view = -1;
  UdpSocket(zones::HostPort a, int f) : address(a), fd(f) {}
  UdpSocket(const UdpSocket&) = delete;
  UdpSocket& operator=(const UdpSocket&) = delete;
  ~UdpSocket() { close(); }
  void close() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
};

// A thread's own counters and its cache of view index → counter slot (rebuilt when a new snapshot shows up).
// Each block of counters has exactly one writing thread.
struct CounterCache {
  WorkerCounters* counters = nullptr;
  uint64_t seen = 0;  // Snapshot::id() of the snapshot view_slots belongs to
  std::vector<uint16_t> view_slots;
};

// The UDP side of a worker: a thread of its own on a plain epoll instance. Every socket is registered once,
// level-triggered, so a wake-up costs epoll_wait + recvmmsg + sendmmsg and nothing else (Asio's reactor adds
// an epoll_ctl per wait, a quarter of the system calls of a query at a steady rate). Listener changes and stop
// arrive as closures through an eventfd; the query path takes no lock.
struct UdpThread : CounterCache {
  int epfd = -1;
  int wake = -1;  // eventfd, registered with a null data pointer
  std::mutex mu;
  std::vector<std::function<void()>> commands;  // guarded by mu
  std::map<zones::HostPort, std::shared_ptr<UdpSocket>> sockets;  // thread only
  bool stopping = false;                                          // thread only
  uint32_t rrl_limited = 0;  // limited responses since the last slip (server.rrl.slip)
  std::thread thread;

  UdpThread() {
    epfd = ::epoll_create1(EPOLL_CLOEXEC);
    wake = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (epfd < 0 || wake < 0) throw std::system_error(errno, std::generic_category(), "epoll for the UDP workers");
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = nullptr;
    if (::epoll_ctl(epfd, EPOLL_CTL_ADD, wake, &ev) != 0)
      throw std::system_error(errno, std::generic_category(), "epoll for the UDP workers");
  }
  UdpThread(const UdpThread&) = delete;
  UdpThread& operator=(const UdpThread&) = delete;
  ~UdpThread() {
    if (thread.joinable()) thread.join();
    ::close(epfd);
    ::close(wake);
  }

  // From any thread: runs `f` on the UDP thread.
  void post(std::function<void()> f) {
    {
      std::lock_guard lock(mu);
      commands.push_back(std::move(f));
    }
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t r = ::write(wake, &one, sizeof one);
  }
  void run_commands() {
    uint64_t count;
    [[maybe_unused]] ssize_t r = ::read(wake, &count, sizeof count);
    std::vector<std::function<void()>> todo;
    {
      std::lock_guard lock(mu);
      todo.swap(commands);
    }
    for (auto& f : todo) f();
  }
  void add(std::shared_ptr<UdpSocket> s) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = s.get();
    if (::epoll_ctl(epfd, EPOLL_CTL_ADD, s->fd, &ev) != 0) return;  // not served; the TCP side still is
    sockets[s->address] = std::move(s);
  }
  // Stops serving `hp`; returns its socket (null if none) for the caller to close where the forwarded answers
  // that may still hold it are sent.
  std::shared_ptr<UdpSocket> remove(const zones::HostPort& hp) {
    auto it = sockets.find(hp);
    if (it == sockets.end()) return nullptr;
    ::epoll_ctl(epfd, EPOLL_CTL_DEL, it->second->fd, nullptr);
    auto s = std::move(it->second);
    sockets.erase(it);
    return s;
  }
};

// Everything a worker thread owns. Only that thread touches it after start(), through posted handlers.
struct Worker : CounterCache {
  asio::io_context ctx{1};
  std::map<zones::HostPort, std::shared_ptr<Listener>> listeners;
  std::set<std::shared_ptr<TcpConn>> connections;
  unsigned open_tcp = 0;
  bool stopping = false;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard;
  std::unique_ptr<Forwarder> forwarder;  // declared after ctx: destroyed first, its pending callbacks discarded
  std::unique_ptr<UdpThread> udp;
  // UDP queries handed to this worker's forwarders and not answered yet. The UDP thread reads faster than
  // the forwarders can send, so past kMaxQueuedForwards it answers SERVFAIL itself instead of queueing more.
  std::atomic<uint32_t> forwards_queued{0};
};

struct DnsServer::Impl {
  const zones::SnapshotHolder& holder;
  DnsMetrics& metrics;
  ServerOptions options;
  std::vector<std::unique_ptr<Worker>> workers;
  std::vector<std::thread> threads;
  std::vector<std::future<void>> done;
  std::vector<zones::HostPort> listen;
  RateLimiter rrl{};  // shared by the workers' UDP loops (server.rrl)
  TcpSourceCounter tcp_sources{};  // open TCP connections per source, shared by the workers' acceptors
  std::chrono::steady_clock::time_point epoch = std::chrono::steady_clock::now();

  // Counts a query's outcome; refreshes the view→slot table when the snapshot changed. A rate-limited
  // response counts as a query and in the RRL counters only (and is not logged: a flood would flood the log).
  uint16_t view_slot(CounterCache& w, const zones::Snapshot& snap, int32_t view) {
    if (w.seen != snap.id()) {
      w.view_slots.clear();
      for (size_t v = 0; v < snap.view_count(); ++v)
        w.view_slots.push_back(metrics.slot(snap.view_name(static_cast<uint32_t>(v))));
      w.seen = snap.id();
    }
    return view >= 0 && static_cast<size_t>(view) < w.view_slots.size() ? w.view_slots[static_cast<size_t>(view)] : 0;
  }

  void account(CounterCache& w, const zones::Snapshot& snap, const Outcome& oc, Transport t, const zones::IpAddr& from,
               std::span<const uint8_t> query, RrlAction rrl_action = RrlAction::Pass) {
    const size_t ti = t == Transport::Udp ? 0 : 1;
    if (oc.dropped) {
      zones::bump(w.counters->dropped[ti]);
      return;
    }
    const uint16_t slot = view_slot(w, snap, oc.view);
    ViewCounters& vc = w.counters->views[slot];
    zones::bump(vc.queries[ti][qtype_bucket(oc.qtype)]);
    if (rrl_action != RrlAction::Pass) {
      zones::bump(rrl_action == RrlAction::Drop ? w.counters->rrl_dropped : w.counters->rrl_slipped);
      return;
    }
    if (oc.forward) {
      zones::bump(vc.forwarded);
      return;  // the response is counted when the upstream answers (count_forwarded)
    }
    zones::bump(vc.responses[ti][rcode_bucket(oc.rcode)]);
    if (oc.truncated) zones::bump(vc.truncated[ti]);
    if (options.query_log) log_query(snap, oc, t, from, query);
  }

  void count_forwarded(CounterCache& w, uint16_t slot, Transport t, std::span<const uint8_t> response) {
    const size_t ti = t == Transport::Udp ? 0 : 1;
    const uint16_t rcode = response.size() >= kHeaderSize ? (response[3] & 0x0F) : kRcodeServFail;
    zones::bump(w.counters->views[slot].responses[ti][rcode_bucket(rcode)]);
  }

  void log_query(const zones::Snapshot& snap, const Outcome& oc, Transport t, const zones::IpAddr& from,
                 std::span<const uint8_t> query) {
    Query q;
    std::string name = parse_query(query, q) == ParseResult::Ok ? name_to_text(q.name()) : "-";
    std::string line = "query from " + zones::to_string(from) + " " + (t == Transport::Udp ? "udp" : "tcp") + " " +
                       name + " type " + std::to_string(oc.qtype) + " view " +
                       (oc.view >= 0 ? snap.view_name(static_cast<uint32_t>(oc.view)) : std::string("none")) +
                       " rcode " + std::to_string(oc.rcode) + (oc.truncated ? " truncated" : "");
    options.query_log(line);
  }

  // The UDP thread of worker `w`: waits on its epoll instance and serves whichever sockets are readable.
  void udp_thread(Worker& w) {
    UdpThread& u = *w.udp;
    zones::SnapshotReader reader(holder);
    std::unique_ptr<UdpBatch> batch(new UdpBatch);  // once per thread; default-initialised, so not touched
    std::array<epoll_event, 64> events;
    while (!u.stopping) {
      const int n = ::epoll_wait(u.epfd, events.data(), static_cast<int>(events.size()), -1);
      if (n < 0) {
        if (errno == EINTR) continue;
        break;
      }
      bool commands = false;
      for (int i = 0; i < n; ++i) {
        if (events[static_cast<size_t>(i)].data.ptr == nullptr)
          commands = true;  // after the sockets: a command may remove one whose event is in this batch
        else
          serve_udp(w, *static_cast<UdpSocket*>(events[static_cast<size_t>(i)].data.ptr), reader, *batch);
      }
      if (commands) {
        u.run_commands();
        reader.refresh();  // DnsServer::snapshot_published wakes an idle thread to let the old snapshot go
      }
    }
    u.sockets.clear();
  }

  // Reads up to kUdpBatch datagrams per recvmmsg(2), answers each with respond() and sends the answers with one
  // sendmmsg(2): two system calls per batch instead of two per query (NSD and Knot do the same). A few batches
  // per wake-up, then the other sockets of the thread get a turn; the socket is level-triggered, so what is
  // left wakes the thread again.
  void serve_udp(Worker& w, UdpSocket& s, zones::SnapshotReader& reader, UdpBatch& batch) {
    UdpThread& u = *w.udp;
    Client client;
    client.transport = Transport::Udp;
    for (int round = 0; round < kUdpRoundsPerWake; ++round) {
      const int n = batch.receive(s.fd);
      if (n <= 0) break;  // EAGAIN: drained; other errors (ICMP reports on Linux): wait again, keep serving
      const zones::Snapshot& snap = reader.current();
      if (snap.id() != s.seen) {  // a VPC's dns_listen address fixes the view (design §5)
        s.listener_view = snap.view_for_listener(s.address);
        s.seen = snap.id();
      }
      client.listener_view = s.listener_view;
      // RRL (server.rrl, off by default) applies to every UDP response, forwarded ones included: a dropped
      // one is left out of the send batch, a slipped one becomes header + question with TC=1.
      const zones::RrlConfig& rrl_config = snap.model().config.server.rrl;
      const uint64_t now_us =
          rrl_config.rate == 0 ? 0
                               : static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                                           std::chrono::steady_clock::now() - epoch)
                                                           .count());
      for (int i = 0; i < n; ++i) {
        client.address = batch.sender_address(i);
        batch.answer_len[i] = respond(snap, batch.query(i), client, batch.answer(i), &batch.outcome[i]);
        if (batch.outcome[i].signed_query)
          batch.answer_len[i] = answer_signed(snap, batch.query(i), client, batch.answer(i), batch.outcome[i]);
        batch.rrl[i] = RrlAction::Pass;
        if (rrl_config.rate != 0 && (batch.answer_len[i] != 0 || batch.outcome[i].forward)) {
          batch.rrl[i] = rrl_decide(rrl, rrl_config, client.address, now_us, u.rrl_limited);
          if (batch.rrl[i] == RrlAction::Drop) batch.answer_len[i] = 0;
          if (batch.rrl[i] == RrlAction::Slip) batch.answer_len[i] = slip_response(batch.query(i), batch.answer(i));
        }
      }
      batch.send(s.fd, n);
      for (int i = 0; i < n; ++i) {
        const Outcome& oc = batch.outcome[i];
        account(u, snap, oc, Transport::Udp, batch.sender_address(i), batch.query(i), batch.rrl[i]);
        if (oc.forward && batch.rrl[i] == RrlAction::Pass) {
          const uint16_t slot = view_slot(u, snap, oc.view);
          if (w.forwards_queued.load(std::memory_order_relaxed) < kMaxQueuedForwards) {
            forward_udp(w, s.shared_from_this(), batch.sender_endpoint(i), batch.query(i), slot);
          } else {
            const size_t m = servfail(batch.query(i), batch.answer(i));
            count_forwarded(u, slot, Transport::Udp, std::span(batch.answer(i).data(), m));
            const msghdr& h = batch.in_msgs[i].msg_hdr;
            ::sendto(s.fd, batch.answer(i).data(), m, MSG_DONTWAIT, static_cast<const sockaddr*>(h.msg_name), h.msg_namelen);
          }
        }
      }
      if (n < kUdpBatch) break;
    }
  }

  // Hands a query to the worker's forwarders (they live on its io_context); the answer goes back from the
  // socket the query came in on.
  void forward_udp(Worker& w, std::shared_ptr<UdpSocket> s, const udp::endpoint& to, std::span<const uint8_t> query,
                   uint16_t slot) {
    std::vector<uint8_t> q(query.begin(), query.end());
    w.forwards_queued.fetch_add(1, std::memory_order_relaxed);
    asio::post(w.ctx, [this, &w, s = std::move(s), to, q = std::move(q), slot]() mutable {
      auto reply = [this, &w, s, to, q, slot](std::span<const uint8_t> answer) {
        w.forwards_queued.fetch_sub(1, std::memory_order_relaxed);
        std::array<uint8_t, 4096> out;
        size_t m = fit_forwarded(q, answer, udp_limit(q), out);
        count_forwarded(w, slot, Transport::Udp, std::span(out.data(), m));
        if (s->fd >= 0) ::sendto(s->fd, out.data(), m, MSG_DONTWAIT, to.data(), static_cast<socklen_t>(to.size()));
      };
      if (!w.forwarder) {
        reply({});
        return;
      }
      w.forwarder->forward(q, std::move(reply));
    });
  }

  // Waits for the forwarders' answer to a TCP query; writes the framed answer into `out`, returns its size.
  // `slot` is the query's view counter slot (view_slot), taken by the caller from the query's own snapshot.
  awaitable<size_t> forward_tcp(Worker& w, std::span<const uint8_t> query, std::span<uint8_t> out, uint16_t slot) {
    struct Wait {
      explicit Wait(asio::io_context& ctx) : timer(ctx) {}
      asio::steady_timer timer;
      std::vector<uint8_t> answer;
      bool done = false;
    };
    auto st = std::make_shared<Wait>(w.ctx);
    st->timer.expires_at(asio::steady_timer::time_point::max());
    if (w.forwarder) {
      w.forwarder->forward(query, [st](std::span<const uint8_t> a) {
        st->answer.assign(a.begin(), a.end());
        st->done = true;
        st->timer.cancel();
      });
      boost::system::error_code ec;
      while (!st->done) co_await st->timer.async_wait(asio::redirect_error(use_awaitable, ec));
    }
    size_t m = fit_forwarded(query, st->answer, 65535, out);
    count_forwarded(w, slot, Transport::Tcp, out.subspan(0, m));
    co_return m;
  }

  // The answer to a TSIG-signed query (respond() left it to us): verified against the live keys, signed.
  size_t answer_signed(const zones::Snapshot& snap, std::span<const uint8_t> query, const Client& client,
                       std::span<uint8_t> out, Outcome& oc) const {
    static const std::vector<TsigKey> kNoKeys;
    const auto keys = options.transfer ? options.transfer->keys() : nullptr;
    return respond_signed(snap, query, client, keys ? std::span<const TsigKey>(*keys) : std::span<const TsigKey>(kNoKeys),
                          static_cast<uint64_t>(std::time(nullptr)), out, &oc);
  }

  // Closes the connection at its deadline. The deadline moves only when answers have been written in full, so it
  // also bounds a stalled write: a client that sends queries but does not read the answers (slow reader) is
  // closed `tcp_idle_timeout_ms` after its last complete write.
  awaitable<void> tcp_watchdog(Worker& w, std::shared_ptr<TcpConn> c) {
    for (;;) {
      boost::system::error_code ec;
      co_await c->timer.async_wait(asio::redirect_error(use_awaitable, ec));
      if (!c->socket.is_open()) co_return;
      if (c->deadline <= asio::steady_timer::clock_type::now()) {
        zones::bump(c->writing ? w.counters->tcp_write_timeouts : w.counters->tcp_idle_timeouts);
        c->socket.close(ec);
        co_return;
      }
      c->timer.expires_at(c->deadline);
    }
  }

  // Streams one zone transfer; false when the connection broke.
  awaitable<bool> serve_transfer(std::shared_ptr<TcpConn> c, std::span<const uint8_t> query, const zones::IpAddr& source) {
    const auto unix_now = [] { return static_cast<uint64_t>(std::time(nullptr)); };
    std::optional<TransferStream> stream;
    try {
      stream.emplace(holder.get(), query, source, options.transfer, unix_now());
    } catch (const std::exception&) {
      co_return false;
    }
    const auto idle = std::chrono::milliseconds(options.tcp_idle_timeout_ms);
    std::vector<uint8_t> msg;
    boost::system::error_code ec;
    for (;;) {
      try {
        if (!stream->next(msg, unix_now())) break;
      } catch (const std::exception&) {
        co_return false;  // a record ldns rejects: a bug; end the connection rather than send a broken zone
      }
      const uint8_t prefix[2] = {static_cast<uint8_t>(msg.size() >> 8), static_cast<uint8_t>(msg.size())};
      std::array<asio::const_buffer, 2> bufs{asio::buffer(prefix), asio::buffer(msg)};
      c->writing = true;
      co_await asio::async_write(c->socket, bufs, asio::redirect_error(use_awaitable, ec));
      c->writing = false;
      if (ec) co_return false;
      c->deadline = asio::steady_timer::clock_type::now() + idle;  // a long transfer is not idle
    }
    if (options.query_log)
      options.query_log("transfer from " + zones::to_string(source) + ": " + std::string(to_string(stream->plan().verdict)) +
                        ", " + std::to_string(stream->records_sent()) + " records");
    co_return true;
  }

  enum class Peek { Data, Nothing, Closed };  // Closed: EOF or an error, which the first read reports

  // Whether a new connection has bytes (or its end) waiting, without taking them or waiting.
  static Peek first_bytes(int fd) {
    uint8_t byte;
    ssize_t r;
    do r = ::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    while (r < 0 && errno == EINTR);
    if (r > 0) return Peek::Data;
    return r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) ? Peek::Nothing : Peek::Closed;
  }

  // Sends the pending answers without waiting; false when the socket would block or failed (`ec` says which).
  static bool send_now(TcpConn& c, TcpBuffer& b, boost::system::error_code& ec) {
    while (b.output_pending()) {
      const size_t n = c.socket.write_some(asio::buffer(b.pending_output().data(), b.pending_output().size()), ec);
      if (ec) return false;
      b.consume_output(n);
    }
    return true;
  }

  // Writes every pending answer, waiting for the client to take them (the watchdog is then a write timeout), and
  // restarts the idle timer (RFC 7766 §6.2.3: after each answer); false when the connection broke.
  awaitable<bool> flush(TcpConn& c, TcpBuffer& b) {
    boost::system::error_code ec;
    if (!send_now(c, b, ec)) {
      if (ec != asio::error::would_block && ec != asio::error::try_again) co_return false;
      c.writing = true;
      const auto out = b.pending_output();
      co_await asio::async_write(c.socket, asio::buffer(out.data(), out.size()), asio::redirect_error(use_awaitable, ec));
      c.writing = false;
      if (ec) co_return false;
      b.consume_output(out.size());
    }
    restart_idle(c);
    co_return true;
  }

  void restart_idle(TcpConn& c) const {
    c.deadline = asio::steady_timer::clock_type::now() + std::chrono::milliseconds(options.tcp_idle_timeout_ms);
  }

  // One DNS-over-TCP connection (RFC 7766). Reads whatever the client has sent (without waiting while data is
  // there), answers every complete query in it, in order, into one output buffer, and sends that with one
  // write: pipelined queries cost a read and a send per batch, not per query. Back-pressure: answering stops
  // while TcpBuffer::kOutBound bytes of output wait, and nothing is read until they are taken, so a client that
  // never reads holds a bounded amount here and is closed by the watchdog.
  awaitable<void> tcp_session(Worker& w, std::shared_ptr<TcpConn> c) {
    zones::SnapshotReader reader(holder);
    boost::system::error_code ec;
    auto peer = c->socket.remote_endpoint(ec);
    if (!ec) {
      Client client{from_asio(peer.address()), Transport::Tcp, -1};
      auto local_ep = c->socket.local_endpoint(ec);
      const zones::HostPort local{from_asio(local_ep.address()), local_ep.port()};
      restart_idle(*c);
      c->timer.expires_at(c->deadline);
      asio::co_spawn(w.ctx, tcp_watchdog(w, c), asio::detached);
      c->socket.non_blocking(true, ec);
      // The buffers come with the first bytes: an idle connection holds none. What arrived before the socket's
      // first wait was queued raised no event that the wait would see (edge-triggered reactor), so look first.
      if (!ec && first_bytes(c->socket.native_handle()) == Peek::Nothing)
        co_await c->socket.async_wait(tcp::socket::wait_read, asio::redirect_error(use_awaitable, ec));
      std::unique_ptr<TcpBuffer> b;
      if (!ec) b = std::make_unique<TcpBuffer>();
      const zones::Snapshot* seen = nullptr;
      Outcome oc;
      int rounds = 0;  // reads since the last wait or yield
      while (b) {
        bool end = false;
        std::span<const uint8_t> query;
        while (!end && b->output_room()) {
          const FrameResult fr = b->next(query);
          if (fr == FrameResult::NeedMore) break;
          if (fr == FrameResult::TooShort) {  // shorter than a header: close at once, as Knot, NSD and BIND do
            end = true;
            break;
          }
          const zones::Snapshot& snap = reader.current();
          if (&snap != seen) {
            client.listener_view = snap.view_for_listener(local);
            seen = &snap;
          }
          size_t m = respond(snap, query, client, b->answer_space(), &oc);
          if (oc.signed_query) m = answer_signed(snap, query, client, b->answer_space(), oc);
          account(w, snap, oc, Transport::Tcp, client.address, query);
          if (oc.transfer || oc.forward) {
            // These wait on something else: the answers before them go out first, theirs keep the query order.
            if (b->output_pending() && !co_await flush(*c, *b)) {
              end = true;
              break;
            }
            if (oc.transfer) {
              // AXFR/IXFR: several messages, produced and written one at a time (dns/transfer.hpp).
              if (!co_await serve_transfer(c, query, client.address)) {
                end = true;
                break;
              }
              restart_idle(*c);
              continue;
            }
            m = co_await forward_tcp(w, query, b->answer_space(), view_slot(w, snap, oc.view));
          }
          if (m == 0) {  // a dropped query ends the connection (NSD), after the answers before it
            end = true;
            break;
          }
          b->commit_answer(m);
        }
        if (b->output_pending()) {
          if (send_now(*c, *b, ec))
            restart_idle(*c);
          else if (!co_await flush(*c, *b))  // the client is slow to take them: wait (or time out)
            break;
        }
        if (end || !c->socket.is_open()) break;
        if (b->input_holds_message()) continue;  // answering paused for the output, which has drained
        if (w.stopping) break;                   // the queries in hand are answered; no new ones
        // Read until EAGAIN before waiting: the reactor is edge-triggered and reports nothing that arrived while
        // no wait was queued.
        const auto space = b->read_space();
        const size_t n = c->socket.read_some(asio::buffer(space.data(), space.size()), ec);
        if (ec == asio::error::would_block || ec == asio::error::try_again) {
          rounds = 0;
          co_await c->socket.async_wait(tcp::socket::wait_read, asio::redirect_error(use_awaitable, ec));
          if (ec) break;
          continue;
        }
        if (ec) break;  // EOF or reset
        b->commit_read(n);
        // A client that keeps the socket full would keep this thread to itself: after a few batches, let the
        // other connections on this thread have a turn (then read again, no wait needed).
        if (++rounds == kTcpRoundsPerWake) {
          rounds = 0;
          co_await asio::post(w.ctx, use_awaitable);
        }
      }
    }
    c->socket.close(ec);
    c->timer.cancel();
    w.connections.erase(c);
    tcp_sources.release(c->source_slot);
    --w.open_tcp;
    metrics.tcp_connections.fetch_sub(1, std::memory_order_relaxed);
  }

  // Takes the snapshot from the holder at each accept (a mutex, once per connection) instead of keeping a
  // reader: a listener that sees no connection for a long time would hold on to an old snapshot.
  awaitable<void> tcp_accept_loop(Worker& w, std::shared_ptr<Listener> l) {
    asio::steady_timer backoff(w.ctx);
    for (;;) {
      boost::system::error_code ec;
      tcp::socket socket = co_await l->acceptor.async_accept(asio::redirect_error(use_awaitable, ec));
      if (ec == asio::error::operation_aborted || !l->acceptor.is_open()) co_return;
      if (ec) {
        // EMFILE and friends: back off instead of spinning (Asio's throttling_proxy example).
        backoff.expires_after(std::chrono::milliseconds(100));
        co_await backoff.async_wait(asio::redirect_error(use_awaitable, ec));
        continue;
      }
      // Over a limit the connection is accepted and closed at once, so the backlog never fills with connections
      // nobody will serve.
      if (w.open_tcp >= options.tcp_max_connections_per_thread || w.stopping) {
        if (!w.stopping) zones::bump(w.counters->tcp_refused_total);
        socket.close(ec);
        continue;
      }
      const auto peer = socket.remote_endpoint(ec);
      if (ec) {  // already reset by the client
        socket.close(ec);
        continue;
      }
      const size_t slot = tcp_sources.slot(from_asio(peer.address()));
      const uint32_t per_source = holder.get()->model().config.server.tcp_max_connections_per_source;
      if (!tcp_sources.try_acquire(slot, per_source)) {
        zones::bump(w.counters->tcp_refused_per_source);
        socket.close(ec);
        continue;
      }
      ++w.open_tcp;
      metrics.tcp_connections.fetch_add(1, std::memory_order_relaxed);
      auto c = std::make_shared<TcpConn>(TcpConn{std::move(socket), asio::steady_timer(w.ctx), slot});
      w.connections.insert(c);
      asio::co_spawn(w.ctx, tcp_session(w, c), asio::detached);
    }
  }

  void adopt(Worker& w, const zones::HostPort& hp, int tcp_fd) {
    const bool v6 = hp.addr.v6;
    auto l = std::make_shared<Listener>(Listener{hp, tcp::acceptor(w.ctx, v6 ? tcp::v6() : tcp::v4(), tcp_fd)});
    w.listeners[hp] = l;
    asio::co_spawn(w.ctx, tcp_accept_loop(w, l), asio::detached);
  }

  static void close_listener(Listener& l) {
    boost::system::error_code ec;
    l.acceptor.close(ec);
  }
};

DnsServer::DnsServer(const zones::SnapshotHolder& holder, DnsMetrics& metrics, ServerOptions options)
    : impl_(std::make_unique<Impl>(Impl{holder, metrics, std::move(options), {}, {}, {}, {}})) {}

DnsServer::~DnsServer() { stop(); }

void DnsServer::start() {
  unsigned n = impl_->options.threads ? impl_->options.threads : std::max(1u, std::thread::hardware_concurrency());
  for (unsigned t = 0; t < n; ++t) {
    auto w = std::make_unique<Worker>();
    w->counters = &impl_->metrics.add_worker();
    w->udp = std::make_unique<UdpThread>();
    w->udp->counters = &impl_->metrics.add_worker();
    impl_->workers.push_back(std::move(w));
  }
  // Named for `top -H` and perf: dns-udp/N serves UDP, dns/N TCP, transfers and forwarding.
  for (size_t i = 0; i < impl_->workers.size(); ++i)
    impl_->workers[i]->udp->thread = std::thread([impl = impl_.get(), w = impl_->workers[i].get(), i] {
      pthread_setname_np(pthread_self(), ("dns-udp/" + std::to_string(i)).c_str());
      impl->udp_thread(*w);
    });
  for (auto& w : impl_->workers) {
    std::promise<void> finished;
    impl_->done.push_back(finished.get_future());
    w->guard.emplace(w->ctx.get_executor());  // keeps run() going until stop() releases it
    impl_->threads.emplace_back([w = w.get(), p = std::move(finished), i = impl_->threads.size()]() mutable {
      pthread_setname_np(pthread_self(), ("dns/" + std::to_string(i)).c_str());
      w->ctx.run();
      p.set_value();
    });
  }
}

void DnsServer::set_listeners(const std::vector<zones::HostPort>& listen) {
  std::vector<zones::HostPort> added, removed;
  for (const auto& hp : listen)
    if (std::find(impl_->listen.begin(), impl_->listen.end(), hp) == impl_->listen.end()) added.push_back(hp);
  for (const auto& hp : impl_->listen)
    if (std::find(listen.begin(), listen.end(), hp) == listen.end()) removed.push_back(hp);

  // Bind everything new first; on any failure close what was opened and change nothing.
  struct Fds {
    zones::HostPort hp;
    std::vector<std::pair<int, int>> per_worker;
  };
  std::vector<Fds> opened;
  try {
    for (const auto& hp : added) {
      probe_unused(hp);
      opened.push_back(Fds{hp, {}});  // before the first bind: a failure on a later worker closes these too
      Fds& f = opened.back();
      for (size_t i = 0; i < impl_->workers.size(); ++i) {
        int u = open_bound(hp, SOCK_DGRAM);
        int t = -1;
        try {
          t = open_bound(hp, SOCK_STREAM);
        } catch (...) {
          ::close(u);
          throw;
        }
        f.per_worker.emplace_back(u, t);
      }
    }
  } catch (...) {
    for (auto& f : opened)
      for (auto [u, t] : f.per_worker) {
        ::close(u);
        ::close(t);
      }
    throw;
  }
  for (auto& f : opened)
    for (size_t i = 0; i < impl_->workers.size(); ++i) {
      Worker& w = *impl_->workers[i];
      auto [u, t] = f.per_worker[i];
      w.udp->post([&w, sock = std::make_shared<UdpSocket>(f.hp, u)] { w.udp->add(sock); });
      asio::post(w.ctx, [impl = impl_.get(), &w, hp = f.hp, t] { impl->adopt(w, hp, t); });
    }
  for (const auto& hp : removed)
    for (auto& wp : impl_->workers) {
      Worker& w = *wp;
      // The socket closes on the worker's io_context, where forwarded answers are sent from it: promptly, so
      // that a reload may bind the address again, and never under a reply that is still using it.
      w.udp->post([&w, hp] {
        if (auto s = w.udp->remove(hp)) asio::post(w.ctx, [s] { s->close(); });
      });
      asio::post(w.ctx, [&w, hp] {
        if (auto it = w.listeners.find(hp); it != w.listeners.end()) {
          Impl::close_listener(*it->second);
          w.listeners.erase(it);
        }
      });
    }
  impl_->listen = listen;
}

const std::vector<zones::HostPort>& DnsServer::listeners() const { return impl_->listen; }

void DnsServer::snapshot_published() {
  for (auto& wp : impl_->workers) wp->udp->post([] {});
}

void DnsServer::set_forwarders(const std::vector<zones::HostPort>& servers) {
  for (auto& wp : impl_->workers) {
    Worker& w = *wp;
    asio::post(w.ctx, [&w, servers, timeout = impl_->options.forward_timeout_ms] {
      if (servers.empty()) {
        w.forwarder.reset();
      } else if (w.forwarder) {
        w.forwarder->set_servers(servers);
      } else {
        ForwarderOptions fo;
        fo.servers = servers;
        fo.timeout_ms = timeout;
        w.forwarder = std::make_unique<Forwarder>(w.ctx, fo);
      }
    });
  }
}

void DnsServer::stop() {
  if (!impl_ || impl_->threads.empty()) return;
  // UDP first: its threads post forwarded queries into the io_contexts stopped below.
  for (auto& wp : impl_->workers) {
    UdpThread& u = *wp->udp;
    u.post([&u] { u.stopping = true; });
  }
  for (auto& wp : impl_->workers)
    if (wp->udp->thread.joinable()) wp->udp->thread.join();
  for (auto& wp : impl_->workers) {
    Worker& w = *wp;
    asio::post(w.ctx, [&w] {
      w.stopping = true;
      for (auto& [hp, l] : w.listeners) Impl::close_listener(*l);
      w.listeners.clear();
      // Idle connections end now; one with a query in hand answers it first, then sees EOF.
      boost::system::error_code ec;
      for (auto& c : w.connections) c->socket.shutdown(tcp::socket::shutdown_receive, ec);
      w.forwarder.reset();  // pending forwarded queries get their SERVFAIL now
      w.guard.reset();
    });
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(impl_->options.drain_timeout_ms);
  for (size_t i = 0; i < impl_->workers.size(); ++i) {
    if (impl_->done[i].wait_until(deadline) != std::future_status::ready) impl_->workers[i]->ctx.stop();
  }
  for (auto& t : impl_->threads)
    if (t.joinable()) t.join();
  impl_->threads.clear();
  impl_->done.clear();
  impl_->workers.clear();
  impl_->listen.clear();
}

}  // namespace vpced::dns
