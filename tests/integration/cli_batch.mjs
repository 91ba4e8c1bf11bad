// cli_batch.mjs — `morph batch --server` against a real redis-server, `morphd api` and
// `morphd worker` (issue 13, item 1). Three meshes (the sample pair, textured through their MTLs,
// and a stretched copy of A that names A's MTL) become three jobs on the server, each fetched
// into OUT/<source>__<target>/; summary.csv has a row per pair with the means of the server's
// statistics.csv (so the MTL textures were sent as texture parts: the A-B colour difference is
// not empty); a second run submits nothing; a mesh of another topology is refused by the server
// (422) and its pairs fail with exit status 1 while the others stand.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { run } from './harness.mjs';

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

    // 2. Again: every pair skipped, nothing submitted.
    r = batch();
    t.check(r.status === 0, `second run exited ${r.status}:\n${r.stderr}`);
    rows = summary(t, out);
    t.check(rows.length === 3 && rows.every((x) => x.status === 'skipped'), `second run: statuses ${rows.map((x) => x.status).join(', ')}, expected skipped x3`);
    jobs = (await api.get('/jobs', { expect: 200 })).json.jobs;
    t.check(jobs.length === 3, `after the second run the server has ${jobs.length} jobs, expected still 3`);

    // 3. A one-triangle mesh: the server refuses its pairs; the batch says so and exits 1.
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

    // 4. A server that is not there: every pair fails with the URL named, exit status 1.
    const gone = ['batch', dir, '-o', path.join(t.dir, 'out_gone'), '--server', 'http://127.0.0.1:9', '--frames', '3'];
    r = spawnSync(bin, gone, { encoding: 'utf8', timeout: 120000 });
    t.check(r.status === 1, `unreachable server: exit status ${r.status}, expected 1:\n${r.stderr}`);
    t.check(/127\.0\.0\.1:9/.test(r.stderr), `unreachable server: stderr does not name the URL:\n${r.stderr}`);
});
