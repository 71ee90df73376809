// TXT matching and near-miss hints.
#include "verify/txt_check.hpp"

#include <algorithm>

#include "zones/naming.hpp"

namespace vpced::verify {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

bool iequals(std::string_view a, std::string_view b) { return lower(a) == lower(b); }

}  // namespace

std::string show_value(std::string_view raw, bool truncated) {
  std::string out = "\"";
  size_t shown = 0;
  for (unsigned char c : raw) {
    if (shown == kMaxValueShown) {
      truncated = true;
      break;
    }
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c >= 0x20 && c < 0x7f) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('\\');
      out.push_back(static_cast<char>('0' + c / 100));
      out.push_back(static_cast<char>('0' + c / 10 % 10));
      out.push_back(static_cast<char>('0' + c % 10));
    }
    ++shown;
  }
  out.push_back('"');
  if (truncated) out += "…";
  return out;
}

std::vector<std::string> near_miss_hints(const zones::VerificationToken& token, std::string_view value) {
  std::vector<std::string> hints;
  const std::string& want = token.value;
  if (value == want) return hints;
  const std::string shown_want = "\"" + want + "\"";

  // Undo the usual mistakes one by one; the value is a near miss when what is left equals the token
  // ignoring case. Each mistake that had to be undone becomes a hint.
  std::string fixed;
  bool quotes = false, spaces = false;
  for (char c : value) {
    if (c == '"' || c == '\'') quotes = true;
    else if (is_space(c)) spaces = true;
    else fixed.push_back(c);
  }
  bool no_prefix = false;
  constexpr std::string_view kPrefix = "vpce:";
  if (want.starts_with(kPrefix) && !iequals(std::string_view(fixed).substr(0, kPrefix.size()), kPrefix)) {
    no_prefix = true;
    fixed.insert(0, kPrefix);
  }
  if (iequals(fixed, want)) {
    if (quotes)
      hints.push_back("the value has quote characters inside it: the quotes of the zone file or of the DNS "
                      "provider's form became part of the text; publish " + shown_want + " with no quotes inside");
    if (spaces)
      hints.push_back("the value has spaces or other whitespace inside it; publish exactly " + shown_want);
    if (no_prefix)
      hints.push_back("the value lacks the \"vpce:\" prefix; publish the whole value " + shown_want);
    if (fixed != want)
      hints.push_back("the value differs only in letter case (lowercased by the DNS provider or its form?): "
                      "matching is case-sensitive, publish exactly " + shown_want);
    return hints;
  }
  if (iequals(value, token.name)) {
    hints.push_back("the record holds its own name " + show_value(value) + " as value; the value to publish is " +
                    shown_want);
  } else if (zones::is_verification_value(value)) {
    hints.push_back("found another vpced verification value " + show_value(value) +
                    " (an earlier token of this service, from before its private DNS name changed, or another "
                    "service's); the current value is " + shown_want);
  }
  return hints;
}

Verdict check_txt(const zones::VerificationToken& token, std::span<const TxtRecord> records) {
  Verdict v;
  size_t others = 0;
  for (const auto& r : records) {
    if (!r.truncated && r.text == token.value) {
      v.matched = true;
      continue;
    }
    if (others++ < kMaxValuesShown) v.values.push_back(show_value(r.text, r.truncated));
    if (r.truncated) continue;
    for (auto& h : near_miss_hints(token, r.text))
      if (std::find(v.hints.begin(), v.hints.end(), h) == v.hints.end()) v.hints.push_back(std::move(h));
  }
  if (others > kMaxValuesShown) v.values.push_back("…" + std::to_string(others - kMaxValuesShown) + " more");
  return v;
}

}  // namespace vpced::verify
