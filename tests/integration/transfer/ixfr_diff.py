#!/usr/bin/env python3
"""Checks that an IXFR answer (kdig text) carries exactly one change: the records of AXFR_OLD that are not in
AXFR_NEW as removed, those of AXFR_NEW not in AXFR_OLD as added, in RFC 1995 §4 order: new SOA, old SOA,
removed, new SOA, added, new SOA. Prints FAIL lines and a final "CHECKS n" (tests/integration/lib.sh py_checks).
usage: ixfr_diff.py AXFR_OLD AXFR_NEW IXFR OLD_SERIAL NEW_SERIAL LABEL
"""
import sys

checks = 0
fails = 0


def check(ok, what):
    global checks, fails
    checks += 1
    if not ok:
        fails += 1
        print(f"FAIL: {label}: {what}")


def records(path):
    out = []
    for line in open(path):
        line = line.strip()
        if not line or line.startswith(";"):
            continue
        f = line.split()
        if len(f) < 5 or f[2] != "IN":
            continue
        if f[3] == "TSIG":
            continue
        out.append((f[0].lower(), int(f[1]), f[3], " ".join(f[4:]).lower()))
    return out


def soa_serial(r):
    return int(r[3].split()[2])


axfr_old, axfr_new, ixfr, old_serial, new_serial, label = sys.argv[1:7]
old_serial, new_serial = int(old_serial), int(new_serial)
old = records(axfr_old)
new = records(axfr_new)
got = records(ixfr)
old_set = {r for r in old if r[2] != "SOA"}
new_set = {r for r in new if r[2] != "SOA"}
want_removed = old_set - new_set
want_added = new_set - old_set
check(len(old) > 2 and len(new) > 2, f"AXFRs look empty ({len(old)}, {len(new)} records)")
check(want_removed or want_added, "the two versions do not differ")

soas = [i for i, r in enumerate(got) if r[2] == "SOA"]
check(len(soas) == 4, f"4 SOA records in the IXFR answer, got {len(soas)}")
if len(soas) == 4:
    check(soas[0] == 0 and soas[3] == len(got) - 1, "the answer starts and ends with an SOA")
    check([soa_serial(got[i]) for i in soas] == [new_serial, old_serial, new_serial, new_serial],
          f"SOA serials {[soa_serial(got[i]) for i in soas]}, expected new, old, new, new "
          f"({new_serial}, {old_serial})")
    removed = got[soas[1] + 1:soas[2]]
    added = got[soas[2] + 1:soas[3]]
    check(len(removed) == len(set(removed)), "a removed record is repeated")
    check(len(added) == len(set(added)), "an added record is repeated")
    check(set(removed) == want_removed,
          f"removed records: extra {sorted(set(removed) - want_removed)}, missing {sorted(want_removed - set(removed))}")
    check(set(added) == want_added,
          f"added records: extra {sorted(set(added) - want_added)}, missing {sorted(want_added - set(added))}")
    check(len(got) < len(new), f"the IXFR ({len(got)} records) is smaller than the zone ({len(new)})")
print(f"CHECKS {checks}")
