#!/usr/bin/env bash
# api: the REST API under /api/v1 (docs/api.md) against a server with a small fleet:
# provisioned devices, a failed job (a device with a wrong key), a cloned key's second
# device quarantined. Every route with each role (read, admin, agent, none, revoked);
# every error code (400 bad and unknown parameters, bad and foreign cursors, unknown
# fields, malformed JSON, duplicate keys; 401; 403 role and cross-site Origin; 404
# route, device, job, batch; 405 with Allow; 409; 413; 415; 429 with Retry-After; 503
# while the store is locked); keyset pages; the reveal (no-store), release and retry,
# each audited first with actor api:<token name>; answers checked against
# docs/api/openapi.json's schemas; no PPS, password or token in the server's log.
. "$(dirname "$0")/lib/common.sh"
set -e
for tool in jq curl node timeout python3; do
	command -v "$tool" >/dev/null || skip "$tool is not installed (scripts/deps.sh)"
done
DOC=$PP_SOURCE_DIR/docs/api/openapi.json
I=$PP_SOURCE_DIR/tests/interop
node "$I/installed.js" ||
	fail "tests/interop/node_modules is missing or stale: run scripts/deps.sh (make deps)"
. "$(dirname "$0")/lib/proc.sh"
# API_BACKEND=postgres (integration/api_pg): the same on PostgreSQL, in a schema of its
# own; the store-lock checks are SQLite's and left out there.
PG=""
if [ "${API_BACKEND:-sqlite}" = postgres ]; then
	need_pg
	pg_schema pp_api
	PG=1
	pg_exit() {
		local status=$?
		stop_bg
		pg_drop_schema
		(exit "$status")
		cleanup
	}
	trap pg_exit EXIT
fi
HP=$(port_base)
AP=$((HP + 1))
NET=127.0.71
FNET=127.0.72
U=http://127.0.0.1:$AP

# ---- a small fleet ----
if [ -n "$PG" ]; then
	run "$P" init --postgres "$CONN"
else
	run "$P" init
fi
expect_rc 0 init
run "$P" keys generate --count 1 --batch uniq
run "$P" keys generate --count 4 --batch lab
run "$P" keys export --batch uniq --format csv --out "$T/uniq.csv"
run "$P" keys export --batch lab --format csv --out "$T/lab.csv"
expect_rc 0 export
SECRETS=$T/secrets
CSV=$T/lab.csv csv_secrets 4 >"$SECRETS"
CSV=$T/uniq.csv csv_secrets 1 >>"$SECRETS"
tok() { # ROLE NAME: a new token, its text on stdout
	"$P" token create --role "$1" --name "$2" 2>/dev/null
}
READ=$(tok read reader)
ADMIN=$(tok admin ops)
AGENT=$(tok agent host-1)
BURST=$(tok read burst)
REVOKED=$(tok read gone)
printf '%s\n' "$READ" "$ADMIN" "$AGENT" "$BURST" "$REVOKED" >>"$SECRETS"
run "$P" token revoke gone
expect_rc 0 "revoke"
SLOG=$T/server.log
start_server "$SLOG" 127.0.0.1:$HP 127.0.0.1:$AP
DEVPIDS=""
for n in 1 2; do
	run "$P" device factory-load --state "$T/dev$n" --csv "$T/uniq.csv"
	expect_rc 0 "factory-load dev$n"
	"$P" device run --state "$T/dev$n" --address "$NET.$n" --server 127.0.0.1:$HP \
		--time-scale 0.01 >"$T/dev$n.log" 2>&1 &
	BGPIDS="$BGPIDS $!"
	DEVPIDS="$DEVPIDS $!"
done
set +e
timeout 120 "$P" fleet --count 4 --csv "$T/lab.csv" --server 127.0.0.1:$HP --base "$FNET.1" \
	--time-scale 0.01 --faults wrong-key=1 --json >"$T/fleet.json" 2>"$T/fleet.log"
FRC=$?
set -e
[ "$FRC" -eq 0 ] || fail "fleet: exit $FRC: $(tail -3 "$T/fleet.log")"
for _ in $(seq 150); do
	run "$P" status --json
	[ "$(printf '%s' "$OUT" | jq .devices.quarantined)" -ge 1 ] &&
		[ "$(printf '%s' "$OUT" | jq .devices.provisioned)" -ge 4 ] && break
	sleep 0.2
done
[ "$(printf '%s' "$OUT" | jq .devices.quarantined)" -eq 1 ] || fail "no quarantined clone: $OUT"
[ "$(printf '%s' "$OUT" | jq .jobs.failed)" -ge 1 ] || fail "no failed job: $OUT"
# The clones stop saying hello: what the API does to them below stays done.
for p in $DEVPIDS; do kill "$p" 2>/dev/null || true; done
ok

# ---- helpers ----
# req TOKEN METHOD PATH [CURL ARGS...]: CODE, the body in $T/r.json, headers in $T/r.h.
req() {
	local t=$1 m=$2 p=$3
	shift 3
	local auth=()
	[ -z "$t" ] || auth=(-H "Authorization: Bearer $t")
	CODE=$(curl -s -m 20 -o "$T/r.json" -D "$T/r.h" -w '%{http_code}' -X "$m" "${auth[@]}" "$@" "$U$p")
}
post_json() { # TOKEN PATH BODY [CURL ARGS...]
	req "$1" POST "$2" -H 'Content-Type: application/json' --data "$3" "${@:4}"
}
expect() { # CODE WHAT
	[ "$CODE" = "$1" ] || fail "$2: HTTP $CODE, expected $1: $(head -c 300 "$T/r.json")"
	if [ "$1" -ge 400 ] && [ "$1" != 405 ]; then
		jq -e '.error | type == "string"' "$T/r.json" >/dev/null || fail "$2: not a JSON error"
	fi
	ok
}
expect_field() { # FIELD WHAT
	[ "$(jq -r '.field // ""' "$T/r.json")" = "$1" ] ||
		fail "$2: field '$(jq -r .field "$T/r.json")', expected '$1'"
	ok
}
header() { grep -i "^$1:" "$T/r.h" | head -1 | cut -d' ' -f2- | tr -d '\r'; }
schema() { # METHOD TEMPLATE: the last answer matches its schema in openapi.json
	timeout 30 node "$I/api_schema.js" "$DOC" "$1" "$2" "$CODE" "$T/r.json" ||
		fail "$1 $2 $CODE does not match docs/api/openapi.json"
	ok
}

# ---- who may call what ----
QUUID=$(curl -s -H "Authorization: Bearer $READ" "$U/api/v1/devices?quarantined=true" |
	jq -r '.devices[0].uuid')
PUUID=$(curl -s -H "Authorization: Bearer $READ" "$U/api/v1/devices?state=provisioned&limit=1" |
	jq -r '.devices[0].uuid')
FJOB=$(curl -s -H "Authorization: Bearer $READ" "$U/api/v1/jobs?state=failed" |
	jq -r '[.jobs[] | select(.bound == false)][0].id')
[ -n "$QUUID" ] && [ "$QUUID" != null ] || fail "no quarantined device listed"
[ -n "$PUUID" ] && [ "$PUUID" != null ] || fail "no provisioned device listed"
[ -n "$FJOB" ] && [ "$FJOB" != null ] || fail "no failed job of an unbound device listed"
GETS="/api/v1/status /api/v1/devices /api/v1/devices/$PUUID /api/v1/jobs /api/v1/jobs/1
/api/v1/batches /api/v1/batches/lab /api/v1/keys /api/v1/keys/report /api/v1/audit"
for p in $GETS; do
	req "" GET "$p"
	expect 401 "GET $p without a token"
	[ "$(header WWW-Authenticate)" = Bearer ] || fail "GET $p: no WWW-Authenticate"
	req "$REVOKED" GET "$p"
	expect 401 "GET $p with a revoked token"
	req "$AGENT" GET "$p"
	expect 403 "GET $p with an agent token"
	req "$READ" GET "$p"
	expect 200 "GET $p with a read token"
	req "$ADMIN" GET "$p"
	expect 200 "GET $p with an admin token"
done
POSTS="/api/v1/devices/$PUUID/credentials /api/v1/devices/$QUUID/release /api/v1/jobs/$FJOB/retry"
for p in $POSTS; do
	for t in "" "$REVOKED"; do
		post_json "$t" "$p" '{"reason":"r"}'
		expect 401 "POST $p without a valid token"
	done
	post_json "$AGENT" "$p" '{"reason":"r"}'
	expect 403 "POST $p with an agent token"
	post_json "$READ" "$p" '{"reason":"r"}'
	expect 403 "POST $p with a read token"
done
post_json "$READ" /api/v1/hello '{"uuid":"x","pid":"y","address":"z"}'
expect 403 "hello with a read token"
post_json "" /api/v1/hello '{}'
expect 401 "hello without a token"
post_json "$AGENT" /api/v1/hello '{}' -H "Origin: http://evil.example"
expect 403 "a cross-site hello"
# The hello's body is read like every other: an unknown field is named, a bad one too.
post_json "$AGENT" /api/v1/hello '{"uuid":"00000000-0000-4000-8000-000000000001","pid":"AAAA-AAAA","address":"127.0.0.1","extra":1}'
expect 400 "a hello with an unknown field"
expect_field extra "a hello with an unknown field"
post_json "$AGENT" /api/v1/hello '{"uuid":"00000000-0000-4000-8000-000000000001","pid":"AAAA-AAAA","address":"224.0.0.1"}'
expect 400 "a hello with a bad PID"
expect_field pid "a hello with a bad PID"
post_json "$AGENT" /api/v1/hello '{"uuid":"00000000-0000-4000-8000-00000000000x","pid":"AAAA-AAAA","address":"127.0.0.1"}'
expect 400 "a hello with a bad UUID"
expect_field uuid "a hello with a bad UUID"

# ---- the reads, their answers and their schemas ----
req "$READ" GET /api/v1/status
expect 200 status
schema GET /api/v1/status
jq -e '.devices.quarantined == 1 and .devices.total >= 5 and (.keys | has("in_use"))
	and (.provisioned_per_s | type == "number") and .draining == false' "$T/r.json" >/dev/null ||
	fail "status: $(cat "$T/r.json")"
ok
req "$READ" GET "/api/v1/devices?limit=2&sort=address"
expect 200 "devices page 1"
schema GET /api/v1/devices
TOTAL=$(jq .total "$T/r.json")
[ "$TOTAL" -ge 5 ] || fail "devices total $TOTAL"
CUR=$(jq -r .next_cursor "$T/r.json")
jq -r '.devices[].uuid' "$T/r.json" >"$T/seen"
while [ "$CUR" != null ]; do
	req "$READ" GET "/api/v1/devices?limit=2&sort=address&cursor=$CUR"
	expect 200 "devices next page"
	jq -r '.devices[].uuid' "$T/r.json" >>"$T/seen"
	CUR=$(jq -r .next_cursor "$T/r.json")
done
[ "$(sort -u "$T/seen" | wc -l)" -eq "$TOTAL" ] && [ "$(wc -l <"$T/seen")" -eq "$TOTAL" ] ||
	fail "pages by cursor gave $(wc -l <"$T/seen") rows for a total of $TOTAL"
ok
req "$READ" GET "/api/v1/devices?limit=2&sort=address&order=desc"
jq -r '.devices[].address' "$T/r.json" | sort -t. -k4,4nr -c || fail "desc order"
ok
req "$READ" GET "/api/v1/devices?q=$NET.2"
expect 200 "search by address"
[ "$(jq '.total' "$T/r.json")" -eq 1 ] || fail "q=$NET.2: $(cat "$T/r.json")"
ok
req "$READ" GET "/api/v1/devices?q=$(printf '%s' "$QUUID" | cut -c1-8)"
jq -e --arg u "$QUUID" '[.devices[].uuid] | index($u) != null' "$T/r.json" >/dev/null ||
	fail "search by a UUID fragment"
ok
req "$READ" GET "/api/v1/devices?batch=nope"
expect 404 "an unknown batch filter"
req "$READ" GET "/api/v1/devices/$QUUID"
expect 200 "one device"
schema GET "/api/v1/devices/{uuid}"
jq -e '.device.quarantined and (.device.quarantine_reason | length > 0) and
	(.jobs[0].events | map(.event) | index("quarantined") != null)' "$T/r.json" >/dev/null ||
	fail "the quarantined device's answer: $(cat "$T/r.json")"
ok
req "$READ" GET "/api/v1/jobs?limit=1"
expect 200 jobs
schema GET /api/v1/jobs
JCUR=$(jq -r .next_cursor "$T/r.json")
req "$READ" GET "/api/v1/jobs?limit=1&cursor=$JCUR"
expect 200 "jobs page 2"
req "$READ" GET "/api/v1/jobs/1"
expect 200 "one job"
schema GET "/api/v1/jobs/{id}"
# The wrong-key machine never proved its key: no device row, but a search of the jobs
# by its PID (with or without the dash, in lower case) or its address finds its failed
# unbound job with the reason.
req "$READ" GET "/api/v1/jobs/$FJOB"
FPID=$(jq -r .job.pid "$T/r.json")
FADDR=$(jq -r .job.address "$T/r.json")
FWHY=$(jq -r .job.last_error "$T/r.json")
[ -n "$FWHY" ] && [ "$FWHY" != null ] || fail "the failed job has no reason: $(cat "$T/r.json")"
req "$READ" GET "/api/v1/devices?q=$FPID"
[ "$(jq .total "$T/r.json")" -eq 0 ] || fail "the wrong-key machine has a device row"
ok
FLOW=$(printf '%s' "$FPID" | tr -d - | tr 'A-Z' 'a-z')
for q in "$FPID" "$FLOW" "$FADDR"; do
	req "$READ" GET "/api/v1/jobs?q=$q&bound=false"
	expect 200 "jobs q=$q&bound=false"
	schema GET /api/v1/jobs
	jq -e --argjson id "$FJOB" --arg why "$FWHY" --arg pid "$FPID" --arg a "$FADDR" '
		(.jobs | length >= 1) and all(.jobs[]; .bound == false) and
		any(.jobs[]; .id == $id and .state == "failed" and .last_error == $why and
		    .pid == $pid and .address == $a)' "$T/r.json" >/dev/null ||
		fail "jobs q=$q&bound=false: $(cat "$T/r.json")"
	ok
done
req "$READ" GET "/api/v1/jobs?q=$FPID&bound=true"
expect 200 "jobs q=PID&bound=true"
[ "$(jq '.jobs | length' "$T/r.json")" -eq 0 ] || fail "a bound job of the wrong key: $(cat "$T/r.json")"
ok
req "$READ" GET "/api/v1/jobs?q=$NET.&state=failed"
jq -e 'all(.jobs[]; .state == "failed" and (.address | startswith("'"$NET"'.")))' \
	"$T/r.json" >/dev/null || fail "q with state: $(cat "$T/r.json")"
ok
# A search paged by cursor: every bound job once; the cursor holds q and bound.
req "$READ" GET "/api/v1/jobs?bound=true&limit=500"
NB=$(jq '.jobs | length' "$T/r.json")
[ "$NB" -ge 5 ] && jq -e 'all(.jobs[]; .bound)' "$T/r.json" >/dev/null ||
	fail "bound=true: $(cat "$T/r.json")"
req "$READ" GET "/api/v1/jobs?q=-&bound=true&limit=2"
jq -r '.jobs[].id' "$T/r.json" >"$T/jseen"
SCUR=$(jq -r .next_cursor "$T/r.json")
[ "$SCUR" != null ] || fail "no second page of a search"
req "$READ" GET "/api/v1/jobs?q=-&bound=false&limit=2&cursor=$SCUR"
expect 400 "a search cursor with another binding"
expect_field cursor "a search cursor with another binding"
req "$READ" GET "/api/v1/jobs?q=.&bound=true&limit=2&cursor=$SCUR"
expect 400 "a search cursor with another q"
expect_field cursor "a search cursor with another q"
while [ "$SCUR" != null ]; do
	req "$READ" GET "/api/v1/jobs?q=-&bound=true&limit=2&cursor=$SCUR"
	expect 200 "a search's next page"
	jq -r '.jobs[].id' "$T/r.json" >>"$T/jseen"
	SCUR=$(jq -r .next_cursor "$T/r.json")
done
[ "$(sort -u "$T/jseen" | wc -l)" -eq "$NB" ] && [ "$(wc -l <"$T/jseen")" -eq "$NB" ] ||
	fail "a search by pages gave $(wc -l <"$T/jseen") jobs of $NB"
ok
req "$READ" GET /api/v1/batches
expect 200 batches
schema GET /api/v1/batches
jq -e '[.batches[].name] == ["uniq", "lab"] and .batches[0].quarantined_devices == 1' \
	"$T/r.json" >/dev/null || fail "batches: $(cat "$T/r.json")"
ok
req "$READ" GET /api/v1/batches/lab
expect 200 "one batch"
schema GET "/api/v1/batches/{name}"
req "$READ" GET "/api/v1/keys?batch=lab&limit=2"
expect 200 keys
schema GET /api/v1/keys
grep -qi pps "$T/r.json" && fail "a key listing names a PPS"
KCUR=$(jq -r .next_cursor "$T/r.json")
req "$READ" GET "/api/v1/keys?batch=lab&limit=2&cursor=$KCUR"
expect 200 "keys page 2"
[ "$(jq '.keys | length' "$T/r.json")" -ge 1 ] || fail "keys page 2 empty"
req "$READ" GET /api/v1/keys/report
expect 200 "keys report"
schema GET /api/v1/keys/report
run "$P" keys report --json
[ "$(printf '%s' "$OUT" | jq -S .)" = "$(jq -S . "$T/r.json")" ] ||
	fail "the API's keys report differs from keys report --json"
ok

# ---- 400: parameters, cursors, bodies ----
req "$READ" GET "/api/v1/devices?bogus=1"
expect 400 "an unknown parameter"
expect_field bogus "unknown parameter"
schema GET /api/v1/devices
req "$READ" GET "/api/v1/devices?limit=0"
expect 400 "limit 0"
expect_field limit "limit 0"
req "$READ" GET "/api/v1/devices?state=asleep"
expect 400 "a bad state"
expect_field state "a bad state"
req "$READ" GET "/api/v1/devices?sort=color"
expect_field sort "a bad sort"
req "$READ" GET "/api/v1/devices?limit=1&limit=2"
expect 400 "a parameter twice"
req "$READ" GET "/api/v1/devices?cursor=00zz"
expect 400 "a malformed cursor"
expect_field cursor "a malformed cursor"
req "$READ" GET "/api/v1/devices?limit=1"
C1=$(jq -r .next_cursor "$T/r.json")
req "$READ" GET "/api/v1/devices?limit=1&sort=pid&cursor=$C1"
expect 400 "a cursor with another sort"
expect_field cursor "a cursor with another sort"
req "$READ" GET "/api/v1/devices?limit=1&state=failed&cursor=$C1"
expect 400 "a cursor with other filters"
req "$READ" GET "/api/v1/jobs?cursor=$C1"
expect 400 "a devices cursor on jobs"
for q in "q=" "q=$(head -c 65 /dev/zero | tr '\0' a)" "q=a%01b" "q=a%C3%A9"; do
	req "$READ" GET "/api/v1/jobs?$q"
	expect 400 "jobs ${q:0:12}"
	expect_field q "jobs ${q:0:12}"
done
for b in "" yes 1 TRUE; do
	req "$READ" GET "/api/v1/jobs?bound=$b"
	expect 400 "jobs bound=$b"
	expect_field bound "jobs bound=$b"
done
req "$READ" GET "/api/v1/audit?since=-1"
expect_field since "since -1"
req "$READ" GET "/api/v1/devices/not-a-uuid"
expect 400 "a malformed UUID"
expect_field uuid "a malformed UUID"
req "$READ" GET "/api/v1/jobs/x1"
expect 400 "a malformed job id"
R=/api/v1/devices/$QUUID/release
post_json "$ADMIN" "$R" '{"reason":"ok","color":"red"}'
expect 400 "an unknown field"
expect_field color "an unknown field"
schema POST "/api/v1/devices/{uuid}/release"
post_json "$ADMIN" "$R" '{"reason":'
expect 400 "malformed JSON"
post_json "$ADMIN" "$R" '{"reason":"a","reason":"b"}'
expect 400 "a key twice"
post_json "$ADMIN" "$R" '["reason"]'
expect 400 "not an object"
post_json "$ADMIN" "$R" '{"reason":""}'
expect 400 "an empty reason"
expect_field reason "an empty reason"
# ---- 413, 415, 403 cross-site ----
head -c 5000 /dev/zero | tr '\0' a | sed 's/^/{"reason":"/; s/$/"}/' >"$T/big.json"
req "$ADMIN" POST "$R" -H 'Content-Type: application/json' --data-binary @"$T/big.json"
expect 413 "a 5000-byte body"
# Over 16 KiB evhttp refuses the body itself, before any handler: still a 413.
head -c 20000 /dev/zero | tr '\0' a | sed 's/^/{"reason":"/; s/$/"}/' >"$T/huge.json"
req "$ADMIN" POST "$R" -H 'Content-Type: application/json' --data-binary @"$T/huge.json"
[ "$CODE" = 413 ] || fail "a 20000-byte body: HTTP $CODE"
ok
req "$ADMIN" POST "$R" -H 'Content-Type: text/plain' --data '{"reason":"x"}'
expect 415 "text/plain"
req "$ADMIN" POST "$R" -H 'Content-Type: application/x-www-form-urlencoded' --data 'reason=x'
expect 415 "a form"
post_json "$ADMIN" "$R" '{"reason":"x"}' -H "Origin: http://evil.example"
expect 403 "a cross-site POST"
jq -e '.error | test("cross-site")' "$T/r.json" >/dev/null || fail "cross-site error text"
# ---- 404, 405 ----
req "$READ" GET /api/v1/nothing
expect 404 "an unknown route"
req "$READ" GET /api/v1/devices/00000000-0000-4000-8000-000000000000
expect 404 "an unknown device"
req "$READ" GET /api/v1/jobs/999999
expect 404 "an unknown job"
req "$READ" GET /api/v1/batches/nope
expect 404 "an unknown batch"
req "$READ" DELETE /api/v1/devices
expect 405 "DELETE devices"
[ "$(header Allow)" = GET ] || fail "Allow: $(header Allow)"
req "$ADMIN" GET "/api/v1/jobs/1/retry"
expect 405 "GET retry"
[ "$(header Allow)" = POST ] || fail "Allow: $(header Allow)"
ok

# ---- the actions, audited with api:ops ----
post_json "$ADMIN" "/api/v1/devices/$PUUID/credentials" '' -H "Origin: http://127.0.0.1:$AP"
req "$ADMIN" POST "/api/v1/devices/$PUUID/credentials" -H "Origin: http://127.0.0.1:$AP"
expect 200 "reveal"
[ "$(header Cache-Control)" = no-store ] || fail "reveal without Cache-Control: no-store"
schema POST "/api/v1/devices/{uuid}/credentials"
jq -r '.admin_password, .mebx_password' "$T/r.json" >>"$SECRETS"
rm -f "$T/r.json"
req "$ADMIN" POST "/api/v1/devices/00000000-0000-4000-8000-000000000000/credentials"
expect 404 "reveal of an unknown device"
# api.token, the bootstrap admin token, acts as api:api.token.
BOOT=$(cat "$PSKPROV_DIR/api.token")
printf '%s\n' "$BOOT" >>"$SECRETS"
req "$BOOT" POST "/api/v1/devices/$PUUID/credentials"
expect 200 "reveal with api.token"
rm -f "$T/r.json"
post_json "$ADMIN" "$R" '{"reason":"checked by the api test"}'
expect 200 "release"
schema POST "/api/v1/devices/{uuid}/release"
jq -e '.device.state == "failed" and .device.quarantined' "$T/r.json" >/dev/null ||
	fail "released: $(cat "$T/r.json")"
ok
post_json "$ADMIN" "$R" '{"reason":"again"}'
expect 409 "release of a device not quarantined"
req "$READ" GET "/api/v1/devices?state=failed"
jq -e --arg u "$QUUID" '[.devices[].uuid] | index($u) != null' "$T/r.json" >/dev/null ||
	fail "the released device is not listed as failed"
ok
req "$ADMIN" POST "/api/v1/jobs/$FJOB/retry"
expect 202 "retry"
schema POST "/api/v1/jobs/{id}/retry"
jq -e '.job.state == "pending" and .job.attempts == 0 and
	(.job.events | map(.event) | index("requeued") != null)' "$T/r.json" >/dev/null ||
	fail "retried: $(cat "$T/r.json")"
ok
req "$ADMIN" POST "/api/v1/jobs/1/retry"
expect 409 "retry of a job that did not fail"
schema POST "/api/v1/jobs/{id}/retry"
req "$ADMIN" POST "/api/v1/jobs/999999/retry"
expect 404 "retry of an unknown job"
req "$READ" GET "/api/v1/audit?limit=500"
expect 200 audit
schema GET /api/v1/audit
for a in "devices.reveal $PUUID" "device.released $QUUID" "job.requeued $FJOB"; do
	set -- $a
	jq -e --arg a "$1" --arg s "$2" '[.entries[] | select(.action == $a and .subject == $s
		and .actor == "api:ops")] | length >= 1' "$T/r.json" >/dev/null ||
		fail "no audit entry $1 $2 by api:ops"
done
jq -e --arg s "$PUUID" '[.entries[] | select(.action == "devices.reveal" and .subject == $s
	and .actor == "api:api.token")] | length == 1' "$T/r.json" >/dev/null ||
	fail "no reveal audited as api:api.token"
jq -e '.chain.status == "intact" and .chain.entries >= (.entries | length)' "$T/r.json" \
	>/dev/null || fail "audit chain: $(jq -c .chain "$T/r.json")"
ok
N=$(jq .next_since "$T/r.json")
req "$READ" GET "/api/v1/audit?since=$N"
[ "$(jq '.entries | length' "$T/r.json")" -eq 0 ] || fail "audit after next_since"
ok

# ---- 429: one token's burst, others untouched ----
urls=()
for _ in $(seq 260); do urls+=("$U/api/v1/jobs/1"); done
curl -s -o /dev/null -D "$T/burst.h" -w '%{http_code}\n' -H "Authorization: Bearer $BURST" \
	"${urls[@]}" >"$T/burst"
[ "$(grep -c '^429$' "$T/burst")" -ge 1 ] || fail "260 requests at once: no 429"
[ "$(grep -c '^200$' "$T/burst")" -ge 200 ] || fail "fewer than the burst of 200 answered"
grep -qi '^Retry-After: [1-9]' "$T/burst.h" || fail "429 without Retry-After"
ok
req "$READ" GET /api/v1/jobs/1
expect 200 "another token meanwhile"

# ---- 503: the store locked by another process ----
if [ -z "$PG" ] && python3 -c 'import sqlite3' 2>/dev/null; then
	python3 - "$PSKPROV_DIR" <<'PY' &
import sqlite3, sys, time, glob
db = [f for f in glob.glob(sys.argv[1] + "/*.db")][0]
c = sqlite3.connect(db, timeout=1, isolation_level=None)
c.execute("BEGIN EXCLUSIVE")
open(sys.argv[1] + "/../locked", "w").close()
time.sleep(25)
c.execute("ROLLBACK")
PY
	LOCKER=$!
	BGPIDS="$BGPIDS $LOCKER"
	for _ in $(seq 50); do [ -e "$T/locked" ] && break; sleep 0.1; done
	# A client that gives up while its call waits on the store: its answer is dropped.
	curl -s -m 0.5 -o /dev/null -H "Authorization: Bearer $READ" "$U/api/v1/audit" || true
	req "$READ" GET /api/v1/status
	expect 503 "the store locked"
	jq -e '.error | startswith("store: ")' "$T/r.json" >/dev/null || fail "503 text"
	[ -n "$(header Retry-After)" ] || fail "503 without Retry-After"
	kill "$LOCKER" 2>/dev/null || true
	wait "$LOCKER" 2>/dev/null || true
	for _ in $(seq 100); do
		req "$READ" GET /api/v1/status
		[ "$CODE" = 200 ] && break
		sleep 0.2
	done
	expect 200 "the store back"
fi

# ---- a stop with calls still out on the store: answered or dropped, a clean exit ----
if [ -n "$PG" ]; then
	# Hold the devices table for 3 s: the listing below waits on it.
	psql "$CONN" -qc "BEGIN; LOCK TABLE devices IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(3); COMMIT" \
		>/dev/null 2>&1 &
	LOCKER=$!
	sleep 0.5
	touch "$T/locked2"
else
	python3 - "$PSKPROV_DIR" <<'PY' &
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1] + "/pskprov.db", timeout=1, isolation_level=None)
c.execute("BEGIN EXCLUSIVE")
open(sys.argv[1] + "/../locked2", "w").close()
time.sleep(3)
c.execute("ROLLBACK")
PY
	LOCKER=$!
fi
BGPIDS="$BGPIDS $LOCKER"
for _ in $(seq 50); do [ -e "$T/locked2" ] && break; sleep 0.1; done
curl -s -m 20 -o "$T/late1.json" -H "Authorization: Bearer $READ" "$U/api/v1/status" &
C1=$!
curl -s -m 0.3 -o /dev/null -H "Authorization: Bearer $READ" "$U/api/v1/devices" || true
sleep 0.2
kill -TERM "$SPID"
set +e
wait "$SPID"
SRC=$?
wait "$C1"
set -e
[ "$SRC" -eq 0 ] || fail "the server exited $SRC with calls out: $(tail -5 "$SLOG")"
grep -q "AddressSanitizer\|LeakSanitizer" "$SLOG" && fail "sanitizer report: $(grep -m3 Sanitizer "$SLOG")"
ok

# ---- the server's log keeps no secret ----
scan_for_secrets "$SECRETS" "$SLOG" "$LOG"
finish
