// vpcectl's HTTP client on Boost.Beast. Beast is slow to compile: it stays in this one file.
#include "cmd/http_client.hpp"

#include "dns/asio.hpp"  // first: Boost.Asio needs <utility> before it with GCC 12

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <charconv>

namespace vpced::cmd {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using boost::system::error_code;

namespace {

std::optional<uint16_t> parse_port(std::string_view s) {
  unsigned v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size() || v == 0 || v > 65535) return std::nullopt;
  return static_cast<uint16_t>(v);
}

bool is_ip(std::string_view s, bool v6) {
  error_code ec;
  auto a = asio::ip::make_address(std::string(s), ec);
  return !ec && a.is_v6() == v6;
}

// Starts one asynchronous operation and runs the io_context until it completes: a synchronous call whose
// deadline is the stream's expiry. (Beast's tcp_stream enforces expires_after on asynchronous operations only.)
template <class Start>
error_code run_one(asio::io_context& io, Start start) {
  error_code result = asio::error::would_block;
  start([&result](error_code ec, auto&&...) { result = ec; });
  io.restart();
  io.run();
  return result;
}

}  // namespace

std::optional<AdminAddress> parse_admin_address(std::string_view text) {
  if (text.empty()) return std::nullopt;
  if (text.front() == '[') {  // "[v6]:port"
    size_t close = text.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    std::string_view host = text.substr(1, close - 1), rest = text.substr(close + 1);
    if (!is_ip(host, true)) return std::nullopt;
    if (rest.empty()) return AdminAddress{std::string(host), 8053};
    if (rest.front() != ':') return std::nullopt;
    auto port = parse_port(rest.substr(1));
    if (!port) return std::nullopt;
    return AdminAddress{std::string(host), *port};
  }
  if (is_ip(text, true) || is_ip(text, false)) return AdminAddress{std::string(text), 8053};  // bare address
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  std::string_view host = text.substr(0, colon);
  auto port = parse_port(text.substr(colon + 1));
  if (!port || !is_ip(host, false)) return std::nullopt;
  return AdminAddress{std::string(host), *port};
}

std::string to_string(const AdminAddress& a) {
  bool v6 = a.host.find(':') != std::string::npos;
  return (v6 ? "[" + a.host + "]" : a.host) + ":" + std::to_string(a.port);
}

std::string url_encode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
        c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    }
  }
  return out;
}

HttpResult http_request(const AdminAddress& to, std::string_view method, std::string_view target,
                        std::chrono::milliseconds timeout) {
  HttpResult r;
  auto seconds = std::to_string((timeout.count() + 999) / 1000) + " s";
  error_code ec;
  const asio::ip::address address = asio::ip::make_address(to.host, ec);
  if (ec) {
    r.error = "'" + to.host + "' is not an IP address";
    return r;
  }
  asio::io_context io;
  beast::tcp_stream stream(io);
  stream.expires_after(timeout);  // one deadline for connect, write and read together

  ec = run_one(io, [&](auto handler) { stream.async_connect(asio::ip::tcp::endpoint(address, to.port), handler); });
  if (ec) {
    r.outcome = HttpOutcome::Unreachable;
    r.error = ec == beast::error::timeout ? "no connection within " + seconds : ec.message();
    return r;
  }

  http::request<http::empty_body> req{http::string_to_verb(beast::string_view(method.data(), method.size())),
                                      beast::string_view(target.data(), target.size()), 11};
  req.set(http::field::host, to_string(to));
  req.set(http::field::user_agent, "vpcectl/" VPCED_VERSION);
  req.set(http::field::accept, "application/json, text/plain");
  req.set(http::field::connection, "close");
  if (req.method() == http::verb::post) req.content_length(0);

  ec = run_one(io, [&](auto handler) { http::async_write(stream, req, handler); });
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(std::uint64_t{256} << 20);  // describe of a large config; the default 8 MB is too tight
  if (!ec) ec = run_one(io, [&](auto handler) { http::async_read(stream, buffer, parser, handler); });
  if (ec) {
    r.outcome = ec == beast::error::timeout ? HttpOutcome::Unreachable : HttpOutcome::Failed;
    r.error = ec == beast::error::timeout ? "no answer within " + seconds : ec.message();
    return r;
  }
  stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);  // the server may have closed first

  auto& res = parser.get();
  r.outcome = HttpOutcome::Ok;
  r.status = res.result_int();
  r.reason = std::string(res.reason());
  r.content_type = std::string(res[http::field::content_type]);
  r.body = std::move(res.body());
  return r;
}

}  // namespace vpced::cmd
