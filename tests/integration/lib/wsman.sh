# A small WS-Management client for the tests that play the configuration server against
# an emulated device (docs/protocol.md section 4): SOAP envelopes, HTTP Digest, one
# exchange over TLS-PSK with openssl s_client. Sourced after common.sh.
NS='xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:wsman="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"'
AMT=http://intel.com/wbem/wscim/1/amt-schema/1
CIM=http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2
ANON=http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous
envelope() { # ACTION RESOURCE_URI BODY
	printf '<?xml version="1.0" encoding="UTF-8"?><s:Envelope %s><s:Header><wsa:Action s:mustUnderstand="true">%s</wsa:Action><wsa:To s:mustUnderstand="true">/wsman</wsa:To><wsman:ResourceURI s:mustUnderstand="true">%s</wsman:ResourceURI><wsa:MessageID s:mustUnderstand="true">uuid:%s</wsa:MessageID><wsa:ReplyTo><wsa:Address>%s</wsa:Address></wsa:ReplyTo><wsman:OperationTimeout>PT60S</wsman:OperationTimeout></s:Header><s:Body>%s</s:Body></s:Envelope>' \
		"$NS" "$1" "$2" "$(cat /proc/sys/kernel/random/uuid)" "$ANON" "$3"
}
ws_get() { envelope http://schemas.xmlsoap.org/ws/2004/09/transfer/Get "$1" ""; }
# A Get with one selector: the header gains a wsman:SelectorSet.
ws_get_sel() { # RESOURCE_URI NAME VALUE
	ws_get "$1" | sed "s|</wsman:ResourceURI>|</wsman:ResourceURI><wsman:SelectorSet><wsman:Selector Name=\"$2\">$3</wsman:Selector></wsman:SelectorSet>|"
}
ws_put_names() { # HOST DOMAIN
	envelope http://schemas.xmlsoap.org/ws/2004/09/transfer/Put "$AMT/AMT_GeneralSettings" \
		"<g:AMT_GeneralSettings xmlns:g=\"$AMT/AMT_GeneralSettings\"><g:HostName>$1</g:HostName><g:DomainName>$2</g:DomainName></g:AMT_GeneralSettings>"
}
ws_invoke() { # CLASS METHOD PARAMS_XML
	envelope "$AMT/$1/$2" "$AMT/$1" "<h:$2_INPUT xmlns:h=\"$AMT/$1\">$3</h:$2_INPUT>"
}
http_req() { # BODY_FILE [AUTHORIZATION] [PATH]
	printf 'POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/soap+xml;charset=UTF-8\r\nConnection: close\r\n' \
		"${3:-/wsman}" "$W_ADDR"
	[ -z "${2:-}" ] || printf 'Authorization: %s\r\n' "$2"
	printf 'Content-Length: %s\r\n\r\n' "$(wc -c <"$1")"
	cat "$1"
}
# One HTTP exchange over TLS-PSK with s_client: W_ADDR, W_PORT (else $TLS_PORT), W_PID
# (the PID without dashes), W_HEX (the PSK).
tls_http() {
	timeout 10 openssl s_client -quiet -connect "$W_ADDR:${W_PORT:-$TLS_PORT}" -psk "$W_HEX" \
		-psk_identity "$W_PID" -tls1_2 <"$1" 2>/dev/null | tr -d '\r' || true
}
# wsman USER PASS BODY_FILE: the request without credentials (expects the 401 and its
# challenge), then with Digest (RFC 7616, MD5, qop=auth). Sets CHAL, REALM and RESP.
wsman() {
	http_req "$3" >"$T/req1"
	CHAL=$(tls_http "$T/req1")
	local realm nonce ha1 ha2 cn rs
	realm=$(printf '%s\n' "$CHAL" | sed -n 's/^WWW-Authenticate: .*realm="\([^"]*\)".*/\1/p')
	nonce=$(printf '%s\n' "$CHAL" | sed -n 's/^WWW-Authenticate: .*nonce="\([^"]*\)".*/\1/p')
	[ -n "$nonce" ] || fail "$W_ADDR: no Digest challenge: $(printf '%s' "$CHAL" | head -3)"
	ha1=$(md5hex "$1:$realm:$2")
	ha2=$(md5hex "POST:/wsman")
	cn=$(openssl rand -hex 8)
	rs=$(md5hex "$ha1:$nonce:00000001:$cn:auth:$ha2")
	http_req "$3" "Digest username=\"$1\", realm=\"$realm\", nonce=\"$nonce\", uri=\"/wsman\", algorithm=MD5, response=\"$rs\", qop=auth, nc=00000001, cnonce=\"$cn\"" >"$T/req2"
	RESP=$(tls_http "$T/req2")
	REALM=$realm
}
status() { printf '%s\n' "$RESP" | head -1 | cut -d' ' -f2; }
# xval NAME: the text of the first element NAME in RESP.
xval() { printf '%s' "$RESP" | grep -o "$1>[^<]*<" | head -1 | sed 's/^[^>]*>//; s/<$//'; }
