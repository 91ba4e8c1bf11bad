// worker_crash.mjs — at-least-once delivery. (1) kill -9 the worker in the middle of a long job;
// a second worker reclaims it after the lease and finishes: exactly frames_total frame artifacts,
// no duplicates, every one a valid PNG. (2) A poison job (the worker's fault hook
// MORPHD_FAULT_CRASH_LABEL aborts on it) ends failed after --max-attempts deliveries, with an
// error that says so, and is counted in morphd_dead_lettered_total; the queue keeps moving.
import { run, sleep } from './harness.mjs';
import { total } from './prom.mjs';
import { isPng } from './frames.mjs';

const FRAMES = Number(process.env.MORPHD_TEST_CRASH_FRAMES || 600);

run('worker_crash', async (t) => {
    t.requireMorphd();
    t.requireMorph();
    const lease = ['--lease-ms', '1500'];
    const { redis, api, workers } = await t.cluster({ workers: 1, workerArgs: lease });
    const s = t.sample();
    const files = { source: s.source, target: s.target, source_texture: s.sourceTexture, target_texture: s.targetTexture };

    // ---- 1. kill -9 mid-job ----
    const sub = await api.submit(files, { frames: FRAMES, width: 256, height: 256 }, { expect: 202 });
    const id = sub.json.id;
    const mid = await api.poll(id, { until: (j) => j.progress.frames_done > 0, intervalMs: 20 });
    t.assert(mid.status === 'running', `the job was ${mid.status} when it should have been mid-way (raise MORPHD_TEST_CRASH_FRAMES)`);
    t.log(`killing w1 at ${mid.progress.frames_done}/${mid.progress.frames_total} frames`);
    await workers[0].crash();
    const killedAt = mid.progress.frames_done;
    const w2 = t.startWorker({ redis, storage: api.storage, name: 'w2', args: lease });
    const done = await api.poll(id, { intervalMs: 200 });
    t.assert(done.status === 'succeeded', `after the crash the job ended ${done.status}: ${done.error}`);
    t.check(done.progress.frames_done === FRAMES, `frames_done ${done.progress.frames_done} of ${FRAMES}`);
    t.check(killedAt < FRAMES, 'the worker was killed after the last frame: nothing was tested');
    const frames = done.artifacts.filter((a) => a.name.startsWith('frames/'));
    const names = frames.map((a) => a.name);
    t.check(frames.length === done.progress.frames_total, `${frames.length} frame artifacts, frames_total ${done.progress.frames_total}`);
    t.check(new Set(names).size === names.length, `duplicate artifacts: ${names.length - new Set(names).size}`);
    const all = done.artifacts.map((a) => a.name);
    t.check(new Set(all).size === all.length, 'duplicate names in the artifact list');
    const indices = names.map((n) => Number(n.slice(7, 11))).sort((a, b) => a - b);
    t.check(indices.every((v, i) => v === i), 'frame indices are not 0..N-1');
    let bad = 0;
    for (const a of frames) {
        const r = await api.get(a.url, { expect: 200 });
        const why = isPng(r.body);
        if (why && bad++ < 5) t.check(false, `${a.name}: ${why}`);
        if (!why) t.check(r.body.length === a.bytes, `${a.name}: ${r.body.length} bytes, listed ${a.bytes}`);
    }
    t.check(bad === 0, `${bad} frame(s) are not valid PNGs`);
    const m1 = await api.metrics();
    t.check((total(m1.families, 'morphd_redeliveries_total') ?? 0) >= 1, 'morphd_redeliveries_total is 0 after a reclaimed job');
    await w2.stop();

    // ---- 2. a poison job ----
    const poisonArgs = [...lease, '--max-attempts', '2'];
    const env = { MORPHD_FAULT_CRASH_LABEL: 'boom' };
    let n = 0;
    const live = [];
    const supervise = () => {
        n++;
        const w = t.startWorker({ redis, storage: api.storage, name: `p${n}`, args: poisonArgs, env, mayDie: true });
        live.push(w);
        return w;
    };
    supervise();
    supervise();
    const poison = await api.submit(files, { frames: 2, width: 32, height: 32, label: 'boom' }, { expect: 202 });
    const after = await api.submit(files, { frames: 2, width: 32, height: 32, label: 'fine' }, { expect: 202 });
    const deadline = Date.now() + 120000;
    let job;
    let deaths = 0;
    for (;;) {
        job = (await api.get(`/jobs/${poison.json.id}`, { expect: 200 })).json;
        if (job.status === 'failed' || job.status === 'succeeded' || Date.now() > deadline) break;
        for (let i = 0; i < live.length; i++) {
            if (!live[i].alive) {
                deaths++;
                t.check(live[i].signal === 'SIGABRT' || live[i].code !== 0, `${live[i].name} stopped without crashing (${live[i].describeExit()})`);
                live[i] = null;
            }
        }
        for (let i = live.length - 1; i >= 0; i--) if (live[i] === null) live.splice(i, 1);
        while (live.length < 2 && n < 12) supervise();
        await sleep(200);
    }
    t.check(job.status === 'failed', `the poison job ended ${job.status} (${deaths} worker deaths)`);
    t.check(/dead.?letter|attempt|deliver/i.test(job.error || ''), `the poison job's error does not say it was dead-lettered: ${job.error}`);
    t.check(deaths >= 1, 'no worker died on the poison job: is MORPHD_FAULT_CRASH_LABEL supported?');
    t.check(deaths <= 2 + 1, `${deaths} worker deaths for --max-attempts 2`);
    const fine = await api.poll(after.json.id, { timeoutMs: 120000 });
    t.check(fine.status === 'succeeded', `a normal job behind the poison one ended ${fine.status}: ${fine.error}`);
    const m2 = await api.metrics();
    t.check((total(m2.families, 'morphd_dead_lettered_total') ?? 0) >= 1, 'morphd_dead_lettered_total < 1');
    t.check((total(m2.families, 'morphd_jobs_finished_total', { status: 'failed' }) ?? 0) >= 1, 'morphd_jobs_finished_total{status="failed"} < 1');
    for (const w of t.procs) if (w.name.startsWith('worker-p')) w.mayDie = true;
});
