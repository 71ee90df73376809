// The admin API's URL query-string decoder ("a=1&b=x%20y"), apart from the server so it can be fuzzed.
#pragma once

#include <map>
#include <string>
#include <string_view>

namespace vpced::cmd {

// Splits "a=1&b=x%20y" into `out` ('+' is a space, %XX an octet; a later key wins); false on a malformed
// escape (then `out` holds the pairs before it).
bool parse_query_string(std::string_view q, std::map<std::string, std::string>& out);

}  // namespace vpced::cmd
