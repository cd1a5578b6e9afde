#!/usr/bin/env bash
# openapi: docs/api/openapi.json, the API's contract, is a valid OpenAPI 3 document
# (swagger-cli, test-only, tests/interop); a running server serves exactly that file at
# GET /api/v1/openapi.json, with no token; and the document and the server's route table
# (`pskprov server --print-routes`, the table the server dispatches on) name the same
# routes and methods: a route the document lacks, or a documented one the server does
# not have, fails here. Every /api/v1 operation but openapi.json needs the bearer scheme
# and documents its errors.
. "$(dirname "$0")/lib/common.sh"
set -e
for tool in node jq curl timeout; do
	command -v "$tool" >/dev/null || skip "$tool is not installed (scripts/deps.sh)"
done
DOC=$PP_SOURCE_DIR/docs/api/openapi.json
I=$PP_SOURCE_DIR/tests/interop
SWAGGER=$I/node_modules/.bin/swagger-cli
node "$I/installed.js" ||
	fail "tests/interop/node_modules is missing or stale: run scripts/deps.sh (make deps)"
[ -x "$SWAGGER" ] || fail "swagger-cli is not in tests/interop/node_modules"

# ---- the document is valid OpenAPI 3.0 ----
timeout 60 "$SWAGGER" validate "$DOC" >"$T/validate.out" 2>&1 ||
	fail "swagger-cli: $(cat "$T/validate.out")"
[ "$(jq -r .openapi "$DOC")" = 3.0.3 ] || fail "not OpenAPI 3.0.3"
ok
# The validator does fail on a broken document (a response without its description).
jq 'del(.paths["/api/v1/status"].get.responses["200"].description)' "$DOC" >"$T/broken.json"
if timeout 60 "$SWAGGER" validate "$T/broken.json" >/dev/null 2>&1; then
	fail "swagger-cli accepted a broken document"
fi
ok

# ---- the route table and the document name the same routes ----
run "$P" server --print-routes
expect_rc 0 "--print-routes"
printf '%s\n' "$OUT" | sort >"$T/code.routes"
[ "$(wc -l <"$T/code.routes")" -ge 20 ] || fail "too few routes printed: $OUT"
jq -r '.paths | to_entries[] | .key as $p | .value | keys[] | select(. != "parameters") |
	"\(ascii_upcase) \($p)"' "$DOC" | sort >"$T/doc.routes"
if ! diff -u "$T/doc.routes" "$T/code.routes" >"$T/routes.diff"; then
	fail "routes differ (- the document only, + the server only): $(grep '^[-+][A-Z]' "$T/routes.diff" | tr '\n' ' ')"
fi
ok
# The comparison does catch a route missing from either side.
grep -v ' /api/v1/audit$' "$T/doc.routes" >"$T/doc.less"
diff -q "$T/doc.less" "$T/code.routes" >/dev/null && fail "a missing route went unnoticed"
ok

# ---- every /api/v1 operation: bearer (but openapi.json), its errors documented ----
bad=$(jq -r '.paths | to_entries[] | select(.key | startswith("/api/v1/")) |
	select(.key != "/api/v1/openapi.json") | .key as $p | .value | to_entries[] |
	select((.value.security // [{"bearer": []}]) != [{"bearer": []}]
	       or (.value.responses | has("401") | not)
	       or (.value.responses | has("403") | not)
	       or (.value.responses | has("429") | not)) | "\(.key) \($p)"' "$DOC")
[ -z "$bad" ] || fail "operations without bearer security or their 401/403/429: $bad"
for c in DEVICE JOB EVENT BATCH KEY AUDIT_ENTRY ERROR; do
	jq -e --arg c "$c" '.components.schemas[$c]' "$DOC" >/dev/null || fail "no schema $c"
done
jq -e '.components.securitySchemes.bearer.scheme == "bearer"' "$DOC" >/dev/null ||
	fail "no bearer security scheme"
ok

# ---- a running server serves the same file ----
. "$(dirname "$0")/lib/proc.sh"
HP=$(port_base)
AP=$((HP + 1))
run "$P" init
expect_rc 0 init
start_server "$T/server.log" 127.0.0.1:$HP 127.0.0.1:$AP
code=$(curl -s -o "$T/served.json" -w '%{http_code}' "http://127.0.0.1:$AP/api/v1/openapi.json")
[ "$code" = 200 ] || fail "GET /api/v1/openapi.json: $code"
cmp -s "$T/served.json" "$DOC" || fail "the served document differs from docs/api/openapi.json"
ok
# Not a POST.
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$AP/api/v1/openapi.json")
[ "$code" = 405 ] || fail "POST /api/v1/openapi.json: $code"
ok
finish
