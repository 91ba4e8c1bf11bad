// k8s_probes.mjs — the exec probes of deploy/k8s run against real processes (ctest:
// deploy_k8s_probes). The shell is taken from the manifests as they are, with only the address
// changed (127.0.0.1:8080 / morphd-api:8080 -> this test's api), and run with sh as the kubelet
// would run it in the container:
//  - api readiness (api.yaml): passes with a worker, passes with none (workers scale to zero;
//    the api must stay in its Service), fails when Redis is down;
//  - worker liveness and startup (worker.yaml): pass for a worker whose heartbeat the api's
//    /metrics shows, fail for a name it does not show and once the worker is gone, pass when
//    the api cannot be reached.
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { run, sleep, which } from './harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const k8s = path.join(here, '..', '..', 'deploy', 'k8s');
const load = (f) => parseAllDocuments(fs.readFileSync(path.join(k8s, f), 'utf8')).map((d) => d.toJS());
const container = (f, name) => load(f).find((o) => o?.kind === 'Deployment').spec.template.spec.containers.find((c) => c.name === name);

run('k8s_probes', async (t) => {
    t.requireMorphd();
    for (const cmd of ['sh', 'curl']) if (!which(cmd)) t.skip(`${cmd} is not installed`);
    const api0 = container('api.yaml', 'api');
    const wk0 = container('worker.yaml', 'worker');
    const shell = (probe, what) => {
        const c = probe?.exec?.command;
        t.assert(Array.isArray(c) && c[0] === 'sh' && c[1] === '-c' && c.length === 3, `${what} is not an exec probe of the form sh -c SCRIPT`);
        return c[2];
    };
    const ready = shell(api0.readinessProbe, 'api.yaml readinessProbe');
    const live = shell(wk0.livenessProbe, 'worker.yaml livenessProbe');
    t.check(shell(wk0.startupProbe, 'worker.yaml startupProbe') === live, 'worker.yaml: the startup probe is not the liveness check');
    t.check(ready.includes('127.0.0.1:8080'), 'the api readiness probe does not ask 127.0.0.1:8080');
    t.check(live.includes('morphd-api:8080'), 'the worker liveness probe does not ask morphd-api:8080');

    const { redis, api } = await t.cluster({ workers: 0 });
    const addr = `127.0.0.1:${api.port}`;
    const probe = (script, env = {}) => {
        const r = spawnSync('sh', ['-c', script.replaceAll('127.0.0.1:8080', addr).replaceAll('morphd-api:8080', addr)],
            { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 20000 });
        return { code: r.status, out: `${r.stdout}${r.stderr}`.trim() };
    };
    const expect = (what, r, code) => t.check(r.code === code, `${what}: exit ${r.code}, expected ${code} (${r.out})`);
    const until = async (fn, code, ms = 15000) => {
        const end = Date.now() + ms;
        let r;
        do {
            r = fn();
            if (r.code === code) return r;
            await sleep(250);
        } while (Date.now() < end);
        return r;
    };

    const name = 'morphd-worker-7d9f8-abcde'; // a pod name
    expect('api readiness with no worker (503 for the worker only)', probe(ready), 0);
    expect('worker liveness for a worker that never started', probe(live, { POD_NAME: name }), 1);

    const w = t.startWorker({ redis, storage: api.storage, name });
    await api.waitReady();
    expect('api readiness with a worker', probe(ready), 0);
    expect('worker liveness for the running worker', await until(() => probe(live, { POD_NAME: name }), 0), 0);
    expect('worker liveness for a name /metrics does not list', probe(live, { POD_NAME: `${name}x` }), 1);
    expect('worker liveness for a prefix of the name', probe(live, { POD_NAME: name.slice(0, -1) }), 1);

    await w.stop();
    expect('worker liveness once the worker stopped', await until(() => probe(live, { POD_NAME: name }), 1), 1);

    await redis.proc.stop();
    expect('api readiness with Redis down', await until(() => probe(ready), 1), 1);

    await api.proc.stop();
    expect('worker liveness with the api unreachable', probe(live, { POD_NAME: name }), 0);
});
