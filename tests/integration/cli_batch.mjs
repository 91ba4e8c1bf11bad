// cli_batch.mjs — `morph batch --server` against a real redis-server, `morphd api` and
// `morphd worker` (issue 13, items 1 and 3). Three meshes (the sample pair, textured through
// their MTLs, and a stretched copy of A that names A's MTL) become ONE batch of three jobs on the
// server (the batch named on stderr lists exactly the server's jobs), each fetched into
// OUT/<source>__<target>/ with frames byte-equal to a local `morph batch`; summary.csv has a row
// per pair with the means of the server's statistics.csv (so the MTL textures were sent with
// the faces: the A-B colour difference is not empty); a second run submits nothing, and one
// with a pair made incomplete makes a batch of that pair alone; through a
// proxy that answers 404 to /batches (an older server) the batch falls back to a job per pair,
// says so and gives the same frames; a mesh of another topology makes the server refuse the
// batch (422), and in the fallback its pairs fail alone with exit status 1 while the others
// stand.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { compareFrames } from './frames.mjs';
import { run, sleep } from './harness.mjs';
import { total } from './prom.mjs';

// The fetched frames of a pair folder as frames.mjs's compareFrames takes them (name → bytes).
function framesOf(dir) {
    const m = new Map();
    for (const n of fs.readdirSync(path.join(dir, 'frames'))) m.set(`frames/${n}`, fs.readFileSync(path.join(dir, 'frames', n)));
    return m;
}

// morph without blocking this process (the proxy below answers from its event loop).
function spawnAsync(bin, args, env) {
    return new Promise((resolve) => {
        const p = spawn(bin, args, { env });
        let stderr = '';
        p.stdout.resume();
        p.stderr.on('data', (d) => (stderr += d));
        p.on('close', (status) => resolve({ status, stderr }));
    });
}

// A proxy to the api that answers every /batches request 404, as a server without batches does.
async function olderServer(base) {
    const target = new URL(base);
    const proxy = http.createServer((req, res) => {
        if (req.url.startsWith('/batches')) {
            req.resume();
            req.on('end', () => {
                res.writeHead(404, { 'content-type': 'application/problem+json' });
                res.end(JSON.stringify({ type: 'about:blank', title: 'Not Found', status: 404, detail: 'no route /batches (an older morphd)' }));
            });
            return;
        }
        const up = http.request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (ur) => {
            res.writeHead(ur.statusCode, ur.headers);
            ur.pipe(res);
        });
        up.on('error', (e) => {
            res.writeHead(502);
            res.end(String(e));
        });
        req.pipe(up);
    });
    await new Promise((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    return { proxy, base: `http://127.0.0.1:${proxy.address().port}` };
}

const HEADER = 'pair,status,seconds,mean_total_displacement,mean_delta_e00,message';

// summary.csv rows as objects; the message is the rest of the line after the fifth comma.
function summary(t, out) {
    const file = path.join(out, 'summary.csv');
    t.assert(fs.existsSync(file), `no ${file}`);
    const lines = fs.readFileSync(file, 'utf8').trimEnd().split('\n');
    t.check(lines[0] === HEADER, `summary.csv header: expected ${HEADER}, got ${lines[0]}`);
    return lines.slice(1).map((l) => {
        const f = l.split(',');
        return { pair: f[0], status: f[1], seconds: f[2], displacement: f[3], deltaE: f[4], message: f.slice(5).join(',') };
    });
}

run('cli_batch', async (t) => {
    t.requireMorphd();
    const bin = t.requireMorph();
    const { api } = await t.cluster({ workers: 1 });
    const dir = t.mkdir('faces');
    let r = spawnSync(bin, ['sample', dir], { encoding: 'utf8' });
    t.assert(r.status === 0, `morph sample failed:\n${r.stderr}`);
    const a = fs.readFileSync(path.join(dir, 'sample_A.obj'), 'utf8');
    const stretched = a.split('\n').map((l) => {
        const m = l.match(/^v (\S+) (\S+) (\S+)$/);
        return m ? `v ${(Number(m[1]) * 1.05).toFixed(6)} ${m[2]} ${m[3]}` : l;
    });
    fs.writeFileSync(path.join(dir, 'sample_C.obj'), stretched.join('\n'));

    const out = path.join(t.dir, 'out');
    const args = ['batch', dir, '-o', out, '--server', api.base, '--jobs', '2', '--frames', '3', '--size', '64x64', '--samples', '1', '--outputs', 'frames,csv'];
    const batch = () => spawnSync(bin, args, { encoding: 'utf8', timeout: 600000, env: { ...process.env, MORPHD_API_KEY: '' } });

    // 1. Three pairs, three jobs, three folders.
    r = batch();
    t.assert(r.status === 0, `morph ${args.join(' ')} exited ${r.status}:\n${r.stderr}`);
    const pairs = ['sample_A__sample_B', 'sample_A__sample_C', 'sample_B__sample_C'];
    let rows = summary(t, out);
    t.check(rows.length === 3, `summary.csv has ${rows.length} rows, expected 3`);
    for (const [i, name] of pairs.entries()) {
        const row = rows[i] || {};
        t.check(row.pair === name && row.status === 'ok', `row ${i + 1}: expected ${name} ok, got ${row.pair} ${row.status} ${row.message}`);
        t.check(Number(row.displacement) > 0, `${name}: mean_total_displacement ${row.displacement}, expected > 0`);
        t.check(row.deltaE !== '', `${name}: mean_delta_e00 is empty: the textures were not sent`);
        const frames = fs.existsSync(path.join(out, name, 'frames')) ? fs.readdirSync(path.join(out, name, 'frames')).filter((f) => f.endsWith('.png')) : [];
        t.check(frames.length === 3, `${name}: ${frames.length} frames fetched, expected 3`);
        const manifest = JSON.parse(fs.readFileSync(path.join(out, name, 'manifest.json'), 'utf8'));
        t.check(manifest.frames_total === 3, `${name}: manifest frames_total ${manifest.frames_total}, expected 3`);
    }
    t.check(Number(rows[0].deltaE) > 0, `sample_A__sample_B: mean_delta_e00 ${rows[0].deltaE}, expected > 0 (two textures)`);
    t.check(Number(rows[1].deltaE) === 0, `sample_A__sample_C: mean_delta_e00 ${rows[1].deltaE}, expected 0 (one texture)`);
    let jobs = (await api.get('/jobs', { expect: 200 })).json.jobs;
    t.check(jobs.length === 3 && jobs.every((j) => j.status === 'succeeded'), `the server has ${jobs.length} jobs (${jobs.map((j) => j.status).join(', ')}), expected 3 succeeded`);
    t.check(!/no batch on the server/.test(r.stderr), `the first run fell back to a job per pair:\n${r.stderr}`);
    const named = r.stderr.match(/batch ([0-9a-f]{32}) on /);
    t.assert(named, `stderr names no batch:\n${r.stderr}`);
    const made = (await api.get(`/batches/${named[1]}`, { expect: 200 })).json;
    const batchJobs = made.jobs.map((j) => j.id).sort().join(' ');
    const serverJobs = jobs.map((j) => j.id).sort().join(' ');
    t.check(made.job_count === 3 && made.status === 'succeeded', `batch ${named[1]}: expected 3 jobs succeeded, got ${made.job_count} ${made.status}`);
    t.check(batchJobs === serverJobs, `the batch's jobs are not the server's jobs:\n  batch:  ${batchJobs}\n  server: ${serverJobs}`);

    // The worker's face cache (issue 13 item 4): each of the three faces is in two of the three
    // jobs, so it is read, decoded and prepared once (3 misses) and found for its second job (3
    // hits); the heartbeat then shows 3 entries and their bytes.
    let m = await api.metrics();
    const misses = total(m.families, 'morphd_face_cache_misses_total');
    const hits = total(m.families, 'morphd_face_cache_hits_total');
    t.check(misses === 3 && hits === 3, `face cache: expected 3 misses and 3 hits, got ${misses} and ${hits}`);
    let entries;
    for (let i = 0; i < 100 && entries !== 3; i++) {
        if (i > 0) await sleep(100);
        m = await api.metrics();
        entries = total(m.families, 'morphd_face_cache_entries');
    }
    const bytes = total(m.families, 'morphd_face_cache_bytes');
    t.check(entries === 3, `morphd_face_cache_entries: expected 3, got ${entries}`);
    t.check(bytes > 0 && bytes <= 512 * 2 ** 20, `morphd_face_cache_bytes: expected 1 byte to 512 MiB, got ${bytes}`);

    // The same pairs on this machine: the same frames, byte for byte (else pixel for pixel).
    const local = path.join(t.dir, 'local');
    const largs = ['batch', dir, '-o', local, '--jobs', '2', '--frames', '3', '--size', '64x64', '--samples', '1', '--outputs', 'frames,csv'];
    const lr = spawnSync(bin, largs, { encoding: 'utf8', timeout: 600000 });
    t.assert(lr.status === 0, `morph ${largs.join(' ')} exited ${lr.status}:\n${lr.stderr}`);
    for (const name of pairs) compareFrames(t, `${name} (batch on the server)`, framesOf(path.join(out, name)), path.join(local, name));

    // 2. Again: every pair skipped, nothing submitted.
    r = batch();
    t.check(r.status === 0, `second run exited ${r.status}:\n${r.stderr}`);
    rows = summary(t, out);
    t.check(rows.length === 3 && rows.every((x) => x.status === 'skipped'), `second run: statuses ${rows.map((x) => x.status).join(', ')}, expected skipped x3`);
    jobs = (await api.get('/jobs', { expect: 200 })).json.jobs;
    t.check(jobs.length === 3, `after the second run the server has ${jobs.length} jobs, expected still 3`);

    // 2b. One pair made incomplete: only it goes into the new batch, the others are skipped.
    fs.rmSync(path.join(out, 'sample_B__sample_C', 'manifest.json'));
    r = batch();
    t.check(r.status === 0, `resume of one pair exited ${r.status}:\n${r.stderr}`);
    rows = summary(t, out);
    t.check(rows.map((x) => x.status).join(' ') === 'skipped skipped ok', `resume of one pair: statuses ${rows.map((x) => x.status).join(', ')}, expected skipped, skipped, ok`);
    const resumed = r.stderr.match(/batch ([0-9a-f]{32}) on /);
    t.assert(resumed, `resume of one pair: stderr names no batch:\n${r.stderr}`);
    const one = (await api.get(`/batches/${resumed[1]}`, { expect: 200 })).json;
    t.check(one.job_count === 1 && one.status === 'succeeded', `resume of one pair: batch ${resumed[1]} has ${one.job_count} job(s), ${one.status}; expected 1 succeeded`);
    compareFrames(t, 'sample_B__sample_C (resumed)', framesOf(path.join(out, 'sample_B__sample_C')), path.join(local, 'sample_B__sample_C'));
    jobs = (await api.get('/jobs', { expect: 200 })).json.jobs;
    t.check(jobs.length === 4, `after the resume the server has ${jobs.length} jobs, expected 4`);

    // 3. A server without /batches: a job per pair, said on stderr, the same frames.
    const older = await olderServer(api.base);
    const outOld = path.join(t.dir, 'out_older');
    const oargs = ['batch', dir, '-o', outOld, '--server', older.base, '--jobs', '2', '--frames', '3', '--size', '64x64', '--samples', '1', '--outputs', 'frames,csv'];
    const or = await spawnAsync(bin, oargs, { ...process.env, MORPHD_API_KEY: '' });
    older.proxy.close();
    t.check(or.status === 0, `older server: exit status ${or.status}, expected 0:\n${or.stderr}`);
    t.check(/no batch on the server \(POST \/batches: 404/.test(or.stderr) && /each pair as its own job/.test(or.stderr), `older server: stderr does not say the batch fell back to a job per pair:\n${or.stderr}`);
    rows = summary(t, outOld);
    t.check(rows.length === 3 && rows.every((x) => x.status === 'ok'), `older server: statuses ${rows.map((x) => x.status).join(', ')}, expected ok x3`);
    for (const name of pairs) compareFrames(t, `${name} (a job per pair)`, framesOf(path.join(outOld, name)), path.join(local, name));
    jobs = (await api.get('/jobs', { expect: 200 })).json.jobs;
    t.check(jobs.length === 7, `after the fallback run the server has ${jobs.length} jobs, expected 7`);

    // 4. A one-triangle mesh: the server refuses the batch (422), the pairs go one by one, the
    // triangle's pairs fail alone; the batch says so and exits 1.
    fs.writeFileSync(path.join(dir, 'tri.obj'), 'v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n');
    r = batch();
    t.check(r.status === 1, `with tri.obj: exit status ${r.status}, expected 1:\n${r.stderr}`);
    rows = summary(t, out);
    t.check(rows.length === 6, `with tri.obj: ${rows.length} rows, expected 6`);
    for (const row of rows) {
        const bad = row.pair.endsWith('__tri');
        t.check(row.status === (bad ? 'failed' : 'skipped'), `${row.pair}: status ${row.status}, expected ${bad ? 'failed' : 'skipped'}`);
        if (bad) t.check(/422/.test(row.message) && /topology/.test(row.message), `${row.pair}: message "${row.message}" does not name the 422 topology mismatch`);
    }
    t.check(/sample_A__tri/.test(r.stderr), `stderr does not name the failed pair:\n${r.stderr}`);
    t.check(/no batch on the server \(POST \/batches: 422/.test(r.stderr), `with tri.obj: stderr does not say the batch was refused (422) and fell back:\n${r.stderr}`);

    // 5. A server that is not there: every pair fails with the URL named, exit status 1.
    const gone = ['batch', dir, '-o', path.join(t.dir, 'out_gone'), '--server', 'http://127.0.0.1:9', '--frames', '3'];
    r = spawnSync(bin, gone, { encoding: 'utf8', timeout: 120000 });
    t.check(r.status === 1, `unreachable server: exit status ${r.status}, expected 1:\n${r.stderr}`);
    t.check(/127\.0\.0\.1:9/.test(r.stderr), `unreachable server: stderr does not name the URL:\n${r.stderr}`);
});
