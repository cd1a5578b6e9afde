#!/usr/bin/env python3
"""Part A of tests/integration/interop.sh: the requests Intel's RPS and MeshCentral send
to a provisioned AMT device, built by Intel's wsman-messages (requests.js), sent with
curl --digest to the device's plain HTTP port, each answer checked field by field as AMT
firmware answers. XML is read with xml.etree only (no pattern matching on XML text).

Expected property names come from the library's class models (requests.js models), the
rest from the specifications cited next to each expectation:
  DSP0226  DMTF WS-Management 1.1 (fault subcodes, codes and fault actions, Table 7/ 8.x)
  WS-Enum  WS-Enumeration 2004/09 (Enumerate, Pull, Release, InvalidEnumerationContext)
  SOAP12   SOAP 1.2 part 2 section 7.5.1: a Sender fault is HTTP 400, Receiver HTTP 500
  AMT SDK  Intel AMT SDK class reference (AMT_GeneralSettings, AMT_SetupAndConfiguration-
           Service, CIM_SoftwareIdentity instances, GetUuid, GetLowAccuracyTimeSynch)

Prints one line per request (ok / FAIL: what differs) and "N passed, M failed"; exits 1
when any check failed, 2 on a usage or tool error.
"""
import argparse
import base64
import io
import json
import os
import re
import subprocess
import sys
import time
import uuid as uuidlib
import xml.etree.ElementTree as ET

S = "http://www.w3.org/2003/05/soap-envelope"
WSA = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
WSMAN = "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"
WSEN = "http://schemas.xmlsoap.org/ws/2004/09/enumeration"
AMT = "http://intel.com/wbem/wscim/1/amt-schema/1/"
CIM = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/"
XFER = "http://schemas.xmlsoap.org/ws/2004/09/transfer/"
ANON = WSA + "/role/anonymous"
# Fault actions (DSP0226 annex, WS-Addressing, WS-Enumeration).
FAULT_ACTION = {
    WSA: WSA + "/fault",
    WSMAN: "http://schemas.dmtf.org/wbem/wsman/1/wsman/fault",
    WSEN: WSEN + "/fault",
}
SOFTWARE_IDS = [  # CIM_SoftwareIdentity InstanceIDs as AMT firmware reports them (AMT SDK)
    "Flash", "Netstack", "AMTApps", "AMT", "Sku", "VendorID", "Build Number",
    "Recovery Version", "Recovery Build Num", "Legacy Mode", "AMT FW Core Version",
]
VERSION_IDS = ["Flash", "Netstack", "AMTApps", "AMT", "AMT FW Core Version"]
GS_NAME = "Intel(r) AMT: General Settings"
SCS_NAME = "Intel(r) AMT Setup and Configuration Service"
ETH0 = "Intel(r) AMT Ethernet Port Settings 0"


def q(ns, local):
    return "{%s}%s" % (ns, local)


def split(tag):
    if tag.startswith("{"):
        ns, local = tag[1:].split("}", 1)
        return ns, local
    return "", tag


# ---- parsing: the tree plus the namespaces in scope at each element (for QName text) ----
class Doc:
    def __init__(self, data):
        self.scope = {}
        stack = [{"xml": "http://www.w3.org/XML/1998/namespace"}]
        pending = {}
        root = None
        for event, item in ET.iterparse(io.BytesIO(data), events=("start-ns", "start", "end")):
            if event == "start-ns":
                pending[item[0]] = item[1]
            elif event == "start":
                m = dict(stack[-1])
                m.update(pending)
                pending = {}
                stack.append(m)
                self.scope[id(item)] = m
                if root is None:
                    root = item
            else:
                stack.pop()
        self.root = root

    def qname(self, el):
        """The (namespace, local) an element's QName text names."""
        text = (el.text or "").strip()
        prefix, _, local = text.rpartition(":")
        return self.scope[id(el)].get(prefix), local


# ---- one answer and its checks ----
class Answer:
    def __init__(self, status, data, message_id, resource_uri):
        self.status = status
        self.diffs = []
        self.message_id = message_id
        self.resource_uri = resource_uri
        self.doc = None
        self.body = []
        self.header = None
        try:
            self.doc = Doc(data)
        except ET.ParseError as e:
            self.diffs.append("answer is not XML (%s; HTTP %s)" % (e, status))
            return
        root = self.doc.root
        if root.tag != q(S, "Envelope"):
            self.diffs.append("root element %s, expected {%s}Envelope" % (root.tag, S))
            return
        self.header = root.find(q(S, "Header"))
        body = root.find(q(S, "Body"))
        if self.header is None or body is None:
            self.diffs.append("no SOAP Header or Body")
            return
        self.body = list(body)

    def ok(self):
        return self.doc is not None and self.header is not None

    def diff(self, what):
        self.diffs.append(what)

    def head(self, ns, local):
        el = self.header.find(q(ns, local))
        return None if el is None else (el.text or "").strip()

    def envelope(self, status, action, resource_uri=True):
        if not self.ok():
            if self.status != status:
                self.diff("HTTP %s, expected %s" % (self.status, status))
            return False
        f = self.body[0] if len(self.body) == 1 and self.body[0].tag == q(S, "Fault") else None
        if f is not None and resource_uri:  # a fault where an answer was expected
            sub = f.find("/".join([q(S, "Code"), q(S, "Subcode"), q(S, "Value")]))
            text = f.find(q(S, "Reason") + "/" + q(S, "Text"))
            self.diff("answered with the fault %s (HTTP %s): %s" % (
                None if sub is None else (sub.text or "").strip(), self.status,
                None if text is None else (text.text or "").strip()))
            return False
        if self.status != status:
            self.diff("HTTP %s, expected %s" % (self.status, status))
        got = self.head(WSA, "Action")
        if got != action:
            self.diff("wsa:Action %s, expected %s" % (got, action))
        got = self.head(WSA, "RelatesTo")
        if got != str(self.message_id):
            self.diff("wsa:RelatesTo %s, expected %s (the request's MessageID)" % (got, self.message_id))
        got = self.head(WSA, "To")
        if got != ANON:
            self.diff("wsa:To %s, expected the anonymous address" % got)
        if not self.head(WSA, "MessageID"):
            self.diff("no wsa:MessageID")
        if resource_uri:
            got = self.head(WSMAN, "ResourceURI")
            if got != self.resource_uri:
                self.diff("wsman:ResourceURI %s, expected %s" % (got, self.resource_uri))
        return True

    def body_element(self, ns, local):
        """The single Body child, which must be {ns}local."""
        if len(self.body) != 1:
            self.diff("Body has %d elements, expected one {%s}%s" % (len(self.body), ns, local))
            return None
        el = self.body[0]
        if el.tag != q(ns, local):
            self.diff("Body element %s, expected {%s}%s" % (el.tag, ns, local))
            return None
        return el


def children(el):
    """Element children as an ordered list of (namespace, local, text)."""
    return [split(c.tag) + ((c.text or "").strip(),) for c in el]


# ---- instance checks: names from the library's models, values by the model's types ----
def value_ok(rule, text):
    if rule == "boolean":
        return text in ("true", "false")
    if rule == "number":
        return re.fullmatch(r"-?[0-9]+", text) is not None
    if isinstance(rule, dict) and "values" in rule:
        return re.fullmatch(r"-?[0-9]+", text) is not None and int(text) in rule["values"]
    if isinstance(rule, dict) and "arrayOf" in rule:
        return re.fullmatch(r"-?[0-9]+", text) is not None and int(text) in rule["arrayOf"]
    return True


def check_instance(a, el, ns, spec, what):
    """Properties of an instance element: all in the class namespace, every required name
    present, no name the library's model lacks, each value of the model's type."""
    props = {}
    for pns, local, text in children(el):
        if pns != ns:
            a.diff("%s: property %s in namespace %s, expected %s" % (what, local, pns, ns))
        props.setdefault(local, []).append(text)
    missing = [n for n in spec["required"] if n not in props]
    if missing:
        a.diff("%s: %d of %d properties missing: %s"
               % (what, len(missing), len(spec["required"]), ", ".join(missing)))
    unknown = [n for n in props if n not in spec["allowed"]]
    if unknown:
        a.diff("%s: properties not in the library's model: %s" % (what, ", ".join(unknown)))
    for name, texts in props.items():
        rule = spec["rules"].get(name)
        bad = [t for t in texts if not value_ok(rule, t)]
        if bad:
            a.diff("%s: %s = %r is not %s" % (what, name, bad[0], json.dumps(rule)))
    return {k: v[0] for k, v in props.items()}


def expect_values(a, props, want, what):
    for name, check in want.items():
        got = props.get(name)
        if got is None:
            continue  # reported as missing already
        if callable(check):
            msg = check(got)
            if msg:
                a.diff("%s: %s = %r: %s" % (what, name, got, msg))
        elif got != check:
            a.diff("%s: %s = %r, expected %r" % (what, name, got, check))


def smbios_uuid(raw):
    """16 bytes in SMBIOS order (first three fields little-endian) as a UUID string."""
    return str(uuidlib.UUID(bytes_le=bytes(raw)))


# Properties the AMT SDK class reference has (and firmware reports) that the library's
# models lack: allowed, never required.
AMT_SDK_EXTRAS = {
    # AMT_GeneralSettings.DHCPSyncRequiresHostname (AMT SDK, Release 11.0 and later).
    "GeneralSettings": ["DHCPSyncRequiresHostname"],
    # AMT_SetupAndConfigurationService: ConfigurationServerFQDN, DhcpDNSSuffix and
    # TrustedDNSSuffix (AMT SDK, Release 7.0 and later).
    "SetupAndConfigurationService": ["ConfigurationServerFQDN", "DhcpDNSSuffix",
                                     "TrustedDNSSuffix"],
}
# The DMTF CIM schema (CIM_ComputerSystemPackage.mof) and firmware spell the property
# PlatformGUID; the library's TypeScript model writes PlatformGuid.
CIM_SPELLING = {"PlatformGuid": "PlatformGUID"}


# ---- the expectations of each class, from the library's models ----
def specs(models):
    def spec(required, allowed, rules):
        unknown = [n for n in required if n not in allowed]
        if unknown:  # a typo here would weaken the test: refuse it
            raise SystemExit("check_answers.py: %s not in the library's model" % unknown)
        return {"required": required, "allowed": set(allowed), "rules": rules}

    def cim(names):
        return [CIM_SPELLING.get(n, n) for n in names]

    gs = models["GeneralSettings"]
    scs = models["SetupAndConfigurationService"]["nested"]["AMT_SetupAndConfigurationService"]
    si = models["SoftwareIdentity"]
    eth = models["EthernetPortSettings"]
    csp = models["ComputerSystemPackage"]
    auth = models["AuthorizationService"]
    return {
        # AMT_GeneralSettings: every property of the model's own, ElementName and
        # InstanceID of CIM_SettingData; OemID only from AMT 16.1 (AMT SDK), so optional.
        "GeneralSettings": spec(
            [n for n in gs["own"] if n != "OemID"] + ["ElementName", "InstanceID"],
            gs["all"] + AMT_SDK_EXTRAS["GeneralSettings"], gs["rules"]),
        # AMT_SetupAndConfigurationService: the twelve the model spells out.
        "SetupAndConfigurationService": spec(scs["all"], scs["all"] + models[
            "SetupAndConfigurationService"]["all"] + AMT_SDK_EXTRAS[
            "SetupAndConfigurationService"], {}),
        # CIM_SoftwareIdentity items: the model's required InstanceID, VersionString, IsEntity.
        "SoftwareIdentity": spec(si["nested"]["CIM_SoftwareIdentity"]["required"],
                                 si["nested"]["CIM_SoftwareIdentity"]["all"] + si["all"],
                                 {"IsEntity": "boolean"}),
        # AMT_EthernetPortSettings: what firmware reports for the wired port whatever its
        # addressing (AMT SDK); addresses come and go with DHCP and link state.
        "EthernetPortSettings": spec(
            ["ElementName", "InstanceID", "MACAddress", "LinkIsUp", "DHCPEnabled",
             "SharedMAC", "IpSyncEnabled", "LinkPolicy", "PhysicalConnectionType"],
            eth["all"], eth["rules"]),
        # CIM_ComputerSystemPackage: the association and the platform GUID.
        "ComputerSystemPackage": spec(cim(csp["all"]), cim(csp["all"]), {}),
        # AMT_AuthorizationService: the model's required property and the CIM_Service keys.
        "AuthorizationService": spec(
            auth["required"] + ["CreationClassName", "ElementName", "Name",
                                "SystemCreationClassName", "SystemName"],
            auth["all"], {"AllowHttpQopAuthOnly": {"values": [0, 1]}}),
    }


# ---- the run ----
class Run:
    def __init__(self, args):
        self.args = args
        self.models = json.loads(self.node("models"))
        self.spec = specs(self.models)
        self.next_id = 1
        self.passed = 0
        self.failed = 0
        self.state = {}
        os.makedirs(args.work, mode=0o700, exist_ok=True)

    def node(self, *argv):
        r = subprocess.run(["node", self.args.requests] + list(argv), capture_output=True,
                           timeout=30)
        if r.returncode != 0:
            raise SystemExit("requests.js %s: %s" % (argv[0], r.stderr.decode(errors="replace")))
        return r.stdout

    def send(self, op, args):
        mid = self.next_id
        self.next_id += 1
        env = self.node("build", op, str(mid), json.dumps(args))
        req = Doc(env)
        uri = (req.root.find(q(S, "Header")).find(q(WSMAN, "ResourceURI")).text or "").strip()
        base = os.path.join(self.args.work, "%02d" % mid)
        with open(base + "-request.xml", "wb") as f:
            f.write(env)
        r = subprocess.run(
            ["curl", "-s", "--digest", "-K", self.args.curl_config, "--max-time", "10",
             "-H", "Content-Type: application/soap+xml;charset=UTF-8",
             "--data-binary", "@" + base + "-request.xml", "-o", base + "-answer.xml",
             "-w", "%{http_code}", self.args.url], capture_output=True, timeout=30)
        status = int(r.stdout or b"0")
        data = b""
        if os.path.exists(base + "-answer.xml"):
            with open(base + "-answer.xml", "rb") as f:
                data = f.read()
        return Answer(status, data, mid, uri)

    def step(self, name, op, args, check):
        a = self.send(op, args)
        if a.ok() or a.diffs == []:
            try:
                check(self, a)
            except (KeyError, AttributeError, TypeError, ValueError) as e:
                a.diff("unexpected answer shape (%s: %s)" % (type(e).__name__, e))
        if a.diffs:
            self.failed += 1
            print("%-58s FAIL: %s" % (name, "; ".join(a.diffs)))
        else:
            self.passed += 1
            print("%-58s ok" % name)
        sys.stdout.flush()


# ---- the checks, one per request kind ----
def get_instance(cls, ns_uri, key, extra=None):
    def check(run, a):
        if not a.envelope(200, XFER + "GetResponse"):
            return
        el = a.body_element(ns_uri, cls)
        if el is None:
            return
        props = check_instance(a, el, ns_uri, run.spec[key], cls)
        if extra:
            extra(run, a, props)
    return check


def digest_realm(v):
    return None if re.fullmatch(r"Digest:[0-9A-F]{32}", v) else "not Digest: and 32 hex digits"


def gs_values(run, a, props):
    expect_values(a, props, {"ElementName": GS_NAME, "InstanceID": GS_NAME,
                             "DigestRealm": digest_realm, "AMTNetworkEnabled": "1"},
                  "AMT_GeneralSettings")
    if "host" not in run.state:
        run.state["gs"] = props
        expect_values(a, props, {"HostName": run.args.host_name}, "AMT_GeneralSettings")


def scs_values(run, a, props):
    expect_values(a, props, {
        "ProvisioningState": "2",  # Post-Setup (AMT SDK: 0 Pre, 1 In, 2 Post)
        "ElementName": SCS_NAME, "Name": SCS_NAME,
        "CreationClassName": "AMT_SetupAndConfigurationService",
        "SystemCreationClassName": "CIM_ComputerSystem", "SystemName": "Intel(r) AMT",
    }, "AMT_SetupAndConfigurationService")


def method_output(cls_uri, method, outputs):
    """A method's _OUTPUT element: its children are exactly `outputs` plus ReturnValue 0."""
    def check(run, a):
        if not a.envelope(200, cls_uri + "/" + method + "Response"):
            return
        el = a.body_element(cls_uri, method + "_OUTPUT")
        if el is None:
            return
        got = {local: text for ns, local, text in children(el) if ns == cls_uri}
        names = sorted(local for _, local, _ in children(el))
        want = sorted(list(outputs) + ["ReturnValue"])
        if names != want:
            a.diff("%s_OUTPUT holds %s, expected %s" % (method, names, want))
        if got.get("ReturnValue") not in (None, "0"):
            a.diff("ReturnValue %s, expected 0" % got.get("ReturnValue"))
        for name, test in outputs.items():
            if name in got:
                msg = test(run, got[name])
                if msg:
                    a.diff("%s = %r: %s" % (name, got[name], msg))
    return check


def uuid_value(run, text):
    try:
        raw = base64.b64decode(text, validate=True)
    except ValueError:
        return "not base64"
    if len(raw) != 16:
        return "decodes to %d bytes, expected 16" % len(raw)
    got = smbios_uuid(raw)
    if got != run.args.uuid.lower():
        return "decodes (SMBIOS byte order) to %s, expected the device's %s" % (got, run.args.uuid)
    return None


def ta0_value(run, text):
    if not re.fullmatch(r"[0-9]+", text):
        return "not seconds since 1970"
    if abs(int(text) - time.time()) > 600:
        return "more than 600 s from this host's clock"
    return None


def enumerate_ok(key):
    def check(run, a):
        if not a.envelope(200, WSEN + "/EnumerateResponse"):
            return
        el = a.body_element(WSEN, "EnumerateResponse")
        if el is None:
            return
        ctx = el.find(q(WSEN, "EnumerationContext"))
        if ctx is None or not (ctx.text or "").strip():
            a.diff("EnumerateResponse has no wsen:EnumerationContext")
            return
        run.state[key] = ctx.text.strip()
    return check


def pull_items(cls, ns_uri, key, items_check):
    def check(run, a):
        if not a.envelope(200, WSEN + "/PullResponse"):
            return
        el = a.body_element(WSEN, "PullResponse")
        if el is None:
            return
        items = el.find(q(WSEN, "Items"))
        if items is None:
            a.diff("PullResponse has no wsen:Items")
            return
        if el.find(q(WSEN, "EndOfSequence")) is None:
            a.diff("PullResponse has no wsen:EndOfSequence (all items fit in one Pull)")
        found = []
        for i, item in enumerate(items):
            if item.tag != q(ns_uri, cls):
                a.diff("item %d is %s, expected {%s}%s" % (i, item.tag, ns_uri, cls))
                continue
            found.append(check_instance(a, item, ns_uri, run.spec[key], "%s item %d" % (cls, i)))
        if not found:
            a.diff("no %s items" % cls)
        elif items_check:
            items_check(run, a, found)
    return check


def software_items(run, a, items):
    ids = [p.get("InstanceID") for p in items]
    missing = [i for i in SOFTWARE_IDS if i not in ids]
    if missing:
        a.diff("InstanceIDs missing: %s (got %s)" % (", ".join(missing), ", ".join(map(str, ids))))
    byid = {p.get("InstanceID"): p for p in items}
    for i in VERSION_IDS:
        v = byid.get(i, {}).get("VersionString")
        if v is not None and not re.fullmatch(r"[0-9]+\.[0-9]+\.[0-9]+", v):
            a.diff("%s VersionString %r is not major.minor.hotfix" % (i, v))
    v = byid.get("VendorID", {}).get("VersionString")
    if v is not None and v != "8086":
        a.diff("VendorID VersionString %r, expected 8086" % v)


def ethernet_items(run, a, items):
    if items[0].get("InstanceID") != ETH0:
        a.diff("first InstanceID %r, expected %r" % (items[0].get("InstanceID"), ETH0))
    mac = items[0].get("MACAddress")
    if mac is not None and not re.fullmatch(r"([0-9a-f]{2}-){5}[0-9a-f]{2}", mac):
        a.diff("MACAddress %r is not six lower-case hex pairs joined by '-'" % mac)


def gs_items(run, a, items):
    if len(items) != 1:
        a.diff("%d AMT_GeneralSettings items, expected 1" % len(items))
    expect_values(a, items[0], {"InstanceID": GS_NAME}, "AMT_GeneralSettings")


def csp_values(run, a, props):
    g = props.get("PlatformGUID")
    if g is None:
        return
    if not re.fullmatch(r"[0-9A-Fa-f]{32}", g):
        a.diff("PlatformGUID %r is not 32 hex digits" % g)
    elif smbios_uuid(bytes.fromhex(g)) != run.args.uuid.lower():
        a.diff("PlatformGUID %s is not the device's UUID %s in SMBIOS byte order" % (g, run.args.uuid))


def put_args(run):
    inst = dict(run.state.get("gs") or {})
    if not inst:
        return None
    run.state["new_host"] = "interop-" + run.args.host_name[-8:]
    inst["HostName"] = run.state["new_host"]
    return [inst]


def put_check(run, a):
    run.state["host"] = True
    if not a.envelope(200, XFER + "PutResponse"):
        return
    el = a.body_element(AMT + "AMT_GeneralSettings", "AMT_GeneralSettings")
    if el is None:
        return
    props = check_instance(a, el, AMT + "AMT_GeneralSettings", run.spec["GeneralSettings"],
                           "AMT_GeneralSettings (PutResponse)")
    expect_values(a, props, {"HostName": run.state["new_host"]}, "AMT_GeneralSettings")


def reread_check(run, a):
    get_instance("AMT_GeneralSettings", AMT + "AMT_GeneralSettings", "GeneralSettings")(run, a)
    if not a.body:
        return
    props = {local: text for _, local, text in children(a.body[0])}
    want = dict(run.state["gs"])
    want["HostName"] = run.state["new_host"]
    changed = [k for k in want if props.get(k) != want[k]]
    if changed:
        a.diff("after the Put, differs from the instance written: %s" % ", ".join(
            "%s=%r (wrote %r)" % (k, props.get(k), want[k]) for k in changed))


def release_check(run, a):
    if not a.envelope(200, WSEN + "/ReleaseResponse"):
        return
    if a.body:
        a.diff("ReleaseResponse Body holds %s, expected it empty (WS-Enum 3.5)" % a.body[0].tag)


def fault(ns, subcode, code):
    """A SOAP fault: the code and subcode QNames, the fault action of the subcode's
    specification, HTTP 400 for Sender and 500 for Receiver (SOAP12 7.5.1)."""
    def check(run, a):
        if not a.envelope(400 if code == "Sender" else 500, FAULT_ACTION[ns], resource_uri=False):
            return
        el = a.body_element(S, "Fault")
        if el is None:
            return
        v = el.find(q(S, "Code") + "/" + q(S, "Value"))
        if v is None or a.doc.qname(v) != (S, code):
            a.diff("fault Code %s, expected s:%s" % (None if v is None else v.text, code))
        v = el.find("/".join([q(S, "Code"), q(S, "Subcode"), q(S, "Value")]))
        if v is None or a.doc.qname(v) != (ns, subcode):
            a.diff("fault Subcode %s, expected {%s}%s" % (
                None if v is None else "{%s}%s" % a.doc.qname(v), ns, subcode))
        r = el.find(q(S, "Reason") + "/" + q(S, "Text"))
        if r is None or not (r.text or "").strip():
            a.diff("fault without a Reason Text")
    return check


def const(*args):
    return lambda run: list(args)


def ctx(key):
    return lambda run: [run.state.get(key, "no-context-from-the-enumerate")]


GSU = AMT + "AMT_GeneralSettings"
SCSU = AMT + "AMT_SetupAndConfigurationService"
SIU = CIM + "CIM_SoftwareIdentity"
ETHU = AMT + "AMT_EthernetPortSettings"
TSU = AMT + "AMT_TimeSynchronizationService"

# (line, operation of requests.js, its arguments, the check of the answer)
STEPS = [
    ("Get AMT_GeneralSettings", "GeneralSettings.Get", const(),
     get_instance("AMT_GeneralSettings", GSU, "GeneralSettings", gs_values)),
    ("Get AMT_SetupAndConfigurationService", "SetupAndConfigurationService.Get", const(),
     get_instance("AMT_SetupAndConfigurationService", SCSU, "SetupAndConfigurationService",
                  scs_values)),
    ("AMT_SetupAndConfigurationService GetUuid", "SetupAndConfigurationService.GetUuid",
     const(), method_output(SCSU, "GetUuid", {"UUID": uuid_value})),
    ("Enumerate CIM_SoftwareIdentity", "SoftwareIdentity.Enumerate", const(),
     enumerate_ok("si")),
    ("Pull CIM_SoftwareIdentity", "SoftwareIdentity.Pull", ctx("si"),
     pull_items("CIM_SoftwareIdentity", SIU, "SoftwareIdentity", software_items)),
    ("Get CIM_SoftwareIdentity InstanceID=AMT", "SoftwareIdentity.Get", const("AMT"),
     get_instance("CIM_SoftwareIdentity", SIU, "SoftwareIdentity",
                  lambda run, a, p: expect_values(a, p, {"InstanceID": "AMT"}, "item"))),
    ("Enumerate AMT_EthernetPortSettings", "EthernetPortSettings.Enumerate", const(),
     enumerate_ok("eth")),
    ("Pull AMT_EthernetPortSettings", "EthernetPortSettings.Pull", ctx("eth"),
     pull_items("AMT_EthernetPortSettings", ETHU, "EthernetPortSettings", ethernet_items)),
    ("Get CIM_ComputerSystemPackage", "ComputerSystemPackage.Get", const(),
     get_instance("CIM_ComputerSystemPackage", CIM + "CIM_ComputerSystemPackage",
                  "ComputerSystemPackage", csp_values)),
    ("AMT_TimeSynchronizationService GetLowAccuracyTimeSynch",
     "TimeSynchronizationService.GetLowAccuracyTimeSynch", const(),
     method_output(TSU, "GetLowAccuracyTimeSynch", {"Ta0": ta0_value})),
    ("Get AMT_AuthorizationService", "AuthorizationService.Get", const(),
     get_instance("AMT_AuthorizationService", AMT + "AMT_AuthorizationService",
                  "AuthorizationService")),
    ("Enumerate AMT_GeneralSettings", "GeneralSettings.Enumerate", const(),
     enumerate_ok("gs_ctx")),
    ("Pull AMT_GeneralSettings", "GeneralSettings.Pull", ctx("gs_ctx"),
     pull_items("AMT_GeneralSettings", GSU, "GeneralSettings", gs_items)),
    ("Put AMT_GeneralSettings (instance read back, HostName new)", "GeneralSettings.Put",
     put_args, put_check),
    ("Get AMT_GeneralSettings after the Put", "GeneralSettings.Get", const(), reread_check),
    ("Enumerate AMT_EthernetPortSettings (to release)", "EthernetPortSettings.Enumerate",
     const(), enumerate_ok("rel")),
    ("Release the enumeration context", "EthernetPortSettings.Release", ctx("rel"),
     release_check),
    ("Pull with the released context: wsen:InvalidEnumerationContext",
     "EthernetPortSettings.Pull", ctx("rel"), fault(WSEN, "InvalidEnumerationContext", "Receiver")),
    ("Pull with an unknown context: wsen:InvalidEnumerationContext", "SoftwareIdentity.Pull",
     const("uuid:00000000-0000-0000-0000-00000000dead"),
     fault(WSEN, "InvalidEnumerationContext", "Receiver")),
    ("Get AMT_NoSuchClass: wsa:DestinationUnreachable", "NoSuchClass.Get", const(),
     fault(WSA, "DestinationUnreachable", "Sender")),
    ("AMT_SetupAndConfigurationService NoSuchMethod: wsa:ActionNotSupported",
     "SetupAndConfigurationService.NoSuchMethod", const(),
     fault(WSA, "ActionNotSupported", "Sender")),
    ("Get CIM_SoftwareIdentity, no selector: wsman:InvalidSelectors", "SoftwareIdentity.Get",
     const(), fault(WSMAN, "InvalidSelectors", "Sender")),
]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", required=True)
    p.add_argument("--curl-config", required=True, help="0600 curl config with user = ...")
    p.add_argument("--uuid", required=True, help="the device's UUID")
    p.add_argument("--host-name", required=True, help="the HostName the server set")
    p.add_argument("--requests", required=True, help="path of requests.js")
    p.add_argument("--work", required=True, help="directory for requests and answers")
    args = p.parse_args()
    run = Run(args)
    for name, op, argf, check in STEPS:
        a = argf(run)
        if a is None:
            run.failed += 1
            print("%-58s FAIL: not sent (needs an earlier answer that failed)" % name)
            continue
        run.step(name, op, a, check)
    print("%d passed, %d failed" % (run.passed, run.failed))
    return 1 if run.failed else 0


if __name__ == "__main__":
    sys.exit(main())
