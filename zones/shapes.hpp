// The shapes of AWS identifiers in the config (design §3): hand-written matchers, one pass over the text each.
// They accept exactly what the regular expression beside each one describes (tests/unit/zones/test_shapes.cpp
// compares them); a 100,000-endpoint config checks ~700,000 of them, which std::regex made ~3 % of its load.
// Service and endpoint IDs (vpce-svc-[0-9a-f]{17}, vpce-[0-9a-f]{17}) are zones/naming.hpp's is_service_id and
// is_endpoint_id, beside the code that generates them.
#pragma once

#include <string_view>

namespace vpced::zones::shape {

bool region_name(std::string_view s);  // [a-z]{2}(-[a-z]+)+-[0-9]+          us-east-1
bool az_id(std::string_view s);        // [a-z]{2,}[0-9]+-az[0-9]+           use1-az1
bool az_name(std::string_view s);      // [a-z]{2}(-[a-z]+)+-[0-9]+[a-z]     us-east-1a
bool account_id(std::string_view s);   // [0-9]{12}
bool vpc_id(std::string_view s);       // vpc-[0-9a-f]{8}([0-9a-f]{9})?
bool subnet_id(std::string_view s);    // subnet-[0-9a-f]{8}([0-9a-f]{9})?
bool object_name(std::string_view s);  // [A-Za-z0-9._-]{1,64}
// arn:aws:iam::([0-9]{12}):(root|(role|user)/P+(/P+)*) with P = [A-Za-z0-9+=,.@_-]; the account is the 12
// digits at [13, 25).
bool principal(std::string_view s);

}  // namespace vpced::zones::shape
