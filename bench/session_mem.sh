#!/bin/sh
# What one device session holds in the server's heap, part by part: N devices (default
# 300) with 3 s of injected latency on every answer, admission off so that all of them
# are in flight together, the server under valgrind's massif. At the heap's peak, each
# allocation is put with its part: OpenSSL (the SSL object, its session, cipher
# contexts, handshake buffers), libevent (the TLS bufferevent, the HTTP connection, its
# requests and buffers), the session itself (struct session: the engine's state and
# the job's secrets), the request envelope, the kept AMT_GeneralSettings instance; and
# what does not grow with sessions (the hello tables, the store's cache). Figures only,
# never pass/fail; skipped when valgrind is missing.
set -eu
P=${PSKPROV:-build/pskprov}
N=${BENCH_MEM_DEVICES:-300}
command -v valgrind >/dev/null 2>&1 && command -v ms_print >/dev/null 2>&1 ||
	{ echo "session memory: skipped (valgrind is missing)"; exit 0; }
D=$(mktemp -d /tmp/pskprov-bench-mem.XXXXXX)
SPID=
trap 'kill $SPID 2>/dev/null || true; rm -rf "$D"' EXIT
export PSKPROV_DIR="$D/data"
unset PSKPROV_MASTER_KEY
. "$(dirname "$0")/lib.sh"
"$P" init >/dev/null
printf '[server]\nadmission_floor = 0\n' >>"$PSKPROV_DIR/pskprov.conf"
bench_keys "$N" mem "$D/k.csv"
BENCH_WRAP="valgrind --tool=massif --detailed-freq=2 --massif-out-file=$D/massif.out"
bench_server tls12 || exit 0
"$P" fleet --count "$N" --csv "$D/k.csv" --server "127.0.0.1:$HP" --base 127.246.0.1 \
	--time-scale 0.05 --latency 3000 --timeout 600 --json >"$D/fleet.json" 2>"$D/fleet.log" ||
	echo "(the fleet exited $?)"
peak_sessions=$(curl -sf "http://127.0.0.1:$AP/metrics" | awk '/^pskprov_sessions_peak/ {print $2}')
kill -INT $SPID
wait $SPID 2>/dev/null || true
SPID=
ms_print "$D/massif.out" >"$D/massif.txt"
# parts SNAPSHOT TITLE: a detailed snapshot's top-level entries ("->PCT% (BYTES B) ADDR:
# FUNCTION (WHERE)") put with their parts, per session.
parts() {
	echo "$2"
	awk -v n="$peak_sessions" -v want="$1" '
	/^ +[0-9]+ +[0-9,]+ +[0-9,]+ +[0-9,]+ +[0-9,]+ +[0-9,]+$/ { cur = $1 }
	cur == want && /^->/ {
		b = $2; gsub(/[(,B]/, "", b); line = $0
		if (line ~ /hello_start|ratelimit|srcslots/) { fixed["hello tables (fixed at start)"] += b; next }
		if (line ~ /sqlite|libpq/) { fixed["the store (cache, statements)"] += b; next }
		if (line ~ /libssl|libcrypto|CRYPTO_|BUF_MEM|BIO_new|SSL_/) p = "OpenSSL (SSL, its session, ciphers, handshake buffers)"
		else if (line ~ /libevent|evbuffer|event_|bufferevent|evhttp|tls_bufferevent/) p = "libevent (TLS bufferevent, HTTP connection, requests)"
		else if (line ~ /claim_run/) p = "the session (struct session: engine state, secrets)"
		else if (line ~ /buf_reserve|pp_buf|wsxml|xmlw/) p = "the request envelope (pp_buf)"
		else if (line ~ /instance_keep/) p = "the kept AMT_GeneralSettings instance"
		else p = "other (below massif thresholds: libc, libxml2)"
		part[p] += b
	}
	END {
		for (p in part) { printf "  %-58s %7.0f B a session\n", p, part[p] / n; sum += part[p] }
		printf "  %-58s %7.0f B a session\n", "in all", sum / n
		for (f in fixed) printf "  not per session: %-41s %7.0f kB\n", f, fixed[f] / 1024
	}' "$D/massif.txt"
}

echo "machine: $(uname -srm), $(nproc) CPUs; $(jq .provisioned "$D/fleet.json") of $N provisioned; $peak_sessions sessions at once"
# The peak (the sessions' handshakes, at once) and, halfway from it to the end, the
# sessions waiting for their devices' answers.
detailed=$(sed -n 's/^ *Detailed snapshots: \[\(.*\)\]/\1/p' "$D/massif.txt" | tr -d ' ')
peak=$(printf '%s' "$detailed" | tr ',' '\n' | sed -n 's/(peak)//p')
after=$(printf '%s' "$detailed" | tr ',' '\n' | sed 's/(peak)//' | awk -v p="$peak" '$1 > p')
waiting=$(printf '%s\n' "$after" | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}')
parts "$peak" "at the peak (snapshot $peak: handshakes under way):"
[ -n "$waiting" ] && parts "$waiting" "waiting for answers (snapshot $waiting, halfway from the peak to the end):"
