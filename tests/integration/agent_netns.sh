#!/usr/bin/env bash
# agent_netns: `pskprov agent` without --address finds the host's address from the
# default route (issue 13). As root, in a network (and UTS) namespace of its own: lo up,
# tap0 holding 127.50.0.2/32 with "default dev tap0", the host named h / example.test;
# an emulated device's PTHI socket and the API stand-in (lib/fakeapi.py) on 127.0.0.1.
# The recorded hello carries 127.50.0.2 and the output names tap0; the default route of
# the lowest metric wins; no default route and a non-loopback default-route address
# (192.0.2.10, only ever inside the namespace; the agent only reads it, nothing is sent)
# are refused in words. Last, the real run: `pskprov agent --server URL --token-file F`
# and nothing else, the firmware through /dev/mei0 (the driver stand-in) and the address
# from the default route, provisions a device end to end with a real server. Not root,
# or no namespaces: skipped (77).
if [ -z "${PP_AGENT_NETNS_INSIDE:-}" ]; then
	if [ "$(id -u)" -ne 0 ] || ! command -v unshare >/dev/null || ! command -v ip >/dev/null ||
		! unshare -n -u true 2>/dev/null; then
		echo "SKIP: $(basename "$0"): needs root, unshare and ip (network namespaces)"
		exit 77
	fi
	PP_AGENT_NETNS_INSIDE=1 exec unshare -n -u bash "$0" "$@"
fi

. "$(dirname "$0")/lib/common.sh"
set -e
. "$(dirname "$0")/lib/proc.sh"

for tool in jq timeout python3; do
	command -v "$tool" >/dev/null || fail "$tool is required"
done

# The namespace's network: nothing here is seen outside it.
ip link set lo up
ip tuntap add tap0 mode tap 2>/dev/null || skip "cannot create a tap interface in the namespace"
ip addr add 127.50.0.2/32 dev tap0
ip link set tap0 up
ip route add default dev tap0
hostname h
domainname example.test

SRV=127.0.0.1 DEV=127.50.0.20
PB=$(port_base)
API_PORT=$((PB + 1)) HELLO_PORT=$((PB + 2)) TLS_PORT=$((PB + 3)) HTTP_PORT=$((PB + 4))
PID=0000-037M
PPS=NKLD-G5DC-RRNQ-E9YZ-ZIJL-7LFL-VJED-69XJ
MEBXPW='Factory#Key1'

agent() {
	run timeout 60 "$P" agent --device-socket "$D/pthi.sock" --server http://$SRV:$API_PORT \
		--retries 0 --timeout 5 "$@"
	[ "$RC" -ne 124 ] || fail "agent timed out"
}

# An In-Setup device serving its host interface; its own hellos go nowhere.
printf 'pid,pps,mebx_password,batch\n%s,%s,%s,netns\n' "$PID" "$PPS" "$MEBXPW" >"$T/key.csv"
chmod 600 "$T/key.csv"
D=$T/dev
run timeout 20 "$P" device factory-load --state "$D" --csv "$T/key.csv"
expect_rc 0 "factory-load"
timeout 120 "$P" device run --state "$D" --address $DEV --server $SRV:$HELLO_PORT \
	--port $TLS_PORT --http-port $HTTP_PORT >"$T/dev.log" 2>&1 &
BGPIDS="$BGPIDS $!"
wait_for "$T/dev.log" "serving the host interface"
UUID=$(timeout 10 "$P" device show --state "$D" --json | jq -r .uuid)

timeout 120 python3 "$(dirname "$0")/lib/fakeapi.py" $SRV $API_PORT 202 "$T/api.log" &
BGPIDS="$BGPIDS $!"
wait_port $SRV $API_PORT

# ---- the default route's address ----
agent
expect_rc 0 "agent without --address"
expect_out "address   127.50.0.2 (tap0, default route), host name h.example.test"
want="/api/v1/hello application/json {\"uuid\":\"$UUID\",\"pid\":\"$PID\",\"address\":\"127.50.0.2\"}"
[ "$(tail -1 "$T/api.log")" = "$want" ] || fail "hello was: $(tail -1 "$T/api.log")"
ok
agent --json
expect_rc 0 "agent --json without --address"
[ "$(jq -r .address <<<"$OUT")" = 127.50.0.2 ] || fail "json address: $OUT"
[ "$(jq -r .interface <<<"$OUT")" = tap0 ] || fail "json interface: $OUT"
[ "$(jq -r .address_source <<<"$OUT")" = "default route" ] || fail "json source: $OUT"
[ "$(jq -r .fqdn <<<"$OUT")" = h.example.test ] || fail "json fqdn: $OUT"
ok
# resolv.conf gives the domain when the NIS domain is unset (the kernel's "(none)" is
# reached by an empty one); the unit tests cover the file itself.
domainname ""
agent
expect_rc 0 "agent with no NIS domain"
expect_out "address   127.50.0.2 (tap0, default route), host name h"
domainname example.test

# Two default routes: the lower metric wins.
ip tuntap add tap1 mode tap
ip addr add 127.50.0.9/32 dev tap1
ip link set tap1 up
ip route del default dev tap0
ip route add default dev tap0 metric 100
ip route add default dev tap1 metric 50
agent
expect_rc 0 "agent with two default routes"
expect_out "address   127.50.0.9 (tap1, default route)"
grep -qF '"address":"127.50.0.9"' "$T/api.log" || fail "hello: $(tail -1 "$T/api.log")"
ok
ip route del default dev tap1 metric 50

# An explicit --address is kept (every 127/8 address is the host's own: lo owns it).
agent --address 127.50.0.77
expect_rc 0 "agent --address"
expect_out "address   127.50.0.77 (--address), host name h.example.test"
tail -1 "$T/api.log" | grep -qF '"address":"127.50.0.77"' || fail "hello: $(tail -1 "$T/api.log")"
ok

# ---- no default route: refused in words, nothing sent ----
ip route del default dev tap0 metric 100
sent=$(wc -l <"$T/api.log")
agent
expect_rc 1 "agent without a default route"
expect_err "the host has no default route"
expect_err "--address can name one"
expect_one_line_err
[ "$(wc -l <"$T/api.log")" -eq "$sent" ] || fail "a hello was sent without an address"
ok

# ---- a default route whose address is not loopback: refused, nothing sent ----
ip tuntap add tap2 mode tap
ip addr add 192.0.2.10/32 dev tap2
ip link set tap2 up
ip route add default dev tap2
agent
expect_rc 1 "agent with a non-loopback default route"
expect_err "the default route's address 192.0.2.10 (tap2) is not a loopback address (127.0.0.0/8)"
expect_err "--address can name one"
expect_one_line_err
[ "$(wc -l <"$T/api.log")" -eq "$sent" ] || fail "a non-loopback address was reported"
ok
# --address still overrides it.
agent --address 127.50.0.2
expect_rc 0 "agent --address beside a non-loopback default route"

# ---- a real run needs no flag beyond --server and --token-file ----
# The firmware through /dev/mei0 (the driver stand-in, tests/mei_shim), the address from
# the default route: a real server provisions the device end to end.
[ -n "${PP_MEI_SHIM:-}" ] && [ -f "$PP_MEI_SHIM" ] || fail "PP_MEI_SHIM must name the built shim"
ip route del default dev tap2
ip route add default dev tap0
E=$T/dev2 NOWHERE_PORT=$((PB + 5)) E_TLS=$((PB + 6)) E_HTTP=$((PB + 7))
CSV=$T/real.csv
init_keys 1 real
run timeout 20 "$P" device factory-load --state "$E" --csv "$T/real.csv"
expect_rc 0 "factory-load of the real-run device"
run "$P" token create --role agent --name netns --out "$T/agent.tok"
expect_rc 0 "token create"
# The device at the default route's address; its own hellos go nowhere.
timeout 120 "$P" device run --state "$E" --address 127.50.0.2 --server $SRV:$NOWHERE_PORT \
	--port $E_TLS --http-port $E_HTTP >"$T/dev2.log" 2>&1 &
BGPIDS="$BGPIDS $!"
wait_for "$T/dev2.log" "serving the host interface"
start_server "$T/server.log" $SRV:$HELLO_PORT $SRV:$((PB + 8)) --device-port $E_TLS \
	--device-http-port $E_HTTP
SHIMLOG=$T/shim.log
run timeout 60 env LD_PRELOAD="$PP_MEI_SHIM" PP_MEI_SHIM_DEV=/dev/mei0 \
	PP_MEI_SHIM_SOCKET="$E/pthi.sock" PP_MEI_SHIM_LOG="$SHIMLOG" \
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
	"$P" agent --server http://$SRV:$((PB + 8)) --token-file "$T/agent.tok"
expect_rc 0 "agent with --server and --token-file only"
expect_out "address   127.50.0.2 (tap0, default route)"
wait_provisioned "$E" "$T/server.log"
grep -qF "connect 12f80028-b4b7-4b2d-aca8-46e0ff65814c" "$SHIMLOG" ||
	fail "the agent did not connect to the AMTHI client: $(cat "$SHIMLOG")"
ok
echo "--- the driver stand-in's record of the real run"
cat "$SHIMLOG"

for f in "$T/dev.log" "$T/dev2.log" "$T/server.log"; do
	grep -qE "AddressSanitizer|LeakSanitizer|runtime error:" "$f" &&
		fail "sanitizer report in $f"
done
printf '%s\n%s\n%s\n' "$PPS" "$(printf '%s' "$PPS" | tr -d -)" "$MEBXPW" >"$T/secrets"
csv_secrets 1 >>"$T/secrets"
scan_for_secrets "$T/secrets" "$LOG" "$T/dev.log" "$T/dev2.log" "$T/server.log" "$SHIMLOG"
finish
