// storage_s3.mjs — one small job end to end on s3:// storage: s3rver (npm) on a free port with a
// bucket, `morphd api` and `morphd worker` with --storage s3://morphd-smoke/run and the AWS_*
// and MORPHD_S3_ENDPOINT variables, a submitted job that succeeds, every artifact downloaded
// (the api reads them back from S3), frames that are PNGs, /readyz ready (the storage probe),
// and DELETE /jobs/{id} removing the job's objects from the bucket. Then --artifact-redirect: a
// second api on the same store answers 307 with a presigned Location whose query is well formed
// (s3rver does not check signatures: test_sigv4 checks ours against AWS's example) and which,
// fetched directly or by `morph fetch`, gives the streamed bytes; missing jobs and artifacts
// stay 404; an api on file:// with the option streams 200 as before. Skips when s3rver is not installed (npm ci in
// tests/integration).
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
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
    await checkRedirects(t, { redis, storage, env, s3, id, job, streamed: got });
    const stored = objectsOf(path.join(dataDir, BUCKET), id);
    t.check(stored.length > 0, `no objects of job ${id} in the bucket folder ${dataDir}/${BUCKET}`);

    await api.request('DELETE', `/jobs/${id}`, { expect: 204 });
    const deadline = Date.now() + 20000;
    while (objectsOf(path.join(dataDir, BUCKET), id).length > 0 && Date.now() < deadline) await sleep(200);
    const left = objectsOf(path.join(dataDir, BUCKET), id);
    t.check(left.length === 0, `after DELETE /jobs/${id} the bucket still holds: ${left.slice(0, 5).join(', ')}`);
    await checkFileStreams(t);
    t.checkProcs();
    // The morphd processes stop (exit 0) while their storage is still up; s3rver, a node
    // program, dies by SIGTERM rather than exiting 0, so it goes last and by kill.
    await worker.stop();
    await api.proc.stop();
    await s3.proc.crash();
});

// --artifact-redirect 60 on the s3:// store of job id: every artifact is a 307 to a presigned
// URL that serves the bytes the plain api streamed; the checks before it (job, artifact list)
// still answer 404.
async function checkRedirects(t, { redis, storage, env, s3, id, job, streamed }) {
    const api = await t.startApi({ redis, storage, env, args: ['--artifact-redirect', '60'], name: 'api-redirect' });
    const sigv4Query = ['X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Date', 'X-Amz-Expires', 'X-Amz-SignedHeaders', 'X-Amz-Signature'];
    for (const a of job.artifacts) {
        const r = await api.artifact(id, a.name, { expect: 307 });
        t.check(r.body.length === 0, `307 for ${a.name} has a ${r.body.length}-byte body`);
        t.check(r.headers.get('cache-control') === 'no-store', `307 for ${a.name}: Cache-Control ${r.headers.get('cache-control')}, expected no-store`);
        const location = r.headers.get('location');
        const url = new URL(location);
        t.check(url.origin === `http://127.0.0.1:${s3.port}`, `${a.name}: Location ${location} is not on the s3rver (port ${s3.port})`);
        t.check(url.pathname === `/${BUCKET}/run/jobs/${id}/${a.name}`, `${a.name}: Location path ${url.pathname}`);
        // The parameters, in the byte order of their names (the canonical query), each once.
        const names = [...url.searchParams.keys()];
        t.check(JSON.stringify(names) === JSON.stringify(sigv4Query), `${a.name}: query parameters ${names.join(', ')}, expected ${sigv4Query.join(', ')}`);
        const q = Object.fromEntries(url.searchParams);
        t.check(q['X-Amz-Algorithm'] === 'AWS4-HMAC-SHA256', `${a.name}: X-Amz-Algorithm ${q['X-Amz-Algorithm']}`);
        const date = q['X-Amz-Date'] || '';
        t.check(/^\d{8}T\d{6}Z$/.test(date), `${a.name}: X-Amz-Date ${date}`);
        const signedAt = Date.parse(`${date.slice(0, 4)}-${date.slice(4, 6)}-${date.slice(6, 8)}T${date.slice(9, 11)}:${date.slice(11, 13)}:${date.slice(13, 15)}Z`);
        t.check(Math.abs(Date.now() - signedAt) < 120000, `${a.name}: X-Amz-Date ${date} is not now`);
        const credential = `${env.AWS_ACCESS_KEY_ID}/${date.slice(0, 8)}/${env.AWS_REGION || 'us-east-1'}/s3/aws4_request`;
        t.check(q['X-Amz-Credential'] === credential, `${a.name}: X-Amz-Credential ${q['X-Amz-Credential']}, expected ${credential}`);
        t.check(url.search.includes(`X-Amz-Credential=${encodeURIComponent(credential)}&`), `${a.name}: the credential's slashes are not %2F in ${url.search}`);
        t.check(q['X-Amz-Expires'] === '60', `${a.name}: X-Amz-Expires ${q['X-Amz-Expires']}, expected 60 (--artifact-redirect 60)`);
        t.check(q['X-Amz-SignedHeaders'] === 'host', `${a.name}: X-Amz-SignedHeaders ${q['X-Amz-SignedHeaders']}`);
        t.check(/^[0-9a-f]{64}$/.test(q['X-Amz-Signature'] || ''), `${a.name}: X-Amz-Signature ${q['X-Amz-Signature']}`);
        // Fetched without any credential of ours, the URL gives the streamed bytes.
        const got = await fetch(location);
        const body = Buffer.from(await got.arrayBuffer());
        t.check(got.status === 200, `GET ${location}: ${got.status} ${body.toString('utf8', 0, 300)}`);
        t.check(body.equals(streamed.get(a.name)), `${a.name}: the presigned URL gave ${body.length} bytes, unlike the ${streamed.get(a.name)?.length} streamed`);
    }
    // `morph fetch` follows the redirects and gets the same bytes.
    if (t.env.morph && fs.existsSync(t.env.morph)) {
        const dir = t.mkdir('fetch-redirect');
        const env = { ...process.env };
        delete env.MORPHD_API_KEY;
        const r = spawnSync(t.env.morph, ['fetch', id, '-o', dir, '-q', '--server', api.base], { encoding: 'utf8', env, timeout: 60000 });
        t.check(r.status === 0, `morph fetch through --artifact-redirect exited ${r.status}: ${r.stderr}`);
        for (const a of job.artifacts) {
            const file = path.join(dir, a.name);
            const body = fs.existsSync(file) ? fs.readFileSync(file) : null;
            t.check(body !== null && body.equals(streamed.get(a.name)), `morph fetch through --artifact-redirect: ${a.name} is ${body ? `${body.length} different bytes` : 'missing'}`);
        }
    }
    // The owner and artifact-list checks come first, as without the option.
    await api.artifact(id, 'no-such-artifact.png', { expect: 404 });
    await api.artifact('00000000000000000000000000000000', 'manifest.json', { expect: 404 });
    await api.proc.stop();
}

// --artifact-redirect on file:// storage, which cannot presign: artifacts stream (200) as
// without the option, with no Location.
async function checkFileStreams(t) {
    const redis = await t.startRedis();
    const storage = `file://${t.mkdir('file-store')}`;
    const api = await t.startApi({ redis, storage, args: ['--artifact-redirect', '60'], name: 'api-file' });
    const worker = t.startWorker({ redis, storage, name: 'filew1' });
    const s = t.sample();
    const id = (await api.submit({ source: s.source, target: s.target }, { frames: 2, width: 32, height: 32 }, { expect: 202 })).json.id;
    const job = await api.poll(id);
    t.assert(job.status === 'succeeded', `job ${id} on ${storage} ended ${job.status}: ${job.error}`);
    await downloadAll(t, api, job, t.mkdir('download-file'));
    const r = await api.artifact(id, job.artifacts[0].name, { expect: 200 });
    t.check(r.headers.get('location') === null, `file:// with --artifact-redirect: a 200 with Location ${r.headers.get('location')}`);
    await worker.stop();
    await api.proc.stop();
}
