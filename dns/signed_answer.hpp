// Answers to TSIG-signed queries (RFC 8945 §5): verified, answered from the key's view, signed with the key.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "dns/respond.hpp"
#include "dns/tsig.hpp"
#include "zones/snapshot.hpp"

namespace vpced::dns {

// The answer to a query that carries a TSIG RR (respond() set outcome->signed_query), written to `out`:
// - a TSIG that is misplaced or malformed: FORMERR, unsigned (RFC 8945 §5.1);
// - an unknown key or algorithm, a wrong MAC: NOTAUTH with an unsigned TSIG carrying BADKEY / BADSIG (§5.2);
// - a time outside the request's fudge: NOTAUTH, signed, with BADTIME and the server's time as Other Data (§5.2.3);
// - a valid signature: respond() on the query without its TSIG, in the key's view (its `view`, or the public
//   view for a key without one), never forwarded (a name outside every zone is REFUSED), then signed with the
//   key over the request MAC (§5.3). The size limit (UDP or TCP) keeps room for the TSIG RR.
// Allocates; only signed queries come here, the plain query path stays in respond().
size_t respond_signed(const zones::Snapshot& snapshot, std::span<const uint8_t> query, const Client& client,
                      std::span<const TsigKey> keys, uint64_t now, std::span<uint8_t> out, Outcome* outcome = nullptr);

}  // namespace vpced::dns
