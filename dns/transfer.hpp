// Zone transfers: AXFR (RFC 5936) and IXFR (RFC 1995) over TCP, authorised by source ACL and TSIG key, streamed
// as a sequence of messages. The decision and the message stream are pure; the TCP session only writes them.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dns/tsig.hpp"
#include "zones/history.hpp"
#include "zones/history_file.hpp"
#include "zones/net.hpp"
#include "zones/snapshot.hpp"

namespace vpced::dns {

// What the control thread shares with the DNS workers for transfers: the TSIG keys of the live config and the
// IXFR history. Updated on every publish; read once per transfer (never on the query path).
class TransferContext {
 public:
  explicit TransferContext(size_t history_depth = 16) : history_(history_depth) {}
  // Records `snap` in the history and makes `keys` current. Control thread.
  zones::HistoryRecord update(const zones::Snapshot& snap, std::shared_ptr<const std::vector<TsigKey>> keys);
  // Makes `keys` current and forgets the history: the config allows no transfer, so nobody can ask for IXFR.
  void forget_history(std::shared_ptr<const std::vector<TsigKey>> keys);
  // The history in state_dir (zones/history_file): read once before the first update, written after each
  // update that moved the serial. restore_history never throws; save_history throws std::system_error.
  zones::HistoryLoad restore_history(const std::filesystem::path& state_dir, std::string& problem);
  void save_history(const std::filesystem::path& state_dir) const;
  size_t history_versions() const;
  std::shared_ptr<const std::vector<TsigKey>> keys() const;
  std::optional<std::vector<zones::ZoneDelta>> since(const zones::ZoneHistory::ZoneKey& zone, uint32_t serial) const;

 private:
  mutable std::mutex mu_;
  zones::ZoneHistory history_;
  std::shared_ptr<const std::vector<TsigKey>> keys_ = std::make_shared<std::vector<TsigKey>>();
};

// Why a transfer was answered as it was (tests, logs).
enum class TransferVerdict { Axfr, Ixfr, IxfrUpToDate, IxfrFallback, Refused, OutsideAcl, NoZone, KeyRequired, BadTsig, FormErr };
std::string_view to_string(TransferVerdict v);

struct TransferPlan {
  TransferVerdict verdict = TransferVerdict::Refused;
  uint8_t rcode = 5;          // REFUSED unless the transfer goes ahead (0)
  TsigRequest tsig;
  uint32_t view = 0;          // the view and zone transferred (rcode 0)
  uint32_t zone = 0;
  bool ixfr = false;
  uint32_t client_serial = 0; // IXFR: the serial in the query's authority SOA
};

// Decides a transfer query (QTYPE AXFR or IXFR, over TCP):
// - source not in transfer.allow → REFUSED;
// - a TSIG that fails (unknown key, bad MAC, time outside fudge) → NOTAUTH with the TSIG error (RFC 8945 §5.2);
// - the zone is picked by the key: a key with `view` = a VPC transfers that VPC's private zones (and the
//   public zone, which its view also serves); a key without view, or no key, the public zone only;
// - the public zone needs a key without view whenever one is configured; otherwise the ACL alone admits it.
TransferPlan plan_transfer(const zones::Snapshot& snap, std::span<const TsigKey> keys, std::span<const uint8_t> query,
                           const zones::IpAddr& source, uint64_t now);

// The response messages of one transfer, produced one at a time so that a large zone is never held as
// messages all at once. Each message is signed when the request was (RFC 8945 §5.3.1).
class TransferStream {
 public:
  static constexpr size_t kMessageTarget = 16384;  // bytes of records per message before starting the next

  // `context` may be null (no keys, no history).
  TransferStream(std::shared_ptr<const zones::Snapshot> snap, std::span<const uint8_t> query, const zones::IpAddr& source,
                 const TransferContext* context, uint64_t now);
  // Movable (a moved vector keeps its elements where they are), not copyable: seq_ views this stream's deltas_.
  TransferStream(const TransferStream&) = delete;
  TransferStream& operator=(const TransferStream&) = delete;
  TransferStream(TransferStream&&) = default;
  TransferStream& operator=(TransferStream&&) = default;
  // Writes the next message to `msg`; false when the stream is over.
  bool next(std::vector<uint8_t>& msg, uint64_t now);
  const TransferPlan& plan() const { return plan_; }
  size_t records_sent() const { return sent_; }

 private:
  void start_message(std::vector<uint8_t>& msg, uint8_t rcode) const;

  std::shared_ptr<const zones::Snapshot> snap_;
  std::shared_ptr<const std::vector<TsigKey>> keys_;
  std::vector<uint8_t> question_;  // as sent
  uint16_t id_ = 0;
  uint8_t rd_ = 0;
  TransferPlan plan_;
  std::vector<zones::ZoneDelta> deltas_;
  // The records to send: a whole zone, its SOA again at the end (RFC 5936 §2.2: the SOA opens and closes
  // the transfer), or for IXFR views into deltas_ and the zone's SOA.
  size_t length() const { return full_ ? full_->size() + 1 : seq_.size(); }
  zones::RecordRef at(size_t i) const { return full_ ? (*full_)[i < full_->size() ? i : 0] : seq_[i]; }
  const zones::RecordList* full_ = nullptr;  // in snap_
  std::vector<zones::RecordRef> seq_;
  size_t pos_ = 0, sent_ = 0;
  bool done_ = false;
  std::optional<TsigSigner> signer_;
};

// Lowercase wire name → "a.b.c." (lowercase, trailing dot).
std::string wire_to_text(std::span<const uint8_t> wire);

}  // namespace vpced::dns
