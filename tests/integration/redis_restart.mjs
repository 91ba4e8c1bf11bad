// redis_restart.mjs — issue 9: Redis stopped while jobs are queued and running loses no
// accepted job, and the api answers 503 problem+json meanwhile.
//
// Redis runs with AOF on and appendfsync always (every acknowledged write is on disk), an api
// and one worker taking two jobs per batch, so that at each outage some jobs are running and
// some queued. (a) Redis is stopped with SIGTERM; while it is down GET /jobs/{id}, GET /jobs and
// POST /jobs answer 503 unavailable as application/problem+json with Retry-After, /healthz
// still 200 and /readyz 503; then it starts again on the same port and folder. (b) Later Redis
// is killed with SIGKILL, the same checks, started again. At the end every accepted job reached
// exactly one terminal state, succeeded (an outage is not the job's fault), with all its frames
// as decodable PNGs; none is lost (404); no 503 POST queued a job; the queue stream is empty and
// nothing was dead-lettered; the api and the worker are the processes started at the beginning
// (they reconnect with backoff, they do not die).
import { run, sleep, SLOW, redisCall } from './harness.mjs';
import { JobWatch } from './lifecycle.mjs';

const FRAMES = [160, 240, 120, 200, 160, 240, 120, 200]; // per job, 192x192
const DOWN_MS = 1500; // how long each outage lasts at least
const PREFIX = 'morphd:';

run('redis_restart', async (t) => {
    t.requireMorphd();
    t.requireMorph();
    const redis = await t.startRedis({ args: ['--appendfsync', 'always'] });
    const api = await t.startApi({ redis });
    // A short lease: a batch whose finish could not be recorded while Redis was down is
    // reclaimed soon after Redis is back.
    const worker = t.startWorker({ redis, storage: api.storage, name: 'w1', args: ['--lease-ms', '2000', '--batch-max-jobs', '2'] });
    await api.waitReady();
    const s = t.sample();
    const files = { source: s.source, target: s.target, source_texture: s.sourceTexture, target_texture: s.targetTexture };
    const spec = (frames, i) => ({ frames, width: 192, height: 192, label: `rr${i}` });

    const watch = new JobWatch(t, api);
    for (const [i, frames] of FRAMES.entries()) watch.add(await api.submit(files, spec(frames, i), { expect: 202 }), frames);
    t.log(`submitted ${watch.jobs.size} jobs (${FRAMES.reduce((a, b) => a + b, 0)} frames)`);

    // Observes until cond(counts) holds; returns the counts.
    const waitFor = async (what, cond, timeoutMs = 60000 * SLOW, allow503 = false) => {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
            const c = await watch.observe({ allow503 });
            if (cond(c)) return c;
            t.checkProcs();
            t.assert(Date.now() < deadline, `waiting for ${what}: not within ${timeoutMs} ms (${JSON.stringify(c.byStatus)})`);
            await sleep(50);
        }
    };

    // A 503 unavailable problem with Retry-After.
    const check503 = (r, what) => {
        const ct = r.headers.get('content-type') || '';
        const ra = r.headers.get('retry-after');
        return (
            t.check(r.status === 503, `${what} while Redis is down: ${r.status}, expected 503: ${r.text}`) &&
            t.check(/^application\/problem\+json/.test(ct), `${what} while Redis is down: Content-Type ${ct}, expected application/problem+json`) &&
            t.check(r.json?.type === 'urn:morphd:problem:unavailable', `${what} while Redis is down: problem type ${r.json?.type}`) &&
            t.check(ra !== null && /^\d+$/.test(ra), `${what} while Redis is down: Retry-After ${ra}`)
        );
    };

    const outage = async (how) => {
        const c = await watch.observe();
        t.log(`outage (${how}): ${JSON.stringify(c.byStatus)}, ${c.framesDone} frames counted`);
        t.check(c.queued > 0 && c.running > 0, `outage (${how}) should find jobs both queued and running, found ${JSON.stringify(c.byStatus)} (make the jobs bigger)`);
        if (how === 'SIGTERM') await redis.proc.stop();
        else await redis.proc.crash();
        const downSince = Date.now();
        let rounds = 0;
        let ok = 0;
        while (Date.now() - downSince < DOWN_MS || rounds < 3) {
            const id = watch.ids[rounds % watch.jobs.size];
            if (check503(await api.get(`/jobs/${id}`), 'GET /jobs/{id}')) ok++;
            if (check503(await api.get('/jobs'), 'GET /jobs')) ok++;
            if (check503(await api.submit(files, spec(2, 'down')), 'POST /jobs')) ok++;
            const h = await api.get('/healthz');
            t.check(h.status === 200, `/healthz while Redis is down: ${h.status} (the api itself is alive)`);
            const rz = await api.get('/readyz');
            t.check(rz.status === 503, `/readyz while Redis is down: ${rz.status}, expected 503`);
            rounds++;
            t.checkProcs();
            await sleep(100);
        }
        t.log(`Redis down ${Date.now() - downSince} ms: ${ok} of ${rounds * 3} requests answered 503 unavailable`);
        await t.restartRedis(redis);
        const upAt = Date.now();
        // The api reconnects with backoff (at most 5 s between tries).
        const back = await waitFor('the api to reach Redis again', (x) => x.unavailable === 0, 20000 * SLOW, true).catch((e) => e);
        t.log(`Redis back: the api answered 200 again after ${Date.now() - upAt} ms`);
        if (back instanceof Error) throw back;
    };

    // ---- (a) SIGTERM while the first batch renders and the rest is queued ----
    await waitFor('a job to render', (c) => c.running > 0 && c.framesDone > 0);
    await outage('SIGTERM');

    // ---- (b) SIGKILL once more jobs finished, again with some running and some queued ----
    const doneA = (await watch.observe()).terminal;
    await waitFor('progress after the first restart', (c) => c.terminal >= doneA + 2 || c.queued <= 2);
    await waitFor('a job to render', (c) => c.running > 0 && c.framesDone > 0);
    await outage('SIGKILL');

    // ---- Every accepted job ends once, succeeded, with all its frames ----
    const end = await watch.waitAllTerminal(120000 * SLOW);
    t.log(`all terminal: ${JSON.stringify(end.byStatus)}`);
    let checked = 0;
    for (const rec of watch.jobs.values()) {
        const job = rec.last;
        if (rec.lost) continue;
        if (!t.check(job.status === 'succeeded', `job ${rec.id} (${rec.label}) ended ${job.status}: ${job.error} — a Redis outage is not the job's fault`)) continue;
        checked += await watch.checkFrames(rec);
    }
    t.log(`${checked} frames checked`);

    // No POST answered 503 left a job behind; the queue is empty; nothing was dead-lettered.
    const list = await api.get('/jobs?limit=100', { expect: 200 });
    const listed = list.json.jobs.map((j) => j.id).sort();
    t.check(JSON.stringify(listed) === JSON.stringify(watch.ids.sort()), `GET /jobs lists ${listed.length} jobs, ${watch.jobs.size} were accepted (a 503 POST must not queue one): extra ${listed.filter((id) => !watch.jobs.has(id)).join(' ')}`);
    const xlen = await redisCall(redis.port, 'XLEN', `${PREFIX}jobs`);
    t.check(xlen === 0, `${PREFIX}jobs still has ${xlen} entries after every job finished`);
    const dead = await redisCall(redis.port, 'XLEN', `${PREFIX}dead`);
    t.check(dead === 0, `${dead} job(s) dead-lettered by Redis outages`);

    // The same api and worker processes, alive: they rode out both outages.
    t.check(api.proc.alive, `the api died: ${api.proc.describeExit()}`);
    t.check(worker.alive, `the worker died: ${worker.describeExit()}`);
});
