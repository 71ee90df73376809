// The buffers of one DNS-over-TCP connection: queries read in bulk and split at their length prefixes, answers
// collected with theirs, so a batch of pipelined queries costs one read and one send (RFC 7766 §6.2.1.1).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

namespace vpced::dns {

// What the input holds at its front.
enum class FrameResult {
  Message,   // a complete message, handed out and consumed
  NeedMore,  // a partial message (or nothing): read more
  TooShort,  // a length below a DNS header: the connection ends (as Knot, NSD and BIND do)
};
std::string_view to_string(FrameResult r);

class TcpBuffer {
 public:
  static constexpr size_t kMaxMessage = 65535;           // RFC 1035 §4.2.2: a 2-byte length
  static constexpr size_t kFramed = 2 + kMaxMessage;     // the largest message with its prefix
  static constexpr size_t kReadSize = 65536;             // what one read may take beyond a partial message
  static constexpr size_t kInCapacity = kFramed + kReadSize;
  // Back-pressure: no further query is answered while this much output waits for the client, so a client that
  // pipelines and never reads holds at most kOutCapacity here (plus the kernel's socket buffers).
  static constexpr size_t kOutBound = 65536;
  static constexpr size_t kOutCapacity = kOutBound + kFramed;

  // One allocation per connection, left uninitialised: pages the connection never touches stay unmapped.
  TcpBuffer() : mem_(new uint8_t[kInCapacity + kOutCapacity]) {}

  // --- input ---
  // Where the next read goes: at least the rest of a partial message and never empty. Moves a partial message
  // to the front when the space behind it is short; a complete one never waits here (next() hands it out first).
  std::span<uint8_t> read_space();
  void commit_read(size_t n) { in_end_ += n; }
  // The message at the front of the input, if complete; `message` points into the buffer and stays valid until
  // the next read_space().
  FrameResult next(std::span<const uint8_t>& message);
  bool input_holds_message() const;

  // --- output ---
  // Room for one more answer of any size (under the bound).
  bool output_room() const { return out_end_ <= kOutBound; }
  // Where the next answer goes (kMaxMessage bytes, behind its prefix); commit_answer(m) frames it.
  std::span<uint8_t> answer_space() { return {out() + out_end_ + 2, kMaxMessage}; }
  void commit_answer(size_t m);
  std::span<const uint8_t> pending_output() const { return {out() + out_begin_, out_end_ - out_begin_}; }
  bool output_pending() const { return out_end_ != out_begin_; }
  // `n` bytes of the pending output were sent.
  void consume_output(size_t n);

 private:
  uint8_t* in() const { return mem_.get(); }
  uint8_t* out() const { return mem_.get() + kInCapacity; }

  std::unique_ptr<uint8_t[]> mem_;
  size_t in_begin_ = 0, in_end_ = 0;    // unparsed input
  size_t out_begin_ = 0, out_end_ = 0;  // output not yet sent
};

}  // namespace vpced::dns
