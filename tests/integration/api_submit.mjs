// api_submit.mjs — the happy path over real HTTP: submit (sample pair; the ICT pair with skin
// textures when the data is here), 202 + Location, poll to succeeded (Retry-After until
// terminal), download every artifact, frames equal `morph run` for the same spec; list with
// filters and cursors; Idempotency-Key; cancel (queued and running); delete.
import path from 'node:path';
import { run, sleep, TSAN } from './harness.mjs';
import { downloadAll, compareFrames } from './frames.mjs';

async function submitAndCompare(t, api, what, files, spec, local) {
    const r = await api.submit(files, spec, { expect: 202 });
    const job = r.json;
    t.check(r.headers.get('location') === `/jobs/${job.id}`, `${what}: Location ${r.headers.get('location')} is not /jobs/${job.id}`);
    t.check(job.status === 'queued' || job.status === 'running', `${what}: a new job is ${job.status}`);
    t.check(job.kind === 'morph', `${what}: kind ${job.kind}`);
    const frames = spec.weights ? spec.weights.length : spec.frames ?? 41;
    t.check(job.progress.frames_total === frames, `${what}: frames_total ${job.progress.frames_total}, expected ${frames}`);
    for (const k of ['frames', 'width', 'height', 'samples', 'png_level']) {
        if (spec[k] !== undefined) t.check(job.spec[k] === spec[k], `${what}: normalised spec.${k} is ${job.spec[k]}, sent ${spec[k]}`);
    }
    if (spec.width === undefined) t.check(job.spec.width === 512 && job.spec.height === 512 && job.spec.samples === 4, `${what}: defaults not filled in: ${JSON.stringify(job.spec)}`);
    t.check(job.inputs.vertices > 0 && job.inputs.faces > 0, `${what}: inputs ${JSON.stringify(job.inputs)}`);
    t.check(job.inputs.source?.name === path.basename(files.source.name ?? files.source, '.obj'), `${what}: inputs.source.name ${job.inputs.source?.name}`);
    t.check(job.inputs.source?.format === 'obj', `${what}: inputs.source.format ${job.inputs.source?.format}`);
    t.check(job.inputs.textures === 2, `${what}: inputs.textures ${job.inputs.textures}, sent 2 texture parts`);

    const done = await api.poll(job.id);
    t.assert(done.status === 'succeeded', `${what}: job ${done.status}: ${done.error}`);
    t.check(done.progress.frames_done === frames && done.progress.stage === 'done', `${what}: final progress ${JSON.stringify(done.progress)}`);
    t.check(done.started_at !== null && done.finished_at !== null && done.finished_at >= done.started_at && done.started_at >= done.created_at, `${what}: times ${done.created_at} ${done.started_at} ${done.finished_at}`);
    t.check(done.error === null, `${what}: error ${done.error} on a succeeded job`);
    const names = done.artifacts.map((a) => a.name);
    t.check(new Set(names).size === names.length, `${what}: duplicate artifact names`);
    t.check(names.filter((n) => n.startsWith('frames/')).length === frames, `${what}: ${names.filter((n) => n.startsWith('frames/')).length} frame artifacts, expected ${frames}`);
    for (const want of ['manifest.json', 'session.log']) t.check(names.includes(want), `${what}: no ${want} among the artifacts (${names.join(', ')})`);

    const served = await downloadAll(t, api, done, t.mkdir(`served-${done.id}`));
    if (served.has('manifest.json')) {
        try {
            JSON.parse(served.get('manifest.json').toString('utf8'));
        } catch (e) {
            t.check(false, `${what}: manifest.json is not JSON: ${e.message}`);
        }
    }
    const out = await t.morphRun(local.source, local.target, t.mkdir(`local-${done.id}`), spec, local);
    compareFrames(t, what, served, out);
    return done;
}

run('api_submit', async (t) => {
    t.requireMorphd();
    t.requireMorph();
    const { api } = await t.cluster({ workers: 1 });
    const s = t.sample();
    const sampleFiles = { source: s.source, target: s.target, source_texture: s.sourceTexture, target_texture: s.targetTexture };

    // 1. The sample pair, a small spec.
    const spec = { frames: 5, width: 128, height: 96, samples: 4, background: '203040', label: 'sample' };
    const first = await submitAndCompare(t, api, 'sample pair', sampleFiles, spec, s);
    await api.healthy();

    // 2. The ICT pair with the skin textures, default spec, when the data is here. Under
    // ThreadSanitizer a small spec: the default one (41 frames at 512x512, and the same again
    // through `morph run`) alone took 4.5 of make test-tsan's minutes.
    const ictA = t.data('faces/ict/ict_face_identity_A.obj', { optional: true });
    if (ictA) {
        const ict = {
            source: ictA,
            target: t.data('faces/ict/ict_face_identity_B.obj'),
            sourceTexture: t.data('textures/skin_A.png'),
            targetTexture: t.data('textures/skin_B.png'),
        };
        const ictSpec = TSAN ? { frames: 3, width: 128, height: 128, samples: 1 } : {};
        await submitAndCompare(t, api, 'ICT pair', { source: ict.source, target: ict.target, source_texture: ict.sourceTexture, target_texture: ict.targetTexture }, ictSpec, ict);
    } else {
        t.note('MORPHD_DATA has no ICT pair: only the sample pair was compared');
    }

    // 3. Idempotency-Key: the same key gives the same job; another key a new one.
    const small = { frames: 2, width: 32, height: 32 };
    const k1 = `submit-${process.pid}-${Date.now()}`;
    const a = await api.submit(sampleFiles, small, { headers: { 'Idempotency-Key': k1 }, expect: 202 });
    const b = await api.submit(sampleFiles, small, { headers: { 'Idempotency-Key': k1 }, expect: 202 });
    t.check(a.json.id === b.json.id, `Idempotency-Key ${k1}: two jobs ${a.json.id} and ${b.json.id}`);
    t.check(b.headers.get('location') === `/jobs/${a.json.id}`, `idempotent retry: Location ${b.headers.get('location')}`);
    const c = await api.submit(sampleFiles, small, { headers: { 'Idempotency-Key': `${k1}-other` }, expect: 202 });
    t.check(c.json.id !== a.json.id, 'a different Idempotency-Key gave the same job');
    // The same key for a different request (another spec) is refused, naming the first job.
    const m = await api.submit(sampleFiles, { ...small, frames: 3 }, { headers: { 'Idempotency-Key': k1 }, expect: 422 });
    t.check(m.json.type === 'urn:morphd:problem:idempotency-mismatch', `reused key, other request: type ${m.json.type}`);
    t.check((m.json.detail || '').includes(a.json.id), `the mismatch detail does not name job ${a.json.id}: ${m.json.detail}`);
    await api.poll(a.json.id);
    await api.poll(c.json.id);

    // 4. Listing: newest first, limit, cursor, status filter, bad parameters.
    const all = (await api.get('/jobs?limit=100', { expect: 200 })).json;
    const ids = all.jobs.map((j) => j.id);
    for (const id of [first.id, a.json.id, c.json.id]) t.check(ids.includes(id), `GET /jobs lacks job ${id}`);
    t.check(ids.filter((id) => id === a.json.id).length === 1, 'the idempotent job is listed more than once');
    const created = all.jobs.map((j) => j.created_at);
    t.check(created.every((x, i) => i === 0 || created[i - 1] >= x), `GET /jobs is not newest first: ${created.join(' ')}`);
    t.check(all.next_cursor === null, `GET /jobs?limit=100 with ${ids.length} jobs has next_cursor ${all.next_cursor}`);
    const paged = [];
    let cursor = null;
    for (let page = 0; page < 20; page++) {
        const r = await api.get(`/jobs?limit=1${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { expect: 200 });
        t.check(r.json.jobs.length <= 1, `limit=1 gave ${r.json.jobs.length} jobs`);
        paged.push(...r.json.jobs.map((j) => j.id));
        cursor = r.json.next_cursor;
        if (cursor === null) break;
    }
    t.check(JSON.stringify(paged) === JSON.stringify(ids), `paging with limit=1 gave ${paged.join(',')}, the full list is ${ids.join(',')}`);
    const ok = (await api.get('/jobs?status=succeeded&limit=100', { expect: 200 })).json;
    t.check(ok.jobs.length > 0 && ok.jobs.every((j) => j.status === 'succeeded'), `status=succeeded lists ${ok.jobs.map((j) => j.status).join(',')}`);
    for (const q of ['limit=0', 'limit=101', 'limit=abc', 'status=done']) await api.get(`/jobs?${q}`, { expect: 400 });
    await api.get('/jobs?cursor=not-a-cursor', { expect: [400, 200] });

    // 5. Cancel: a running job (202, then canceled) and a queued one behind it (200 at once).
    const big = await api.submit(sampleFiles, { frames: 2000, width: 256, height: 256 }, { expect: 202 });
    await api.poll(big.json.id, { until: (j) => j.status === 'running' && j.progress.frames_done > 0, intervalMs: 20 });
    const queued = await api.submit(sampleFiles, small, { expect: 202 });
    await sleep(300); // past the default batch window: the worker is busy with `big`
    const qc = await api.request('POST', `/jobs/${queued.json.id}/cancel`, { expect: [200, 202] });
    if (qc.status === 200) t.check(qc.json.status === 'canceled', `cancel of a queued job answered 200 with status ${qc.json.status}`);
    else t.note(`the job behind a running one was ${qc.json.status}, not queued, when canceled`);
    await api.request('DELETE', `/jobs/${big.json.id}`, { expect: 409 });
    const bc = await api.request('POST', `/jobs/${big.json.id}/cancel`, { expect: [200, 202] });
    t.check(bc.status === 202 ? bc.json.status === 'running' : bc.json.status === 'canceled', `cancel of a running job: ${bc.status} with status ${bc.json.status}`);
    const canceled = await api.poll(big.json.id, { timeoutMs: 60000 });
    t.check(canceled.status === 'canceled', `a running job asked to cancel ended ${canceled.status}`);
    t.check(canceled.progress.frames_done < 2000, 'the canceled job rendered every frame anyway');
    t.check(/canceled while running: cancel requested at \d{4}-/.test(canceled.error || ''), `a job canceled while running has error ${JSON.stringify(canceled.error)}`);
    const qdone = await api.poll(queued.json.id, { timeoutMs: 60000 });
    t.check(qdone.status === 'canceled', `the canceled queued job ended ${qdone.status}`);
    await api.request('POST', `/jobs/${big.json.id}/cancel`, { expect: 200 }); // already canceled: no-op
    await api.request('POST', `/jobs/${first.id}/cancel`, { expect: 409 }); // succeeded

    // 6. Delete: record and artifacts gone; a second delete is 404.
    for (const id of [first.id, big.json.id, queued.json.id]) {
        await api.request('DELETE', `/jobs/${id}`, { expect: 204 });
        await api.get(`/jobs/${id}`, { expect: 404 });
        await api.request('DELETE', `/jobs/${id}`, { expect: 404 });
        await api.request('POST', `/jobs/${id}/cancel`, { expect: 404 });
    }
    await api.get(`/jobs/${first.id}/artifacts/manifest.json`, { expect: 404 });
    await api.get(`/jobs/${first.id}/artifacts/${first.artifacts.find((x) => x.name.startsWith('frames/')).name}`, { expect: 404 });
    const after = (await api.get('/jobs?limit=100', { expect: 200 })).json.jobs.map((j) => j.id);
    t.check(!after.includes(first.id), 'a deleted job is still listed');
    await api.healthy();
});
