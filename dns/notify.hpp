// NOTIFY (RFC 1996): tells secondaries that zones changed, retried with back-off until acknowledged.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

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
  uint64_t acknowledged() const;
  uint64_t failed() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace vpced::dns
