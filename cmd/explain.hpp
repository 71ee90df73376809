// `explain`: how vpced answers a name for a client, and why — the answer comes from the real responder.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "zones/net.hpp"
#include "zones/snapshot.hpp"

namespace vpced::cmd {

struct ExplainError {
  std::string message;
};

// Throws ExplainError for a malformed name or type.
nlohmann::json explain(const zones::Snapshot& snapshot, const std::string& name, const zones::IpAddr& from,
                       const std::string& type);

}  // namespace vpced::cmd
