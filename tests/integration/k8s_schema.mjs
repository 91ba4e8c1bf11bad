// k8s_schema.mjs — validates every manifest in deploy/k8s (ctest: deploy_k8s_schema). No cluster.
//   node k8s_schema.mjs [DIR]      (DIR defaults to ../../deploy/k8s)
//  1. Each file parses as YAML (duplicate keys are errors) and each document has apiVersion,
//     kind and metadata.name, and no metadata.namespace (the manifests are namespace-agnostic).
//  2. Each document validates against its Kubernetes schema: built-in kinds with the npm
//     package kubernetes-models (the OpenAPI schemas of Kubernetes itself), the KEDA
//     ScaledObject with @kubernetes-models/keda and the ServiceMonitor with
//     @kubernetes-models/prometheus-operator (both generated from the projects' published CRDs).
//     A kind none of them knows is an error.
//  3. Unknown fields: those schemas do not set additionalProperties: false, so a misspelt key
//     (`livenesProbe`) passes them, as it would pass a non-strict `kubectl apply`. The packages'
//     type declarations (.d.ts) list every field of every object, so each mapping in a
//     manifest is checked against the fields its type declares, recursively wherever the type
//     is a named object (free-form maps such as labels or the KEDA trigger metadata are not).
//  4. Cross-references among the files: the kustomization lists every manifest but the Secret
//     template and only files that exist; every ConfigMap/Secret key a Deployment reads exists;
//     Services, HPA, PDBs, ServiceMonitor and ScaledObject select or name something defined
//     here; probe ports name a container port; the worker's grace period exceeds its --drain-s;
//     a Deployment that an HPA or ScaledObject scales does not set replicas.
// Exits 0 (all good), 1 (what is wrong, file by file) or 77 (the npm packages are missing).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const dir = path.resolve(process.argv[2] || path.join(here, '..', '..', 'deploy', 'k8s'));
const nm = path.join(here, 'node_modules');
const PKGS = ['yaml', 'kubernetes-models', '@kubernetes-models/keda', '@kubernetes-models/prometheus-operator',
    '@kubernetes-models/apimachinery'];
for (const pkg of PKGS) {
    if (!fs.existsSync(path.join(nm, pkg, 'package.json'))) {
        console.log(`SKIP: npm package ${pkg} is not installed in ${nm} (run ${here}/npm_ci.sh)`);
        process.exit(77);
    }
}
const YAML = await import('yaml');

const failures = [];
const fail = (file, msg) => failures.push(`${file}: ${msg}`);

// ---- Which package holds a kind ----
// apiVersion -> module folder; the class is named after the kind.
function modelModule(apiVersion) {
    if (apiVersion === 'keda.sh/v1alpha1') return '@kubernetes-models/keda/keda.sh/v1alpha1';
    if (apiVersion === 'monitoring.coreos.com/v1') return '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
    if (apiVersion === 'kustomize.config.k8s.io/v1beta1') return null; // not a cluster object
    return `kubernetes-models/${apiVersion}`; // v1, apps/v1, policy/v1, autoscaling/v2, ...
}
function declFile(apiVersion, kind) {
    const mod = modelModule(apiVersion);
    const [pkg, ...rest] = mod.startsWith('@') ? [mod.split('/').slice(0, 2).join('/'), ...mod.split('/').slice(2)]
        : [mod.split('/')[0], ...mod.split('/').slice(1)];
    return path.join(nm, pkg, ...rest, `${kind}.d.ts`);
}

// ---- Field lists from the .d.ts files ----
// interface name -> Map(field -> type name of a named object, or null for anything else)
const ifaces = new Map();
// Each file declares its interfaces under short names (IDeploymentSpec, in several groups) and
// exports them under unique long ones (`export type { IDeploymentSpec as
// IIoK8sApiAppsV1DeploymentSpec }`), which is what other files' fields refer to.
function parseDecl(text) {
    const local = new Map();
    const lines = text.split('\n');
    for (let i = 0; i < lines.length; i++) {
        const alias = /^export type \{ (.*) \};$/.exec(lines[i]);
        if (alias) {
            for (const part of alias[1].split(',')) {
                const a = /^\s*(I\w+) as (I\w+)\s*$/.exec(part);
                if (a && local.has(a[1]) && !ifaces.has(a[2])) ifaces.set(a[2], local.get(a[1]));
            }
            continue;
        }
        const m = /^export interface (I\w+)(?: extends ([\w, ]+))? \{$/.exec(lines[i]);
        if (!m) continue;
        const fields = new Map();
        if (m[2] && /\bTypeMeta\b/.test(m[2])) { fields.set('apiVersion', null); fields.set('kind', null); }
        for (i++; i < lines.length && lines[i] !== '}'; i++) {
            const f = /^ {4}"([^"]+)"\??: (.*?);?$/.exec(lines[i]);
            if (!f) continue;
            const t = /^(?:Array<)?(I\w+)>?$/.exec(f[2]);
            fields.set(f[1], t ? t[1] : null);
        }
        local.set(m[1], fields);
    }
    return local;
}
function loadDecls(root) {
    for (const ent of fs.readdirSync(root, { withFileTypes: true })) {
        const p = path.join(root, ent.name);
        if (ent.isDirectory()) loadDecls(p);
        else if (ent.name.endsWith('.d.ts')) parseDecl(fs.readFileSync(p, 'utf8'));
    }
}
for (const pkg of PKGS.slice(1)) loadDecls(path.join(nm, pkg));

let fieldsChecked = 0;
function checkFields(file, where, value, typeName) {
    const fields = ifaces.get(typeName);
    if (!fields || value === null || typeof value !== 'object') return;
    if (Array.isArray(value)) return value.forEach((v, i) => checkFields(file, `${where}[${i}]`, v, typeName));
    for (const [k, v] of Object.entries(value)) {
        fieldsChecked++;
        if (!fields.has(k)) {
            fail(file, `${where}.${k}: no such field (${typeName.replace(/^I/, '')} has ${[...fields.keys()].join(', ')})`);
            continue;
        }
        if (fields.get(k)) checkFields(file, `${where}.${k}`, v, fields.get(k));
    }
}
// Type name of a kind's top-level interface: `export interface IDeployment extends TypeMeta`.
function topInterface(apiVersion, kind) {
    const f = declFile(apiVersion, kind);
    if (!fs.existsSync(f)) return null;
    const fields = parseDecl(fs.readFileSync(f, 'utf8')).get(`I${kind}`);
    if (!fields || !fields.has('kind')) return null;
    const key = `${apiVersion}/${kind}`;
    ifaces.set(key, fields);
    return key;
}

// ---- Read the manifests ----
const docs = []; // { file, obj }
const files = fs.readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort();
if (files.length === 0) fail(dir, 'no manifests');
let kustomization = null;
for (const file of files) {
    const text = fs.readFileSync(path.join(dir, file), 'utf8');
    const parsed = YAML.parseAllDocuments(text, { uniqueKeys: true, prettyErrors: true });
    for (const d of parsed) {
        for (const e of [...d.errors, ...d.warnings]) fail(file, `YAML: ${e.message}`);
        const obj = d.toJS({ maxAliasCount: 0 });
        if (obj === null || obj === undefined) continue;
        if (file === 'kustomization.yaml') kustomization = obj;
        else docs.push({ file, obj });
    }
}

// ---- 1 + 2 + 3: each document against its schema ----
const kinds = [];
for (const { file, obj } of docs) {
    const id = `${obj?.kind}/${obj?.metadata?.name}`;
    if (!obj || typeof obj !== 'object' || !obj.apiVersion || !obj.kind) { fail(file, 'a document without apiVersion and kind'); continue; }
    if (!obj.metadata?.name) fail(file, `${obj.kind} without metadata.name`);
    if (obj.metadata?.namespace) fail(file, `${id}: metadata.namespace is set; the manifests are namespace-agnostic`);
    const mod = modelModule(obj.apiVersion);
    let Model;
    try {
        Model = (await import(mod))[obj.kind];
    } catch (e) {
        Model = undefined;
    }
    if (typeof Model !== 'function') { fail(file, `${id}: no schema for ${obj.apiVersion} ${obj.kind}`); continue; }
    try {
        new Model(obj).validate();
    } catch (e) {
        const errs = e.errors || [];
        if (errs.length === 0) fail(file, `${id}: ${e.message}`);
        for (const er of errs) fail(file, `${id}: ${er.instancePath || '/'} ${er.message || er.keyword} ${er.params ? JSON.stringify(er.params) : ''}`);
    }
    const top = topInterface(obj.apiVersion, obj.kind);
    if (!top) fail(file, `${id}: no field list for ${obj.apiVersion} ${obj.kind}`);
    else checkFields(file, id, obj, top);
    kinds.push(`${obj.apiVersion} ${obj.kind}/${obj.metadata?.name}`);
}

// ---- 4: the files agree with each other ----
const byKind = (kind) => docs.filter((d) => d.obj?.kind === kind).map((d) => d.obj);
const find = (kind, name) => byKind(kind).find((o) => o.metadata?.name === name);
const matches = (selector, labels) => selector && Object.entries(selector).every(([k, v]) => labels?.[k] === v);
const workloads = [...byKind('Deployment'), ...byKind('StatefulSet')];

if (!kustomization) fail(dir, 'no kustomization.yaml');
else {
    if (kustomization.kind !== 'Kustomization') fail('kustomization.yaml', 'kind is not Kustomization');
    if (kustomization.namespace) fail('kustomization.yaml', 'sets a namespace; the manifests are namespace-agnostic');
    const listed = new Set(kustomization.resources || []);
    for (const r of listed) if (!files.includes(r)) fail('kustomization.yaml', `resource ${r} does not exist`);
    for (const f of files) {
        if (f === 'kustomization.yaml' || f.includes('template')) {
            if (listed.has(f)) fail('kustomization.yaml', `lists ${f}, a template with placeholder values`);
        } else if (!listed.has(f)) fail('kustomization.yaml', `does not list ${f}`);
    }
}

for (const w of workloads) {
    const file = docs.find((d) => d.obj === w).file;
    const id = `${w.kind}/${w.metadata.name}`;
    const tpl = w.spec?.template;
    if (!matches(w.spec?.selector?.matchLabels, tpl?.metadata?.labels)) fail(file, `${id}: selector does not match the pod template's labels`);
    const pod = tpl?.spec || {};
    const volumes = new Map((pod.volumes || []).map((v) => [v.name, v]));
    const claimNames = new Set((w.spec?.volumeClaimTemplates || []).map((c) => c.metadata?.name));
    for (const c of pod.containers || []) {
        const ports = new Set((c.ports || []).map((p) => p.name).filter(Boolean));
        for (const probe of ['livenessProbe', 'readinessProbe', 'startupProbe']) {
            const p = c[probe];
            const port = p?.httpGet?.port ?? p?.tcpSocket?.port;
            if (typeof port === 'string' && !ports.has(port)) fail(file, `${id} ${c.name}: ${probe} uses port ${port}, not a port of the container`);
        }
        for (const ef of c.envFrom || []) {
            if (ef.configMapRef && !find('ConfigMap', ef.configMapRef.name)) fail(file, `${id} ${c.name}: envFrom ConfigMap ${ef.configMapRef.name} is not defined`);
        }
        const env = new Set((c.env || []).map((e) => e.name));
        for (const ef of c.envFrom || []) {
            const cm = ef.configMapRef && find('ConfigMap', ef.configMapRef.name);
            for (const k of Object.keys(cm?.data || {})) env.add(k);
        }
        for (const e of c.env || []) {
            const ref = e.valueFrom?.secretKeyRef || e.valueFrom?.configMapKeyRef;
            if (!ref) continue;
            const kind = e.valueFrom.secretKeyRef ? 'Secret' : 'ConfigMap';
            const src = find(kind, ref.name);
            const keys = { ...(src?.data || {}), ...(src?.stringData || {}) };
            if (!src) fail(file, `${id} ${c.name}: env ${e.name} reads ${kind} ${ref.name}, which no file defines`);
            else if (!(ref.key in keys)) fail(file, `${id} ${c.name}: env ${e.name} reads key ${ref.key}, not in ${kind} ${ref.name}`);
        }
        // $(VAR) in args must name a variable the container has, or Kubernetes leaves it as is.
        for (const a of [...(c.command || []), ...(c.args || [])]) {
            for (const m of a.matchAll(/(?<!\$)\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g)) {
                if (!env.has(m[1])) fail(file, `${id} ${c.name}: argument ${a} names $(${m[1]}), which the container's environment lacks`);
            }
        }
        for (const vm of c.volumeMounts || []) {
            if (!volumes.has(vm.name) && !claimNames.has(vm.name)) fail(file, `${id} ${c.name}: volumeMount ${vm.name} has no volume`);
        }
        const drain = (c.args || []).indexOf('--drain-s');
        if (c.args?.[0] === 'worker') {
            const drainS = drain >= 0 ? Number(c.args[drain + 1]) : 20;
            if (!((pod.terminationGracePeriodSeconds ?? 30) > drainS)) fail(file, `${id}: terminationGracePeriodSeconds must exceed --drain-s ${drainS}`);
            if (!c.resources?.limits?.['nvidia.com/gpu']) fail(file, `${id}: the worker does not ask for nvidia.com/gpu`);
        }
    }
    for (const v of pod.volumes || []) {
        if (v.secret && !find('Secret', v.secret.secretName)) fail(file, `${id}: volume ${v.name} mounts Secret ${v.secret.secretName}, which no file defines`);
        for (const it of v.secret?.items || []) {
            const s = find('Secret', v.secret.secretName);
            if (s && !(it.key in { ...(s.data || {}), ...(s.stringData || {}) })) fail(file, `${id}: volume ${v.name} mounts key ${it.key}, not in Secret ${s.metadata.name}`);
        }
    }
}
for (const s of byKind('Service')) {
    const file = docs.find((d) => d.obj === s).file;
    const target = workloads.find((w) => matches(s.spec?.selector, w.spec?.template?.metadata?.labels));
    if (!target) { fail(file, `Service/${s.metadata.name}: its selector matches no pod template`); continue; }
    const ports = new Set(target.spec.template.spec.containers.flatMap((c) => (c.ports || []).map((p) => p.name)));
    for (const p of s.spec.ports || []) if (typeof p.targetPort === 'string' && !ports.has(p.targetPort)) fail(file, `Service/${s.metadata.name}: targetPort ${p.targetPort} is no port of ${target.metadata.name}`);
}
for (const kind of ['PodDisruptionBudget']) {
    for (const p of byKind(kind)) {
        const file = docs.find((d) => d.obj === p).file;
        if (!workloads.some((w) => matches(p.spec?.selector?.matchLabels, w.spec?.template?.metadata?.labels))) fail(file, `${kind}/${p.metadata.name}: selects no pods`);
    }
}
for (const o of [...byKind('HorizontalPodAutoscaler'), ...byKind('ScaledObject')]) {
    const file = docs.find((d) => d.obj === o).file;
    const ref = o.spec?.scaleTargetRef;
    if (!find(ref?.kind || 'Deployment', ref?.name)) fail(file, `${o.kind}/${o.metadata.name}: scales ${ref?.kind} ${ref?.name}, which no file defines`);
}
// The parameters the KEDA docs list for the redis-streams scaler (2.11 and later).
const REDIS_STREAMS_KEYS = new Set(['address', 'addressFromEnv', 'host', 'hostFromEnv', 'port', 'portFromEnv',
    'username', 'usernameFromEnv', 'password', 'passwordFromEnv', 'databaseIndex', 'enableTLS', 'unsafeSsl',
    'stream', 'consumerGroup', 'pendingEntriesCount', 'streamLength', 'lagCount', 'activationLagCount']);
for (const o of [...byKind('HorizontalPodAutoscaler'), ...byKind('ScaledObject')]) {
    const target = find(o.spec?.scaleTargetRef?.kind || 'Deployment', o.spec?.scaleTargetRef?.name);
    if (target && 'replicas' in (target.spec || {})) fail(docs.find((d) => d.obj === target).file, `${target.kind}/${target.metadata.name}: sets replicas, which ${o.kind}/${o.metadata.name} owns (every apply would reset it)`);
}
for (const o of byKind('ScaledObject')) {
    const file = docs.find((d) => d.obj === o).file;
    const target = find('Deployment', o.spec?.scaleTargetRef?.name);
    const c = target?.spec?.template?.spec?.containers?.[0];
    const env = new Set((c?.env || []).map((e) => e.name));
    for (const ef of c?.envFrom || []) for (const k of Object.keys(find('ConfigMap', ef.configMapRef?.name)?.data || {})) env.add(k);
    const cm = find('ConfigMap', 'morphd-config');
    for (const t of o.spec?.triggers || []) {
        const md = t.metadata || {};
        if (t.type !== 'redis-streams') continue;
        for (const k of Object.keys(md)) if (k.endsWith('FromEnv') && !env.has(md[k])) fail(file, `ScaledObject/${o.metadata.name} trigger ${t.name}: ${k} ${md[k]} is not in ${target?.metadata?.name}'s environment`);
        // The trigger's metadata is a free-form map in the CRD: check its keys against the
        // redis-streams scaler's documented parameters (hand-written list, below).
        for (const k of Object.keys(md)) if (!REDIS_STREAMS_KEYS.has(k)) fail(file, `ScaledObject/${o.metadata.name} trigger ${t.name}: ${k} is not a redis-streams parameter`);
        if (!md.address && !md.addressFromEnv && !md.host) fail(file, `ScaledObject/${o.metadata.name} trigger ${t.name}: no Redis address`);
        const stream = `${cm?.data?.MORPHD_PREFIX ?? 'morphd:'}jobs`;
        if (md.stream !== stream) fail(file, `ScaledObject/${o.metadata.name} trigger ${t.name}: stream ${md.stream}, but the workers read ${stream}`);
        if (md.consumerGroup !== 'workers') fail(file, `ScaledObject/${o.metadata.name} trigger ${t.name}: consumerGroup must be workers`);
        if ('lagCount' in md && !('activationLagCount' in md)) fail(file, `ScaledObject/${o.metadata.name} trigger ${t.name}: lagCount needs activationLagCount (KEDA docs)`);
        for (const k of ['lagCount', 'pendingEntriesCount', 'streamLength', 'activationLagCount']) {
            if (k in md && !(typeof md[k] === 'string' && /^\d+$/.test(md[k]))) fail(file, `ScaledObject/${o.metadata.name} trigger ${t.name}: ${k} must be a quoted whole number`);
        }
    }
}
for (const sm of byKind('ServiceMonitor')) {
    const file = docs.find((d) => d.obj === sm).file;
    const svc = byKind('Service').find((s) => matches(sm.spec?.selector?.matchLabels, s.metadata?.labels));
    if (!svc) { fail(file, `ServiceMonitor/${sm.metadata.name}: selects no Service`); continue; }
    const names = new Set((svc.spec.ports || []).map((p) => p.name));
    for (const e of sm.spec.endpoints || []) if (!names.has(e.port)) fail(file, `ServiceMonitor/${sm.metadata.name}: endpoint port ${e.port} is not a port of Service ${svc.metadata.name}`);
}

for (const k of kinds) console.log(`checked ${k}`);
console.log(`${fieldsChecked} fields checked against the declared fields of their types`);
if (failures.length) {
    for (const f of failures) console.log(`FAIL ${f}`);
    console.log(`${failures.length} problem(s) in ${dir}`);
    process.exit(1);
}
console.log(`OK: ${docs.length} manifests in ${files.length} files`);
