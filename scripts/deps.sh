#!/bin/sh
# Installs the Debian 12 packages pskprov needs, only those that are missing.
# Run by `make deps` (and so by `make`, `make check`, `make demo`).
set -eu

PKGS="build-essential cmake pkg-config clang libclang-rt-14-dev clang-format
libssl-dev openssl libevent-dev libxml2-dev libsqlite3-dev sqlite3
libpq-dev postgresql-15 postgresql-client-15 libjansson-dev libinih-dev
libcmocka-dev gnutls-bin curl jq bc python3"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done

[ -z "$missing" ] && exit 0

echo "deps: installing:$missing"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		SUDO="sudo"
	else
		echo "deps: not root and no sudo; install as root:$missing" >&2
		exit 1
	fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q || echo "deps: apt-get update failed; trying install with the current lists" >&2
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing
