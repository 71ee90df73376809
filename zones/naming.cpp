// Generation and checking of IDs, DNS suffixes and verification tokens.
#include "zones/naming.hpp"

#include <sys/random.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <cstdint>
#include <stdexcept>
#include <system_error>

namespace vpced::zones {

namespace {

constexpr std::string_view kHex = "0123456789abcdef";
constexpr std::string_view kLowerAlnum = "abcdefghijklmnopqrstuvwxyz0123456789";
constexpr std::string_view kAlnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

void getrandom_all(uint8_t* out, size_t n) {
  while (n > 0) {
    ssize_t got = getrandom(out, n, 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      throw std::system_error(errno, std::generic_category(), "getrandom");
    }
    out += got;
    n -= static_cast<size_t>(got);
  }
}

// Random bytes from the kernel, drawn 4 KiB at a time: a 100,000-endpoint config generates half a million IDs,
// suffixes and address draws, and one getrandom(2) for each was ~4 % of its load. Bytes handed out are wiped
// from the pool, so a later copy of this memory (a core dump) does not show the IDs and tokens made from them;
// the bytes not handed out yet (at most 4 KiB per thread that drew any: the main and the two build threads)
// are there until they are.
void fill_random(uint8_t* out, size_t n) {
  thread_local std::array<uint8_t, 4096> pool;
  thread_local size_t left = 0;
  while (n > 0) {
    if (left == 0) {
      getrandom_all(pool.data(), pool.size());
      left = pool.size();
    }
    const size_t take = std::min(n, left);
    uint8_t* from = pool.data() + (pool.size() - left);
    std::memcpy(out, from, take);
    std::memset(from, 0, take);
    out += take;
    n -= take;
    left -= take;
  }
}

bool all_of(std::string_view s, std::string_view alphabet) {
  return s.find_first_not_of(alphabet) == std::string_view::npos;
}

}  // namespace

std::string random_string(std::string_view alphabet, size_t length) {
  // Rejection sampling: bytes at or above the largest multiple of the alphabet size are discarded.
  const unsigned n = static_cast<unsigned>(alphabet.size());
  const unsigned limit = 256 - (256 % n);
  std::string out;
  out.reserve(length);
  while (out.size() < length) {
    uint8_t b;
    fill_random(&b, 1);
    if (b < limit) out.push_back(alphabet[b % n]);
  }
  return out;
}

uint64_t random_below(uint64_t n) {
  // Rejection sampling over 64-bit draws: values in the incomplete last block are discarded.
  const uint64_t limit = UINT64_MAX - (UINT64_MAX % n);
  for (;;) {
    uint64_t v = 0;
    fill_random(reinterpret_cast<uint8_t*>(&v), sizeof v);
    if (v < limit) return v % n;
  }
}

std::string new_service_id() { return "vpce-svc-" + random_string(kHex, 17); }
std::string new_endpoint_id() { return "vpce-" + random_string(kHex, 17); }
std::string new_dns_suffix() { return random_string(kLowerAlnum, 8); }
std::string new_verification_name() { return "_" + random_string(kLowerAlnum, 20); }
std::string new_verification_value() { return "vpce:" + random_string(kAlnum, 20); }

bool is_service_id(std::string_view s) {
  return s.size() == 26 && s.starts_with("vpce-svc-") && all_of(s.substr(9), kHex);
}
bool is_endpoint_id(std::string_view s) {
  return s.size() == 22 && s.starts_with("vpce-") && all_of(s.substr(5), kHex);
}
bool is_dns_suffix(std::string_view s) { return s.size() == 8 && all_of(s, kLowerAlnum); }
bool is_verification_name(std::string_view s) {
  return s.size() == 21 && s[0] == '_' && all_of(s.substr(1), kLowerAlnum);
}
bool is_verification_value(std::string_view s) {
  return s.size() == 25 && s.starts_with("vpce:") && all_of(s.substr(5), kAlnum);
}

std::string service_name(std::string_view region, std::string_view service_id) {
  return "com.amazonaws.vpce." + std::string(region) + "." + std::string(service_id);
}

std::string base_name(std::string_view service_id, std::string_view region, std::string_view dns_suffix) {
  return std::string(service_id) + "." + std::string(region) + "." + std::string(dns_suffix);
}

std::string regional_name(std::string_view endpoint_id, std::string_view suffix, std::string_view base) {
  return std::string(endpoint_id) + "-" + std::string(suffix) + "." + std::string(base);
}

std::string zonal_name(std::string_view endpoint_id, std::string_view suffix, std::string_view az_name,
                       std::string_view base) {
  return std::string(endpoint_id) + "-" + std::string(suffix) + "-" + std::string(az_name) + "." +
         std::string(base);
}

std::string public_zone_apex(std::string_view region, std::string_view dns_suffix) {
  return std::string(region) + "." + std::string(dns_suffix);
}

}  // namespace vpced::zones
