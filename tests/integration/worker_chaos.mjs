// worker_chaos.mjs — issue 9: workers killed with SIGKILL at random moments. 20 small jobs (the
// sample meshes, a mix of frame counts), two workers taking four jobs per batch, a short lease
// and --max-attempts 3. A supervisor loop waits for some progress, then a random time, then
// SIGKILLs a random worker and starts a fresh one in its place (a new name, as a restarted
// host process would get), at least KILLS times. Seeded: the seed is printed, and
// MORPHD_TEST_SEED=<seed> replays the same choices (timing still varies run to run).
//
// Afterwards: every accepted job reached exactly one terminal state and succeeded with all its
// frames as decodable PNGs; no job was dead-lettered (no job crashes the worker here, so a
// worker's death must not use up its batch-mates' attempts); the queue stream is empty; and no
// storage temp file (".tmp.<pid>.<n>", storage/file.c) is left anywhere under the store.
import { run, sleep, SLOW, redisCall } from './harness.mjs';
import { JobWatch, tempFiles, storeDir } from './lifecycle.mjs';

const JOBS = 20;
const FRAMES = [60, 120, 180, 240]; // job i asks for FRAMES[i % 4], 192x192
const KILLS = Number(process.env.MORPHD_TEST_CHAOS_KILLS || 12); // at least 10 (issue 9)
const MAX_DELAY_MS = 1200; // after progress, a kill waits a random 0..MAX_DELAY_MS
const PREFIX = 'morphd:';
const WORKER_ARGS = ['--lease-ms', '1000', '--max-attempts', '3', '--batch-max-jobs', '4'];

// mulberry32: a small seeded PRNG, numbers in [0, 1).
function prng(seed) {
    let a = seed >>> 0;
    return () => {
        a = (a + 0x6d2b79f5) >>> 0;
        let x = a;
        x = Math.imul(x ^ (x >>> 15), x | 1);
        x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
        return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
    };
}

run('worker_chaos', async (t) => {
    t.requireMorphd();
    t.requireMorph();
    const seed = process.env.MORPHD_TEST_SEED ? Number(process.env.MORPHD_TEST_SEED) >>> 0 : (Math.random() * 2 ** 32) >>> 0;
    t.log(`seed ${seed} (replay with MORPHD_TEST_SEED=${seed})`);
    const random = prng(seed);

    const { redis, api } = await t.cluster({ workers: 0 });
    const s = t.sample();
    const files = { source: s.source, target: s.target, source_texture: s.sourceTexture, target_texture: s.targetTexture };
    const watch = new JobWatch(t, api);
    // All queued before any worker starts, so batches are full (four jobs each).
    for (let i = 0; i < JOBS; i++) {
        const frames = FRAMES[i % FRAMES.length];
        watch.add(await api.submit(files, { frames, width: 192, height: 192, label: `chaos${i}` }, { expect: 202 }), frames);
    }
    t.log(`submitted ${JOBS} jobs (${[...watch.jobs.values()].reduce((n, r) => n + r.frames, 0)} frames)`);

    let started = 0;
    const slots = ['a', 'b'].map((slot) => ({ slot, proc: null }));
    const startIn = (sl) => {
        started++;
        sl.proc = t.startWorker({ redis, storage: api.storage, name: `${sl.slot}${started}`, args: WORKER_ARGS });
    };
    for (const sl of slots) startIn(sl);

    // Who holds which entries: XPENDING's extended form [[entry, consumer, idle, deliveries]].
    const held = async (name) => {
        const p = await redisCall(redis.port, 'XPENDING', `${PREFIX}jobs`, 'workers', '-', '+', '1000');
        return p.filter((e) => e[1] === name);
    };

    // ---- The supervisor: progress, a random pause, SIGKILL, restart ----
    let kills = 0;
    let last = await watch.observe();
    // Progress: a job counted another frame or ended since the snapshot (frames_done restarts
    // at 0 when a job is delivered again, so the sum over jobs is no measure).
    const snapshot = () => new Map([...watch.jobs.values()].map((r) => [r.id, { done: r.last.progress.frames_done, status: r.last.status }]));
    const progressed = (snap) => [...watch.jobs.values()].some((r) => r.last.progress.frames_done > snap.get(r.id).done || (r.last.status !== snap.get(r.id).status && r.terminal !== null));
    while (kills < KILLS) {
        const since = snapshot();
        const deadline = Date.now() + 60000 * SLOW;
        let now;
        for (;;) {
            now = await watch.observe();
            if (now.terminal === JOBS || progressed(since)) break;
            t.checkProcs();
            t.assert(Date.now() < deadline, `no progress for 60 s after kill ${kills}: ${JSON.stringify(now.byStatus)}`);
            await sleep(50);
        }
        if (now.terminal === JOBS) break;
        await sleep(Math.floor(random() * MAX_DELAY_MS * SLOW));
        const sl = slots[Math.floor(random() * slots.length)];
        const victim = sl.proc;
        const holding = victim.alive ? await held(victim.args[victim.args.indexOf('--name') + 1]) : [];
        t.checkProcs();
        await victim.crash();
        kills++;
        last = await watch.observe();
        t.log(`kill ${kills}: ${victim.name} (pid ${victim.pid}) holding ${holding.length} entr${holding.length === 1 ? 'y' : 'ies'} (deliveries ${holding.map((e) => e[3]).join(',') || '-'}); jobs ${JSON.stringify(last.byStatus)}`);
        startIn(sl);
    }
    // Dead-lettered jobs end early and shorten the run, so on the code of issue 9 this can fail
    // as a consequence of the dead-letter failure below.
    t.check(kills >= 10, `only ${kills} kills happened before every job finished (issue 9 asks for at least 10; ${last.byStatus.failed || 0} job(s) had failed by the last kill, which ends jobs early: see the dead-letter check; otherwise make the jobs bigger)`);

    // ---- Every accepted job ends once; none dead-lettered; frames whole; no temp files ----
    const end = await watch.waitAllTerminal(180000 * SLOW);
    t.log(`all terminal after ${kills} kills and ${started} worker starts: ${JSON.stringify(end.byStatus)}`);
    const attempts = {};
    for (const id of watch.ids) {
        const a = await redisCall(redis.port, 'HGET', `${PREFIX}job:${id}`, 'attempts');
        attempts[a] = (attempts[a] || 0) + 1;
    }
    t.log(`deliveries per job (attempts: jobs): ${JSON.stringify(attempts)}`);

    const deadLettered = [...watch.jobs.values()].filter((r) => r.last.status === 'failed' && /dead.?letter/i.test(r.last.error || ''));
    const deadStream = await redisCall(redis.port, 'XLEN', `${PREFIX}dead`);
    // KNOWN TO FAIL on the code of issue 9: a worker's death counts a delivery against every job
    // of its batch (the delivery count of each entry it held), so batch-mates of a batch killed
    // three times are dead-lettered at the next delivery although none of them crashed anything.
    // The crash-accounting fix makes this pass; do not weaken it.
    t.check(
        deadLettered.length === 0 && deadStream === 0,
        `${deadLettered.length} of ${JOBS} jobs dead-lettered (${PREFIX}dead has ${deadStream} entries) although no job crashes the worker: ${deadLettered
            .slice(0, 5)
            .map((r) => `${r.label}: ${r.last.error}`)
            .join('; ')}`,
    );
    let checked = 0;
    for (const rec of watch.jobs.values()) {
        if (rec.lost || deadLettered.includes(rec)) continue;
        if (!t.check(rec.last.status === 'succeeded', `job ${rec.id} (${rec.label}) ended ${rec.last.status}: ${rec.last.error}`)) continue;
        checked += await watch.checkFrames(rec);
    }
    t.log(`${checked} frames of ${JOBS - deadLettered.length} jobs checked`);
    const xlen = await redisCall(redis.port, 'XLEN', `${PREFIX}jobs`);
    t.check(xlen === 0, `${PREFIX}jobs still has ${xlen} entries after every job finished`);

    // A worker killed between creating a storage temp file and renaming it leaves
    // ".tmp.<pid>.<n>" behind; the retry (or the dead letter) sweeps them. File store only: S3
    // has no temp objects (an unfinished multipart upload is invisible).
    if (api.storage.startsWith('file://')) {
        const temps = tempFiles(storeDir(api.storage));
        t.check(temps.length === 0, `${temps.length} storage temp file(s) left under the store after ${kills} kills: ${temps.slice(0, 5).join(' ')}`);
    }
});
