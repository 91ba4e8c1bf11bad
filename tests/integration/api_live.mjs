// api_live.mjs — live frames, GET /faces/{a}/morph/{b}.png (issue 13, item 6), on the real api,
// worker and redis-server:
// - a frame at t=0.37 is a PNG of the asked size, byte-equal to frame 0 of a morph job by the same
//   faces with spec weights [0.37] (the same pixels, whatever the lane);
// - shape_t / texture_t change the picture; the same query twice gives the same bytes (the
//   second from a warm pair);
// - refusals: no t, t out of range, a list, an unknown parameter, bad samples (400 naming the
//   parameter), a malformed id (404), another owner's face (404 from the worker), a face of another
//   topology (422 topology-mismatch), POST (405), no key (401);
// - /metrics counts the worker's live frames; with the worker stopped, 503 within the timeout.
import fs from 'node:fs';
import path from 'node:path';
import { run } from './harness.mjs';
import { total } from './prom.mjs';

async function addFace(api, mesh, texture, opts) {
    const form = new FormData();
    form.append('mesh', new Blob([fs.readFileSync(mesh)]), path.basename(mesh));
    if (texture) form.append('texture', new Blob([fs.readFileSync(texture)]), path.basename(texture));
    return api.request('POST', '/faces', { ...opts, form });
}

function pngSize(buf) {
    const sig = buf.subarray(0, 8).toString('hex');
    if (sig !== '89504e470d0a1a0a') return null;
    return { width: buf.readUInt32BE(16), height: buf.readUInt32BE(20) };
}

run('api_live', async (t) => {
    t.requireMorphd();
    t.requireMorph();
    const keyA = 'live-key-a-0123456789';
    const keyB = 'live-key-b-0123456789';
    const keys = t.keysFile({ 'lab-a': keyA, 'lab-b': keyB });
    const { api, workers } = await t.cluster({ workers: 1, apiArgs: ['--api-keys', keys] });
    api.token = keyA;
    const s = t.sample();
    const a = (await addFace(api, s.source, s.sourceTexture, { expect: 201 })).json.id;
    const b = (await addFace(api, s.target, s.targetTexture, { expect: 201 })).json.id;
    const live = (q, o) => api.get(`/faces/${a}/morph/${b}.png${q}`, o);

    // A frame, and the job's frame at the same weight.
    const first = await live('?t=0.37&size=128&samples=4', { expect: 200 });
    t.check((first.headers.get('content-type') || '') === 'image/png', `content-type: expected image/png, got ${first.headers.get('content-type')}`);
    const size = pngSize(first.body);
    t.check(size && size.width === 128 && size.height === 128, `PNG size: expected 128x128, got ${JSON.stringify(size)}`);
    const job = (await api.submit({}, { weights: [0.37], width: 128, height: 128, samples: 4, outputs: ['frames'], source_face: a, target_face: b }, { expect: 202 })).json;
    const done = await api.poll(job.id);
    t.check(done.status === 'succeeded', `job: expected succeeded, got ${done.status} (${done.error})`);
    const frameName = done.artifacts.map((x) => x.name).find((n) => n.startsWith('frames/'));
    const frame = await api.artifact(job.id, frameName, { expect: 200 });
    t.check(frame.body.equals(first.body), `the live frame (${first.body.length} B) differs from the job's ${frameName} (${frame.body.length} B)`);

    // Warm: the same bytes again; other weights, another picture.
    const again = await live('?t=0.37&size=128&samples=4', { expect: 200 });
    t.check(again.body.equals(first.body), 'the same query twice gave different bytes');
    const split = await live('?t=0.37&shape_t=0&texture_t=1&size=128&samples=4', { expect: 200 });
    t.check(!split.body.equals(first.body), 'shape_t=0&texture_t=1 gave the same picture as t=0.37');
    const wide = await live('?t=1&size=160x96', { expect: 200 });
    const ws = pngSize(wide.body);
    t.check(ws && ws.width === 160 && ws.height === 96, `size=160x96: expected 160x96, got ${JSON.stringify(ws)}`);

    // Refusals.
    const cases = [
        ['', /'t' is required/],
        ['?t=5', /'t'/],
        ['?t=0.1,0.2', /one weight/],
        ['?t=0.5&zoom=2', /unknown query parameter 'zoom'/],
        ['?t=0.5&samples=3', /'samples'/],
        ['?t=0.5&size=0', /'size'/],
    ];
    for (const [q, re] of cases) {
        const r = await live(q, { expect: 400 });
        t.check(re.test(r.json.detail), `${q || '(no query)'}: expected a detail matching ${re}, got ${r.json.detail}`);
    }
    await api.get(`/faces/${a}/morph/xyz.png?t=0.5`, { expect: 404 });
    const theirs = await api.get(`/faces/${a}/morph/${b}.png?t=0.5`, { expect: 404, headers: { Authorization: `Bearer ${keyB}` } });
    t.check(/no face/.test(theirs.json.detail), `another owner's faces: expected 'no face ...', got ${theirs.json.detail}`);
    await api.get(`/faces/${a}/morph/${b}.png?t=0.5`, { expect: 401, headers: { Authorization: 'Bearer nope' } });
    await api.request('POST', `/faces/${a}/morph/${b}.png?t=0.5`, { expect: 405 });
    const triFile = path.join(t.mkdir('tri'), 'tri.obj');
    fs.writeFileSync(triFile, 'v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n');
    const tri = (await addFace(api, triFile, null, { expect: 201 })).json.id;
    const topo = await api.get(`/faces/${a}/morph/${tri}.png?t=0.5&size=64`, { expect: 422 });
    t.check(topo.json.type === 'urn:morphd:problem:topology-mismatch', `another topology: expected topology-mismatch, got ${topo.json.type}`);

    // The worker counted them.
    const m = await api.metrics();
    t.check(m.errors.length === 0, `/metrics format: ${m.errors.join('; ')}`);
    const ok = total(m.families, 'morphd_live_frames_total', { outcome: 'ok' });
    t.check(ok >= 4, `morphd_live_frames_total{outcome="ok"}: expected at least 4, got ${ok}`);

    // No worker: 503 once the wait runs out.
    await workers[0].stop();
    const t0 = Date.now();
    const none = await live('?t=0.5&size=64', { expect: 503 });
    t.check(/no worker answered/.test(none.json.detail), `no worker: expected 'no worker answered', got ${none.json.detail}`);
    t.check(Date.now() - t0 >= 9000, `no worker: answered after ${Date.now() - t0} ms, before the 10 s wait`);
});
