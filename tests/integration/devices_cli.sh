#!/usr/bin/env bash
# devices_cli: the operator's views and actions from the command line, over a store the
# real server filled. A fleet of 3 (device 3 holds a wrong PPS: its job fails unbound),
# then a clone of device 1's factory key is proven and quarantined. With the server
# stopped: devices list filters, sorts, pages (--limit, --after), searches; devices
# show prints each job's events; jobs retry requeues the failed job and refuses it
# again; devices release refuses a provisioned device and releases the clone; both
# actions are in the audit log as cli:<user>.
. "$(dirname "$0")/lib/common.sh"
set -e

for tool in curl jq timeout; do
	command -v "$tool" >/dev/null || skip "$tool"
done
. "$(dirname "$0")/lib/proc.sh"

NET=127.0.37
PB=$(port_base)
HP=$((PB + 1)) AP=$((PB + 4)) HTTP_PORT=$((PB + 2)) DP=$((PB + 3))
CSV="$T/keys.csv"
init_keys 3 dcli
test_server_conf "$DP" "$HTTP_PORT"
SLOG="$T/server.log"
start_server "$SLOG" "127.0.0.1:$HP" "127.0.0.1:$AP" --log-level info
ok

run_fleet 120 --count 3 --csv "$CSV" --server "127.0.0.1:$HP" --base "$NET.1" --port "$DP" \
	--http-port "$HTTP_PORT" --time-scale 0.01 --faults wrong-key=1 --timeout 60 \
	--state-dir "$T/states"
jq -e '.provisioned == 2' "$T/fleet.json" >/dev/null || fail "fleet: $(cat "$T/fleet.json")"
ok

# A clone of device 1's factory key, proven at another address: quarantined.
head -2 "$CSV" >"$T/clone.csv"
run "$P" device factory-load --state "$T/clone" --csv "$T/clone.csv"
expect_rc 0 "factory-load clone"
"$P" device run --state "$T/clone" --address "$NET.250" --port "$DP" --server "127.0.0.1:$HP" \
	--time-scale 0.01 >"$T/clone.log" 2>&1 &
BGPIDS="$BGPIDS $!"
for _ in $(seq 300); do
	n=$("$P" devices list --quarantined --json 2>/dev/null | jq length)
	[ "${n:-0}" -eq 1 ] && break
	sleep 0.1
done
[ "${n:-0}" -eq 1 ] || fail "the clone was not quarantined: $(tail -3 "$T/clone.log")"
ok
stop_bg
BGPIDS=""

# ---- devices list ----
run "$P" devices list --json
expect_rc 0 "devices list"
[ "$(printf '%s' "$OUT" | jq length)" -eq 3 ] || fail "devices: $OUT"
ok
run "$P" devices list --sort address --desc --json
expect_rc 0 "sort address desc"
[ "$(printf '%s' "$OUT" | jq -r '.[0].address')" = "$NET.250" ] || fail "address desc: $OUT"
ok
# Pages of one: the cursor on stderr leads to the next, every device once.
seen=""
run "$P" devices list --sort host_name --limit 1
expect_rc 0 "limit 1"
expect_err "3 matching in all; next page: --after host_name."
for _ in 1 2 3; do
	cur=$(printf '%s' "$ERR" | sed -n 's/.*--after \(host_name\.[0-9a-f.-]*\).*/\1/p')
	seen="$seen $(printf '%s' "$OUT" | awk 'NR == 2 { print $1 }')"
	[ -n "$cur" ] || break
	run "$P" devices list --sort host_name --limit 1 --after "$cur"
	expect_rc 0 "page after $cur"
done
[ "$(printf '%s\n' $seen | sort -u | wc -l)" -eq 3 ] || fail "pages: $seen"
ok
PID1=$(field 1 1)
run "$P" devices list --search "$(printf '%s' "$PID1" | tr A-Z a-z)" --json
expect_rc 0 "search PID"
# Device 1 holds its rotated key now; the clone still holds PID1.
[ "$(printf '%s' "$OUT" | jq -r '.[0].state')" = quarantined ] || fail "search $PID1: $OUT"
ok
run "$P" devices list --batch dcli --state provisioned --json
expect_rc 0 "batch and state"
[ "$(printf '%s' "$OUT" | jq length)" -eq 2 ] || fail "batch dcli provisioned: $OUT"
ok
run "$P" devices list --batch nosuch
expect_rc 1 "unknown batch"
expect_err "no batch 'nosuch'"
expect_one_line_err
run "$P" devices list --sort size
expect_rc 1 "unknown sort"
expect_err "unknown sort 'size'"
run "$P" devices list --limit 0
expect_rc 2 "limit 0"
run "$P" devices list --sort pid --after host_name.1.0.
expect_rc 1 "a cursor of another sort"
expect_err "a bad cursor"

# ---- devices show: jobs and events ----
CLONE=$("$P" devices list --quarantined --json | jq -r '.[0].uuid')
run "$P" devices show "$NET.1"
expect_rc 0 "show device 1"
for e in queued claimed bound escrowed next-key commit-sent done; do
	expect_out " $e "
done
run "$P" devices show "$CLONE" --json
expect_rc 0 "show clone --json"
printf '%s' "$OUT" | jq -e '.state == "quarantined" and (.quarantine_reason | test("cloned key"))
	and (.jobs[0].events | map(.event) | index("quarantined") != null)' >/dev/null ||
	fail "clone: $OUT"
ok

# ---- jobs retry ----
JOB=$("$P" jobs list --state failed --json | jq -r --arg a "$NET.3" \
	'[.[] | select(.address == $a)][0].id')
[ -n "$JOB" ] && [ "$JOB" != null ] || fail "no failed job at $NET.3"
run "$P" jobs retry "$JOB"
expect_rc 0 "jobs retry"
expect_out "job $JOB: pending, attempts 0"
run "$P" jobs retry "$JOB"
expect_rc 1 "retry a pending job"
expect_err "is pending, not failed"
expect_one_line_err
run "$P" jobs retry nope
expect_rc 1 "retry a bad id"
run "$P" devices show "$CLONE" --json
CJOB=$(printf '%s' "$OUT" | jq -r '.jobs[0].id')
run "$P" jobs retry "$CJOB"
expect_rc 1 "retry the clone's job"
expect_err "release the quarantine first"

# ---- devices release ----
run "$P" devices release "$NET.1" --reason "checked"
expect_rc 1 "release a provisioned device"
expect_err "not quarantined"
expect_one_line_err
run "$P" devices release "$CLONE"
expect_rc 2 "release without a reason"
run "$P" devices release "$CLONE" --reason "lab re-flash, new key ordered"
expect_rc 0 "release"
expect_out "now failed"
run "$P" audit list --json
expect_rc 0 "audit list"
printf '%s' "$OUT" | jq -e --arg j "$JOB" '[.[] | select(.action == "job.requeued" and
	.subject == $j and (.actor | startswith("cli:")))] | length == 1' >/dev/null ||
	fail "audit: no job.requeued: $OUT"
printf '%s' "$OUT" | jq -e '[.[] | select(.action == "device.released" and
	.detail == "lab re-flash, new key ordered")] | length == 1' >/dev/null ||
	fail "audit: no device.released: $OUT"
ok
run "$P" audit verify
expect_rc 0 "audit verify"
finish
