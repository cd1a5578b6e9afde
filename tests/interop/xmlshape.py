#!/usr/bin/env python3
"""The shape of WS-Management requests, for compare.js (node has no XML parser): for each
file argument ('-' reads one envelope from stdin) one JSON object on its own line:
  {"file", "action", "resource_uri", "message_id", "header": [[ns, local], ...],
   "selectors": [[name, value], ...],
   "body": [{"ns", "local", "children": [{"ns", "local", "text", "children": [...]}]}]}
or {"file", "error"} when it is not a SOAP 1.2 envelope. xml.etree only."""
import json
import sys
import xml.etree.ElementTree as ET

S = "http://www.w3.org/2003/05/soap-envelope"
WSA = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
WSMAN = "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"


def split(tag):
    if tag.startswith("{"):
        ns, local = tag[1:].split("}", 1)
        return ns, local
    return "", tag


def tree(el, depth):
    ns, local = split(el.tag)
    node = {"ns": ns, "local": local, "text": (el.text or "").strip()}
    if depth > 0:
        node["children"] = [tree(c, depth - 1) for c in el]
    return node


def shape(name, data):
    try:
        root = ET.fromstring(data)
    except ET.ParseError as e:
        return {"file": name, "error": "not XML: %s" % e}
    if root.tag != "{%s}Envelope" % S:
        return {"file": name, "error": "root %s is not a SOAP 1.2 Envelope" % root.tag}
    header = root.find("{%s}Header" % S)
    body = root.find("{%s}Body" % S)
    if header is None or body is None:
        return {"file": name, "error": "no SOAP Header or Body"}

    def text(ns, local):
        el = header.find("{%s}%s" % (ns, local))
        return None if el is None else (el.text or "").strip()

    sels = header.findall("{%s}SelectorSet/{%s}Selector" % (WSMAN, WSMAN))
    return {
        "file": name,
        "action": text(WSA, "Action"),
        "resource_uri": text(WSMAN, "ResourceURI"),
        "message_id": text(WSA, "MessageID"),
        "header": [list(split(c.tag)) for c in header],
        "selectors": [[s.get("Name"), (s.text or "").strip()] for s in sels],
        "body": [tree(c, 2) for c in body],
    }


def main(argv):
    for name in argv:
        if name == "-":
            data = sys.stdin.buffer.read()
        else:
            with open(name, "rb") as f:
                data = f.read()
        print(json.dumps(shape(name, data)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
