#!/usr/bin/env bash
# events: GET /api/v1/events (Server-Sent Events, docs/api.md) followed by curl -N with a
# read token through a fleet run: progress events whose provisioned count rises to the
# fleet's, a `device` event per provisioned device, the wrong-key device's failure with
# its reason, a cloned key's second device quarantined; 401 without a token (a token in
# the URL is no token); at most 64 streams (the 65th: 503 JSON); a closed stream is
# forgotten (pskprov_event_streams); a ping every 15 s keeps a quiet stream open past
# the API's idle timeout; SIGTERM ends the streams cleanly (the chunked reply's last
# chunk) and the server exits 0.
. "$(dirname "$0")/lib/common.sh"
set -e
. "$(dirname "$0")/lib/proc.sh"
PB=$(port_base)
HELLO_PORT=$((PB + 1)) API_PORT=$((PB + 4)) HTTP_PORT=$((PB + 2)) TLS_PORT=$((PB + 3))
AP=$API_PORT
URL="http://127.0.0.1:$API_PORT/api/v1/events"
N=6 GOOD=5 NET=127.0.67 # device 6 holds a wrong key
init_keys $N ev
test_server_conf "$TLS_PORT" "$HTTP_PORT"
run "$P" token create --role read --name watcher --out "$T/read.tok"
expect_rc 0 "token create"
TOKEN=$(cat "$T/read.tok")
SLOG="$T/server.log"
start_server "$SLOG" "127.0.0.1:$HELLO_PORT" "127.0.0.1:$API_PORT" --log-level info
ok

# sse FILE: the events of a captured stream, one "NAME<TAB>DATA" line each.
sse() { awk '/^event: /{e=$2} /^data: /{sub(/^data: /, ""); print e "\t" $0}' "$1"; }
code() { curl -s -m 5 -o "$T/code.out" -w '%{http_code}' "$@"; }

# ---- no token, a token in the URL, a wrong one: 401, JSON, no stream ----
[ "$(code "$URL")" = 401 ] || fail "no token: $(cat "$T/code.out")"
jq -e .error "$T/code.out" >/dev/null || fail "401 is not JSON: $(cat "$T/code.out")"
[ "$(code "$URL?token=$TOKEN")" = 401 ] || fail "a token in the URL was taken"
[ "$(code "$URL?access_token=$TOKEN")" = 401 ] || fail "access_token in the URL was taken"
[ "$(code -H "Authorization: Bearer x$TOKEN" "$URL")" = 401 ] || fail "a wrong token"
ok

# ---- one stream follows the fleet ----
curl -sN -m 150 -D "$T/stream.hdr" -H "Authorization: Bearer $TOKEN" "$URL" >"$T/stream.txt" &
CPID=$!
wait_for "$T/stream.txt" "event: progress" 10
grep -qi '^content-type: text/event-stream' "$T/stream.hdr" || fail "type: $(cat "$T/stream.hdr")"
grep -qi '^cache-control: no-store' "$T/stream.hdr" || fail "cache: $(cat "$T/stream.hdr")"
ok
run_fleet 150 --count $N --csv "$CSV" --server "127.0.0.1:$HELLO_PORT" --base $NET.1 \
	--port "$TLS_PORT" --http-port "$HTTP_PORT" --time-scale 0.01 --faults wrong-key=1 \
	--timeout 120
jq -e --argjson n $GOOD '.provisioned == $n' "$T/fleet.json" >/dev/null ||
	fail "fleet: $(cat "$T/fleet.json")"
# progress: the store's counts rise to the fleet's size (within a few seconds).
for _ in $(seq 100); do
	sse "$T/stream.txt" | awk -F'\t' '$1 == "progress" {print $2}' | tail -1 >"$T/last.json"
	[ "$(jq '.devices.provisioned' "$T/last.json")" = "$GOOD" ] && break
	sleep 0.1
done
jq -e --argjson n $GOOD '.devices.provisioned == $n and .jobs.done == $n and
	(.sessions_active | type) == "number" and (.provisioned_per_s | type) == "number" and
	.time > 1700000000 and .jobs.queued == .jobs.pending + .jobs.retry and
	.jobs.in_progress == .jobs.running' "$T/last.json" >/dev/null ||
	fail "last progress: $(cat "$T/last.json")"
# It rose: an earlier progress had fewer, and the counts never went down.
sse "$T/stream.txt" | awk -F'\t' '$1 == "progress" {print $2}' |
	jq -s -e 'map(.devices.provisioned // 0) | (.[0] < .[-1]) and
	(. as $a | [range(1; length)] | all($a[.] >= $a[. - 1]))' >/dev/null ||
	fail "progress did not rise: $(sse "$T/stream.txt" | grep -c progress) events"
# The rate: what was provisioned in the last 10 s, a second.
sse "$T/stream.txt" | awk -F'\t' '$1 == "progress" {print $2}' |
	jq -s -e 'map(.provisioned_per_s) | max > 0' >/dev/null || fail "provisioned_per_s never rose"
ok
# device events: one per provisioned device, at its address, with its PID.
sse "$T/stream.txt" | awk -F'\t' '$1 == "device" {print $2}' >"$T/devices.jsonl"
jq -s -e --argjson n $GOOD --arg net "$NET." '[.[] | select(.state == "provisioned")] |
	length == $n and (map(.uuid) | unique | length) == $n and
	all(.address | startswith($net)) and all(.pid | test("^[0-9A-Z]{4}-[0-9A-Z]{4}$")) and
	all(.reason == "") and all(.time > 1700000000) and all(.host_name | length > 0)' \
	"$T/devices.jsonl" >/dev/null || fail "device events: $(cat "$T/devices.jsonl")"
for i in $(seq $GOOD); do
	jq -s -e --arg a "$NET.$i" --arg pid "$(field "$i" 1)" \
		'[.[] | select(.address == $a and .state == "provisioned" and .pid == $pid)] |
		length == 1' "$T/devices.jsonl" >/dev/null || fail "no device event for $NET.$i"
done
ok
# The wrong-key device: failed, with the reason (which names no secret).
for _ in $(seq 150); do
	grep -q '"state":"failed"' "$T/devices.jsonl" && break
	sleep 0.1
	sse "$T/stream.txt" | awk -F'\t' '$1 == "device" {print $2}' >"$T/devices.jsonl"
done
jq -s -e --arg a "$NET.$N" '[.[] | select(.address == $a)] | length >= 1 and
	all(.state == "failed" or .state == "configuring") and
	any(.state == "failed" and (.reason | test("different PPS")))' "$T/devices.jsonl" \
	>/dev/null || fail "wrong-key device events: $(grep "$NET.$N\"" "$T/devices.jsonl")"
csv_secrets $N >"$T/secrets"
scan_for_secrets "$T/secrets" "$T/stream.txt"
! grep -qF "$TOKEN" "$T/stream.txt" "$SLOG" || fail "the token was written out"
ok

# ---- a cloned key: two devices hold one unique key; one is provisioned, the other
# quarantined, and the stream says which ----
run "$P" keys generate --count 1 --batch cl
expect_rc 0 "generate cl"
run "$P" keys export --batch cl --format csv --out "$T/cl.csv"
expect_rc 0 "export cl"
for i in 21 22; do
	run "$P" device factory-load --state "$T/dev$i" --csv "$T/cl.csv"
	expect_rc 0 "factory-load dev$i"
	"$P" device run --state "$T/dev$i" --address "$NET.$i" --server "127.0.0.1:$HELLO_PORT" \
		--port "$TLS_PORT" --http-port "$HTTP_PORT" --time-scale 0.01 >"$T/dev$i.log" 2>&1 &
	BGPIDS="$BGPIDS $!"
done
for _ in $(seq 300); do
	sse "$T/stream.txt" | awk -F'\t' '$1 == "device" {print $2}' >"$T/devices.jsonl"
	jq -s -e --arg a "$NET.21" --arg b "$NET.22" '[.[] | select(.address == $a or
		.address == $b) | .state] | index("quarantined") and index("provisioned")' \
		"$T/devices.jsonl" >/dev/null && break
	sleep 0.1
done
jq -s -e --arg a "$NET.21" --arg b "$NET.22" '[.[] | select(.address == $a or .address == $b)] |
	(map(select(.state == "provisioned")) | length) == 1 and
	(map(select(.state == "quarantined")) | length) == 1 and
	all(select(.state == "quarantined") | .reason | length > 0)' "$T/devices.jsonl" \
	>/dev/null || fail "clone events: $(grep -E "$NET.2[12]\"" "$T/devices.jsonl")"
ok

# ---- at most 64 streams; a closed one is forgotten ----
[ "$(metric pskprov_event_streams)" = 1 ] || fail "streams: $(metric pskprov_event_streams)"
MORE=""
for _ in $(seq 63); do
	curl -sN -m 60 -H "Authorization: Bearer $TOKEN" "$URL" >/dev/null &
	MORE="$MORE $!"
done
for _ in $(seq 100); do
	[ "$(metric pskprov_event_streams)" = 64 ] && break
	sleep 0.1
done
[ "$(metric pskprov_event_streams)" = 64 ] || fail "64 streams: $(metric pskprov_event_streams)"
[ "$(code -H "Authorization: Bearer $TOKEN" "$URL")" = 503 ] ||
	fail "the 65th stream: $(cat "$T/code.out")"
jq -e '.error | test("64")' "$T/code.out" >/dev/null || fail "503 body: $(cat "$T/code.out")"
ok
kill $MORE
wait $MORE 2>/dev/null || true
for _ in $(seq 50); do
	[ "$(metric pskprov_event_streams)" = 1 ] && break
	sleep 0.1
done
[ "$(metric pskprov_event_streams)" = 1 ] || fail "closed streams kept: $(metric pskprov_event_streams)"
# Room again.
curl -sN -m 3 -H "Authorization: Bearer $TOKEN" "$URL" >"$T/again.txt" || true
grep -q '^event: progress' "$T/again.txt" || fail "no stream after the others closed"
ok

# ---- a stream outlives the API's 10 s idle timeout, with a ping every 15 s ----
wait_for "$T/stream.txt" ": ping" 20
kill -0 "$CPID" || fail "the stream ended early"
ok

# ---- SIGTERM: the stream ends cleanly, the server exits 0 ----
kill -TERM "$SPID"
wait_exit "$SPID" 20
[ "$WRC" -eq 0 ] || fail "server exit $WRC after SIGTERM: $(tail -3 "$SLOG")"
set +e
wait "$CPID"
CRC=$?
set -e
[ "$CRC" -eq 0 ] || fail "the stream did not end cleanly: curl exit $CRC"
grep -q "event streams ended" "$SLOG" || fail "no word of the streams in the log"
ok
finish
