// Intel's envelopes and class models, from @device-management-toolkit/wsman-messages
// (pinned in package-lock.json): the requests Intel's RPS and MeshCentral send to AMT
// firmware, built by the library itself, and the property names of its class models
// (amt/models.d.ts, cim/models.d.ts). Used by requests.js (part A) and compare.js (part B).
'use strict';
const fs = require('fs');
const path = require('path');
const { AMT, CIM } = require('@device-management-toolkit/wsman-messages');

const LIB = path.dirname(require.resolve('@device-management-toolkit/wsman-messages/package.json'));
const AMT_URI = 'http://intel.com/wbem/wscim/1/amt-schema/1/';
const WSEN = 'http://schemas.xmlsoap.org/ws/2004/09/enumeration';

// A fresh pair of message factories whose next MessageID is `id`.
function factories(id) {
	const amt = new AMT.Messages();
	const cim = new CIM.Messages();
	amt.wsmanMessageCreator.messageId = id;
	cim.wsmanMessageCreator.messageId = id;
	return { amt, cim };
}

// Operations the library does not build itself, made from its own header: Release (not in
// the library; the body is WS-Enumeration 2004/09 section 3.5), a Get of a class AMT does
// not have and a method AMT_SetupAndConfigurationService does not have (both faults).
function releaseEnvelope(m, cls, ctx) {
	const c = m.wsmanMessageCreator;
	const header = c.createHeader(`${WSEN}/Release`, cls);
	return c.createXml(
		header,
		`<Body><Release xmlns="${WSEN}"><EnumerationContext>${ctx}</EnumerationContext></Release></Body>`
	);
}
function customEnvelope(m, action, cls, body) {
	const c = m.wsmanMessageCreator;
	return c.createXml(c.createHeader(action, cls), body);
}

// Operation name -> (factories, args) -> envelope. args is a JSON array of parameters.
const BUILDERS = {
	'GeneralSettings.Get': ({ amt }) => amt.GeneralSettings.Get(),
	'GeneralSettings.Enumerate': ({ amt }) => amt.GeneralSettings.Enumerate(),
	'GeneralSettings.Pull': ({ amt }, [ctx]) => amt.GeneralSettings.Pull(ctx),
	'GeneralSettings.Put': ({ amt }, [inst]) => amt.GeneralSettings.Put(inst),
	'SetupAndConfigurationService.Get': ({ amt }) => amt.SetupAndConfigurationService.Get(),
	'SetupAndConfigurationService.GetUuid': ({ amt }) =>
		amt.SetupAndConfigurationService.GetUuid(),
	'SetupAndConfigurationService.SetMEBxPassword': ({ amt }, [pw]) =>
		amt.SetupAndConfigurationService.SetMEBXPassword(pw),
	'SetupAndConfigurationService.CommitChanges': ({ amt }) =>
		amt.SetupAndConfigurationService.CommitChanges(),
	'SetupAndConfigurationService.Unprovision': ({ amt }, [mode]) =>
		amt.SetupAndConfigurationService.Unprovision(mode),
	'SetupAndConfigurationService.NoSuchMethod': ({ amt }) =>
		customEnvelope(
			amt,
			`${AMT_URI}AMT_SetupAndConfigurationService/NoSuchMethod`,
			'AMT_SetupAndConfigurationService',
			`<Body><h:NoSuchMethod_INPUT xmlns:h="${AMT_URI}AMT_SetupAndConfigurationService"></h:NoSuchMethod_INPUT></Body>`
		),
	'AuthorizationService.Get': ({ amt }) => amt.AuthorizationService.Get(),
	'AuthorizationService.SetAdminAclEntryEx': ({ amt }, [user, digest]) =>
		amt.AuthorizationService.SetAdminACLEntryEx(user, digest),
	'TimeSynchronizationService.GetLowAccuracyTimeSynch': ({ amt }) =>
		amt.TimeSynchronizationService.GetLowAccuracyTimeSynch(),
	'TimeSynchronizationService.SetHighAccuracyTimeSynch': ({ amt }, [ta0, tm1, tm2]) =>
		amt.TimeSynchronizationService.SetHighAccuracyTimeSynch(ta0, tm1, tm2),
	'EthernetPortSettings.Enumerate': ({ amt }) => amt.EthernetPortSettings.Enumerate(),
	'EthernetPortSettings.Pull': ({ amt }, [ctx]) => amt.EthernetPortSettings.Pull(ctx),
	'EthernetPortSettings.Release': ({ amt }, [ctx]) =>
		releaseEnvelope(amt, 'AMT_EthernetPortSettings', ctx),
	'NoSuchClass.Get': ({ amt }) =>
		customEnvelope(
			amt,
			'http://schemas.xmlsoap.org/ws/2004/09/transfer/Get',
			'AMT_NoSuchClass',
			'<Body></Body>'
		),
	'SoftwareIdentity.Enumerate': ({ cim }) => cim.SoftwareIdentity.Enumerate(),
	'SoftwareIdentity.Pull': ({ cim }, [ctx]) => cim.SoftwareIdentity.Pull(ctx),
	'SoftwareIdentity.Release': ({ cim }, [ctx]) =>
		releaseEnvelope(cim, 'CIM_SoftwareIdentity', ctx),
	'SoftwareIdentity.Get': ({ cim }, [instanceId]) =>
		instanceId === undefined
			? cim.SoftwareIdentity.Get()
			: cim.SoftwareIdentity.Get({ name: 'InstanceID', value: instanceId }),
	'ComputerSystemPackage.Get': ({ cim }) => cim.ComputerSystemPackage.Get(),
	'ComputerSystemPackage.Enumerate': ({ cim }) => cim.ComputerSystemPackage.Enumerate(),
	'ComputerSystemPackage.Pull': ({ cim }, [ctx]) => cim.ComputerSystemPackage.Pull(ctx)
};

// Operations built from the library's header but not by one of its class methods.
const NOT_IN_LIBRARY = new Set([
	'SetupAndConfigurationService.NoSuchMethod',
	'EthernetPortSettings.Release',
	'SoftwareIdentity.Release',
	'NoSuchClass.Get'
]);

function build(op, id, args) {
	const f = BUILDERS[op];
	if (!f) throw new Error(`no builder for ${op}`);
	return f(factories(id), args || []);
}

// ---- the class models of the library's .d.ts files ----
// Each `interface X extends Y { Name?: T; ... }` becomes { base, props: [{ name, optional,
// nested }] } where nested holds the fields of an inline object type (such as
// SetupAndConfigurationService's AMT_SetupAndConfigurationService: { ... }).
function parseModels(file) {
	const text = fs.readFileSync(path.join(LIB, file), 'utf8');
	const models = {};
	const lines = text.split('\n');
	let cur = null;
	let stack = [];
	for (const raw of lines) {
		const line = raw.trim();
		let m;
		if (!cur) {
			if ((m = /^(?:export )?interface (\w+)(?: extends ([\w.]+))? \{$/.exec(line))) {
				cur = { base: m[2] || null, props: [] };
				models[m[1]] = cur;
				stack = [cur.props];
			} else if ((m = /^(?:export )?type (\w+) = ([\w.]+);$/.exec(line))) {
				models[m[1]] = { alias: m[2] };
			}
			continue;
		}
		if (line === '}' && stack.length === 1) {
			cur = null;
			continue;
		}
		if ((m = /^(\w+)(\??): \(?\{$/.exec(line))) {
			const p = { name: m[1], optional: m[2] === '?', nested: [] };
			stack[stack.length - 1].push(p);
			stack.push(p.nested);
			continue;
		}
		if (/^\}/.test(line) && stack.length > 1) {
			stack.pop();
			continue;
		}
		if ((m = /^(\w+)(\??): ([^;]+);/.exec(line))) {
			stack[stack.length - 1].push({
				name: m[1],
				optional: m[2] === '?',
				nested: null,
				type: m[3].trim()
			});
		}
	}
	return models;
}

// The literal unions of a types.d.ts: { 'GeneralSettings.PrivacyLevel': { values: [0, 1, 2] },
// 'EthernetPortSettings.LinkPolicy': { arrayOf: [1, 14, 16, 224] } }.
function parseTypes(file) {
	const text = fs.readFileSync(path.join(LIB, file), 'utf8');
	const out = {};
	let space = null;
	for (const raw of text.split('\n')) {
		const line = raw.trim();
		let m;
		if ((m = /^namespace (\w+) \{$/.exec(line))) space = m[1];
		else if (space && (m = /^type (\w+) = ([^;]+);$/.exec(line))) {
			const rhs = m[2].trim();
			const key = `${space}.${m[1]}`;
			if (/^-?\d+( \| -?\d+)*$/.test(rhs)) out[key] = { values: rhs.split(' | ').map(Number) };
			else if ((m = /^(\w+)\[\]$/.exec(rhs)) && out[`${space}.${m[1]}`])
				out[key] = { arrayOf: out[`${space}.${m[1]}`].values };
		}
	}
	return out;
}
const TYPE_FILES = { AMT: 'amt/types.d.ts', CIM: 'cim/types.d.ts' };
const typesParsed = {};
// The value rule of a property type as the library writes it: 'boolean', 'number',
// 'string', { values: [...] }, { arrayOf: [...] } or null (no rule: references, dates).
function valueRule(ns, type) {
	if (type === 'boolean' || type === 'number' || type === 'string') return type;
	const m = /^Types\.(\w+\.\w+)$/.exec(type);
	if (!m) return null;
	if (!typesParsed[ns]) typesParsed[ns] = parseTypes(TYPE_FILES[ns]);
	return typesParsed[ns][m[1]] || null;
}

const MODEL_FILES = { AMT: 'amt/models.d.ts', CIM: 'cim/models.d.ts' };
const parsed = {};
function models(ns) {
	if (!parsed[ns]) parsed[ns] = parseModels(MODEL_FILES[ns]);
	return parsed[ns];
}

// The interface `name` of namespace `ns` ("AMT" or "CIM"), aliases followed.
function lookup(ns, name) {
	const parts = name.split('.');
	if (parts.length === 3) return lookup(parts[0], parts[2]); // CIM.Models.SettingData
	const m = models(ns)[name];
	if (!m) throw new Error(`${ns} model ${name} not found in the library`);
	if (m.alias) return lookup(ns, m.alias);
	return { ns, model: m };
}

// Property names of `name`: { own: [...], inherited: [...], all: [...] }, base first.
function properties(ns, name) {
	const { ns: where, model } = lookup(ns, name);
	const own = model.props.map((p) => p.name);
	const inherited = model.base ? properties(where, model.base).all : [];
	const base = model.base ? properties(where, model.base) : { rules: {} };
	const rules = { ...base.rules };
	for (const p of model.props) if (p.type) rules[p.name] = valueRule(where, p.type);
	return {
		own,
		inherited,
		all: [...new Set([...inherited, ...own])],
		raw: model.props,
		rules
	};
}

module.exports = { build, properties, BUILDERS, NOT_IN_LIBRARY, LIB };
