// api_batches.mjs — batches (issue 13, item 3) on the real api, worker and redis-server, with the
// ICT face meshes of MORPHD_DATA (three faces of one topology) and MediaPipe's (another):
// - Refusals, each problem+json, none leaving a job behind: bad JSON, an unknown field, a face
//   repeated, an unknown face, a self-pair, a pair twice, a pair with a face not in 'faces',
//   spec.kind render, spec.source_face (400); a non-JSON body (415); past max_batch_pairs and
//   max_batch_meshes and the owner's whole share (413); faces of two topologies (422
//   topology-mismatch); more jobs than the room left in the owner's share (503, no job made).
// - Cancel cascade: a batch queued with no worker, canceled: every job canceled (200).
// - Delete cascade: DELETE answers 204; the batch and its jobs are 404 after.
// - Another key sees none of it (GET, cancel, DELETE 404).
// - 3 faces, pairs "all": 3 jobs, each named after its faces; with a worker all succeed, and
//   GET /batches/{id} sums their frames and says succeeded. GET /batches/{id}/events, opened
//   before the worker starts: status first, progress that only grows to 9 of 9, a job event
//   per job and per status change, each job's last one succeeded, the final status last.
//   Another key's stream is 404, a canceled batch's ends with canceled, a deleted one's is 404.
import fs from 'node:fs';
import path from 'node:path';
import { run } from './harness.mjs';

// Reads GET /batches/{id}/events until it ends (or untilMs): [{event, json}].
// onOpen runs at the first event (the stream is then open and has sent the batch's state).
async function readEvents(api, id, { untilMs = 300000, token = api.token, onOpen = null } = {}) {
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), untilMs);
    const res = await fetch(`${api.base}/batches/${id}/events`, { headers: { Authorization: `Bearer ${token}` }, signal: ctl.signal });
    const out = { status: res.status, type: res.headers.get('content-type'), events: [], ended: false };
    if (res.status !== 200) {
        clearTimeout(timer);
        out.body = await res.text();
        return out;
    }
    const dec = new TextDecoder();
    let buf = '';
    try {
        for await (const chunk of res.body) {
            buf += dec.decode(chunk, { stream: true });
            let cut;
            while ((cut = buf.indexOf('\n\n')) >= 0) {
                const block = buf.slice(0, cut);
                buf = buf.slice(cut + 2);
                const ev = { event: null, data: '' };
                for (const line of block.split('\n')) {
                    if (line.startsWith('event:')) ev.event = line.slice(6).trim();
                    else if (line.startsWith('data:')) ev.data += line.slice(5).trim();
                }
                if (!ev.event) continue;
                out.events.push({ event: ev.event, json: JSON.parse(ev.data) });
                if (onOpen && out.events.length === 1) onOpen();
            }
        }
        out.ended = true;
    } catch (e) {
        if (e.name !== 'AbortError') throw e;
    } finally {
        clearTimeout(timer);
    }
    return out;
}

async function addFace(api, mesh) {
    const form = new FormData();
    form.append('mesh', new Blob([fs.readFileSync(mesh)]), path.basename(mesh));
    const r = await api.request('POST', '/faces', { form, expect: [200, 201] });
    return r.json.id;
}

function isProblem(t, r, what) {
    t.check(r.headers.get('content-type') === 'application/problem+json', `${what}: expected application/problem+json, got ${r.headers.get('content-type')}`);
    t.check(typeof r.json?.detail === 'string' && r.json.detail.length > 0, `${what}: expected a detail, got ${r.text}`);
}

run('api_batches', async (t) => {
    t.requireMorphd();
    const ictA = t.data('faces/ict/ict_face_identity_A.obj');
    const ictB = t.data('faces/ict/ict_face_identity_B.obj');
    const ictN = t.data('faces/ict/ict_neutral_face.obj');
    const mp = t.data('faces/mediapipe/canonical_face_model.obj');
    const keyA = 'batches-key-a-0123456789';
    const keyB = 'batches-key-b-0123456789';
    const keys = t.keysFile({ 'lab-a': keyA, 'lab-b': keyB });
    const { redis, api } = await t.cluster({
        workers: 0,
        limits: { max_batch_pairs: 5, max_batch_meshes: 4, max_queued_per_owner: 4 },
        apiArgs: ['--api-keys', keys],
    });
    api.token = keyA;
    const a = await addFace(api, ictA);
    const b = await addFace(api, ictB);
    const n = await addFace(api, ictN);
    const m = await addFace(api, mp);
    const spec = { frames: 3, width: 64, height: 64 };
    const post = (json, expect) => api.request('POST', '/batches', { json, expect });

    // Refusals.
    const cases = [
        ['bad JSON', { body: '{"faces": [', headers: { 'Content-Type': 'application/json' } }, 400, /not valid JSON/],
        ['not JSON', { body: 'faces', headers: { 'Content-Type': 'text/plain' } }, 415, /JSON body/],
        ['an unknown field', { json: { faces: [a, b], colour: 1 } }, 400, /unknown field 'colour'/],
        ['one face', { json: { faces: [a] } }, 400, /at least 2/],
        ['a face twice', { json: { faces: [a, b, a] } }, 400, /faces\[2\] repeats faces\[0\]/],
        ['not a face id', { json: { faces: [a, 'xyz'] } }, 400, /faces\[1\] is not a face id/],
        ['an unknown face', { json: { faces: [a, 'f'.repeat(64)], spec } }, 400, /has no face f{64}/],
        ['a self-pair', { json: { faces: [a, b], pairs: [[a, a]], spec } }, 400, /with itself/],
        ['a pair twice', { json: { faces: [a, b], pairs: [[a, b], [a, b]], spec } }, 400, /pairs\[1\] repeats/],
        ['a face not in faces', { json: { faces: [a, b], pairs: [[a, n]], spec } }, 400, /not one of 'faces'/],
        ['pairs neither all nor a list', { json: { faces: [a, b], pairs: 'some' } }, 400, /"all" or an array/],
        ['a render spec', { json: { faces: [a, b], spec: { kind: 'render' } } }, 400, /morph/],
        ['spec.source_face', { json: { faces: [a, b], spec: { source_face: a } } }, 400, /spec\.source_face/],
        ['a bad spec', { json: { faces: [a, b], spec: { frames: 'many' } } }, 400, /spec/],
        ['too many pairs', { json: { faces: [a, b, n], pairs: [[a, b], [b, a], [a, n], [n, a], [b, n], [n, b]] } }, 413, /max_batch_pairs=5/],
        ['too many faces', { json: { faces: [a, b, n, m, 'e'.repeat(64)] } }, 413, /max_batch_meshes=4/],
        ['two topologies', { json: { faces: [a, m], spec } }, 422, /faces\[0\] as source, faces\[1\] as target/],
        ['more than the owner\'s share', { json: { faces: [a, b, n], pairs: [[a, b], [b, a], [a, n], [n, a], [b, n]], spec } }, 413, /max_queued_per_owner=4/],
    ];
    for (const [what, opts, status, detail] of cases) {
        const r = await api.request('POST', '/batches', { ...opts, expect: status });
        isProblem(t, r, what);
        t.check(detail.test(r.json.detail), `${what}: expected a detail matching ${detail}, got ${r.json.detail}`);
    }
    const topo = await post({ faces: [a, m], spec }, 422);
    t.check(topo.json.type === 'urn:morphd:problem:topology-mismatch', `two topologies: expected topology-mismatch, got ${topo.json.type}`);
    let jobs = await api.get('/jobs', { expect: 200 });
    t.check(jobs.json.jobs.length === 0, `after the refusals: expected no job, got ${jobs.json.jobs.length}`);
    await api.request('PUT', '/batches', { expect: 405 });
    await api.get(`/batches/${'0'.repeat(32)}`, { expect: 404 });
    await api.get('/batches/nope', { expect: 404 });

    // Cancel cascade (no worker: every job stays queued).
    const c = (await post({ faces: [a, b, n], spec }, 202)).json;
    t.check(c.jobs.length === 3 && c.job_count === 3, `all pairs of 3 faces: expected 3 jobs, got ${c.jobs.length}`);
    t.check(c.status === 'queued' && c.counts.queued === 3, `a new batch: expected queued, 3 queued, got ${c.status}, ${JSON.stringify(c.counts)}`);
    t.check(c.progress.frames_total === 9 && c.progress.frames_done === 0, `frames: expected 0 of 9, got ${JSON.stringify(c.progress)}`);
    const pairs = c.jobs.map((j) => `${j.source_face}>${j.target_face}`).join(' ');
    const want = [`${a}>${b}`, `${a}>${n}`, `${b}>${n}`].join(' ');
    t.check(pairs === want, `"all" pairs: expected ${want}, got ${pairs}`);
    const job0 = (await api.get(`/jobs/${c.jobs[0].id}`, { expect: 200 })).json;
    t.check(job0.inputs.source?.face === a && job0.inputs.target?.face === b, `a batch job's inputs should name its faces, got ${JSON.stringify(job0.inputs)}`);
    t.check(job0.inputs.source?.name === 'ict_face_identity_A' && job0.inputs.target?.name === 'ict_face_identity_B', `a batch job's inputs should be named as its faces, got ${JSON.stringify(job0.inputs)}`);
    t.check(job0.spec.frames === 3 && job0.spec.width === 64, `a batch job's spec: expected frames 3, width 64, got ${JSON.stringify(job0.spec)}`);
    // The owner's share has room for 1 more job, not 2: 503, and no job of the 2 is made.
    const full = await post({ faces: [a, b], pairs: [[a, b], [b, a]], spec }, 503);
    isProblem(t, full, 'past the owner\'s share');
    t.check(/max_queued_per_owner=4/.test(full.json.detail), `past the owner's share: expected the detail to name max_queued_per_owner=4, got ${full.json.detail}`);
    jobs = await api.get('/jobs', { expect: 200 });
    t.check(jobs.json.jobs.length === 3, `after a refused batch: expected the 3 jobs of the first, got ${jobs.json.jobs.length}`);
    const busy = await api.request('DELETE', `/faces/${a}`, { expect: 409 });
    isProblem(t, busy, 'deleting a face a queued batch job names');

    // Another key sees nothing of it.
    const other = { headers: { Authorization: `Bearer ${keyB}` } };
    await api.get(`/batches/${c.id}`, { ...other, expect: 404 });
    await api.request('POST', `/batches/${c.id}/cancel`, { ...other, expect: 404 });
    await api.request('DELETE', `/batches/${c.id}`, { ...other, expect: 404 });
    const theirs = await api.request('POST', '/batches', { ...other, json: { faces: [a, b], spec }, expect: 400 });
    t.check(/has no face/.test(theirs.json.detail), `another key naming lab-a's faces: expected 'has no face', got ${theirs.json.detail}`);
    await api.get('/batches/x', { headers: { Authorization: 'Bearer nope' }, expect: 401 });

    const canceled = await api.request('POST', `/batches/${c.id}/cancel`, { expect: 200 });
    t.check(canceled.json.status === 'canceled' && canceled.json.counts.canceled === 3, `after cancel: expected canceled, 3 canceled, got ${canceled.json.status}, ${JSON.stringify(canceled.json.counts)}`);
    for (const j of c.jobs) {
        const got = (await api.get(`/jobs/${j.id}`, { expect: 200 })).json;
        t.check(got.status === 'canceled', `job ${j.id} after the batch's cancel: expected canceled, got ${got.status}`);
        t.check(got.error.includes(c.id), `job ${j.id}: the cancel error should name batch ${c.id}, got ${got.error}`);
    }

    // Delete cascade.
    const d = (await post({ faces: [a, b], pairs: [[b, a]], spec }, 202)).json;
    t.check(d.jobs.length === 1 && d.jobs[0].source_face === b, `an explicit pair: expected 1 job from ${b}, got ${JSON.stringify(d.jobs)}`);
    await api.request('DELETE', `/batches/${d.id}`, { expect: 204 });
    await api.get(`/batches/${d.id}`, { expect: 404 });
    await api.get(`/jobs/${d.jobs[0].id}`, { expect: 404 });
    await api.request('DELETE', `/batches/${c.id}`, { expect: 204 });
    for (const j of c.jobs) await api.get(`/jobs/${j.id}`, { expect: 404 });
    jobs = await api.get('/jobs', { expect: 200 });
    t.check(jobs.json.jobs.length === 0, `after both deletes: expected no job, got ${jobs.json.jobs.length}`);

    // 3 faces, all pairs, with a worker: all succeed.
    const r = await post({ faces: [a, b, n], pairs: 'all', spec }, 202);
    t.check(r.headers.get('location') === `/batches/${r.json.id}`, `Location: expected /batches/${r.json.id}, got ${r.headers.get('location')}`);
    const theirEvents = await readEvents(api, r.json.id, { token: keyB, untilMs: 10000 });
    t.check(theirEvents.status === 404, `another key's batch events: expected 404, got ${theirEvents.status}`);
    let opened;
    const open = new Promise((res) => (opened = res));
    const watching = readEvents(api, r.json.id, { onOpen: () => opened() });
    await Promise.race([open, watching]); // the stream has the queued state before work starts
    t.startWorker({ redis, storage: api.storage });
    let batch;
    const deadline = Date.now() + 300000;
    for (;;) {
        batch = (await api.get(`/batches/${r.json.id}`, { expect: 200 })).json;
        if (!['queued', 'running'].includes(batch.status) || Date.now() > deadline) break;
        await new Promise((res) => setTimeout(res, 200));
    }
    t.check(batch.status === 'succeeded', `the batch: expected succeeded, got ${batch.status}: ${JSON.stringify(batch.jobs.map((j) => [j.status, j.error]))}`);
    t.check(batch.counts.succeeded === 3, `expected 3 succeeded, got ${JSON.stringify(batch.counts)}`);
    t.check(batch.progress.frames_done === 9 && batch.progress.frames_total === 9, `frames: expected 9 of 9, got ${JSON.stringify(batch.progress)}`);
    for (const j of batch.jobs) {
        const got = (await api.get(`/jobs/${j.id}`, { expect: 200 })).json;
        const frames = got.artifacts.filter((x) => x.name.startsWith('frames/'));
        t.check(frames.length === 3, `job ${j.id}: expected 3 frames, got ${frames.length}`);
        if (frames.length) await api.artifact(j.id, frames[0].name, { expect: 200 });
    }
    const ev = await watching;
    t.check(ev.status === 200 && /^text\/event-stream/.test(ev.type || ''), `batch events: expected 200 text/event-stream, got ${ev.status} ${ev.type}`);
    t.check(ev.ended, 'the batch stream should end after the final status');
    const names = ev.events.map((e) => e.event);
    t.check(names[0] === 'status' && ev.events[0].json.status === 'queued' && ev.events[0].json.jobs === undefined, `first event: expected status queued without jobs, got ${names[0]} ${JSON.stringify(ev.events[0]?.json)}`);
    const last = ev.events[ev.events.length - 1];
    t.check(last?.event === 'status' && last.json.status === 'succeeded' && last.json.counts.succeeded === 3, `last event: expected status succeeded, got ${last?.event} ${JSON.stringify(last?.json)}`);
    let prev = -1;
    for (const e of ev.events.filter((x) => x.event === 'progress')) {
        t.check(e.json.frames_total === 9 && e.json.frames_done >= prev, `progress should only grow, of 9: got ${JSON.stringify(e.json)} after ${prev}`);
        prev = e.json.frames_done;
    }
    const lastProgress = ev.events.filter((x) => x.event === 'progress').pop();
    t.check(lastProgress?.json.frames_done === 9 && lastProgress.json.stage === 'done', `last progress: expected 9 of 9, done, got ${JSON.stringify(lastProgress?.json)}`);
    for (const j of batch.jobs) {
        const mine = ev.events.filter((x) => x.event === 'job' && x.json.id === j.id);
        t.check(mine.length >= 2 && mine[0].json.status === 'queued' && mine[mine.length - 1].json.status === 'succeeded', `job events of ${j.id}: expected queued first and succeeded last, got ${mine.map((x) => x.json.status).join(',')}`);
    }
    const done = await api.request('POST', `/batches/${r.json.id}/cancel`, { expect: 200 });
    t.check(done.json.status === 'succeeded', `canceling a finished batch changes nothing: expected succeeded, got ${done.json.status}`);
    // A short batch's stream ends with its final status; a canceled batch's with canceled; a
    // deleted batch has no stream (404). (A batch deleted while watched, "gone", is in
    // tests/test_api_events.c.)
    const g = (await post({ faces: [a, b], pairs: [[a, b]], spec: { ...spec, frames: 2 } }, 202)).json;
    const gw = readEvents(api, g.id, { untilMs: 60000 });
    await api.poll(g.jobs[0].id);
    await new Promise((res) => setTimeout(res, 100));
    await api.request('DELETE', `/batches/${r.json.id}`, { expect: 204 });
    await api.get(`/batches/${r.json.id}`, { expect: 404 });
    const gev = await gw;
    t.check(gev.ended && gev.events[gev.events.length - 1]?.event === 'status', `a short batch's stream: expected to end with status, got ${gev.events.map((e) => e.event).join(',')}`);
    await api.request('DELETE', `/batches/${g.id}`, { expect: 204 });
    const h = (await post({ faces: [a, b], pairs: [[b, a]], spec }, 202)).json;
    await api.request('POST', `/batches/${h.id}/cancel`, { expect: [200, 202] });
    const hw = readEvents(api, h.id, { untilMs: 60000 });
    const hev = await hw;
    t.check(hev.ended && hev.events[hev.events.length - 1]?.json.status === 'canceled', `a canceled batch's stream: expected to end with status canceled, got ${hev.events.map((e) => `${e.event}:${e.json.status}`).join(',')}`);
    await api.request('DELETE', `/batches/${h.id}`, { expect: 204 });
    const gone = await readEvents(api, h.id, { untilMs: 10000 });
    t.check(gone.status === 404, `events of a deleted batch: expected 404, got ${gone.status}`);
});
