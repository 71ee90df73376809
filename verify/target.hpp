// What the verifier checks: a service's private DNS name and the token issued for it.
#pragma once

#include <string>

#include "zones/identity.hpp"

namespace vpced::verify {

struct Target {
  std::string service;           // config name of the service
  std::string private_dns_name;  // as configured ("api.example.com" or "*.example.com")
  zones::VerificationToken token;
  bool operator==(const Target&) const = default;
};

}  // namespace vpced::verify
