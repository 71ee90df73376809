// The verification state machine (design §6), pure: every function takes the time instead of reading a
// clock, and works on the persisted record so that a restart resumes the same clocks.
//
//   pendingVerification ──match──▶ verified ──no match for give_up_after──▶ failed
//          │                          ▲  (checked every interval while it does not match)
//          └──no match for give_up_after──────────────────────────────────▶ failed ──check_now──▶ pending
#pragma once

#include <chrono>
#include <optional>

#include "verify/target.hpp"
#include "zones/config.hpp"
#include "zones/verification_state.hpp"

namespace vpced::verify {

using TimePoint = std::chrono::system_clock::time_point;

enum class Transition { None, Verified, Failed, Restarted };
std::string_view to_string(Transition t);

// A record for a name that appeared, or whose name or token changed: pendingVerification from `now`.
zones::VerificationRecord new_record(const Target& target, TimePoint now);

// True when `rec` is about the target's current name and token.
bool record_matches(const zones::VerificationRecord& rec, const Target& target);

// Applies the result of a check made at `now`:
//  - a match verifies (from pending) and clears the "stopped matching" clock;
//  - no match while pending for give_up_after (since pending_since) → failed;
//  - no match while verified starts the unmatched clock at this check; still none give_up_after later → failed.
// A failed record is left as it is (only restart() leaves failed).
Transition record_check(zones::VerificationRecord& rec, bool matched, TimePoint now, const zones::VerifyConfig& config);

// check_now on a failed name: back to pendingVerification with a fresh give-up clock.
Transition restart(zones::VerificationRecord& rec, TimePoint now);

// When the next automatic check is due: never for failed; at once when never checked; else after the last
// check by `interval` (pending, or verified but no longer matching; no later than the give-up deadline) or by
// `recheck_every` (verified and matching).
std::optional<TimePoint> next_check_due(const zones::VerificationRecord& rec, TimePoint now,
                                        const zones::VerifyConfig& config);

// When the give-up clock runs out: pending → pending_since + give_up_after; verified but not matching →
// unmatched_since + give_up_after; otherwise none.
std::optional<TimePoint> give_up_at(const zones::VerificationRecord& rec, const zones::VerifyConfig& config);

}  // namespace vpced::verify
