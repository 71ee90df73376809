// Tests of the DNS-over-TCP framing buffers: pipelined messages split at their prefixes, a stream cut at every
// byte, a too-short length, partial messages moved to the front, and the output bound.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstring>
#include <vector>

#include "dns/tcp_buffer.hpp"

using namespace vpced::dns;

namespace {

// A fake message of `len` bytes (at least a header) whose first two bytes carry `tag`.
std::vector<uint8_t> message(uint16_t tag, size_t len) {
  std::vector<uint8_t> m(len, static_cast<uint8_t>(len));
  m[0] = static_cast<uint8_t>(tag >> 8);
  m[1] = static_cast<uint8_t>(tag);
  return m;
}

void frame(std::vector<uint8_t>& stream, const std::vector<uint8_t>& m) {
  stream.push_back(static_cast<uint8_t>(m.size() >> 8));
  stream.push_back(static_cast<uint8_t>(m.size()));
  stream.insert(stream.end(), m.begin(), m.end());
}

// Feeds `bytes` through read_space()/commit_read() in pieces of at most `piece`, taking every message out as
// soon as it is complete; the messages, in order.
std::vector<std::vector<uint8_t>> feed(TcpBuffer& b, const std::vector<uint8_t>& bytes, size_t piece) {
  std::vector<std::vector<uint8_t>> got;
  size_t at = 0;
  while (at < bytes.size()) {
    auto space = b.read_space();
    REQUIRE(!space.empty());
    const size_t n = std::min({piece, space.size(), bytes.size() - at});
    std::memcpy(space.data(), bytes.data() + at, n);
    b.commit_read(n);
    at += n;
    std::span<const uint8_t> m;
    FrameResult r;
    while ((r = b.next(m)) == FrameResult::Message) got.emplace_back(m.begin(), m.end());
    REQUIRE(r == FrameResult::NeedMore);
    CHECK_FALSE(b.input_holds_message());
  }
  return got;
}

}  // namespace

TEST_CASE("tcp buffer: 200 pipelined messages in one read come out in order") {
  std::vector<uint8_t> stream;
  std::vector<std::vector<uint8_t>> sent;
  for (uint16_t i = 0; i < 200; ++i) {
    sent.push_back(message(i, 12 + i % 40));
    frame(stream, sent.back());
  }
  TcpBuffer b;
  CHECK(feed(b, stream, stream.size()) == sent);
}

TEST_CASE("tcp buffer: a stream cut at every byte (and in odd pieces) gives the same messages") {
  std::vector<uint8_t> stream;
  std::vector<std::vector<uint8_t>> sent;
  for (uint16_t i = 0; i < 30; ++i) {
    sent.push_back(message(i, 12 + (i * 37) % 300));
    frame(stream, sent.back());
  }
  for (size_t piece : {size_t{1}, size_t{2}, size_t{3}, size_t{13}, size_t{511}}) {
    TcpBuffer b;
    CHECK(feed(b, stream, piece) == sent);
  }
}

TEST_CASE("tcp buffer: messages of the largest size, read in big pieces, move to the front and stay whole") {
  std::vector<uint8_t> stream;
  std::vector<std::vector<uint8_t>> sent;
  for (uint16_t i = 0; i < 6; ++i) {
    sent.push_back(message(i, i % 2 ? TcpBuffer::kMaxMessage : 12 + i));
    frame(stream, sent.back());
  }
  for (size_t piece : {size_t{1000}, size_t{40000}, size_t{65536}, size_t{200000}}) {
    TcpBuffer b;
    CHECK(feed(b, stream, piece) == sent);
  }
}

TEST_CASE("tcp buffer: a length below a header is TooShort, also after good messages") {
  TcpBuffer b;
  std::vector<uint8_t> stream;
  frame(stream, message(1, 12));
  stream.insert(stream.end(), {0x00, 0x0B});  // 11: one byte short of a header
  auto space = b.read_space();
  std::memcpy(space.data(), stream.data(), stream.size());
  b.commit_read(stream.size());
  std::span<const uint8_t> m;
  CHECK(b.next(m) == FrameResult::Message);
  CHECK(b.input_holds_message());  // something to act on: the too-short length
  CHECK(b.next(m) == FrameResult::TooShort);
  CHECK(to_string(FrameResult::TooShort) == "too-short");
}

TEST_CASE("tcp buffer: answers are framed in order; room ends at the bound; partial sends") {
  TcpBuffer b;
  CHECK(b.output_room());
  CHECK_FALSE(b.output_pending());
  size_t total = 0;
  uint16_t n = 0;
  while (b.output_room()) {
    auto space = b.answer_space();
    REQUIRE(space.size() == TcpBuffer::kMaxMessage);
    const size_t len = 100 + n % 7;
    std::fill(space.begin(), space.begin() + static_cast<long>(len), static_cast<uint8_t>(n));
    b.commit_answer(len);
    total += 2 + len;
    ++n;
  }
  CHECK(total > TcpBuffer::kOutBound);
  CHECK(total <= TcpBuffer::kOutBound + 2 + 106);
  auto out = b.pending_output();
  REQUIRE(out.size() == total);
  // Walk the frames.
  size_t at = 0;
  for (uint16_t i = 0; i < n; ++i) {
    const size_t len = (size_t{out[at]} << 8) | out[at + 1];
    CHECK(len == 100u + i % 7);
    CHECK(out[at + 2] == static_cast<uint8_t>(i));
    at += 2 + len;
  }
  CHECK(at == total);
  b.consume_output(1000);
  CHECK(b.pending_output().size() == total - 1000);
  CHECK_FALSE(b.output_room());  // room comes back only when everything has been sent
  b.consume_output(total - 1000);
  CHECK_FALSE(b.output_pending());
  CHECK(b.output_room());
  CHECK(b.pending_output().empty());
}

TEST_CASE("tcp buffer: an answer of the largest size fits whenever there is room") {
  TcpBuffer b;
  // Fill the output to exactly the bound (still room), then write the largest answer behind it.
  while (b.pending_output().size() + 2 + 1000 <= TcpBuffer::kOutBound) b.commit_answer(1000);
  b.commit_answer(TcpBuffer::kOutBound - b.pending_output().size() - 2);
  REQUIRE(b.pending_output().size() == TcpBuffer::kOutBound);
  REQUIRE(b.output_room());
  auto space = b.answer_space();
  space[TcpBuffer::kMaxMessage - 1] = 0xAB;  // the last byte lies inside the buffer (ASan would tell)
  b.commit_answer(TcpBuffer::kMaxMessage);
  CHECK_FALSE(b.output_room());
  CHECK(b.pending_output().size() == TcpBuffer::kOutCapacity);
  CHECK(b.pending_output().back() == 0xAB);
}
