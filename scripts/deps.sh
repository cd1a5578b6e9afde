#!/bin/sh
# Installs the Debian 12 packages pskprov needs, only those that are missing, then the
# test-only npm packages of tests/interop (Intel's wsman-messages, pinned by its
# package-lock.json) when they are missing or differ from the lockfile.
# Run by `make deps` (and so by `make`, `make check`, `make demo`).
set -eu

PKGS="build-essential cmake pkg-config clang libclang-rt-14-dev clang-format
libssl-dev openssl libevent-dev libxml2-dev libsqlite3-dev sqlite3
libpq-dev postgresql-15 postgresql-client-15 libjansson-dev libinih-dev
libcmocka-dev libsystemd-dev gnutls-bin curl jq bc python3"

# Packaging: the man pages (scdoc), the Debian package and its check (make package), and
# bash-completion, which loads packaging/completion/pskprov.bash in an interactive shell.
PKGS="$PKGS scdoc debhelper dpkg-dev fakeroot lintian bash-completion"
# Test peers: promtool (Debian ships it in prometheus) checks /metrics.
PKGS="$PKGS prometheus"
# The web console's test (integration/console): headless Chromium driven by Selenium.
PKGS="$PKGS chromium chromium-driver python3-selenium"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done

# Node and npm for tests/interop only: Debian's nodejs and npm when the commands are
# missing (a nodejs package from elsewhere brings its own npm; Debian's npm conflicts with it).
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v npm >/dev/null 2>&1 || missing="$missing npm"

# npm ci in tests/interop when node_modules is missing or stale (a version installed there
# differs from package-lock.json). The shipped program never uses node.
interop_npm() {
	dir="$(cd "$(dirname "$0")/.." && pwd)/tests/interop"
	[ -f "$dir/package-lock.json" ] || return 0
	if [ -d "$dir/node_modules" ] && node "$dir/installed.js" >/dev/null 2>&1; then
		return 0
	fi
	echo "deps: npm ci in tests/interop"
	(cd "$dir" && npm ci --no-audit --no-fund)
}

if [ -z "$missing" ]; then
	interop_npm
	exit 0
fi

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
interop_npm
