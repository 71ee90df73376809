// Formats of generated IDs and DNS names (design §1, §4; AWS formats in shared reference §1.1–1.2).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace vpced::zones {

// Random strings from the kernel CSPRNG (getrandom). Each character is drawn without modulo bias.
std::string random_string(std::string_view alphabet, size_t length);
// A uniform random number in [0, n), n > 0.
uint64_t random_below(uint64_t n);

std::string new_service_id();          // "vpce-svc-" + 17 lowercase hex
std::string new_endpoint_id();         // "vpce-" + 17 lowercase hex
std::string new_dns_suffix();          // 8 of [a-z0-9], shared by an endpoint's regional and zonal names
std::string new_verification_name();   // "_" + 20 of [a-z0-9]
std::string new_verification_value();  // "vpce:" + 20 of [A-Za-z0-9]

bool is_service_id(std::string_view s);
bool is_endpoint_id(std::string_view s);
bool is_dns_suffix(std::string_view s);
bool is_verification_name(std::string_view s);
bool is_verification_value(std::string_view s);

// com.amazonaws.vpce.<region>.<service-id>
std::string service_name(std::string_view region, std::string_view service_id);
// <service-id>.<region>.<dns_suffix>
std::string base_name(std::string_view service_id, std::string_view region, std::string_view dns_suffix);
// <vpce-id>-<suffix>.<base>
std::string regional_name(std::string_view endpoint_id, std::string_view suffix, std::string_view base);
// <vpce-id>-<suffix>-<az-name>.<base>
std::string zonal_name(std::string_view endpoint_id, std::string_view suffix, std::string_view az_name,
                       std::string_view base);
// <region>.<dns_suffix>: the public zone apex
std::string public_zone_apex(std::string_view region, std::string_view dns_suffix);

}  // namespace vpced::zones
