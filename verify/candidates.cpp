// Candidate domains of a private DNS name: AWS checks the name or any parent domain (shared reference §2.2).
#include "verify/candidates.hpp"

namespace vpced::verify {

std::string_view parent_domain(std::string_view name) {
  const size_t dot = name.find('.');
  return dot == std::string_view::npos ? std::string_view{} : name.substr(dot + 1);
}

bool is_at_or_below(std::string_view name, std::string_view domain) {
  if (name == domain) return true;
  return name.size() > domain.size() + 1 && name.ends_with(domain) && name[name.size() - domain.size() - 1] == '.';
}

size_t label_count(std::string_view name) {
  if (name.empty()) return 0;
  size_t n = 1;
  for (char c : name) n += c == '.';
  return n;
}

std::vector<std::string> candidate_domains(std::string_view private_dns_name) {
  std::string name(private_dns_name);
  for (char& c : name)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  std::string_view rest = name;
  if (rest.starts_with("*.")) rest.remove_prefix(2);
  if (rest.ends_with('.')) rest.remove_suffix(1);
  std::vector<std::string> out;
  if (rest.empty()) return out;
  out.emplace_back(rest);
  // Parents down to two labels: "com" alone is never a domain anybody can prove control of.
  for (std::string_view p = parent_domain(rest); label_count(p) >= 2; p = parent_domain(p)) out.emplace_back(p);
  return out;
}

}  // namespace vpced::verify
