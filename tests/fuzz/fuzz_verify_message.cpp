// libFuzzer target: the verifier's defensive DNS response parser (verify/message.hpp) on hostile answers.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "verify/message.hpp"

using namespace vpced::verify;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> msg(data, size);
  Response r;
  const ParseResult result = parse_response(msg, r);
  (void)to_string(result);
  if (result == ParseResult::Ok) {
    // The caps hold whatever the server sent (a TXT bomb cannot make us keep much).
    for (const auto* list : {&r.cname, &r.ns, &r.authority_ns})
      if (list->size() > kMaxRecordsPerList) std::abort();
    if (r.txt.size() > kMaxRecordsPerList || r.a.size() > kMaxRecordsPerList || r.soa.size() > kMaxRecordsPerList)
      std::abort();
    for (const auto& t : r.txt)
      if (t.text.size() > kMaxTxtKept) std::abort();
    // The answer to our own question passes the checking overload as well.
    Response again;
    const Expected expected{r.id, r.qname, r.qtype};
    const ParseResult checked = parse_response(msg, expected, again);
    // (QuestionMismatch remains possible: the question's class is not kept, and only IN is ours.)
    if (checked != ParseResult::Ok && checked != ParseResult::QuestionMismatch) std::abort();
  }
  // The same bytes as a query (fake servers and the tests read them).
  if (auto q = parse_query(msg)) {
    // A name we parsed must encode again (it is at most 255 octets of wire form).
    if (!encode_name(q->qname) && !q->qname.empty()) std::abort();
  }
  return 0;
}
