// Signed answers: TSIG verification, the key's view, and the signature over respond()'s answer (RFC 8945 §5).
#include "dns/signed_answer.hpp"

#include <algorithm>
#include <cstring>
#include <vector>

#include "dns/wire.hpp"

namespace vpced::dns {

namespace {

// The end of the first question, or the header size when there is none or it cannot be read.
size_t question_end(std::span<const uint8_t> p) {
  if (p.size() < kHeaderSize || read_u16(&p[4]) == 0) return kHeaderSize;
  size_t pos = kHeaderSize;
  while (pos < p.size() && p[pos] != 0) {
    if (p[pos] & 0xC0) return kHeaderSize;
    pos += 1 + p[pos];
  }
  return pos + 5 <= p.size() ? pos + 5 : kHeaderSize;
}

// An error answer: ID, opcode, RD, the question as sent (when readable), `rcode`, no records.
std::vector<uint8_t> error_answer(std::span<const uint8_t> query, uint8_t rcode) {
  const size_t qend = question_end(query);
  std::vector<uint8_t> m(query.begin(), query.begin() + static_cast<long>(qend));
  m[2] = static_cast<uint8_t>(kFlagQr | (query[2] & (0x78 | kFlagRd)));
  m[3] = rcode;
  write_u16(m.data() + 4, qend > kHeaderSize ? 1 : 0);
  write_u16(m.data() + 6, 0);
  write_u16(m.data() + 8, 0);
  write_u16(m.data() + 10, 0);
  return m;
}

size_t put(const std::vector<uint8_t>& msg, std::span<uint8_t> out) {
  if (msg.size() > out.size()) return 0;
  std::memcpy(out.data(), msg.data(), msg.size());
  return msg.size();
}

// An upper bound of the TSIG RR the answer will carry: owner, fixed fields, algorithm name, the largest MAC.
size_t tsig_room(const TsigKey& key) { return key.name_wire.size() + 10 + 32 + 16 + 64; }

}  // namespace

size_t respond_signed(const zones::Snapshot& snapshot, std::span<const uint8_t> query, const Client& client,
                      std::span<const TsigKey> keys, uint64_t now, std::span<uint8_t> out, Outcome* outcome) {
  Outcome local;
  Outcome& oc = outcome ? *outcome : local;
  oc = Outcome{};
  if (query.size() < kHeaderSize || (query[2] & kFlagQr)) {
    oc.dropped = true;
    return 0;
  }
  const TsigRequest req = verify_tsig(query, keys, now);
  switch (req.status) {
    case TsigStatus::Unsigned: return respond(snapshot, query, client, out, &oc);
    case TsigStatus::FormErr: {
      oc.rcode = kRcodeFormErr;
      return put(error_answer(query, kRcodeFormErr), out);
    }
    case TsigStatus::BadKey:
    case TsigStatus::BadSig: {
      oc.rcode = kRcodeNotAuth;
      auto m = error_answer(query, kRcodeNotAuth);
      append_tsig_error(m, req, now, req.status == TsigStatus::BadKey ? kTsigBadKey : kTsigBadSig);
      return put(m, out);
    }
    case TsigStatus::BadTime: {
      oc.rcode = kRcodeNotAuth;
      auto m = error_answer(query, kRcodeNotAuth);
      TsigSigner(*req.key, req).sign(m, now, kTsigBadTime);
      return put(m, out);
    }
    case TsigStatus::Ok: break;
  }

  // The query as if unsigned: without its TSIG RR, ARCOUNT one less (RFC 8945 §4.3.1).
  std::vector<uint8_t> plain(query.begin(), query.begin() + static_cast<long>(req.unsigned_length));
  write_u16(plain.data() + 10, static_cast<uint16_t>(read_u16(plain.data() + 10) - 1));
  Client keyed = client;
  keyed.may_forward = false;
  const int32_t view = req.key->view.empty() ? -1 : snapshot.view_index(req.key->view);
  keyed.listener_view = view > 0 ? view : static_cast<int32_t>(zones::Snapshot::kPublicView);

  size_t limit = std::min<size_t>(out.size(), 65535);
  if (client.transport == Transport::Udp) {
    Query q;
    size_t udp = kClassicUdpSize;
    if (parse_query(plain, q) == ParseResult::Ok && q.edns)
      udp = std::clamp<size_t>(q.udp_size, kClassicUdpSize, kEdnsUdpSize);
    limit = std::min(limit, udp);
  }
  const size_t room = tsig_room(*req.key);
  if (limit < room + kClassicUdpSize / 2) return 0;
  const size_t n = respond(snapshot, plain, keyed, out.first(limit - room), &oc);
  if (n == 0) return 0;  // dropped (or a TCP transfer, which is not answered here)
  std::vector<uint8_t> msg(out.begin(), out.begin() + static_cast<long>(n));
  TsigSigner(*req.key, req).sign(msg, now);
  return put(msg, out);
}

}  // namespace vpced::dns
