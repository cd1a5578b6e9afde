// Exit 0 when node_modules holds exactly the versions package-lock.json pins (used by
// scripts/deps.sh to decide whether `npm ci` is needed); else names the first difference.
'use strict';
const fs = require('fs');
const path = require('path');

const lock = JSON.parse(fs.readFileSync(path.join(__dirname, 'package-lock.json'), 'utf8'));
for (const [where, pkg] of Object.entries(lock.packages || {})) {
	if (where === '') continue;
	let have;
	try {
		have = JSON.parse(fs.readFileSync(path.join(__dirname, where, 'package.json'), 'utf8'));
	} catch (e) {
		console.error(`${where}: not installed`);
		process.exit(1);
	}
	if (have.version !== pkg.version) {
		console.error(`${where}: ${have.version} installed, lockfile pins ${pkg.version}`);
		process.exit(1);
	}
}
