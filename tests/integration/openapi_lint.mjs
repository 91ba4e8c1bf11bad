// openapi_lint.mjs — checks openapi.yaml itself (ctest: openapi_lint). No server needed.
//  1. It is a valid OpenAPI 3.1 document (@seriousme/openapi-schema-validator).
//  2. Every $ref resolves and every component schema compiles with Ajv in strict mode.
//  3. House rules: our own object schemas say `additionalProperties: false`; every operation
//     documents a 500 and every /jobs operation 401 and 503; every 4xx/5xx answers
//     application/problem+json; every route of the issue is present.
import { Validator } from '@seriousme/openapi-schema-validator';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { Contract, OPENAPI_PATH, pointer } from './contract.mjs';

const failures = [];
const fail = (msg) => failures.push(msg);

const validator = new Validator();
const res = await validator.validate(OPENAPI_PATH);
if (!res.valid) fail(`${OPENAPI_PATH} is not valid OpenAPI: ${JSON.stringify(res.errors, null, 2)}`);
else if (!String(validator.version).startsWith('3.1')) fail(`expected OpenAPI 3.1, got ${validator.version}`);

const c = new Contract();
const doc = c.doc;

// Every $ref in the document resolves.
(function walk(node, where) {
    if (Array.isArray(node)) return node.forEach((n, i) => walk(n, [...where, i]));
    if (!node || typeof node !== 'object') return;
    if (typeof node.$ref === 'string') {
        let target = doc;
        for (const tok of node.$ref.replace(/^#\//, '').split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))) target = target?.[tok];
        if (target === undefined) fail(`${pointer(where)}: $ref ${node.$ref} does not resolve`);
    }
    for (const [k, v] of Object.entries(node)) walk(v, [...where, k]);
})(doc, []);

// Each component schema compiles strictly on its own (refs to siblings through a doc copy that
// holds only the components, so OpenAPI's own keywords do not trip strict mode).
const strict = new Ajv2020({ strict: true, allowUnionTypes: true, allErrors: true });
addFormats(strict);
strict.addSchema({ $id: 'https://morphd.invalid/c.json', $defs: {} });
const componentsOnly = JSON.parse(JSON.stringify(doc.components.schemas).replaceAll('#/components/schemas/', 'https://morphd.invalid/s.json#/$defs/'));
try {
    strict.addSchema({ $id: 'https://morphd.invalid/s.json', $defs: componentsOnly });
    for (const name of Object.keys(componentsOnly)) strict.compile({ $ref: `https://morphd.invalid/s.json#/$defs/${name}` });
} catch (e) {
    fail(`component schemas do not compile strictly: ${e.message}`);
}
// And every response schema compiles in the lenient validator the harness uses.
for (const op of c.operations()) {
    const [method, template, status] = op.split(' ');
    const resp = doc.paths[template][method.toLowerCase()].responses[status];
    const [obj, ptr] = resp.$ref ? [doc.components.responses[resp.$ref.split('/').pop()], resp.$ref]
        : [resp, pointer(['paths', template, method.toLowerCase(), 'responses', status])];
    for (const key of Object.keys(obj.content || {})) {
        try {
            c.schemaValidator(`${ptr}/content/${key.replace(/~/g, '~0').replace(/\//g, '~1')}/schema`);
        } catch (e) {
            fail(`${op} ${key}: schema does not compile: ${e.message}`);
        }
        if (Number(status) >= 400 && key !== 'application/problem+json') fail(`${op}: errors answer application/problem+json, not ${key}`);
    }
}

// Our own objects are closed, so a field the server adds (or renames) fails the tests.
(function closed(node, where) {
    if (Array.isArray(node)) return node.forEach((n, i) => closed(n, [...where, i]));
    if (!node || typeof node !== 'object') return;
    const isObject = node.type === 'object' || (Array.isArray(node.type) && node.type.includes('object'));
    const isMap = node.additionalProperties && typeof node.additionalProperties === 'object';
    if (isObject && node.properties && node.additionalProperties !== false && !isMap) fail(`${pointer(where)}: object schema without additionalProperties: false`);
    for (const [k, v] of Object.entries(node)) closed(v, [...where, k]);
})(doc.components.schemas, ['components', 'schemas']);

// Routes and errors the issue asks for.
const want = {
    'POST /jobs': ['202', '400', '401', '413', '415', '422', '500', '503'],
    'GET /jobs': ['200', '400', '401', '500', '503'],
    'GET /jobs/{id}': ['200', '401', '404', '500', '503'],
    'DELETE /jobs/{id}': ['204', '401', '404', '409', '500', '503'],
    'POST /jobs/{id}/cancel': ['200', '202', '401', '404', '409', '500', '503'],
    'GET /jobs/{id}/artifacts/{name}': ['200', '400', '401', '404', '500', '503'],
    'GET /healthz': ['200', '500'],
    'GET /readyz': ['200', '503', '500'],
    'GET /metrics': ['200', '500'],
};
for (const [op, statuses] of Object.entries(want)) {
    const [method, template] = op.split(' ');
    const o = doc.paths[template]?.[method.toLowerCase()];
    if (!o) {
        fail(`missing operation ${op}`);
        continue;
    }
    for (const s of statuses) if (!o.responses?.[s]) fail(`${op}: no ${s} response`);
    if (!o.operationId) fail(`${op}: no operationId`);
}
const post202 = doc.paths['/jobs']?.post?.responses?.['202'] ?? {};
if (!post202.headers?.Location) fail('POST /jobs 202 has no Location header');
if (!doc.paths['/jobs/{id}']?.get?.responses?.['200']?.headers?.['Retry-After']) fail('GET /jobs/{id} 200 has no Retry-After header');
if (!doc.paths['/jobs']?.post?.parameters?.some((p) => (p.$ref || '').endsWith('IdempotencyKey'))) fail('POST /jobs has no Idempotency-Key');
if (!doc.paths['/metrics']?.get?.responses?.['200']?.content?.['text/plain; version=0.0.4']) fail('/metrics is not text/plain; version=0.0.4');
if (doc.components.securitySchemes?.bearerAuth?.scheme !== 'bearer') fail('no bearer security scheme');
if (!doc.security?.some((s) => Object.keys(s).length === 0)) fail('auth must be optional (an empty security requirement)');

// The matcher: templates resolve as the server will route them.
const routeCases = [
    ['/jobs', '/jobs'],
    ['/jobs/0123456789abcdef0123456789abcdef', '/jobs/{id}'],
    ['/jobs/0123456789abcdef0123456789abcdef/cancel', '/jobs/{id}/cancel'],
    ['/jobs/0123456789abcdef0123456789abcdef/artifacts/manifest.json', '/jobs/{id}/artifacts/{name}'],
    ['/jobs/0123456789abcdef0123456789abcdef/artifacts/frames/0000_a-1000_b-0000.png', '/jobs/{id}/artifacts/{name}'],
    ['/jobs/0123456789abcdef0123456789abcdef/artifacts/a/b/c', '/jobs/{id}/artifacts/{name}'],
    ['/jobs/0123456789abcdef0123456789abcdef/bogus', null],
    ['/nope', null],
];
for (const [p, t] of routeCases) {
    const m = c.match(p);
    if ((m ? m.template : null) !== t) fail(`route ${p}: expected ${t}, matched ${m ? m.template : null}`);
}

if (failures.length) {
    for (const f of failures) console.error(`openapi_lint: ${f}`);
    process.exit(1);
}
console.log(`openapi_lint: ${OPENAPI_PATH} is valid OpenAPI ${validator.version}; ${c.operations().length} documented responses`);
