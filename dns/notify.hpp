// NOTIFY (RFC 1996): tells secondaries that zones changed, retried with back-off until acknowledged.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dns/tsig.hpp"
#include "zones/net.hpp"
#include "zones/snapshot.hpp"

namespace boost::asio {
class io_context;
}

namespace vpced::dns {

inline constexpr uint8_t kOpcodeNotify = 4;

// A NOTIFY for `apex`: QTYPE SOA, AA set, question only (RFC 1996 §3.7; the SOA answer is optional and the
// secondary asks for the serial anyway).
std::vector<uint8_t> make_notify(uint16_t id, std::string_view apex);
// An acknowledgement: same ID, QR=1, opcode NOTIFY (RFC 1996 §4.7).
bool is_notify_ack(std::span<const uint8_t> response, uint16_t id);

// The apexes (deduplicated across views) whose content differs between `before` (null: none) and `after`,
// the SOA serial aside; a zone that appeared counts as changed.
std::vector<std::string> changed_apexes(const zones::Snapshot* before, const zones::Snapshot& after);

// One NOTIFY to send: where, for which zone, and the key that signs it (none: unsigned).
struct NotifyJob {
  zones::HostPort target;
  std::string apex;
  std::optional<TsigKey> key;
};

// The NOTIFY for a change from `before` (null: start-up, every zone) to `after`, for after's
// transfer.secondaries. A secondary without key gets every changed apex, unsigned (as changed_apexes). A
// secondary with a key gets the changed zones of that key's view, signed with it: a VPC key the VPC's
// private zones and the public zone (which that view also serves), a key without view the public zone —
// so that a secondary with one view per key (BIND `match-clients { key …; }`) files each NOTIFY under the
// view that holds the zone. A key name not among `keys` (its secret failed to load) sends nothing.
std::vector<NotifyJob> plan_notify(const zones::Snapshot* before, const zones::Snapshot& after, std::span<const TsigKey> keys);

struct NotifyOptions {
  unsigned first_timeout_ms = 1000;  // doubles per try: 1 s, 2 s, 4 s, 8 s, 16 s
  unsigned tries = 5;
};

// Runs on the control thread's io_context.
class Notifier {
 public:
  Notifier(boost::asio::io_context& ctx, std::function<void(std::string_view)> log, NotifyOptions options = {});
  ~Notifier();
  // Sends one NOTIFY per (target, apex); each is retried until acknowledged or out of tries.
  void notify(const std::vector<zones::HostPort>& targets, const std::vector<std::string>& apexes);
  // Sends each job; a job with a key is signed (RFC 8945 §4.3), each retry signed afresh.
  void notify(const std::vector<NotifyJob>& jobs);
  uint64_t acknowledged() const;
  uint64_t failed() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace vpced::dns
