// Matchers for identifier shapes (see shapes.hpp for the expression each one implements).
#include "zones/shapes.hpp"

#include <algorithm>

namespace vpced::zones::shape {

namespace {

bool lower(char c) { return c >= 'a' && c <= 'z'; }
bool digit(char c) { return c >= '0' && c <= '9'; }
bool lower_hex(char c) { return digit(c) || (c >= 'a' && c <= 'f'); }
bool name_char(char c) {
  return lower(c) || digit(c) || (c >= 'A' && c <= 'Z') || c == '.' || c == '_' || c == '-';
}
bool path_char(char c) {
  return lower(c) || digit(c) || (c >= 'A' && c <= 'Z') || c == '+' || c == '=' || c == ',' || c == '.' ||
         c == '@' || c == '_' || c == '-';
}

template <typename Pred>
bool all(std::string_view s, Pred p) {
  return std::all_of(s.begin(), s.end(), p);
}

// `prefix` then exactly `n` lowercase hex digits.
bool hex_after(std::string_view s, std::string_view prefix, size_t n) {
  return s.size() == prefix.size() + n && s.starts_with(prefix) && all(s.substr(prefix.size()), lower_hex);
}

// G+(SEP G+)*: one or more non-empty groups of characters `in_group` accepts, separated by single `sep`s.
template <typename Pred>
bool groups(std::string_view s, char sep, Pred in_group) {
  bool open = false;  // inside a group that has a character
  for (char c : s) {
    if (in_group(c)) {
      open = true;
    } else if (c == sep && open) {
      open = false;
    } else {
      return false;
    }
  }
  return open;
}

// [a-z]{2}(-[a-z]+)+-TAIL: two letters, one or more dash-separated letter groups, then the last group, which
// `tail` checks.
template <typename Tail>
bool region_like(std::string_view s, Tail tail) {
  const size_t last = s.rfind('-');
  if (last == std::string_view::npos || !tail(s.substr(last + 1))) return false;
  std::string_view head = s.substr(0, last);  // [a-z]{2}(-[a-z]+)+
  if (head.size() < 4 || !lower(head[0]) || !lower(head[1]) || head[2] != '-') return false;
  return groups(head.substr(3), '-', lower);
}

}  // namespace

bool region_name(std::string_view s) {
  return region_like(s, [](std::string_view t) { return !t.empty() && all(t, digit); });
}

bool az_name(std::string_view s) {
  return region_like(s, [](std::string_view t) {
    return t.size() >= 2 && lower(t.back()) && all(t.substr(0, t.size() - 1), digit);
  });
}

bool az_id(std::string_view s) {
  const size_t dash = s.find('-');
  if (dash == std::string_view::npos) return false;
  std::string_view head = s.substr(0, dash), tail = s.substr(dash + 1);  // [a-z]{2,}[0-9]+ and az[0-9]+
  const size_t letters = static_cast<size_t>(std::find_if_not(head.begin(), head.end(), lower) - head.begin());
  return letters >= 2 && head.size() > letters && all(head.substr(letters), digit) && tail.size() > 2 &&
         tail.starts_with("az") && all(tail.substr(2), digit);
}

bool account_id(std::string_view s) { return s.size() == 12 && all(s, digit); }
bool vpc_id(std::string_view s) { return hex_after(s, "vpc-", 8) || hex_after(s, "vpc-", 17); }
bool subnet_id(std::string_view s) { return hex_after(s, "subnet-", 8) || hex_after(s, "subnet-", 17); }
bool object_name(std::string_view s) { return !s.empty() && s.size() <= 64 && all(s, name_char); }

bool principal(std::string_view s) {
  constexpr std::string_view kPrefix = "arn:aws:iam::";
  if (!s.starts_with(kPrefix) || s.size() < kPrefix.size() + 13) return false;
  if (!account_id(s.substr(kPrefix.size(), 12)) || s[kPrefix.size() + 12] != ':') return false;
  std::string_view rest = s.substr(kPrefix.size() + 13);
  if (rest == "root") return true;
  if (!rest.starts_with("role/") && !rest.starts_with("user/")) return false;
  return groups(rest.substr(5), '/', path_char);
}

}  // namespace vpced::zones::shape
