#!/usr/bin/env bash
# metrics: /metrics after a small fleet is provisioned, read as Prometheus would.
# `promtool check metrics` (Prometheus's own linter) finds nothing to say; the
# histograms count what happened: one first-hello-to-provisioned observation per
# device, a TLS-PSK handshake per device, every WS-Management step of the setup with as
# many exchanges as devices; the build is named; counters agree with the fleet.
. "$(dirname "$0")/lib/common.sh"
set -e
. "$(dirname "$0")/lib/proc.sh"
command -v promtool >/dev/null || fail "promtool is missing (scripts/deps.sh installs prometheus)"
PB=$(port_base)
HELLO_PORT=$((PB + 1)) API_PORT=$((PB + 4)) HTTP_PORT=$((PB + 2)) TLS_PORT=$((PB + 3))
N=6
init_keys $N m
test_server_conf "$TLS_PORT" "$HTTP_PORT"
SLOG="$T/server.log"
start_server "$SLOG" "127.0.0.1:$HELLO_PORT" "127.0.0.1:$API_PORT"
trap 'kill $SPID 2>/dev/null || true; cleanup' EXIT
run_fleet 120 --count $N --csv "$CSV" --server "127.0.0.1:$HELLO_PORT" --base 127.0.61.1 \
	--port "$TLS_PORT" --http-port "$HTTP_PORT" --time-scale 0.01 --timeout 100
[ "$FRC" -eq 0 ] || fail "fleet exited $FRC: $(tail -3 "$FLOG")"
[ "$(jq .provisioned "$T/fleet.json")" -eq $N ] || fail "fleet: $(cat "$T/fleet.json")"
ok
curl -sf "http://127.0.0.1:$API_PORT/metrics" >"$T/metrics" || fail "no /metrics"
promtool check metrics <"$T/metrics" >"$T/promtool.out" 2>&1 ||
	fail "promtool check metrics: $(head -5 "$T/promtool.out")"
[ ! -s "$T/promtool.out" ] || fail "promtool has remarks: $(head -5 "$T/promtool.out")"
ok
# value NAME_WITH_LABELS: the sample's value.
value() { awk -v k="$1" '$1 == k {print $2}' "$T/metrics"; }
[ "$(value pskprov_provision_seconds_count)" = "$N" ] ||
	fail "provision histogram: $(grep provision_seconds "$T/metrics")"
[ "$(value 'pskprov_provision_seconds_bucket{le="+Inf"}')" = "$N" ] || fail "provision +Inf bucket"
[ "$(value pskprov_provisioned_total)" = "$N" ] || fail "provisioned_total"
[ "$(value pskprov_tls_handshake_seconds_count)" -ge $N ] || fail "TLS handshake histogram"
for step in READ_SETTINGS READ_SETUP READ_UUID ENUM_VERSION PULL_VERSION ACL MEBX PSK NAMES \
	TIME_GET TIME_SET COMMIT; do
	c=$(value "pskprov_wsman_exchange_seconds_count{step=\"$step\"}")
	[ "${c:-0}" -ge $N ] || fail "exchanges of $step: ${c:-none}"
done
ok
# Buckets are cumulative: never fewer below a higher bound.
awk '/^pskprov_wsman_exchange_seconds_bucket\{step="ACL"/ {
	if ($2 < last) bad = 1; last = $2 } END { exit bad }' "$T/metrics" ||
	fail "ACL buckets not cumulative: $(grep 'step="ACL"' "$T/metrics")"
grep -q '^pskprov_build_info{version="[^"]*"} 1$' "$T/metrics" || fail "build_info"
ok
finish
