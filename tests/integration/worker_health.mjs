// worker_health.mjs — the images' HEALTHCHECK (deploy/docker/healthcheck.sh) against real
// processes: (1) a worker with --health-file sets the file's time at each heartbeat, and the
// check passes; (2) with Redis stopped the file ages and the check fails, saying how long ago
// the last beat reached Redis; after Redis is back the check passes again; (3) a worker stopped
// with SIGTERM removes the file, and the check fails; (4) for `morphd api` the check asks
// /healthz (passes while it answers; fails against a port nobody listens on).
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { run, sleep, freePort, Failure } from './harness.mjs';

const SCRIPT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../deploy/docker/healthcheck.sh');

function check(env) {
    const r = spawnSync('sh', [SCRIPT], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 20000 });
    return { code: r.status, stderr: (r.stderr || '').trim() };
}

async function until(what, fn, timeoutMs = 15000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const v = await fn();
        if (v) return v;
        if (Date.now() > deadline) throw new Failure(`${what}: not within ${timeoutMs} ms`);
        await sleep(100);
    }
}

run('worker_health', async (t) => {
    t.requireMorphd();
    const redis = await t.startRedis();
    const api = await t.startApi({ redis });
    const file = path.join(t.mkdir('health'), 'worker.alive');
    const worker = t.startWorker({ redis, storage: api.storage, args: ['--health-file', file, '--heartbeat-ms', '200', '--lease-ms', '3000'] });
    const env = { MORPHD_HEALTH_PID: String(worker.pid), MORPHD_HEALTH_FILE: file, MORPHD_HEALTH_MAX_AGE_S: '2' };

    // (1) beating: the file's time moves, the check passes.
    const first = await until('the health file gets a heartbeat time', () => fs.existsSync(file) && fs.statSync(file).mtimeMs > 0 && fs.statSync(file).mtimeMs);
    await until('the health file time advances', () => fs.statSync(file).mtimeMs > first);
    let r = check(env);
    t.check(r.code === 0, `worker beating: expected the check to pass (0), got ${r.code}: ${r.stderr}`);

    // (2) Redis down: no beat reaches it, the file ages past 2 s, the check fails and says why.
    redis.proc.mayDie = true;
    redis.proc.kill('SIGKILL');
    await redis.proc.exited;
    r = await until('the check fails with Redis down', () => {
        const c = check(env);
        return c.code !== 0 ? c : null;
    });
    t.check(/last heartbeat that reached Redis was \d+ s ago/.test(r.stderr), `Redis down: expected "last heartbeat that reached Redis was N s ago", got: ${r.stderr}`);
    await t.restartRedis(redis);
    r = await until('the check passes again with Redis back', () => {
        const c = check(env);
        return c.code === 0 ? c : null;
    });

    // (3) a clean stop removes the file: a stopped worker is not healthy.
    await worker.stop();
    t.check(!fs.existsSync(file), `after SIGTERM: expected ${file} removed, it is still there`);

    // (4) the api: /healthz, on the URL given.
    const apiEnv = { MORPHD_HEALTH_PID: String(api.proc.pid) };
    r = check({ ...apiEnv, MORPHD_HEALTH_URL: `${api.base}/healthz` });
    t.check(r.code === 0, `api answering: expected the check to pass (0), got ${r.code}: ${r.stderr}`);
    const nobody = await freePort();
    r = check({ ...apiEnv, MORPHD_HEALTH_URL: `http://127.0.0.1:${nobody}/healthz` });
    t.check(r.code !== 0, `api check on a closed port: expected a failure, got ${r.code}`);
    t.checkProcs();
});
