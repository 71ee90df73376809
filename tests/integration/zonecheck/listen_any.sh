#!/usr/bin/env bash
# `vpced zone` must stay a loadable master file when server.dns_listen has no IPv4 address to use as glue for
# the in-zone NS target ns1.<apex>: a wildcard address (0.0.0.0) and an IPv6-only listener. named-checkzone
# refuses a zone whose in-zone NS has no address records; kzonecheck reports "missing glue record".
# usage: listen_any.sh VPCED SOURCE_DIR
. "$(dirname "$(readlink -f "$0")")/../lib.sh"

setup_config
for listen in "0.0.0.0:$PORT" "[::1]:$PORT" "0.0.0.0:$PORT\", \"[::]:$PORT"; do
  sed "s/^dns_listen = .*/dns_listen = [\"$listen\"]/" "$CONF" >"$DIR/listen.toml"
  "$VPCED" check -c "$DIR/listen.toml" >/dev/null 2>"$DIR/check.err" ||
    die "vpced check rejects dns_listen = [\"$listen\"]: $(cat "$DIR/check.err")"
  "$VPCED" zone -c "$DIR/listen.toml" >"$DIR/zone.txt" 2>"$DIR/zone.err" ||
    die "vpced zone failed with dns_listen = [\"$listen\"]: $(cat "$DIR/zone.err")"
  out=$(named-checkzone "$APEX" "$DIR/zone.txt" 2>&1)
  rc=$?
  check_eq "dns_listen = [\"$listen\"]: named-checkzone exit status (output: $out)" 0 "$rc"
  out=$(kzonecheck -o "$APEX" "$DIR/zone.txt" 2>&1)
  rc=$?
  check_eq "dns_listen = [\"$listen\"]: kzonecheck exit status (output: $out)" 0 "$rc"
done
