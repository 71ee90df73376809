// The domains under which a provider may publish the verification record (design §6).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace vpced::verify {

// The private DNS name without a leading "*." and then each parent with at least two labels, most specific
// first: "*.a.b.example.com" → a.b.example.com, b.example.com, example.com. Lowercased, without a trailing
// dot. A name of one label yields itself only (the config never allows one); an empty name yields nothing.
std::vector<std::string> candidate_domains(std::string_view private_dns_name);

// The name one label up ("a.example.com" → "example.com"); empty for a name of one label.
std::string_view parent_domain(std::string_view name);

// True when `name` equals `domain` or lies below it (both lowercase, no trailing dot).
bool is_at_or_below(std::string_view name, std::string_view domain);

size_t label_count(std::string_view name);

}  // namespace vpced::verify
