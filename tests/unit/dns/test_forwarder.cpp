// Tests of the forwarder against fake upstreams on 127.0.0.1 ephemeral ports, all on the test's io_context.
#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <initializer_list>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "dns/asio.hpp"
#include "dns/forwarder.hpp"

using namespace vpced::dns;
using vpced::zones::HostPort;
using vpced::zones::IpAddr;
namespace asio = boost::asio;
using asio::ip::tcp;
using asio::ip::udp;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

namespace {

void append(std::vector<uint8_t>& m, std::initializer_list<uint8_t> bytes) { m.insert(m.end(), bytes); }

// A query for "<label>.example." A IN, RD set, with an OPT RR (payload 1232), as a stub resolver sends it.
std::vector<uint8_t> make_query(uint16_t id, const std::string& label = "www") {
  std::vector<uint8_t> q = {
      static_cast<uint8_t>(id >> 8), static_cast<uint8_t>(id),  // ID
      0x01, 0x00,                                               // RD
      0x00, 0x01,                                               // QDCOUNT
      0x00, 0x00,                                               // ANCOUNT
      0x00, 0x00,                                               // NSCOUNT
      0x00, 0x01,                                               // ARCOUNT
  };
  q.push_back(static_cast<uint8_t>(label.size()));  // QNAME
  q.insert(q.end(), label.begin(), label.end());
  append(q, {7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0});
  append(q, {
           0x00, 0x01,              // QTYPE A
           0x00, 0x01,              // QCLASS IN
           0x00,                    // OPT owner: root
           0x00, 0x29,              // TYPE OPT
           0x04, 0xd0,              // payload 1232
           0x00, 0x00, 0x00, 0x00,  // ext-rcode 0, version 0, no flags
           0x00, 0x00,              // RDLENGTH
       });
  return q;
}

size_t question_end(std::span<const uint8_t> m) {
  size_t i = 12;
  while (m[i] != 0) i += m[i] + 1u;
  return i + 1 + 4;
}

uint16_t id_of(std::span<const uint8_t> m) { return static_cast<uint16_t>(m[0] << 8 | m[1]); }

// Header and question of `q`, then `answers` A records (192.0.2.i) and an OPT unless truncated.
std::vector<uint8_t> make_reply(std::span<const uint8_t> q, uint8_t rcode, int answers, bool tc) {
  std::vector<uint8_t> r(q.begin(), q.begin() + static_cast<std::ptrdiff_t>(question_end(q)));
  r[2] = static_cast<uint8_t>(0x80 | (q[2] & 0x01) | (tc ? 0x02 : 0));  // QR, RD echoed, TC
  r[3] = static_cast<uint8_t>(0x80 | rcode);                           // RA, RCODE
  r[6] = static_cast<uint8_t>(answers >> 8);
  r[7] = static_cast<uint8_t>(answers);
  r[11] = tc ? 0 : 1;
  for (int i = 0; i < answers; ++i) {
    append(r, {
             0xc0, 0x0c,              // NAME: pointer to the question
             0x00, 0x01,              // TYPE A
             0x00, 0x01,              // CLASS IN
             0x00, 0x00, 0x00, 0x3c,  // TTL 60
             0x00, 0x04,              // RDLENGTH
             192, 0, 2,
         });
    r.push_back(static_cast<uint8_t>(i));
  }
  if (!tc) append(r, {0x00, 0x00, 0x29, 0x04, 0xd0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00});  // OPT
  return r;
}

enum class Mode { Answer, ServFail, Silent, TruncateThenTcp };

// An upstream resolver on 127.0.0.1 (or ::1): UDP always, plus TCP on the same port for TruncateThenTcp.
class FakeUpstream {
 public:
  FakeUpstream(asio::io_context& ctx, Mode mode, const asio::ip::address& addr = asio::ip::make_address("127.0.0.1"))
      : mode_(mode), udp_(ctx), acceptor_(ctx) {
    acceptor_.open(addr.is_v6() ? tcp::v6() : tcp::v4());
    acceptor_.bind(tcp::endpoint(addr, 0));
    acceptor_.listen();
    udp_.open(addr.is_v6() ? udp::v6() : udp::v4());
    udp_.set_option(asio::socket_base::receive_buffer_size(1 << 20));  // 200 queries arrive at once
    udp_.bind(udp::endpoint(addr, acceptor_.local_endpoint().port()));
    receive();
    if (mode_ == Mode::TruncateThenTcp) accept();
  }

  HostPort address() const {
    auto ep = udp_.local_endpoint();
    HostPort hp;
    hp.addr.v6 = ep.address().is_v6();
    if (hp.addr.v6) {
      auto b = ep.address().to_v6().to_bytes();
      std::copy(b.begin(), b.end(), hp.addr.bytes.begin());
    } else {
      auto b = ep.address().to_v4().to_bytes();
      std::copy(b.begin(), b.end(), hp.addr.bytes.begin());
    }
    hp.port = ep.port();
    return hp;
  }

  std::vector<std::vector<uint8_t>> received;      // UDP queries, as they arrived
  std::vector<std::vector<uint8_t>> sent;          // UDP responses, as sent
  std::vector<std::vector<uint8_t>> tcp_received;  // TCP queries (without the length prefix)
  std::vector<std::vector<uint8_t>> tcp_sent;      // TCP responses (without the length prefix)

 private:
  struct Session {
    explicit Session(tcp::socket s) : socket(std::move(s)) {}
    tcp::socket socket;
    uint8_t length[2]{};
    std::vector<uint8_t> message;
  };

  void receive() {
    udp_.async_receive_from(asio::buffer(buf_), peer_, [this](const boost::system::error_code& ec, size_t n) {
      if (ec) return;
      std::vector<uint8_t> q(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(n));
      received.push_back(q);
      if (mode_ != Mode::Silent) {
        auto r = mode_ == Mode::ServFail          ? make_reply(q, 2, 0, false)
                 : mode_ == Mode::TruncateThenTcp ? make_reply(q, 0, 0, true)
                                                  : make_reply(q, 0, 1, false);
        sent.push_back(r);
        udp_.send_to(asio::buffer(r), peer_);
      }
      receive();
    });
  }

  void accept() {
    acceptor_.async_accept([this](const boost::system::error_code& ec, tcp::socket s) {
      if (ec) return;
      read_length(std::make_shared<Session>(std::move(s)));
      accept();
    });
  }

  void read_length(std::shared_ptr<Session> s) {
    asio::async_read(s->socket, asio::buffer(s->length), [this, s](const boost::system::error_code& ec, size_t) {
      if (ec) return;
      s->message.resize(static_cast<size_t>(s->length[0] << 8 | s->length[1]));
      asio::async_read(s->socket, asio::buffer(s->message), [this, s](const boost::system::error_code& ec2, size_t) {
        if (ec2) return;
        tcp_received.push_back(s->message);
        auto r = make_reply(s->message, 0, 40, false);  // 40 A records: well over 512 bytes
        tcp_sent.push_back(r);
        std::vector<uint8_t> framed = {static_cast<uint8_t>(r.size() >> 8), static_cast<uint8_t>(r.size())};
        framed.insert(framed.end(), r.begin(), r.end());
        boost::system::error_code ignored;
        asio::write(s->socket, asio::buffer(framed), ignored);
        read_length(s);
      });
    });
  }

  Mode mode_;
  udp::socket udp_;
  tcp::acceptor acceptor_;
  udp::endpoint peer_;
  std::array<uint8_t, 65536> buf_{};
};

struct Result {
  int calls = 0;
  std::vector<uint8_t> response;
};

Forwarder::Done collect(Result& r) {
  return [&r](std::span<const uint8_t> response) {
    ++r.calls;
    r.response.assign(response.begin(), response.end());
  };
}

// Runs the io_context until `pred` holds or `limit` passes; no sleeps.
template <class Pred>
bool run_until(asio::io_context& ctx, Pred pred, milliseconds limit) {
  auto deadline = Clock::now() + limit;
  while (!pred() && Clock::now() < deadline) {
    if (ctx.stopped()) ctx.restart();
    ctx.run_one_for(milliseconds(20));
  }
  return pred();
}

// Handlers already due (e.g. a second, wrong `done`) run too.
void drain(asio::io_context& ctx) {
  if (ctx.stopped()) ctx.restart();
  ctx.poll();
}

HostPort loopback(uint16_t port) {
  HostPort hp;
  hp.addr = IpAddr::from_v4(vpced::zones::Ipv4{0x7f000001});
  hp.port = port;
  return hp;
}

long elapsed_ms(Clock::time_point start) {
  return static_cast<long>(std::chrono::duration_cast<milliseconds>(Clock::now() - start).count());
}

}  // namespace

TEST_CASE("an answer is relayed byte for byte with the client's ID", "[forwarder]") {
  asio::io_context ctx;
  FakeUpstream up(ctx, Mode::Answer);
  Forwarder fwd(ctx, ForwarderOptions{.servers = {up.address()}});
  auto query = make_query(0xbeef);
  Result r;
  fwd.forward(query, collect(r));
  CHECK(r.calls == 0);  // never inside forward()
  CHECK(fwd.in_flight() == 1);
  REQUIRE(run_until(ctx, [&] { return r.calls > 0; }, milliseconds(5000)));
  drain(ctx);

  REQUIRE(up.received.size() == 1);  // sent as is (EDNS included), under c-ares's own ID
  CHECK(std::equal(query.begin() + 2, query.end(), up.received[0].begin() + 2, up.received[0].end()));
  REQUIRE(up.sent.size() == 1);
  CHECK(r.calls == 1);
  REQUIRE(r.response.size() == up.sent[0].size());
  CHECK(id_of(r.response) == 0xbeef);
  CHECK(std::equal(r.response.begin() + 2, r.response.end(), up.sent[0].begin() + 2));
  CHECK(fwd.in_flight() == 0);
}

TEST_CASE("an upstream that never answers gives an empty response after every try", "[forwarder]") {
  asio::io_context ctx;
  FakeUpstream up(ctx, Mode::Silent);
  Forwarder fwd(ctx, ForwarderOptions{.servers = {up.address()}, .timeout_ms = 100, .tries = 2});
  Result r;
  auto start = Clock::now();
  fwd.forward(make_query(0x0101), collect(r));
  REQUIRE(run_until(ctx, [&] { return r.calls > 0; }, milliseconds(10000)));
  auto took = elapsed_ms(start);
  drain(ctx);

  CHECK(r.calls == 1);
  CHECK(r.response.empty());
  CHECK(up.received.size() == 2);  // one per try
  CHECK(took >= 190);              // at least timeout × tries (c-ares doubles the second: ~300 ms)
  CHECK(took < 5000);
  CHECK(fwd.in_flight() == 0);
}

TEST_CASE("an upstream SERVFAIL is relayed, not retried away", "[forwarder]") {
  asio::io_context ctx;
  FakeUpstream up(ctx, Mode::ServFail);
  Forwarder fwd(ctx, ForwarderOptions{.servers = {up.address()}});
  Result r;
  fwd.forward(make_query(0x2222), collect(r));
  REQUIRE(run_until(ctx, [&] { return r.calls > 0; }, milliseconds(5000)));
  drain(ctx);

  CHECK(r.calls == 1);
  REQUIRE(r.response.size() >= 12);
  CHECK(id_of(r.response) == 0x2222);
  CHECK((r.response[3] & 0x0f) == 2);  // SERVFAIL
  CHECK(up.received.size() == 1);
}

TEST_CASE("an unreachable forwarder gives an empty response", "[forwarder]") {
  asio::io_context ctx;
  uint16_t port;
  {
    udp::socket probe(ctx, udp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    port = probe.local_endpoint().port();
  }  // closed: nothing listens there now
  Forwarder fwd(ctx, ForwarderOptions{.servers = {loopback(port)}, .timeout_ms = 2000, .tries = 2});
  Result r;
  auto start = Clock::now();
  fwd.forward(make_query(0x3333), collect(r));
  REQUIRE(run_until(ctx, [&] { return r.calls > 0; }, milliseconds(20000)));
  drain(ctx);

  CHECK(r.calls == 1);
  CHECK(r.response.empty());
  CHECK(elapsed_ms(start) < 2000);  // ICMP port unreachable ends it before the first timeout
}

TEST_CASE("no forwarders at all gives an empty response", "[forwarder]") {
  asio::io_context ctx;
  Forwarder fwd(ctx, ForwarderOptions{});
  Result r;
  fwd.forward(make_query(0x3434), collect(r));
  CHECK(r.calls == 0);
  REQUIRE(run_until(ctx, [&] { return r.calls > 0; }, milliseconds(1000)));
  drain(ctx);
  CHECK(r.calls == 1);
  CHECK(r.response.empty());
  CHECK(fwd.in_flight() == 0);
}

TEST_CASE("a message shorter than a header is refused without being sent", "[forwarder]") {
  asio::io_context ctx;
  FakeUpstream up(ctx, Mode::Answer);
  Forwarder fwd(ctx, ForwarderOptions{.servers = {up.address()}});
  const uint8_t stub[] = {0x12, 0x34, 0x01, 0x00, 0x00};
  Result r;
  fwd.forward(stub, collect(r));
  drain(ctx);
  CHECK(r.calls == 1);
  CHECK(r.response.empty());
  CHECK(up.received.empty());
}

TEST_CASE("200 concurrent forwards each complete once with their own ID", "[forwarder]") {
  asio::io_context ctx;
  FakeUpstream up(ctx, Mode::Answer);
  Forwarder fwd(ctx, ForwarderOptions{.servers = {up.address()}});
  constexpr int kCount = 200;
  std::vector<std::vector<uint8_t>> queries;
  std::vector<Result> results(kCount);
  for (int i = 0; i < kCount; ++i) {
    std::string label = std::to_string(i);
    label.insert(label.begin(), 'q');  // not "q" + …: GCC 12's bogus -Wrestrict (PR 105329)
    queries.push_back(make_query(static_cast<uint16_t>(0x1000 + i), label));
    fwd.forward(queries.back(), collect(results[i]));
  }
  CHECK(fwd.in_flight() == kCount);
  auto all_done = [&] {
    for (auto& r : results)
      if (r.calls == 0) return false;
    return true;
  };
  REQUIRE(run_until(ctx, all_done, milliseconds(20000)));
  drain(ctx);

  int once = 0, own_id = 0, own_question = 0;
  for (int i = 0; i < kCount; ++i) {
    const auto& resp = results[i].response;
    once += results[i].calls == 1;
    if (resp.size() < 12) continue;
    own_id += id_of(resp) == 0x1000 + i;
    size_t qend = question_end(queries[i]);
    own_question += resp.size() >= qend && std::equal(queries[i].begin() + 12,
                                                      queries[i].begin() + static_cast<std::ptrdiff_t>(qend),
                                                      resp.begin() + 12);
  }
  CHECK(once == kCount);
  CHECK(own_id == kCount);
  CHECK(own_question == kCount);
  CHECK(fwd.in_flight() == 0);
}

TEST_CASE("destroying the forwarder ends each pending query once, empty", "[forwarder]") {
  asio::io_context ctx;
  FakeUpstream up(ctx, Mode::Silent);
  auto fwd = std::make_unique<Forwarder>(ctx, ForwarderOptions{.servers = {up.address()}, .timeout_ms = 5000});
  std::vector<Result> results(5);
  for (size_t i = 0; i < results.size(); ++i) fwd->forward(make_query(static_cast<uint16_t>(i)), collect(results[i]));
  REQUIRE(run_until(ctx, [&] { return up.received.size() == results.size(); }, milliseconds(5000)));
  int early = 0;
  for (auto& r : results) early += r.calls;
  CHECK(early == 0);

  fwd.reset();
  REQUIRE(run_until(
      ctx, [&] { return std::all_of(results.begin(), results.end(), [](auto& r) { return r.calls > 0; }); },
      milliseconds(5000)));
  drain(ctx);
  for (auto& r : results) {
    CHECK(r.calls == 1);
    CHECK(r.response.empty());
  }
}

TEST_CASE("beyond max_in_flight a forward fails at once", "[forwarder]") {
  asio::io_context ctx;
  FakeUpstream up(ctx, Mode::Silent);
  auto fwd = std::make_unique<Forwarder>(
      ctx, ForwarderOptions{.servers = {up.address()}, .timeout_ms = 5000, .max_in_flight = 2});
  Result a, b, c;
  fwd->forward(make_query(1), collect(a));
  fwd->forward(make_query(2), collect(b));
  fwd->forward(make_query(3), collect(c));
  CHECK(fwd->in_flight() == 2);
  drain(ctx);  // no waiting on the network
  CHECK(c.calls == 1);
  CHECK(c.response.empty());
  CHECK(a.calls == 0);
  CHECK(b.calls == 0);

  fwd.reset();
  drain(ctx);
  CHECK(a.calls == 1);
  CHECK(b.calls == 1);
}

TEST_CASE("set_servers redirects new queries while old ones finish on the old servers", "[forwarder]") {
  asio::io_context ctx;
  FakeUpstream old_up(ctx, Mode::Silent);
  FakeUpstream new_up(ctx, Mode::Answer);
  Forwarder fwd(ctx, ForwarderOptions{.servers = {old_up.address()}, .timeout_ms = 200, .tries = 1});
  Result before, after;
  fwd.forward(make_query(0x0a0a, "before"), collect(before));
  REQUIRE(run_until(ctx, [&] { return old_up.received.size() == 1; }, milliseconds(5000)));

  fwd.set_servers({new_up.address()});  // c-ares 1.18 cannot change servers under a pending query
  fwd.forward(make_query(0x0b0b, "after"), collect(after));
  REQUIRE(run_until(ctx, [&] { return before.calls > 0 && after.calls > 0; }, milliseconds(5000)));
  drain(ctx);

  CHECK(before.calls == 1);
  CHECK(before.response.empty());  // timed out on the old server
  CHECK(after.calls == 1);
  REQUIRE(after.response.size() >= 12);
  CHECK(id_of(after.response) == 0x0b0b);
  CHECK(old_up.received.size() == 1);
  CHECK(new_up.received.size() == 1);
  CHECK(fwd.in_flight() == 0);

  // Once idle, the servers change in place.
  Result again;
  fwd.set_servers({old_up.address()});
  fwd.forward(make_query(0x0c0c), collect(again));
  REQUIRE(run_until(ctx, [&] { return old_up.received.size() == 2; }, milliseconds(5000)));
}

TEST_CASE("done may forward again", "[forwarder]") {
  asio::io_context ctx;
  FakeUpstream up(ctx, Mode::Answer);
  Forwarder fwd(ctx, ForwarderOptions{.servers = {up.address()}});
  Result first, second;
  auto second_query = make_query(0x5678, "second");
  fwd.forward(make_query(0x1234, "first"), [&](std::span<const uint8_t> response) {
    collect(first)(response);
    fwd.forward(second_query, collect(second));
  });
  REQUIRE(run_until(ctx, [&] { return second.calls > 0; }, milliseconds(5000)));
  drain(ctx);
  CHECK(first.calls == 1);
  CHECK(second.calls == 1);
  REQUIRE(first.response.size() >= 12);
  REQUIRE(second.response.size() >= 12);
  CHECK(id_of(first.response) == 0x1234);
  CHECK(id_of(second.response) == 0x5678);
}

TEST_CASE("a truncated UDP answer is retried over TCP and relayed whole", "[forwarder]") {
  asio::io_context ctx;
  FakeUpstream up(ctx, Mode::TruncateThenTcp);
  Forwarder fwd(ctx, ForwarderOptions{.servers = {up.address()}});
  auto query = make_query(0x7777, "big");
  Result r;
  fwd.forward(query, collect(r));
  REQUIRE(run_until(ctx, [&] { return r.calls > 0; }, milliseconds(5000)));
  drain(ctx);

  REQUIRE(up.tcp_received.size() == 1);
  CHECK(std::equal(query.begin() + 2, query.end(), up.tcp_received[0].begin() + 2, up.tcp_received[0].end()));
  REQUIRE(up.tcp_sent.size() == 1);
  CHECK(r.calls == 1);
  REQUIRE(r.response.size() == up.tcp_sent[0].size());
  CHECK(r.response.size() > 512);
  CHECK(id_of(r.response) == 0x7777);
  CHECK(std::equal(r.response.begin() + 2, r.response.end(), up.tcp_sent[0].begin() + 2));
}

TEST_CASE("an IPv6 forwarder is reached", "[forwarder]") {
  asio::io_context ctx;
  std::unique_ptr<FakeUpstream> up;
  try {
    up = std::make_unique<FakeUpstream>(ctx, Mode::Answer, asio::ip::make_address("::1"));
  } catch (const boost::system::system_error&) {
    WARN("no IPv6 loopback here; not tested");
    return;
  }
  Forwarder fwd(ctx, ForwarderOptions{.servers = {up->address()}});
  Result r;
  fwd.forward(make_query(0x6666), collect(r));
  REQUIRE(run_until(ctx, [&] { return r.calls > 0; }, milliseconds(5000)));
  REQUIRE(r.response.size() >= 12);
  CHECK(id_of(r.response) == 0x6666);
}
