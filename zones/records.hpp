// Zone content as presentation-format records: the one source for `vpced zone`, the compiled wire answers
// and (later) zone transfers, so that all three always agree.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "zones/model.hpp"
#include "zones/record_list.hpp"

namespace vpced::zones {

struct ZoneContent {
  std::string apex;  // absolute, with the trailing dot
  RecordList records;  // SOA first, then sorted by owner and type
  std::string digest;  // zone_digest(*this) when set_digests ran (the daemon's builds that keep records)
};

// SOA timers. minimum doubles as the negative-caching TTL (RFC 2308 §5), set to server.ttl.
inline constexpr uint32_t kSoaRefresh = 3600, kSoaRetry = 600, kSoaExpire = 1209600;

// The public zone <region>.<dns_suffix>: SOA, NS ns1 (+ A glue for each IPv4 dns_listen address), and the
// regional and zonal A records of every available endpoint (design §5). With `split_endpoints` endpoints or
// more, a second thread writes the records of half of them (the result is the same).
inline constexpr size_t kZoneSplitEndpoints = 8192;
ZoneContent public_zone(const Model& model, uint32_t serial, size_t split_endpoints = kZoneSplitEndpoints);

// The private zone of an endpoint whose private DNS name is live (design §5): apex = the name, or `d` for
// `*.d`; SOA, NS ns1.<public apex>, and A records of the endpoint's regional addresses at the name (at
// `*.d` for a wildcard, RFC 4592).
ZoneContent private_zone(const Model& model, const EndpointModel& endpoint, uint32_t serial);

// The private zones of one VPC's view, in endpoint order.
std::vector<ZoneContent> private_zones(const Model& model, size_t vpc, uint32_t serial);

// A digest of everything but the SOA serial: the serial moves exactly when this changes.
std::string zone_digest(const ZoneContent& zone);
// The stored digest, or zone_digest(zone) when none was stored.
std::string digest_of(const ZoneContent& zone);

// The zones of every view: [0] the public view with the public zone, then one per VPC in config order with
// its private zones. Built once per load: the digest and the snapshot both read it.
struct ViewZones {
  std::string name;  // "public" or the VPC id
  std::vector<ZoneContent> zones;
};
std::vector<ViewZones> all_zones(const Model& model, uint32_t serial);
// Stores each zone's zone_digest in it (`digest`), so that comparing two snapshots' zones (NOTIFY planning)
// does not walk every record of both again.
void set_digests(std::vector<ViewZones>& views);

// Rewrites the serial of every SOA (all_zones with serial 0 → the digest → the serial → this).
void set_serial(std::vector<ViewZones>& views, uint32_t serial);

// The digest of every zone of every view: the serial is shared, so it moves when any of them changes.
std::string content_digest(const Model& model);
std::string content_digest(const std::vector<ViewZones>& views);  // the same value, from all_zones
// The form state files held before content_digest's ("2:…"): 16 hex digits of FNV-1a over the same fields.
std::string fnv_content_digest(const std::vector<ViewZones>& views);

// RFC 1035 master file text.
std::string to_master_file(const ZoneContent& zone);

}  // namespace vpced::zones
