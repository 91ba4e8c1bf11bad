// storage_s3.mjs — one small job end to end on s3:// storage: s3rver (npm) on a free port with a
// bucket, `morphd api` and `morphd worker` with --storage s3://morphd-smoke/run and the AWS_*
// and MORPHD_S3_ENDPOINT variables, a submitted job that succeeds, every artifact downloaded
// (the api reads them back from S3), frames that are PNGs, /readyz ready (the storage probe),
// and DELETE /jobs/{id} removing the job's objects from the bucket. Skips when s3rver is not
// installed (npm ci in tests/integration).
import fs from 'node:fs';
import path from 'node:path';
import { run, sleep } from './harness.mjs';
import { downloadAll, isPng } from './frames.mjs';

const BUCKET = 'morphd-smoke';

function objectsOf(dir, id) {
    if (!fs.existsSync(dir)) return [];
    return fs.readdirSync(dir, { recursive: true }).filter((f) => String(f).includes(id) && fs.statSync(path.join(dir, String(f))).isFile());
}

run('storage_s3', async (t) => {
    t.requireMorphd();
    const s3 = await t.startS3({ bucket: BUCKET });
    const dataDir = s3.dataDir;
    const env = s3.env;
    const storage = `s3://${BUCKET}/run`;
    const redis = await t.startRedis();
    const api = await t.startApi({ redis, storage, env });
    const worker = t.startWorker({ redis, storage, env, name: 's3w1' });
    await api.waitReady();

    const s = t.sample();
    const id = (await api.submit({ source: s.source, target: s.target }, { frames: 2, width: 32, height: 32 }, { expect: 202 })).json.id;
    const job = await api.poll(id);
    t.assert(job.status === 'succeeded', `job ${id} on ${storage} ended ${job.status}: ${job.error}`);
    const got = await downloadAll(t, api, job, t.mkdir('download'));
    let frames = 0;
    for (const [name, body] of got) {
        if (!name.startsWith('frames/')) continue;
        frames++;
        const bad = isPng(body);
        t.check(bad === null, `artifact ${name}: ${bad}`);
    }
    t.check(frames === 2, `expected 2 frames from the S3-backed job, got ${frames}`);
    const stored = objectsOf(path.join(dataDir, BUCKET), id);
    t.check(stored.length > 0, `no objects of job ${id} in the bucket folder ${dataDir}/${BUCKET}`);

    await api.request('DELETE', `/jobs/${id}`, { expect: 204 });
    const deadline = Date.now() + 20000;
    while (objectsOf(path.join(dataDir, BUCKET), id).length > 0 && Date.now() < deadline) await sleep(200);
    const left = objectsOf(path.join(dataDir, BUCKET), id);
    t.check(left.length === 0, `after DELETE /jobs/${id} the bucket still holds: ${left.slice(0, 5).join(', ')}`);
    t.checkProcs();
    // The morphd processes stop (exit 0) while their storage is still up; s3rver, a node
    // program, dies by SIGTERM rather than exiting 0, so it goes last and by kill.
    await worker.stop();
    await api.proc.stop();
    await s3.proc.crash();
});
