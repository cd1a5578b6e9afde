#!/usr/bin/env bash
# packaging_agent: packaging/systemd/pskprov-agent.service passes `systemd-analyze
# verify` (a copy whose ExecStart names the built binary, which verify requires to
# exist) and, where systemd-analyze can, `security --offline=yes`: the exposure score
# is printed and must stay low. Without systemd-analyze: skipped (77).
. "$(dirname "$0")/lib/common.sh"
set -e

UNIT=$PP_SOURCE_DIR/packaging/systemd/pskprov-agent.service
[ -f "$UNIT" ] || fail "$UNIT is missing"
command -v systemd-analyze >/dev/null || skip "systemd-analyze is missing"

# What the unit promises, read from the file itself.
for line in "Type=oneshot" "After=network-online.target" "Restart=on-failure" \
	"EnvironmentFile=/etc/pskprov/agent.env" "RestartPreventExitStatus=2" \
	"NoNewPrivileges=yes" "ProtectSystem=strict" "ProtectHome=yes" "PrivateTmp=yes" \
	"DevicePolicy=closed" "DeviceAllow=/dev/mei0 rw" "CapabilityBoundingSet=" \
	"RestrictAddressFamilies=AF_UNIX AF_INET AF_NETLINK"; do
	grep -qxF -- "$line" "$UNIT" || fail "the unit lacks '$line'"
	ok
done
grep -qE '^ExecStart=/usr/bin/pskprov agent --server \$\{PSKPROV_SERVER\} --token-file /etc/pskprov/agent.token( |$)' "$UNIT" ||
	fail "ExecStart is not the agent with the server and token file"
ok

# The copy: ExecStart runs the built binary (verify checks that it exists).
mkdir -p "$T/units"
sed "s|^ExecStart=/usr/bin/pskprov |ExecStart=$P |" "$UNIT" >"$T/units/pskprov-agent.service"
run timeout 60 systemd-analyze verify --man=no "$T/units/pskprov-agent.service"
# Complaints about other units of the host are not ours; ours must have none.
bad=$(printf '%s\n%s\n' "$OUT" "$ERR" | grep -F "pskprov-agent.service" || true)
[ -z "$bad" ] || fail "systemd-analyze verify: $bad"
[ "$RC" -eq 0 ] || echo "note: verify exited $RC for reasons outside the unit: $ERR" >&2
ok
# A broken copy is caught (the check can fail).
sed 's/^Type=oneshot/Type=oneshoot/' "$T/units/pskprov-agent.service" >"$T/units/broken.service"
run timeout 60 systemd-analyze verify --man=no "$T/units/broken.service"
printf '%s\n' "$ERR" | grep -qF "broken.service" || fail "verify did not see a bad Type= ($ERR)"
ok

if run timeout 60 systemd-analyze security --offline=yes "$T/units/pskprov-agent.service" &&
	[ "$RC" -eq 0 ]; then
	score=$(printf '%s\n' "$OUT" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
	[ -n "$score" ] || fail "no exposure score in: $OUT"
	echo "exposure score of pskprov-agent.service: $score (0 best, 10 worst)"
	awk -v s="$score" 'BEGIN { exit !(s <= 3.0) }' || fail "exposure $score is over 3.0: $OUT"
	ok
else
	echo "note: systemd-analyze security --offline=yes is not available here ($ERR)"
fi
finish
