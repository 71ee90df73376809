// Admin HTTP/1.1 server (Boost.Beast): health, readiness, metrics and the /v1 JSON API.
#include "cmd/admin.hpp"

#include <malloc.h>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <map>
#include <system_error>

#include "cmd/daemon.hpp"
#include "cmd/explain.hpp"
#include "cmd/query_string.hpp"
#include "dns/asio.hpp"

namespace vpced::cmd {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;
using nlohmann::json;

namespace {

using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

Response reply(const Request& req, http::status status, std::string body, std::string_view type) {
  Response res{status, req.version()};
  res.set(http::field::server, "vpced");
  res.set(http::field::content_type, beast::string_view(type.data(), type.size()));
  res.keep_alive(req.keep_alive());
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

Response reply_json(const Request& req, http::status status, const json& j) {
  return reply(req, status, j.dump(2) + "\n", "application/json");
}

Response error(const Request& req, http::status status, const std::string& message) {
  return reply_json(req, status, json{{"error", message}});
}

Response handle(Daemon& d, const Request& req) {
  std::string_view target(req.target().data(), req.target().size());
  auto qmark = target.find('?');
  std::string_view path = target.substr(0, qmark);
  std::map<std::string, std::string> params;
  if (qmark != std::string_view::npos && !parse_query_string(target.substr(qmark + 1), params))
    return error(req, http::status::bad_request, "malformed query string");

  struct Route {
    http::verb verb;
    std::string_view path;
  };
  static const Route routes[] = {{http::verb::get, "/healthz"},     {http::verb::get, "/readyz"},
                                 {http::verb::get, "/metrics"},     {http::verb::get, "/v1/status"},
                                 {http::verb::get, "/v1/describe"}, {http::verb::post, "/v1/reload"},
                                 {http::verb::get, "/v1/explain"}};
  // /v1/services/SERVICE/verify: GET shows, POST checks now.
  if (path.size() >= 20 && path.starts_with("/v1/services/") && path.ends_with("/verify")) {
    std::string service(path.substr(13, path.size() - 13 - 7));
    std::map<std::string, std::string> decoded;
    if (!parse_query_string("s=" + service, decoded)) return error(req, http::status::bad_request, "malformed service");
    service = decoded["s"];
    if (req.method() != http::verb::get && req.method() != http::verb::post) {
      auto res = error(req, http::status::method_not_allowed, std::string(path) + " takes GET or POST");
      res.set(http::field::allow, "GET, POST");
      return res;
    }
    try {
      const bool start = req.method() == http::verb::post;
      return reply_json(req, start ? http::status::accepted : http::status::ok, d.verification(service, start));
    } catch (const NotFound& e) {
      return error(req, http::status::not_found, e.message);
    } catch (const BadRequest& e) {
      return error(req, http::status::bad_request, e.message);
    }
  }
  const Route* route = nullptr;
  for (const auto& r : routes)
    if (r.path == path) route = &r;
  if (!route) return error(req, http::status::not_found, "no such endpoint: " + std::string(path));
  const bool head = req.method() == http::verb::head && route->verb == http::verb::get;
  if (req.method() != route->verb && !head) {
    auto res = error(req, http::status::method_not_allowed,
                     std::string(path) + " takes " + std::string(http::to_string(route->verb)));
    res.set(http::field::allow, http::to_string(route->verb));
    return res;
  }

  if (path == "/healthz") return reply_json(req, http::status::ok, json{{"status", "alive"}});
  if (path == "/readyz") {
    std::vector<std::string> reasons;
    if (d.ready(reasons)) return reply_json(req, http::status::ok, json{{"ready", true}});
    return reply_json(req, http::status::service_unavailable, json{{"ready", false}, {"reasons", reasons}});
  }
  if (path == "/metrics") return reply(req, http::status::ok, d.metrics(), "text/plain; version=0.0.4; charset=utf-8");
  if (path == "/v1/status") return reply_json(req, http::status::ok, d.status());
  if (path == "/v1/describe") {
    auto format = params.find("format");
    if (format == params.end() || format->second == "json") return reply_json(req, http::status::ok, d.describe());
    if (format->second == "text") return reply(req, http::status::ok, d.describe_text(), "text/plain; charset=utf-8");
    return error(req, http::status::bad_request, "format must be json or text");
  }
  if (path == "/v1/reload") {
    auto r = d.reload("admin API");
    if (!r.ok) return reply_json(req, http::status::unprocessable_entity, json{{"ok", false}, {"errors", r.errors}});
    return reply_json(req, http::status::ok,
                      json{{"ok", true}, {"serial", r.serial}, {"generation", r.generation}, {"changed", r.changed}});
  }
  if (path == "/v1/explain") {
    auto name = params.find("name");
    if (name == params.end() || name->second.empty())
      return error(req, http::status::bad_request, "missing parameter 'name'");
    auto from = params.count("from") ? params["from"] : std::string("127.0.0.1");
    auto type = params.count("type") ? params["type"] : std::string("A");
    try {
      return reply_json(req, http::status::ok, d.explain(name->second, from, type));
    } catch (const ExplainError& e) {
      return error(req, http::status::bad_request, e.message);
    }
  }
  return error(req, http::status::not_found, "no such endpoint");
}

// The session's deadlines (server.admin_read_timeout, server.admin_write_timeout); a reload changes them for
// the next request of every open session. Read and written on the control thread only.
struct Timeouts {
  std::chrono::seconds read{10}, write{10};
};

// One connection. The read deadline covers a whole request, so a client that sends its headers one byte at a
// time (slow loris) or idles between keep-alive requests is cut off when it expires; the write deadline covers
// a whole response, so a client that never reads (slow read) is dropped instead of holding the answer.
// Sessions are coroutines on one io_context: a stalled client never blocks another.
constexpr size_t kTrimAfterBytes = 4 << 20;

awaitable<void> session(tcp::socket socket, Daemon& d, std::shared_ptr<const Timeouts> timeouts) {
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(64 * 1024);
    stream.expires_after(timeouts->read);
    boost::system::error_code ec;
    co_await http::async_read(stream, buffer, parser, asio::redirect_error(use_awaitable, ec));
    if (ec) break;
    const Request& req = parser.get();
    Response res = handle(d, req);
    // POST …/verify started a check: answer when it has finished (bounded), like `reload` answers once live.
    if (req.method() == http::verb::post && res.result() == http::status::accepted) {
      auto done = std::make_shared<asio::steady_timer>(stream.get_executor());
      done->expires_after(std::chrono::seconds(20));
      const std::string service = json::parse(res.body())["service"].get<std::string>();
      d.on_next_check(service, [done] { done->cancel(); });
      co_await done->async_wait(asio::redirect_error(use_awaitable, ec));
      try {
        res = reply_json(req, http::status::ok, d.verification(service, false));
      } catch (const NotFound& e) {  // removed by a reload meanwhile
        res = error(req, http::status::not_found, e.message);
      } catch (const BadRequest& e) {
        res = error(req, http::status::bad_request, e.message);
      }
    }
    stream.expires_after(timeouts->write);
    co_await http::async_write(stream, res, asio::redirect_error(use_awaitable, ec));
    const bool keep_alive = res.keep_alive();
    // A large answer (/metrics or /v1/status of 100,000 endpoints: ~50-60 MB of text, and more while it was
    // built) leaves its pages resident in the heap once freed: give them back, as after a reload.
    if (res.body().size() >= kTrimAfterBytes) {
      res = Response{};
      malloc_trim(0);
    }
    if (ec || !keep_alive) break;
  }
  boost::system::error_code ec;
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
}

awaitable<void> accept_loop(std::shared_ptr<tcp::acceptor> acceptor, Daemon& d, std::shared_ptr<const Timeouts> timeouts) {
  asio::steady_timer backoff(acceptor->get_executor());
  for (;;) {
    boost::system::error_code ec;
    tcp::socket socket = co_await acceptor->async_accept(asio::redirect_error(use_awaitable, ec));
    if (ec == asio::error::operation_aborted || !acceptor->is_open()) co_return;
    if (ec) {
      backoff.expires_after(std::chrono::milliseconds(100));
      co_await backoff.async_wait(asio::redirect_error(use_awaitable, ec));
      continue;
    }
    asio::co_spawn(acceptor->get_executor(), session(std::move(socket), d, timeouts), asio::detached);
  }
}

}  // namespace

struct AdminServer::Impl {
  asio::io_context& ctx;
  Daemon& daemon;
  std::shared_ptr<tcp::acceptor> acceptor;
  zones::HostPort address;
  std::shared_ptr<Timeouts> timeouts = std::make_shared<Timeouts>();
};

AdminServer::AdminServer(asio::io_context& ctx, Daemon& daemon) : impl_(std::make_unique<Impl>(Impl{ctx, daemon, {}, {}})) {}

void AdminServer::set_timeouts(std::chrono::seconds read, std::chrono::seconds write) {
  impl_->timeouts->read = read;
  impl_->timeouts->write = write;
}

AdminServer::~AdminServer() { close(); }

void AdminServer::listen(const zones::HostPort& hp) {
  asio::ip::address addr = hp.addr.v6 ? asio::ip::address(asio::ip::make_address_v6(zones::to_string(hp.addr)))
                                      : asio::ip::address(asio::ip::address_v4(hp.addr.v4()->value));
  tcp::endpoint ep(addr, hp.port);
  auto acc = std::make_shared<tcp::acceptor>(impl_->ctx);
  boost::system::error_code ec;
  acc->open(ep.protocol(), ec);
  if (!ec) acc->set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acc->bind(ep, ec);
  if (!ec) acc->listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    throw std::system_error(ec.value(), std::generic_category(), "cannot listen on admin " + zones::to_string(hp));
  close();
  impl_->acceptor = acc;
  impl_->address = hp;
  asio::co_spawn(impl_->ctx, accept_loop(acc, impl_->daemon, impl_->timeouts), asio::detached);
}

const zones::HostPort& AdminServer::address() const { return impl_->address; }

void AdminServer::close() {
  if (impl_ && impl_->acceptor) {
    boost::system::error_code ec;
    impl_->acceptor->close(ec);
    impl_->acceptor.reset();
  }
}

}  // namespace vpced::cmd
