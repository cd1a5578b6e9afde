#!/usr/bin/env bash
# legacy_firmware: AMT firmware of the PSK era speaks only the RFC 4279 suites
# (PSK-AES128-CBC-SHA). The server's default profile (compat) must reach such a device
# (an emulated device run with --profile amt-legacy) as well as a modern one, and record
# what each negotiated; the strict tls12 profile must refuse the legacy device with a
# reason that says why and what would reach it.
. "$(dirname "$0")/lib/common.sh"
set -e
PB=$(port_base)
HP=$PB AP=$((PB + 1)) DP=$((PB + 2))
NET=127.216.$((RANDOM % 200))

run "$P" init
expect_rc 0 init
printf '[server]\nmax_attempts = 1\n' >>"$PSKPROV_DIR/pskprov.conf"
run "$P" keys generate --count 3 --batch lf
expect_rc 0 generate
run_secret "$P" keys export --batch lf --format csv --out "$T/k.csv"
pid_of() { sed -n "$(($1 + 1))p" "$T/k.csv" | cut -d, -f1; }
for i in 1 2 3; do
	run "$P" device factory-load --state "$T/dev$i" --csv "$T/k.csv" --pid "$(pid_of $i)"
	expect_rc 0 "factory-load $i"
done
uuid_of() { "$P" device show --state "$T/dev$1" --json | jq -r .uuid; }

. "$(dirname "$0")/lib/proc.sh"
server() { # PROFILE
	start_server "$T/server.log" 127.0.0.1:$HP 127.0.0.1:$AP --device-port $DP --profile "$1"
}
device_run() { # N PROFILE
	"$P" device run --state "$T/dev$1" --address "$NET.$1" --port $DP --server 127.0.0.1:$HP \
		--profile "$2" --time-scale 0.01 >"$T/dev$1.log" 2>&1 &
	BGPIDS="$BGPIDS $!"
}
wait_state() { # UUID STATE...: the device's state in the store once it is one of them
	for _ in $(seq 1 300); do
		st=$("$P" devices list --json | jq -r --arg u "$1" '.[] | select(.uuid == $u) | .state')
		for want in "${@:2}"; do [ "$st" = "$want" ] && { echo "$st"; return 0; }; done
		sleep 0.1
	done
	echo "${st:-none}"
}
tls_of() { "$P" devices list --json | jq -r --arg u "$1" '.[] | select(.uuid == $u) | "\(.tls_version) \(.tls_cipher)"'; }

# --- the default profile reaches old and new firmware ---
server compat
device_run 1 amt-legacy
device_run 2 compat
U1=$(uuid_of 1) U2=$(uuid_of 2)
[ "$(wait_state "$U1" provisioned failed)" = provisioned ] || fail "legacy device: $(tail -3 "$T/server.log")"
[ "$(wait_state "$U2" provisioned failed)" = provisioned ] || fail "modern device: $(tail -3 "$T/server.log")"
ok
echo "legacy firmware negotiated: $(tls_of "$U1")"
echo "modern firmware negotiated: $(tls_of "$U2")"
case "$(tls_of "$U1")" in *" PSK-AES128-CBC-SHA") ok ;; *) fail "legacy device: $(tls_of "$U1")" ;; esac
case "$(tls_of "$U2")" in "TLSv1.2 ECDHE-PSK-CHACHA20-POLY1305") ok ;; *) fail "modern device: $(tls_of "$U2")" ;; esac
run "$P" devices list
expect_out "PSK-AES128-CBC-SHA"
kill $SPID
wait $SPID 2>/dev/null || true

# --- the strict profile refuses old firmware, and says why ---
server tls12
device_run 3 amt-legacy
E=""
for _ in $(seq 1 300); do
	E=$("$P" jobs list --json | jq -r --arg p "$(pid_of 3)" '.[] | select(.pid == $p and .state == "failed") | .last_error')
	[ -n "$E" ] && break
	sleep 0.1
done
echo "strict profile against old firmware: $E"
case "$E" in *"refuses TLS 1.0/1.1 and the legacy PSK-AES-CBC-SHA suites"*) ok ;;
*) fail "strict profile: '$E'" ;; esac
finish
