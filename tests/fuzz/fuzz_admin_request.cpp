// libFuzzer target: the admin API's request parsing: Beast's HTTP/1.1 request parser with the server's limits
// (cmd/admin.cpp session(): 64 KiB body) and the query-string decoder (cmd/query_string.hpp) on the target.
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cstddef>
#include <cstdint>
#include <algorithm>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>

#include "cmd/query_string.hpp"

namespace beast = boost::beast;
namespace http = beast::http;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The first byte splits the input into two reads, as a slow client's segments would arrive.
  if (size < 1) return 0;
  const size_t split = 1 + (data[0] % (size));
  std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
  http::request_parser<http::string_body> parser;
  parser.body_limit(64 * 1024);
  parser.header_limit(8 * 1024);  // Beast's default, spelled out: what the server runs with
  beast::error_code ec;
  std::string buffer;  // what async_read keeps in its flat_buffer between reads
  const size_t cut = std::min(split - 1, in.size());
  for (std::string_view chunk : {in.substr(0, cut), in.substr(cut)}) {
    buffer.append(chunk);
    while (!buffer.empty() && !parser.is_done()) {
      const size_t n = parser.put(boost::asio::buffer(buffer.data(), buffer.size()), ec);
      if (n > buffer.size()) std::abort();
      buffer.erase(0, n);
      if (ec == http::error::need_more) {
        ec = {};
        break;
      }
      if (ec || n == 0) break;
    }
    if (ec || parser.is_done()) break;
  }
  if (!ec && parser.is_header_done()) {
    const auto& req = parser.get();
    std::string_view target(req.target().data(), req.target().size());
    auto qmark = target.find('?');
    std::map<std::string, std::string> params;
    if (qmark != std::string_view::npos) (void)vpced::cmd::parse_query_string(target.substr(qmark + 1), params);
    if (parser.is_done() && req.body().size() > 64 * 1024) std::abort();
  }
  // The decoder on raw bytes as well (the target is only what Beast lets through).
  std::map<std::string, std::string> raw;
  (void)vpced::cmd::parse_query_string(in, raw);
  for (const auto& [k, v] : raw)
    if (k.size() > in.size() || v.size() > in.size()) std::abort();
  return 0;
}
