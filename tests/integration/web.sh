#!/usr/bin/env bash
# web: the console's files as the server sends them (src/server/web.c, built in by
# cmake/embed.cmake): GET / is web/index.html and /static/NAME is web/NAME, byte for
# byte, with the content type of its kind; every file carries the console's
# Content-Security-Policy (docs/api.md), nosniff, no-referrer, DENY framing, no-cache
# and an ETag that answers If-None-Match with 304 (weak or in a list too) and changes
# with the bytes; HEAD sends the headers alone; unknown or malformed names are a JSON
# 404, other methods a 405 with Allow; GET /api/v1/openapi.json, without a token, is
# docs/api/openapi.json when the build has it.
. "$(dirname "$0")/lib/common.sh"
set -e
. "$(dirname "$0")/lib/proc.sh"
: "${PP_SOURCE_DIR:?PP_SOURCE_DIR must name the source tree}"
PB=$(port_base)
HP=$((PB + 1)) AP=$((PB + 2))
U="http://127.0.0.1:$AP"
CSP="default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

run "$P" init
expect_rc 0 init
start_server "$T/server.log" "127.0.0.1:$HP" "127.0.0.1:$AP"

# header NAME FILE: the value of a response header in a curl -D dump.
header() { awk -v n="$1" 'BEGIN { IGNORECASE = 1 } index(tolower($0), tolower(n) ": ") == 1 { sub(/^[^:]*: /, ""); sub(/\r$/, ""); print }' "$2"; }
# get PATH [CURL ARGS...]: status in $CODE, headers in $T/h, body in $T/b.
get() {
	local path=$1
	shift
	rm -f "$T/b" # curl writes no file for an empty body
	CODE=$(curl -s -m 10 -D "$T/h" -o "$T/b" -w '%{http_code}' "$@" "$U$path")
}

check_file() { # PATH SOURCE-FILE CONTENT-TYPE
	get "$1"
	[ "$CODE" = 200 ] || fail "$1: HTTP $CODE"
	cmp -s "$T/b" "$2" || fail "$1 differs from $2"
	[ "$(header Content-Type "$T/h")" = "$3" ] || fail "$1: Content-Type $(header Content-Type "$T/h")"
	[ "$(header Content-Security-Policy "$T/h")" = "$CSP" ] || fail "$1: CSP $(header Content-Security-Policy "$T/h")"
	[ "$(header X-Content-Type-Options "$T/h")" = nosniff ] || fail "$1: nosniff"
	[ "$(header Referrer-Policy "$T/h")" = no-referrer ] || fail "$1: Referrer-Policy"
	[ "$(header X-Frame-Options "$T/h")" = DENY ] || fail "$1: X-Frame-Options"
	[ "$(header Cache-Control "$T/h")" = no-cache ] || fail "$1: Cache-Control"
	ETAG=$(header ETag "$T/h")
	printf '%s' "$ETAG" | grep -Eq '^"[0-9a-f]{32}"$' || fail "$1: ETag '$ETAG'"
	ok
	# The same version: 304 without a body, for the tag alone, weak, or in a list.
	for inm in "$ETAG" "W/$ETAG" "\"0000\", $ETAG" '*'; do
		get "$1" -H "If-None-Match: $inm"
		[ "$CODE" = 304 ] || fail "$1: If-None-Match $inm: HTTP $CODE"
		[ ! -s "$T/b" ] || fail "$1: a 304 with a body"
		[ "$(header ETag "$T/h")" = "$ETAG" ] || fail "$1: 304 without its ETag"
	done
	get "$1" -H 'If-None-Match: "0123456789abcdef0123456789abcdef"'
	[ "$CODE" = 200 ] || fail "$1: another version's tag: HTTP $CODE"
	ok
	# HEAD: the headers, no body.
	CODE=$(curl -s -m 10 -I -D "$T/h" -o /dev/null -w '%{http_code}' "$U$1")
	[ "$CODE" = 200 ] && [ "$(header ETag "$T/h")" = "$ETAG" ] || fail "$1: HEAD: HTTP $CODE"
	[ "$(header Content-Length "$T/h")" = "$(stat -c %s "$2")" ] || fail "$1: HEAD: Content-Length"
	# Read to the end of the connection (curl -I would not see bytes after the headers).
	exec 3<>"/dev/tcp/127.0.0.1/$AP"
	printf 'HEAD %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' "$1" >&3
	timeout 10 cat <&3 >"$T/raw"
	exec 3<&-
	n=$(awk 'BEGIN { RS = "\r\n\r\n" } NR > 1 { print }' "$T/raw" | wc -c)
	[ "$n" -eq 0 ] || fail "$1: HEAD: $n bytes after the headers"
	ok
}

W="$PP_SOURCE_DIR/web"
check_file / "$W/index.html" "text/html; charset=utf-8"
check_file /static/index.html "$W/index.html" "text/html; charset=utf-8"
check_file /static/app.js "$W/app.js" "text/javascript; charset=utf-8"
check_file /static/style.css "$W/style.css" "text/css; charset=utf-8"
check_file /static/favicon.svg "$W/favicon.svg" "image/svg+xml"
# Each file its own tag.
tags=$(for f in index.html app.js style.css favicon.svg; do
	get "/static/$f"
	header ETag "$T/h"
done | sort -u | wc -l)
[ "$tags" -eq 4 ] || fail "ETags are not one per file"
ok

# The page loads nothing from elsewhere and has no inline script or style.
grep -Eiq '(src|href)="(https?:)?//' "$W/index.html" && fail "index.html names another origin"
grep -Eiq '<script>|<script [^>]*>[^<]|<style| style=| on[a-z]+=' "$W/index.html" &&
	fail "index.html has inline script or style"
grep -Eq 'innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function' "$W/app.js" &&
	fail "app.js writes HTML or evaluates text"
ok

# Unknown and malformed names: a JSON 404; other methods: 405 with Allow.
for path in /static/nope.js /static/ /static/.hidden /static/api/openapi.json \
	/static/a%2fb /static/app.js/x "/static/$(printf 'a%.0s' $(seq 65))"; do
	get "$path"
	[ "$CODE" = 404 ] || fail "$path: HTTP $CODE, expected 404"
	jq -e '.error | length > 0' "$T/b" >/dev/null || fail "$path: not a JSON error: $(cat "$T/b")"
done
ok
for m in POST PUT DELETE; do
	get /static/app.js -X "$m"
	[ "$CODE" = 405 ] || fail "$m /static/app.js: HTTP $CODE"
	header Allow "$T/h" | grep -q GET || fail "$m /static/app.js: no Allow"
done
ok

# The OpenAPI document, without a token.
if [ -f "$PP_SOURCE_DIR/docs/api/openapi.json" ]; then
	check_file /api/v1/openapi.json "$PP_SOURCE_DIR/docs/api/openapi.json" application/json
fi
finish
