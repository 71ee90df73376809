// libFuzzer target: the query-path DNS parser (dns/wire.hpp parse_query, find_client_subnet) on raw bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "dns/wire.hpp"

using namespace vpced::dns;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> packet(data, size);
  Query q;
  const ParseResult r = parse_query(packet, q);
  (void)to_string(r);
  if (r != ParseResult::Ok) return 0;
  // Invariants the responder relies on: the question lies inside the packet, the name is a valid wire name.
  if (q.question_end > size || q.question_end < kHeaderSize + 5) abort();
  if (q.name_length == 0 || q.name_length > kMaxNameWire) abort();
  size_t i = 0;
  while (i < q.name_length && q.lower_name[i] != 0) {
    if (q.lower_name[i] > kMaxLabel) abort();
    i += 1 + q.lower_name[i];
  }
  if (i + 1 != q.name_length) abort();
  if (q.edns && q.opt_rdata + q.opt_rdlength > size) abort();
  ClientSubnet ecs;
  if (find_client_subnet(packet, q, ecs) == EcsResult::Ok) {
    if (ecs.address_length > sizeof ecs.address) abort();
    if (ecs.family != 1 && ecs.family != 2) abort();
  }
  return 0;
}
