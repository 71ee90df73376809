// The admin API's URL query-string decoder.
#include "cmd/query_string.hpp"

namespace vpced::cmd {

namespace {

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

bool parse_query_string(std::string_view q, std::map<std::string, std::string>& out) {
  while (!q.empty()) {
    auto amp = q.find('&');
    std::string_view pair = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view() : q.substr(amp + 1);
    if (pair.empty()) continue;
    auto eq = pair.find('=');
    std::string key, value;
    std::string* target = &key;
    for (size_t i = 0; i < pair.size(); ++i) {
      char c = pair[i];
      if (i == eq) {
        target = &value;
        continue;
      }
      if (c == '+') {
        *target += ' ';
      } else if (c == '%') {
        if (i + 2 >= pair.size() || hex(pair[i + 1]) < 0 || hex(pair[i + 2]) < 0) return false;
        *target += static_cast<char>(hex(pair[i + 1]) * 16 + hex(pair[i + 2]));
        i += 2;
      } else {
        *target += c;
      }
    }
    out[key] = value;
  }
  return true;
}

}  // namespace vpced::cmd
