// AWS-shaped descriptions of the model (design §8): DescribeVpcEndpointServiceConfigurations and
// DescribeVpcEndpoints field names, plus one vpced extension (NetworkInterfaces).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "zones/model.hpp"

namespace vpced::zones {

// {"ServiceConfigurations": [...], "VpcEndpoints": [...]}
nlohmann::json describe_json(const Model& model);
// The same facts as aligned text for a terminal.
std::string describe_text(const Model& model);

// DnsEntries in AWS order: regional, zonal (subnet order), then the private DNS name while it is live
// (enabled, verified, endpoint available) — only then does it resolve in the VPC.
std::vector<std::string> dns_entries(const Model& model, const EndpointModel& e);

}  // namespace vpced::zones
