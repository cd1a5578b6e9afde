// Test-only (tests/integration/api.sh): checks an HTTP API answer against the response
// schema docs/api/openapi.json gives for it.
//   node api_schema.js OPENAPI.json METHOD PATH_TEMPLATE CODE BODY.json
// Exit 0 when BODY matches the schema of that operation's CODE response; 1 naming the
// first mismatch; 2 when the document has no such response. OpenAPI 3.0's `nullable`
// is read as JSON Schema's type [T, "null"].
'use strict';
const fs = require('fs');
const SwaggerParser = require('@apidevtools/swagger-parser');
const Ajv = require('ajv');

function toJsonSchema(s) {
	if (Array.isArray(s)) return s.map(toJsonSchema);
	if (!s || typeof s !== 'object') return s;
	const out = {};
	for (const [k, v] of Object.entries(s)) {
		if (k === 'nullable' || k === 'example' || k.startsWith('x-')) continue;
		out[k] = k === 'properties' ? Object.fromEntries(Object.entries(v).map(([p, ps]) => [p, toJsonSchema(ps)]))
			: toJsonSchema(v);
	}
	if (s.nullable && out.type) out.type = [out.type, 'null'];
	if (s.nullable && out.enum) out.enum = [...out.enum, null];
	return out;
}

async function main() {
	const [doc, method, path, code, bodyFile] = process.argv.slice(2);
	const api = await SwaggerParser.dereference(doc);
	const op = (api.paths[path] || {})[method.toLowerCase()];
	const resp = op && op.responses[code];
	const media = resp && resp.content && resp.content['application/json'];
	if (!media) {
		console.error(`openapi.json has no JSON ${code} answer for ${method} ${path}`);
		process.exit(2);
	}
	const ajv = new Ajv({ allErrors: false, strict: false, formats: { ipv4: /^(\d{1,3}\.){3}\d{1,3}$/ } });
	const validate = ajv.compile(toJsonSchema(media.schema));
	const body = JSON.parse(fs.readFileSync(bodyFile, 'utf8'));
	if (!validate(body)) {
		const e = validate.errors[0];
		console.error(`${method} ${path} ${code}: ${e.instancePath || '/'} ${e.message} ${JSON.stringify(e.params)}`);
		process.exit(1);
	}
}
main().catch((e) => {
	console.error(String(e && e.message ? e.message : e));
	process.exit(2);
});
