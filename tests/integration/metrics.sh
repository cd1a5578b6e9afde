#!/usr/bin/env bash
# metrics: /metrics after a small fleet is provisioned, read as Prometheus would.
# `promtool check metrics` (Prometheus's own linter) finds nothing to say; the
# histograms count what happened: one first-hello-to-provisioned observation per
# device, a TLS-PSK handshake per device, every WS-Management step of the setup with as
# many exchanges as devices; the build is named; counters agree with the fleet. The
# store's gauges (pskprov_devices, pskprov_jobs, pskprov_keys by batch) equal what
# `pskprov status --json` and `pskprov keys list` count; the snapshot's age is told.
. "$(dirname "$0")/lib/common.sh"
set -e
. "$(dirname "$0")/lib/proc.sh"
command -v promtool >/dev/null || fail "promtool is missing (scripts/deps.sh installs prometheus)"
PB=$(port_base)
HELLO_PORT=$((PB + 1)) API_PORT=$((PB + 4)) HTTP_PORT=$((PB + 2)) TLS_PORT=$((PB + 3))
N=6
init_keys $N m
run "$P" keys generate --count 2 --batch other # a second batch: its own gauges
expect_rc 0 "generate other"
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

# ---- the store's gauges: the snapshot (read every 5 s with no event stream open)
# catches up with the fleet, then equals what the CLI counts in the store ----
for _ in $(seq 100); do
	curl -sf "http://127.0.0.1:$API_PORT/metrics" >"$T/metrics" || fail "no /metrics"
	[ "$(value 'pskprov_devices{state="provisioned"}')" = "$N" ] && break
	sleep 0.1
done
[ "$(value 'pskprov_devices{state="provisioned"}')" = "$N" ] ||
	fail "devices gauge: $(grep '^pskprov_devices' "$T/metrics")"
age=$(value pskprov_store_snapshot_age_seconds)
awk -v a="${age:-x}" 'BEGIN { exit !(a ~ /^[0-9.]+$/ && a < 10) }' || fail "snapshot age: $age"
run "$P" status --json
expect_rc 0 "status --json"
printf '%s' "$OUT" >"$T/status.json"
for st in seen configuring provisioned failed quarantined; do
	[ "$(value "pskprov_devices{state=\"$st\"}")" = "$(jq ".devices.$st" "$T/status.json")" ] ||
		fail "devices $st: $(value "pskprov_devices{state=\"$st\"}") vs $(jq -c .devices "$T/status.json")"
done
for st in pending running retry done failed; do
	[ "$(value "pskprov_jobs{state=\"$st\"}")" = "$(jq ".jobs.$st" "$T/status.json")" ] ||
		fail "jobs $st: $(value "pskprov_jobs{state=\"$st\"}") vs $(jq -c .jobs "$T/status.json")"
done
[ "$(jq .jobs.done "$T/status.json")" = "$N" ] || fail "status: $(cat "$T/status.json")"
ok
# Keys by batch: the gauges of batch m equal `keys list --batch m`, state by state, and
# the sum over batches equals status's counts (a second batch shows apart).
run "$P" keys list --batch m --json
expect_rc 0 "keys list"
printf '%s' "$OUT" >"$T/keys.json"
for st in available exported in-use consumed revoked expired; do
	want=$(jq --arg s "$st" '[.[] | select(.state == $s)] | length' "$T/keys.json")
	[ "$(value "pskprov_keys{batch=\"m\",state=\"$st\"}")" = "$want" ] ||
		fail "keys m $st: $(grep '^pskprov_keys' "$T/metrics")"
	sum=$(awk -v s="$st" 'index($1, "pskprov_keys{") == 1 && index($1, "state=\"" s "\"}") {
		t += $2 } END { print t + 0 }' "$T/metrics")
	[ "$sum" = "$(jq ".keys[\"$(printf '%s' "$st" | tr - _)\"]" "$T/status.json")" ] ||
		fail "keys $st over batches: $sum vs $(jq -c .keys "$T/status.json")"
done
[ "$(jq '[.[] | select(.state == "consumed")] | length' "$T/keys.json")" -ge $N ] ||
	fail "consumed keys: $(jq -c 'map(.state)' "$T/keys.json")"
[ "$(value 'pskprov_keys{batch="other",state="available"}')" = 2 ] ||
	fail "batch other: $(grep '^pskprov_keys' "$T/metrics")"
ok
finish
