// Framing of DNS over TCP (RFC 1035 §4.2.2): 2-byte length prefixes on a per-connection input and output.
#include "dns/tcp_buffer.hpp"

#include <cstring>

#include "dns/wire.hpp"

namespace vpced::dns {

std::string_view to_string(FrameResult r) {
  switch (r) {
    case FrameResult::Message: return "message";
    case FrameResult::NeedMore: return "need-more";
    case FrameResult::TooShort: return "too-short";
  }
  return "?";
}

std::span<uint8_t> TcpBuffer::read_space() {
  const size_t have = in_end_ - in_begin_;
  if (have == 0) {
    in_begin_ = in_end_ = 0;
  } else {
    // The bytes the front message still lacks (the prefix itself when not all of it is here).
    const size_t need = have < 2 ? 2 : 2 + ((size_t{in()[in_begin_]} << 8) | in()[in_begin_ + 1]);
    const size_t want = need > have ? need - have : 0;
    // Moving only when the tail is short keeps a large message that trickles in from being moved on every read.
    if (kInCapacity - in_end_ < want || kInCapacity - in_end_ < kReadSize / 16) {
      std::memmove(in(), in() + in_begin_, have);
      in_begin_ = 0;
      in_end_ = have;
    }
  }
  return {in() + in_end_, kInCapacity - in_end_};
}

FrameResult TcpBuffer::next(std::span<const uint8_t>& message) {
  const size_t have = in_end_ - in_begin_;
  if (have < 2) return FrameResult::NeedMore;
  const uint8_t* p = in() + in_begin_;
  const size_t len = (size_t{p[0]} << 8) | p[1];
  if (len < kHeaderSize) return FrameResult::TooShort;
  if (have < 2 + len) return FrameResult::NeedMore;
  message = {p + 2, len};
  in_begin_ += 2 + len;
  return FrameResult::Message;
}

bool TcpBuffer::input_holds_message() const {
  const size_t have = in_end_ - in_begin_;
  if (have < 2) return false;
  const uint8_t* p = in() + in_begin_;
  const size_t len = (size_t{p[0]} << 8) | p[1];
  return len < kHeaderSize || have >= 2 + len;  // a too-short length is something to act on, too
}

void TcpBuffer::commit_answer(size_t m) {
  uint8_t* p = out() + out_end_;
  p[0] = static_cast<uint8_t>(m >> 8);
  p[1] = static_cast<uint8_t>(m);
  out_end_ += 2 + m;
}

void TcpBuffer::consume_output(size_t n) {
  out_begin_ += n;
  if (out_begin_ == out_end_) out_begin_ = out_end_ = 0;
}

}  // namespace vpced::dns
