// soak.mjs — the job server under mixed load for a long time (issue 14, item 4), with the
// failures operators see: a worker killed with SIGKILL and started again every WORKER_KILL_S,
// Redis stopped and started again once, half way. bench/soak.sh runs it for 10 minutes; ctest
// (label soak) runs a 60-second version.
//
// Load, from several concurrent loops for MORPHD_SOAK_S seconds: submissions (small morph jobs,
// some with textures; paused while MAX_OPEN accepted jobs are not yet seen terminal), polls of known jobs, downloads of finished jobs' artifacts, cancels,
// deletes, job listings, and bad requests (broken multipart, unknown routes and ids, a
// malformed Content-Length, too many headers). Every answer is checked against openapi.yaml by
// the harness.
//
// Checks at the end: no answer was a 5xx other than 503 and no request went unanswered; every
// accepted job that was not deleted is found (nothing lost) and reaches a terminal state once
// the load stops; the api's RSS and open fds are flat (start, after warm-up, and end printed;
// the end may exceed the start by at most RSS_SLACK and FD_SLACK); the worker's are printed
// too (each kill starts a fresh process, so they are reported, not compared).
import fs from 'node:fs';
import { run, sleep, rawHttp, TERMINAL, SLOW } from '../tests/integration/harness.mjs';

const DURATION_S = Number(process.env.MORPHD_SOAK_S || 600);
const WORKER_KILL_S = Number(process.env.MORPHD_SOAK_KILL_S || (DURATION_S >= 300 ? 60 : 15));
const RSS_SLACK = 64 * 2 ** 20;
// Submitters pause while this many accepted jobs are not yet seen terminal, so the queue stays
// near what the worker can take and the end is reached in a bounded time on a slow machine.
const MAX_OPEN = 24;
const FD_SLACK = 16;

function procStats(pid) {
    try {
        const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
        return { rss: m ? Number(m[1]) * 1024 : 0, fds: fs.readdirSync(`/proc/${pid}/fd`).length };
    } catch {
        return { rss: 0, fds: 0 };
    }
}
const mib = (b) => `${(b / 2 ** 20).toFixed(1)} MiB`;
const pick = (arr) => arr[Math.floor(Math.random() * arr.length)];

run('soak', async (t) => {
    t.requireMorphd();
    const redis = await t.startRedis({ args: ['--appendfsync', 'always'] });
    const api = await t.startApi({ redis });
    const workerArgs = ['--lease-ms', '3000', '--drain-s', '5'];
    let workers = 1;
    let worker = t.startWorker({ redis, storage: api.storage, name: 'w1', args: workerArgs, mayDie: true });
    await api.waitReady();
    const s = t.sample();
    const bare = { source: s.source, target: s.target };
    const textured = { ...bare, source_texture: s.sourceTexture, target_texture: s.targetTexture };

    const accepted = new Map(); // id -> { deleted }
    const open = new Set(); // accepted, not deleted, not yet seen terminal
    const note = (id, r) => {
        if (r && r.status === 200 && r.json && TERMINAL.has(r.json.status)) open.delete(id);
        if (r && r.status === 404) open.delete(id); // deleted (by us) or lost: the end checks
    };
    const statuses = {};
    const bad5xx = [];
    const unanswered = [];
    const count = (what, r) => {
        statuses[r.status] = (statuses[r.status] || 0) + 1;
        if (r.status >= 500 && r.status !== 503) bad5xx.push(`${what}: ${r.status} ${r.text ? r.text.slice(0, 200) : ''}`);
        return r;
    };
    // Every request goes through here: an exception (no answer, or an answer that breaks
    // openapi.yaml) is recorded, and the loops carry on.
    const attempt = async (what, fn) => {
        try {
            return count(what, await fn());
        } catch (e) {
            unanswered.push(`${what}: ${e.message.split('\n')[0]}`);
            return null;
        }
    };

    const apiStart = procStats(api.proc.pid);
    const workerStart = procStats(worker.pid);
    t.log(`start: api rss ${mib(apiStart.rss)} fds ${apiStart.fds}; worker rss ${mib(workerStart.rss)} fds ${workerStart.fds}`);

    const t0 = Date.now();
    const endAt = t0 + DURATION_S * 1000;
    const running = () => Date.now() < endAt;
    let apiWarm = null;

    const submitter = async (n) => {
        let i = 0;
        while (running()) {
            if (open.size >= MAX_OPEN) {
                await sleep(100);
                continue;
            }
            const files = i % 3 === 0 ? textured : bare;
            const r = await attempt('POST /jobs', () => api.submit(files, { frames: 3 + (i % 5), width: 48, height: 48, label: `soak${n}-${i}` }));
            if (r && r.status === 202) {
                accepted.set(r.json.id, { deleted: false });
                open.add(r.json.id);
            }
            i++;
            await sleep(150 + Math.random() * 150);
        }
    };
    const poller = async () => {
        while (running()) {
            // Mostly the jobs not yet seen terminal, so the submitters learn when to go on.
            const from = open.size > 0 && Math.random() < 0.8 ? [...open] : [...accepted.keys()];
            if (from.length > 0) {
                const id = pick(from);
                note(id, await attempt('GET /jobs/{id}', () => api.get(`/jobs/${id}`)));
            }
            await sleep(50);
        }
    };
    const downloader = async () => {
        while (running()) {
            const ids = [...accepted.keys()];
            if (ids.length > 0) {
                const id = pick(ids);
                const j = await attempt('GET /jobs/{id}', () => api.get(`/jobs/${id}`));
                const art = j && j.status === 200 && j.json.status === 'succeeded' ? pick(j.json.artifacts) : null;
                if (art) await attempt('GET artifact', () => api.get(`/jobs/${id}/artifacts/${art.name}`));
            }
            await sleep(200);
        }
    };
    const meddler = async () => {
        let i = 0;
        while (running()) {
            const ids = [...accepted.entries()].filter(([, v]) => !v.deleted).map(([k]) => k);
            if (ids.length > 4) {
                const id = pick(ids);
                if (i % 2 === 0) {
                    await attempt('POST cancel', () => api.request('POST', `/jobs/${id}/cancel`));
                } else {
                    const r = await attempt('DELETE', () => api.request('DELETE', `/jobs/${id}`));
                    if (r && r.status === 204) {
                        accepted.get(id).deleted = true;
                        open.delete(id);
                    }
                }
            }
            await attempt('GET /jobs', () => api.get('/jobs?limit=20'));
            i++;
            await sleep(700);
        }
    };
    const vandal = async () => {
        let i = 0;
        const bad = [
            () => api.request('POST', '/jobs', { headers: { 'Content-Type': 'multipart/form-data; boundary=zz' }, body: 'not multipart' }),
            () => api.get('/nope'),
            () => api.get('/jobs/0123456789abcdef0123456789abcdef'),
            () => api.get('/jobs?limit=0'),
            () => api.submit(bare, '{"frames": "many"}'),
            () => api.raw('POST', '/jobs', { headers: { 'Content-Length': '-1' } }),
            () => api.raw('GET', '/healthz', { headers: Object.fromEntries(Array.from({ length: 150 }, (_, k) => [`X-S${k}`, 'v'])) }),
        ];
        while (running()) {
            await attempt('bad request', bad[i % bad.length]);
            i++;
            await sleep(300);
        }
    };
    const chaos = async () => {
        let redisDone = false;
        let nextKill = t0 + WORKER_KILL_S * 1000;
        while (running()) {
            await sleep(250);
            if (apiWarm === null && Date.now() - t0 > Math.min(30000, (DURATION_S * 1000) / 4)) {
                apiWarm = procStats(api.proc.pid);
                t.log(`warm: api rss ${mib(apiWarm.rss)} fds ${apiWarm.fds}`);
            }
            if (!redisDone && Date.now() - t0 > (DURATION_S * 1000) / 2) {
                redisDone = true;
                t.log('stopping redis (SIGTERM), then starting it again');
                await redis.proc.stop();
                await sleep(1500);
                await t.restartRedis(redis);
            }
            if (Date.now() >= nextKill && running()) {
                nextKill += WORKER_KILL_S * 1000;
                t.log(`killing worker pid ${worker.pid} (SIGKILL) and starting another`);
                await worker.crash();
                workers++;
                worker = t.startWorker({ redis, storage: api.storage, name: `w${workers}`, args: workerArgs, mayDie: true });
            }
        }
    };

    await Promise.all([submitter(1), submitter(2), poller(), poller(), downloader(), meddler(), vandal(), chaos()]);
    const loadS = (Date.now() - t0) / 1000;

    // Every accepted job that was not deleted: found, and terminal within the drain deadline.
    const live = [...accepted.entries()].filter(([, v]) => !v.deleted).map(([k]) => k);
    const deadline = Date.now() + 180000 * SLOW;
    const pending = new Set(live);
    const lost = [];
    while (pending.size > 0 && Date.now() < deadline) {
        for (const id of [...pending]) {
            const r = await attempt('GET /jobs/{id} (final)', () => api.get(`/jobs/${id}`));
            if (r === null || r.status === 503) continue;
            if (r.status === 404) {
                lost.push(id);
                pending.delete(id);
            } else if (r.status === 200 && TERMINAL.has(r.json.status)) {
                pending.delete(id);
            }
        }
        if (pending.size > 0) await sleep(1000);
    }
    const apiEnd = procStats(api.proc.pid);
    const workerEnd = procStats(worker.pid);
    const base = apiWarm || apiStart;
    t.log(`load ${loadS.toFixed(0)} s: ${accepted.size} jobs accepted, ${accepted.size - live.length} deleted; answers ${JSON.stringify(statuses)}`);
    t.log(`api: rss start ${mib(apiStart.rss)}, warm ${mib(base.rss)}, end ${mib(apiEnd.rss)}; fds start ${apiStart.fds}, warm ${base.fds}, end ${apiEnd.fds}`);
    t.log(`worker: rss start ${mib(workerStart.rss)}, end ${mib(workerEnd.rss)} (a fresh process after each kill); fds start ${workerStart.fds}, end ${workerEnd.fds}`);

    t.check(accepted.size > 0, 'expected some jobs to be accepted, got none');
    t.check(bad5xx.length === 0, `expected no 5xx other than 503, got ${bad5xx.length}:\n  ${bad5xx.slice(0, 10).join('\n  ')}`);
    t.check(unanswered.length === 0, `expected every request answered (and by openapi.yaml), got ${unanswered.length} not:\n  ${unanswered.slice(0, 10).join('\n  ')}`);
    t.check(lost.length === 0, `expected every accepted job found, ${lost.length} answered 404: ${lost.slice(0, 5).join(', ')}`);
    t.check(pending.size === 0, `expected every accepted job terminal within ${180 * SLOW} s after the load, ${pending.size} are not: ${[...pending].slice(0, 5).join(', ')}`);
    t.check(apiEnd.rss <= base.rss + RSS_SLACK, `expected the api's RSS flat (at most ${mib(base.rss + RSS_SLACK)}), got ${mib(apiEnd.rss)}`);
    t.check(apiEnd.fds <= base.fds + FD_SLACK, `expected the api's fds flat (at most ${base.fds + FD_SLACK}), got ${apiEnd.fds}`);
    t.check(api.proc.alive, 'expected the api to run throughout, it exited');
});
