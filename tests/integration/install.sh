#!/usr/bin/env bash
# install: the install rules of CMakeLists.txt put the program, a man page per page
# source, the bash completion, every unit of packaging/systemd/ and the example config
# in place, with their modes, when the build tree is installed under DESTDIR (the last
# step of `make install`); the example config is what `pskprov init` writes. Then, when
# $PSKPROV_DEB names a .deb (.ci/run, after `make package`) and dpkg-deb is installed: the package holds the same files, /etc/pskprov/pskprov.conf as a conffile,
# /var/lib/pskprov and a postinst that makes the pskprov user and gives it that
# directory (0700). Skipped (77) without cmake or scdoc.
. "$(dirname "$0")/lib/common.sh"
set -e

command -v cmake >/dev/null || skip "cmake is missing"
command -v scdoc >/dev/null || skip "scdoc is missing (no man pages are built)"
BUILD=$(dirname "$P")
[ -f "$BUILD/CMakeCache.txt" ] || skip "$BUILD is not a CMake build tree"
# The build tree's own prefix and directories (a reconfigure here would rebuild under
# the tests running beside this one).
cache() { sed -n "s|^$1:[A-Z]*=||p" "$BUILD/CMakeCache.txt"; }
PREFIX=$(cache CMAKE_INSTALL_PREFIX)
[ -n "$PREFIX" ] || fail "no CMAKE_INSTALL_PREFIX in $BUILD/CMakeCache.txt"
[ -d "$BUILD/man" ] || fail "$BUILD/man is missing: the man pages were not built (target man)"

run env DESTDIR="$T/stage" cmake --install "$BUILD"
[ "$RC" -eq 0 ] || fail "cmake --install: $ERR"
S=$T/stage$PREFIX
case $PREFIX in /usr) ETC=$T/stage/etc ;; *) ETC=$S/etc ;; esac

# mode PATH MODE: PATH exists, a regular file of mode MODE.
mode() {
	[ -f "$1" ] || fail "not installed: ${1#"$T/stage"}"
	[ "$(stat -c %a "$1")" = "$2" ] || fail "${1#"$T/stage"}: mode $(stat -c %a "$1"), want $2"
	ok
}
mode "$S/bin/pskprov" 755
"$S/bin/pskprov" --version | grep -q '^pskprov ' || fail "the installed pskprov does not run"
mode "$S/share/bash-completion/completions/pskprov" 644
mode "$ETC/pskprov/pskprov.conf" 644
npages=0
for src in "$PP_SOURCE_DIR"/docs/man/*.scd; do
	page=$(basename "$src" .scd)
	mode "$S/share/man/man${page##*.}/$page" 644
	grep -q '^\.SH NAME' "$S/share/man/man${page##*.}/$page" || fail "$page is not a man page"
	npages=$((npages + 1))
done
[ "$npages" -ge 15 ] || fail "only $npages man pages"
units=0
for unit in "$PP_SOURCE_DIR"/packaging/systemd/*.service; do
	name=$(basename "$unit")
	mode "$S/lib/systemd/system/$name" 644
	# ExecStart names the installed binary.
	grep -q "^ExecStart=$PREFIX/bin/pskprov " "$S/lib/systemd/system/$name" ||
		fail "$name: ExecStart is not $PREFIX/bin/pskprov"
	units=$((units + 1))
done
[ "$units" -ge 1 ] || fail "no systemd unit in packaging/systemd"
ok

# Nothing else: every installed file is one of those above.
extra=$(cd "$T/stage" && find . -type f | sed 's|^\.||' | grep -vE \
	"^($PREFIX/bin/pskprov|$PREFIX/share/bash-completion/completions/pskprov|${ETC#"$T/stage"}/pskprov/pskprov.conf|$PREFIX/share/man/man[158]/pskprov[a-z.-]*\.[158]|$PREFIX/lib/systemd/system/pskprov[a-z-]*\.service)$" || true)
[ -z "$extra" ] || fail "installed but not expected: $extra"
ok

# The example config is the text `pskprov init` writes, under the header of
# packaging/pskprov.conf.head.
run "$P" -d "$T/data" init
[ "$RC" -eq 0 ] || fail "init: $ERR"
sed '1,/^#$/d' "$ETC/pskprov/pskprov.conf" >"$T/example-body"
cmp -s "$T/example-body" "$T/data/pskprov.conf" ||
	fail "the example config differs from what init writes: $(diff "$T/example-body" "$T/data/pskprov.conf" | head -5)"
ok

# The Makefile's install target passes DESTDIR and PREFIX through (dry run).
run env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -n -C "$PP_SOURCE_DIR" install BUILD="$BUILD" DESTDIR=/x/stage PREFIX=/opt/pp
printf '%s\n' "$OUT" | grep -qF -- "-DCMAKE_INSTALL_PREFIX=/opt/pp" || fail "make install ignores PREFIX: $OUT"
printf '%s\n' "$OUT" | grep -qE -- "DESTDIR=/x/stage cmake --install" || fail "make install ignores DESTDIR: $OUT"
ok

# debian/control builds on a clean Debian 12: every pkg-config module CMakeLists.txt
# requires comes from a package of Build-Depends (found by the owner of its .pc file).
if command -v pkg-config >/dev/null && command -v dpkg >/dev/null; then
	bdeps=$(sed -n '/^Build-Depends:/,/^[A-Z][A-Za-z-]*:/p' "$PP_SOURCE_DIR/debian/control" |
		sed 's/^Build-Depends://' | tr ',' '\n' | sed -E 's/^[[:space:]]*([^[:space:](]+).*/\1/')
	mods=$(grep -oE 'pkg_check_modules\([A-Z0-9_]+ REQUIRED IMPORTED_TARGET [^)]*\)' \
		"$PP_SOURCE_DIR/CMakeLists.txt" | sed -E 's/.*IMPORTED_TARGET //; s/\)$//' |
		tr ' ' '\n' | sed -E 's/[<>=].*//' | sed '/^$/d' | sort -u)
	[ -n "$mods" ] || fail "no pkg_check_modules found in CMakeLists.txt"
	for m in $mods; do
		pc=$(pkg-config --variable=pcfiledir "$m")/$m.pc
		owner=$(dpkg -S "$pc" 2>/dev/null | head -1 | cut -d: -f1)
		[ -n "$owner" ] || fail "no Debian package owns $pc (pkg-config module $m)"
		printf '%s\n' "$bdeps" | grep -qxF "$owner" ||
			fail "debian/control Build-Depends lacks $owner (pkg-config module $m of CMakeLists.txt)"
		ok
	done
else
	echo "note: pkg-config or dpkg missing: debian/control's Build-Depends not checked"
fi

# The package, when one was built.
# Only the one named: a .deb left in build-package/ may be older than the tree.
DEB=${PSKPROV_DEB:-}
if [ -z "$DEB" ]; then
	echo "note: PSKPROV_DEB is not set (.ci/run sets it after make package): no package checked"
elif ! command -v dpkg-deb >/dev/null; then
	echo "note: dpkg-deb is missing: $DEB was not checked"
else
	[ -f "$DEB" ] || fail "PSKPROV_DEB=$DEB is missing"
	dpkg-deb -c "$DEB" | awk '{ print $1, $6 }' | sed 's| \./| /|' >"$T/deb.list"
	has() { grep -qxF -- "$1 $2" "$T/deb.list" || fail "$(basename "$DEB") lacks $1 $2"; ok; }
	has -rwxr-xr-x /usr/bin/pskprov
	has -rw-r--r-- /usr/share/bash-completion/completions/pskprov
	has -rw-r--r-- /etc/pskprov/pskprov.conf
	has drwxr-xr-x /var/lib/pskprov/
	for src in "$PP_SOURCE_DIR"/docs/man/*.scd; do
		page=$(basename "$src" .scd)
		has -rw-r--r-- "/usr/share/man/man${page##*.}/$page.gz"
	done
	for unit in "$PP_SOURCE_DIR"/packaging/systemd/*.service; do
		has -rw-r--r-- "/lib/systemd/system/$(basename "$unit")"
	done
	dpkg-deb -e "$DEB" "$T/control"
	grep -qxF /etc/pskprov/pskprov.conf "$T/control/conffiles" || fail "pskprov.conf is not a conffile"
	grep -q 'adduser --system' "$T/control/postinst" || fail "postinst makes no pskprov user"
	grep -q 'chmod 0700 /var/lib/pskprov' "$T/control/postinst" || fail "postinst: /var/lib/pskprov not 0700"
	grep -q 'chown pskprov:pskprov /var/lib/pskprov' "$T/control/postinst" ||
		fail "postinst: /var/lib/pskprov not owned by pskprov"
	# Shipped disabled and stopped (dh_installsystemd --no-enable --no-start): the postinst
	# enables a unit only where the administrator had (debhelper's "new installations run
	# enable" block is absent) and starts none.
	! grep -q "new installations run enable" "$T/control/postinst" || fail "postinst enables a unit"
	! grep -qE "deb-systemd-invoke .*(start|restart)" "$T/control/postinst" || fail "postinst starts a unit"
	ok
	echo "checked $(basename "$DEB")"
fi
echo "installed under $PREFIX: $npages man pages, $units units"
finish
