// janitor.mjs — a job's stored objects go with its record. Workers with a short --retention-s
// and --janitor-interval-s 1: (1) a job that succeeded keeps jobs/{id}/ while its record lives,
// and once Redis has expired the record the janitor deletes the folder; (2) a job canceled while
// no worker ran gets its expiry from the worker that skips it, and its inputs go the same way;
// (3) a job still within its retention (a worker with --retention-s 3600, whose janitor runs
// every second) keeps its files.
import fs from 'node:fs';
import path from 'node:path';
import { run, sleep, Failure, SLOW } from './harness.mjs';


run('janitor', async (t) => {
    t.requireFileStorage('this test looks at the file store\'s job folders');
    t.requireMorphd();
    t.requireMorph();
    const redis = await t.startRedis();
    const api = await t.startApi({ redis });
    const storeDir = api.storage.replace(/^file:\/\//, '');
    const folder = (id) => path.join(storeDir, 'jobs', id);
    const s = t.sample();
    const files = { source: s.source, target: s.target };
    const spec = { frames: 2, width: 32, height: 32 };
    const short = ['--retention-s', '3', '--janitor-interval-s', '1'];

    // Waits until GET /jobs/{id} is 404 (the record expired) and jobs/{id}/ is gone.
    const waitGone = async (id, what) => {
        const deadline = Date.now() + 30000 * SLOW;
        let status;
        for (;;) {
            status = (await api.get(`/jobs/${id}`, { expect: [200, 404] })).status;
            if (status === 404 && !fs.existsSync(folder(id))) return;
            if (Date.now() > deadline) {
                const left = fs.existsSync(folder(id)) ? fs.readdirSync(folder(id), { recursive: true }).join(', ') : '(no folder)';
                throw new Failure(`${what} ${id}: after 30 s the record answers ${status} and jobs/${id}/ holds: ${left}`);
            }
            t.checkProcs();
            await sleep(200);
        }
    };

    // ---- 1. a succeeded job, retention 3 s ----
    const w1 = t.startWorker({ redis, storage: api.storage, name: 'short1', args: short });
    await api.waitReady();
    const a = (await api.submit(files, spec, { expect: 202 })).json.id;
    const done = await api.poll(a);
    t.assert(done.status === 'succeeded', `job ${a} ended ${done.status}: ${done.error}`);
    t.check(fs.existsSync(path.join(folder(a), 'manifest.json')), `jobs/${a}/manifest.json is not in the store right after the job succeeded`);
    await w1.stop();

    // ---- 2. canceled before any worker took it ----
    const c = (await api.submit(files, spec, { expect: 202 })).json.id;
    const canceled = await api.request('POST', `/jobs/${c}/cancel`, { expect: 200 });
    t.check(canceled.json.status === 'canceled', `cancel of a queued job: status ${canceled.json.status}`);
    t.check(fs.existsSync(path.join(folder(c), 'inputs')), `jobs/${c}/inputs/ is not in the store after submitting`);

    const w2 = t.startWorker({ redis, storage: api.storage, name: 'short2', args: short });
    await waitGone(a, 'succeeded job');
    await waitGone(c, 'canceled job');
    await w2.stop();
    const log = fs.readFileSync(w2.log, 'utf8');
    t.check(/janitor: deleted the objects of \d+ expired job/.test(log), `worker short2 never logged a janitor pass that deleted something; log ${w2.log}`);

    // ---- 3. within retention ----
    const w3 = t.startWorker({ redis, storage: api.storage, name: 'long', args: ['--retention-s', '3600', '--janitor-interval-s', '1'] });
    const b = (await api.submit(files, spec, { expect: 202 })).json.id;
    const kept = await api.poll(b);
    t.assert(kept.status === 'succeeded', `job ${b} ended ${kept.status}: ${kept.error}`);
    await sleep(3500); // several janitor passes
    await api.get(`/jobs/${b}`, { expect: 200 });
    for (const art of kept.artifacts) t.check(fs.existsSync(path.join(folder(b), art.name)), `jobs/${b}/${art.name} is gone though the job is within its retention`);
    t.check(fs.existsSync(path.join(folder(b), 'inputs')), `jobs/${b}/inputs/ is gone though the job is within its retention`);
    await w3.stop();
});
