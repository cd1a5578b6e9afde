// Part B of tests/integration/interop.sh: every request the configuration server sent to
// an emulated device (written by the device's --wsman-trace as NNNNNN-<address>.xml,
// secrets replaced by "(hidden)") compared with the envelope Intel's wsman-messages builds
// for the same operation, with the same parameter values where the library takes them.
// Compared: ResourceURI, Action, selectors, the header elements present, the body element
// names, their namespaces and their order (parameter order). Not compared: MessageID
// values, whitespace, namespace prefixes, values the library is given from the trace.
// Operations the library lacks are compared with REFERENCES below (cited).
//   node compare.js [--sequence] DIR
// --sequence also checks each device's operations against the server's expected sequence.
// Prints one line per traced request and "N passed, M failed"; exit 1 when any failed.
'use strict';
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');
const intel = require('./intel.js');

const AMT = 'http://intel.com/wbem/wscim/1/amt-schema/1/';
const SCS = `${AMT}AMT_SetupAndConfigurationService`;
const WSEN = 'http://schemas.xmlsoap.org/ws/2004/09/enumeration';

// Operations wsman-messages 5.14.1 does not build, from the Intel AMT SDK class reference.
const REFERENCES = {
	// AMT SDK, AMT_SetupAndConfigurationService.SetTLSPSK(PID, PPS): "PID: the 8-byte
	// Provisioning ID, base64; PPS: the 32-byte Pre-Provisioning Secret, base64". Removed
	// from wsman-messages (it had it as SetupAndConfigurationService.SetTLSPSK).
	'SetupAndConfigurationService.SetTLSPSK': {
		cite: 'AMT SDK AMT_SetupAndConfigurationService.SetTLSPSK',
		action: `${SCS}/SetTLSPSK`,
		cls: 'AMT_SetupAndConfigurationService',
		body: (a) =>
			`<Body><h:SetTLSPSK_INPUT xmlns:h="${SCS}"><h:PID>${a.PID}</h:PID>` +
			`<h:PPS>${a.PPS}</h:PPS></h:SetTLSPSK_INPUT></Body>`
	}
};

// The library's parameter names per method, in the order its builders take them.
const PARAMS = {
	'SetupAndConfigurationService.SetMEBxPassword': ['Password'],
	'SetupAndConfigurationService.Unprovision': ['ProvisioningMode'],
	'AuthorizationService.SetAdminAclEntryEx': ['Username', 'DigestPassword'],
	'TimeSynchronizationService.SetHighAccuracyTimeSynch': ['Ta0', 'Tm1', 'Tm2']
};

// The server's sequence after its rewrite (docs: the configuration server's setup).
const SEQUENCE = [
	'GeneralSettings.Get',
	'SetupAndConfigurationService.Get',
	'SetupAndConfigurationService.GetUuid',
	'SoftwareIdentity.Enumerate',
	'SoftwareIdentity.Pull',
	'AuthorizationService.SetAdminAclEntryEx',
	'SetupAndConfigurationService.SetMEBxPassword',
	'SetupAndConfigurationService.SetTLSPSK',
	'GeneralSettings.Put',
	'TimeSynchronizationService.GetLowAccuracyTimeSynch',
	'TimeSynchronizationService.SetHighAccuracyTimeSynch',
	'SetupAndConfigurationService.CommitChanges'
];

function shapes(files, input) {
	const out = execFileSync('python3', [path.join(__dirname, 'xmlshape.py'), ...files], {
		input,
		timeout: 30000,
		maxBuffer: 64 << 20
	});
	return out
		.toString()
		.split('\n')
		.filter((l) => l)
		.map((l) => JSON.parse(l));
}

// The operation a request names: "Class.Method" from its ResourceURI and Action.
function operation(req) {
	const cls = (req.resource_uri || '').split('/').pop();
	const verb = (req.action || '').split('/').pop();
	return `${cls.replace(/^(AMT|CIM|IPS)_/, '')}.${verb}`;
}

// The first body element's children, by name: { name: text }.
function inputs(req) {
	const out = {};
	for (const c of (req.body[0] && req.body[0].children) || []) out[c.local] = c.text;
	return out;
}

// Intel's envelope for the traced request, and what it was checked against.
function reference(op, req) {
	const ref = REFERENCES[op];
	const a = inputs(req);
	if (ref) {
		const { AMT: A } = require('@device-management-toolkit/wsman-messages');
		const m = new A.Messages();
		const c = m.wsmanMessageCreator;
		return { xml: c.createXml(c.createHeader(ref.action, ref.cls), ref.body(a)), by: ref.cite };
	}
	if (!intel.BUILDERS[op]) return null;
	let args = [];
	const verb = op.split('.')[1];
	if (verb === 'Pull' || verb === 'Release') args = [a.EnumerationContext];
	else if (verb === 'Put') args = [a];
	else if (verb === 'Get' && req.selectors.length === 1) args = [req.selectors[0][1]];
	else if (PARAMS[op]) args = PARAMS[op].map((n) => a[n]);
	const by = intel.NOT_IN_LIBRARY.has(op)
		? 'wsman-messages header, WS-Enumeration body'
		: `wsman-messages ${op}`;
	return { xml: intel.build(op, 0, args), by };
}

const names = (list) => list.map((x) => `{${x.ns}}${x.local}`);
const short = (list) => list.map((x) => x.local).join(',');

// Differences between a traced request and the reference, as short phrases.
function differences(got, want) {
	const d = [];
	if (got.resource_uri !== want.resource_uri)
		d.push(`ResourceURI ${got.resource_uri}, Intel ${want.resource_uri}`);
	if (got.action !== want.action) d.push(`Action ${got.action}, Intel ${want.action}`);
	const hk = (h) => h.map(([ns, l]) => `{${ns}}${l}`).sort();
	const gh = hk(got.header);
	const wh = hk(want.header);
	const missing = wh.filter((x) => !gh.includes(x));
	const extra = gh.filter((x) => !wh.includes(x));
	if (missing.length) d.push(`header lacks ${missing.join(', ')}`);
	if (extra.length) d.push(`header has ${extra.join(', ')} Intel's lacks`);
	if (JSON.stringify(got.selectors.map((s) => s[0])) !== JSON.stringify(want.selectors.map((s) => s[0])))
		d.push(
			`selectors [${got.selectors.map((s) => s[0])}], Intel [${want.selectors.map((s) => s[0])}]`
		);
	if (JSON.stringify(names(got.body)) !== JSON.stringify(names(want.body))) {
		d.push(`body ${names(got.body).join(' ') || '(empty)'}, Intel ${names(want.body).join(' ') || '(empty)'}`);
		return d;
	}
	for (let i = 0; i < want.body.length; i++) {
		const g = got.body[i].children || [];
		const w = want.body[i].children || [];
		if (JSON.stringify(names(g)) === JSON.stringify(names(w))) continue;
		const gs = JSON.stringify(names(g).slice().sort());
		const ws = JSON.stringify(names(w).slice().sort());
		if (gs === ws) d.push(`${want.body[i].local} parameter order ${short(g)}, Intel ${short(w)}`);
		else {
			const wn = names(w);
			const gn = names(g);
			const lack = w.filter((x, k) => !gn.includes(wn[k])).map((x) => `{${x.ns}}${x.local}`);
			const more = g.filter((x, k) => !wn.includes(gn[k])).map((x) => `{${x.ns}}${x.local}`);
			if (lack.length) d.push(`${want.body[i].local} lacks ${lack.join(', ')}`);
			if (more.length) d.push(`${want.body[i].local} has ${more.join(', ')} Intel's lacks`);
		}
	}
	return d;
}

// A Put of AMT_GeneralSettings writes back the whole instance read (the library's Put takes
// whatever it is given): every property firmware reports, per the library's model (its
// own properties but OemID, AMT 16.1 and later, and CIM_SettingData's ElementName and
// InstanceID), must be in it.
function wholeInstance(op, got) {
	if (op !== 'GeneralSettings.Put') return [];
	const p = intel.properties('AMT', 'GeneralSettings');
	const need = p.own.filter((n) => n !== 'OemID').concat(['ElementName', 'InstanceID']);
	const have = new Set(((got.body[0] && got.body[0].children) || []).map((c) => c.local));
	const lack = need.filter((n) => !have.has(n));
	return lack.length ? [`not the whole instance: lacks ${lack.join(', ')}`] : [];
}

function main(argv) {
	const sequence = argv[0] === '--sequence';
	const dir = sequence ? argv[1] : argv[0];
	if (!dir) {
		console.error('usage: node compare.js [--sequence] DIR');
		return 2;
	}
	const files = fs
		.readdirSync(dir)
		.filter((f) => /^[0-9]{6}-.+\.xml$/.test(f))
		.sort()
		.map((f) => path.join(dir, f));
	if (!files.length) {
		console.error(`compare.js: no NNNNNN-<address>.xml files in ${dir}`);
		return 2;
	}
	let passed = 0;
	let failed = 0;
	const byDevice = {};
	for (const got of shapes(files)) {
		const name = path.basename(got.file);
		const line = (op, by, d) => {
			if (d.length) failed++;
			else passed++;
			const verdict = d.length ? `FAIL: ${d.join('; ')}` : 'ok';
			console.log(`${name}  ${op}  [${by}]  ${verdict}`);
		};
		if (got.error) {
			line('?', 'none', [got.error]);
			continue;
		}
		const op = operation(got);
		const dev = name.replace(/^[0-9]{6}-(.+)\.xml$/, '$1');
		(byDevice[dev] = byDevice[dev] || []).push(op);
		let ref;
		try {
			ref = reference(op, got);
		} catch (e) {
			line(op, 'wsman-messages', [`the library refused the traced parameters: ${e.message}`]);
			continue;
		}
		if (!ref) {
			line(op, 'none', ['an operation neither wsman-messages nor the AMT SDK table has']);
			continue;
		}
		const [want] = shapes(['-'], ref.xml);
		line(op, ref.by, differences(got, want).concat(wholeInstance(op, got)));
	}
	if (sequence) {
		for (const [dev, ops] of Object.entries(byDevice)) {
			const ok = JSON.stringify(ops) === JSON.stringify(SEQUENCE);
			if (ok) passed++;
			else failed++;
			const first = ops.findIndex((o, i) => o !== SEQUENCE[i]);
			const at = first < 0 ? ops.length : first;
			console.log(
				`sequence of ${dev}  [the server's setup sequence]  ` +
					(ok
						? 'ok'
						: `FAIL: request ${at + 1} is ${ops[at] || '(none)'}, expected ${SEQUENCE[at] || '(none)'}` +
							` (${ops.length} requests, expected ${SEQUENCE.length})`)
			);
		}
	}
	console.log(`${passed} passed, ${failed} failed`);
	return failed ? 1 : 0;
}

process.exitCode = main(process.argv.slice(2));
