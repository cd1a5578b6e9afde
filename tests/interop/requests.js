// Part A's request builder: the requests Intel's RPS and MeshCentral send to a provisioned
// AMT device, built by Intel's wsman-messages (see intel.js), for check_answers.py.
//   node requests.js build OP MESSAGE_ID [JSON_ARRAY_OF_ARGS]  the envelope, on stdout
//   node requests.js models                                     class property names (JSON)
//   node requests.js ops                                        the operations it builds
'use strict';
const intel = require('./intel.js');

// The classes part A reads, by namespace, with their property names from the library.
const CLASSES = [
	['AMT', 'GeneralSettings'],
	['AMT', 'SetupAndConfigurationService'],
	['AMT', 'EthernetPortSettings'],
	['AMT', 'AuthorizationService'],
	['CIM', 'SoftwareIdentity'],
	['CIM', 'ComputerSystemPackage']
];

function models() {
	const out = {};
	for (const [ns, name] of CLASSES) {
		const p = intel.properties(ns, name);
		out[name] = {
			own: p.own,
			inherited: p.inherited,
			all: p.all,
			// inline object types: their fields and which are required (no '?')
			nested: Object.fromEntries(
				p.raw
					.filter((x) => x.nested)
					.map((x) => [
						x.name,
						{
							all: x.nested.map((y) => y.name),
							required: x.nested.filter((y) => !y.optional).map((y) => y.name)
						}
					])
			),
			rules: p.rules,
			required: p.raw.filter((x) => !x.optional && !x.nested).map((x) => x.name)
		};
	}
	return out;
}

function main(argv) {
	const [cmd, ...rest] = argv;
	if (cmd === 'build' && rest.length >= 2) {
		const [op, id, args] = rest;
		process.stdout.write(intel.build(op, Number(id), args ? JSON.parse(args) : []));
		return 0;
	}
	if (cmd === 'models') {
		process.stdout.write(JSON.stringify(models(), null, 1) + '\n');
		return 0;
	}
	if (cmd === 'ops') {
		for (const op of Object.keys(intel.BUILDERS)) {
			const how = intel.NOT_IN_LIBRARY.has(op) ? 'library header, own body' : 'library';
			console.log(`${op}\t${how}`);
		}
		return 0;
	}
	console.error('usage: node requests.js build OP MESSAGE_ID [JSON_ARGS] | models | ops');
	return 2;
}

process.exitCode = main(process.argv.slice(2));
