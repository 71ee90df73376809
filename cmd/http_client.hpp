// The HTTP/1.1 client vpcectl uses to talk to vpced's admin API: one request per connection, with a deadline.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vpced::cmd {

// Where the admin API listens. `host` is an IP literal: the API is meant for loopback, so no resolver.
struct AdminAddress {
  std::string host;
  uint16_t port = 8053;
};

// "127.0.0.1:8053", "[::1]:8053", or a bare address ("127.0.0.1", "::1") meaning port 8053.
std::optional<AdminAddress> parse_admin_address(std::string_view text);
std::string to_string(const AdminAddress& a);  // "127.0.0.1:8053", "[::1]:8053"

// Percent-encodes a query parameter value (RFC 3986 §2.3: only unreserved characters stay as they are).
std::string url_encode(std::string_view s);

enum class HttpOutcome {
  Ok,           // a complete response arrived (of any status)
  Unreachable,  // could not connect, or no complete answer before the deadline: vpced is not running there
  Failed,       // connected, but the exchange broke (reset, malformed response)
};

struct HttpResult {
  HttpOutcome outcome = HttpOutcome::Failed;
  std::string error;  // why, when not Ok ("Connection refused", "no answer within 5 s")
  unsigned status = 0;
  std::string reason;  // "Not Found"
  std::string content_type;
  std::string body;
};

// Sends `method target` (an origin-form target: "/v1/status?x=y") with an empty body and reads the answer.
// The whole exchange (connect, write, read) must finish within `timeout`.
HttpResult http_request(const AdminAddress& to, std::string_view method, std::string_view target,
                        std::chrono::milliseconds timeout);

}  // namespace vpced::cmd
