// AXFR and IXFR: the authorisation decision and the message stream (RFC 5936, RFC 1995, RFC 8945).
#include "dns/transfer.hpp"

#include <algorithm>
#include <stdexcept>

#include "dns/wire.hpp"
#include "zones/atomic_file.hpp"
#include "zones/ldns.hpp"

namespace vpced::dns {

namespace {

bool skip_name(std::span<const uint8_t> p, size_t& pos) {
  while (pos < p.size()) {
    const uint8_t len = p[pos];
    if ((len & 0xC0) == 0xC0) {
      pos += 2;
      return pos <= p.size();
    }
    if (len & 0xC0) return false;
    pos += 1 + len;
    if (len == 0) return pos <= p.size();
  }
  return false;
}

// The serial of the SOA in an IXFR query's authority section (RFC 1995 §3).
std::optional<uint32_t> ixfr_serial(std::span<const uint8_t> p, const Query& q) {
  const unsigned an = read_u16(&p[6]), ns = read_u16(&p[8]);
  size_t pos = q.question_end;
  for (unsigned i = 0; i < an + ns; ++i) {
    if (!skip_name(p, pos) || pos + 10 > p.size()) return std::nullopt;
    const uint16_t type = read_u16(&p[pos]);
    const size_t rdlen = read_u16(&p[pos + 8]);
    size_t rdata = pos + 10;
    if (rdata + rdlen > p.size()) return std::nullopt;
    if (i >= an && type == kTypeSoa) {
      size_t r = rdata;
      if (!skip_name(p, r) || !skip_name(p, r) || r + 4 > rdata + rdlen) return std::nullopt;
      return (uint32_t{p[r]} << 24) | (uint32_t{p[r + 1]} << 16) | (uint32_t{p[r + 2]} << 8) | p[r + 3];
    }
    pos = rdata + rdlen;
  }
  return std::nullopt;
}

void record_wire(zones::RecordRef r, std::vector<uint8_t>& out) {
  std::string text;
  zones::append_master_line(text, r);
  ldns_rr* rr = nullptr;
  if (ldns_rr_new_frm_str(&rr, text.c_str(), 0, nullptr, nullptr) != LDNS_STATUS_OK)
    throw std::runtime_error("transfer: ldns rejects record: " + text);
  ldns::RrPtr owned(rr);
  uint8_t* wire = nullptr;
  size_t size = 0;
  if (ldns_rr2wire(&wire, rr, LDNS_SECTION_ANSWER, &size) != LDNS_STATUS_OK)
    throw std::runtime_error("transfer: ldns_rr2wire failed: " + text);
  out.insert(out.end(), wire, wire + size);
  free(wire);
}

}  // namespace

std::string_view to_string(TransferVerdict v) {
  switch (v) {
    case TransferVerdict::Axfr: return "axfr";
    case TransferVerdict::Ixfr: return "ixfr";
    case TransferVerdict::IxfrUpToDate: return "ixfr-up-to-date";
    case TransferVerdict::IxfrFallback: return "ixfr-fallback-axfr";
    case TransferVerdict::Refused: return "refused";
    case TransferVerdict::OutsideAcl: return "outside-acl";
    case TransferVerdict::NoZone: return "no-zone";
    case TransferVerdict::KeyRequired: return "key-required";
    case TransferVerdict::BadTsig: return "bad-tsig";
    case TransferVerdict::FormErr: return "formerr";
  }
  return "unknown";
}

std::string wire_to_text(std::span<const uint8_t> wire) {
  std::string out;
  size_t i = 0;
  while (i < wire.size() && wire[i] != 0) {
    const uint8_t len = wire[i++];
    for (uint8_t k = 0; k < len && i < wire.size(); ++k, ++i) out += static_cast<char>(wire[i]);
    out += '.';
  }
  return out.empty() ? "." : out;
}

zones::HistoryRecord TransferContext::update(const zones::Snapshot& snap, std::shared_ptr<const std::vector<TsigKey>> keys) {
  std::lock_guard lock(mu_);
  if (keys) keys_ = std::move(keys);
  return history_.record(snap);
}

void TransferContext::forget_history(std::shared_ptr<const std::vector<TsigKey>> keys) {
  std::lock_guard lock(mu_);
  if (keys) keys_ = std::move(keys);
  history_ = zones::ZoneHistory(history_.depth());
}

zones::HistoryLoad TransferContext::restore_history(const std::filesystem::path& state_dir, std::string& problem) {
  zones::ZoneHistory loaded(history_.depth());
  const auto result = zones::load_history(state_dir, loaded, problem);
  std::lock_guard lock(mu_);
  history_ = std::move(loaded);
  return result;
}

void TransferContext::save_history(const std::filesystem::path& state_dir) const {
  std::string text;
  {
    std::lock_guard lock(mu_);
    text = zones::encode_history(history_, zones::kHistoryFileMax);
  }
  zones::write_file_atomic(state_dir / zones::kHistoryFile, text);
}

size_t TransferContext::history_versions() const {
  std::lock_guard lock(mu_);
  return history_.versions();
}

std::shared_ptr<const std::vector<TsigKey>> TransferContext::keys() const {
  std::lock_guard lock(mu_);
  return keys_;
}

std::optional<std::vector<zones::ZoneDelta>> TransferContext::since(const zones::ZoneHistory::ZoneKey& zone,
                                                                    uint32_t serial) const {
  std::lock_guard lock(mu_);
  return history_.since(zone, serial);
}

TransferPlan plan_transfer(const zones::Snapshot& snap, std::span<const TsigKey> keys, std::span<const uint8_t> query,
                           const zones::IpAddr& source, uint64_t now) {
  TransferPlan plan;
  Query q;
  if (parse_query(query, q) != ParseResult::Ok || (q.qtype != kTypeAxfr && q.qtype != kTypeIxfr)) {
    plan.verdict = TransferVerdict::FormErr;
    plan.rcode = kRcodeFormErr;
    return plan;
  }
  plan.ixfr = q.qtype == kTypeIxfr;
  const auto& allow = snap.model().config.transfer.allow;
  if (std::none_of(allow.begin(), allow.end(), [&](const zones::Cidr& c) { return c.contains(source); })) {
    plan.verdict = TransferVerdict::OutsideAcl;
    return plan;
  }
  plan.tsig = verify_tsig(query, keys, now);
  switch (plan.tsig.status) {
    case TsigStatus::FormErr:
      plan.verdict = TransferVerdict::FormErr;
      plan.rcode = kRcodeFormErr;
      return plan;
    case TsigStatus::BadKey:
    case TsigStatus::BadSig:
    case TsigStatus::BadTime:
      plan.verdict = TransferVerdict::BadTsig;
      plan.rcode = kRcodeNotAuth;
      return plan;
    case TsigStatus::Unsigned:
    case TsigStatus::Ok: break;
  }
  const TsigKey* key = plan.tsig.status == TsigStatus::Ok ? plan.tsig.key : nullptr;
  const std::string apex = wire_to_text(q.name());
  int32_t view = -1;
  uint32_t zone = 0;
  if (key && !key->view.empty()) {
    const int32_t v = snap.view_index(key->view);
    if (v > 0) {
      const auto& zs = snap.zones(static_cast<uint32_t>(v));
      for (uint32_t i = 0; i < zs.size(); ++i)
        if (zs[i].apex == apex) {
          view = v;
          zone = i;
        }
    }
  }
  if (view < 0) {
    const auto& pub = snap.zones(zones::Snapshot::kPublicView);
    for (uint32_t i = 0; i < pub.size(); ++i)
      if (pub[i].apex == apex) {
        view = 0;
        zone = i;
      }
    if (view == 0 && (!key || key->view.empty())) {
      // The public zone: when a key without view exists, it is required.
      const bool needs_key = std::any_of(keys.begin(), keys.end(), [](const TsigKey& k) { return k.view.empty(); });
      if (needs_key && !key) {
        plan.verdict = TransferVerdict::KeyRequired;
        return plan;
      }
    }
  }
  if (view < 0) {
    plan.verdict = TransferVerdict::NoZone;
    return plan;
  }
  plan.view = static_cast<uint32_t>(view);
  plan.zone = zone;
  plan.rcode = kRcodeNoError;
  plan.verdict = TransferVerdict::Axfr;
  if (plan.ixfr) {
    auto serial = ixfr_serial(query, q);
    if (!serial) {
      plan.verdict = TransferVerdict::FormErr;  // RFC 1995 §3: the authority section carries the client's SOA
      plan.rcode = kRcodeFormErr;
      return plan;
    }
    plan.client_serial = *serial;
    plan.verdict = TransferVerdict::Ixfr;
  }
  return plan;
}

TransferStream::TransferStream(std::shared_ptr<const zones::Snapshot> snap, std::span<const uint8_t> query,
                               const zones::IpAddr& source, const TransferContext* context, uint64_t now)
    : snap_(std::move(snap)) {
  keys_ = context ? context->keys() : std::make_shared<std::vector<TsigKey>>();
  plan_ = plan_transfer(*snap_, *keys_, query, source, now);
  id_ = read_u16(query.data());
  rd_ = query[2] & kFlagRd;
  Query q;
  if (parse_query(query, q) == ParseResult::Ok) question_.assign(query.begin() + kHeaderSize, query.begin() + static_cast<long>(q.question_end));
  if (plan_.tsig.status == TsigStatus::Ok || plan_.tsig.status == TsigStatus::BadTime) signer_.emplace(*plan_.tsig.key, plan_.tsig);
  if (plan_.rcode != kRcodeNoError) return;

  const zones::ZoneContent& z = snap_->zones(plan_.view)[plan_.zone];
  const zones::RecordRef soa = z.records.front();
  auto full = [&] { full_ = &z.records; };
  if (!plan_.ixfr) {
    full();
    return;
  }
  // RFC 1995 §2: a client at (or, by serial arithmetic, ahead of) our serial gets our SOA alone.
  if (plan_.client_serial == snap_->serial() || static_cast<int32_t>(plan_.client_serial - snap_->serial()) > 0) {
    plan_.verdict = TransferVerdict::IxfrUpToDate;
    seq_.push_back(soa);
    return;
  }
  std::optional<std::vector<zones::ZoneDelta>> d;
  if (context) d = context->since({snap_->view_name(plan_.view), z.apex}, plan_.client_serial);
  // The history must end at this snapshot's serial (a newer snapshot may have been recorded meanwhile).
  if (!d || d->empty() || zones::RecordRef(d->back().new_soa) != soa) {
    plan_.verdict = TransferVerdict::IxfrFallback;  // RFC 1995 §4: the full zone in AXFR form
    full();
    return;
  }
  deltas_ = std::move(*d);
  seq_.push_back(soa);
  for (const auto& delta : deltas_) {
    seq_.push_back(delta.old_soa);
    for (const auto& r : delta.removed) seq_.push_back(r);
    seq_.push_back(delta.new_soa);
    for (const auto& r : delta.added) seq_.push_back(r);
  }
  seq_.push_back(soa);
}

void TransferStream::start_message(std::vector<uint8_t>& msg, uint8_t rcode) const {
  msg.assign(kHeaderSize, 0);
  write_u16(msg.data(), id_);
  msg[2] = static_cast<uint8_t>(kFlagQr | rd_ | (rcode == kRcodeNoError ? kFlagAa : 0));
  msg[3] = rcode & 0x0F;
  if (!question_.empty()) {
    write_u16(msg.data() + 4, 1);
    msg.insert(msg.end(), question_.begin(), question_.end());
  }
}

bool TransferStream::next(std::vector<uint8_t>& msg, uint64_t now) {
  if (done_) return false;
  if (plan_.rcode != kRcodeNoError) {
    done_ = true;
    start_message(msg, plan_.rcode);
    if (plan_.tsig.status == TsigStatus::BadKey) append_tsig_error(msg, plan_.tsig, now, kTsigBadKey);
    else if (plan_.tsig.status == TsigStatus::BadSig) append_tsig_error(msg, plan_.tsig, now, kTsigBadSig);
    else if (signer_) signer_->sign(msg, now, plan_.tsig.status == TsigStatus::BadTime ? kTsigBadTime : 0);
    return true;
  }
  start_message(msg, kRcodeNoError);
  // RFC 5936 §2.2.1: later messages may repeat the question; we send it in the first only.
  if (pos_ > 0) {
    msg.resize(kHeaderSize);
    write_u16(msg.data() + 4, 0);
  }
  const size_t base = msg.size();
  uint16_t count = 0;
  while (pos_ < length() && msg.size() - base < kMessageTarget && count < 0xFFFF) {
    record_wire(at(pos_), msg);
    ++pos_;
    ++count;
  }
  sent_ += count;
  write_u16(msg.data() + 6, count);
  if (signer_) signer_->sign(msg, now);
  if (pos_ >= length()) done_ = true;
  return true;
}

}  // namespace vpced::dns
