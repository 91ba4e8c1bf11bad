// api_faces.mjs — the face library (issue 13, item 2) on the real api, worker and redis-server:
// - POST /faces: 201 with the SHA-256 of the stored canonical form as id (checked against the
//   object in the file store), the same upload again 200 with the same id and created_at.
// - GET /faces/{id}, GET /faces (newest first, pages joined by next_cursor), another owner's
//   face 404 (GET and DELETE), a malformed id 404, a bad mesh 422 problem+json, a stray part
//   400, spec.source_face plus part 'source' 400, an unknown face 400.
// - A job by face ids (workers: 0 at first): DELETE of a face it names is 409 while it is
//   queued; with a worker it succeeds and its frames are byte-equal to the same job submitted
//   with the files; then DELETE is 204 and GET 404; a job naming the deleted face is 400.
// - A job mixing a face (source) and a file part (target) succeeds too; the worker read face a
//   once (its face cache: /metrics shows 2 misses and 1 hit); a face of another
//   topology is 422 topology-mismatch; past max_faces_per_owner 409.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { run } from './harness.mjs';
import { downloadAll } from './frames.mjs';
import { total } from './prom.mjs';

async function addFace(api, mesh, texture, opts) {
    const form = new FormData();
    form.append('mesh', new Blob([fs.readFileSync(mesh)]), path.basename(mesh));
    if (texture) form.append('texture', new Blob([fs.readFileSync(texture)]), path.basename(texture));
    return api.request('POST', '/faces', { ...opts, form });
}

run('api_faces', async (t) => {
    t.requireMorphd();
    t.requireMorph();
    const keyA = 'faces-key-a-0123456789';
    const keyB = 'faces-key-b-0123456789';
    const keys = t.keysFile({ 'lab-a': keyA, 'lab-b': keyB });
    const { redis, api } = await t.cluster({ workers: 0, limits: { max_faces_per_owner: 4 }, apiArgs: ['--api-keys', keys] });
    api.token = keyA;
    const storage = api.storage;
    const fileStore = storage.startsWith('file://') ? storage.slice(7) : null;
    const s = t.sample();

    // Upload, and the same again.
    const a = await addFace(api, s.source, s.sourceTexture, { expect: 201 });
    t.check(a.headers.get('location') === `/faces/${a.json.id}`, `Location: expected /faces/${a.json.id}, got ${a.headers.get('location')}`);
    t.check(a.json.name === 'sample_A', `name: expected sample_A, got ${a.json.name}`);
    t.check(a.json.textures === 1, `textures: expected 1, got ${a.json.textures}`);
    const objectFile = fileStore && path.join(fileStore, 'faces', 'lab-a', `${a.json.id}.mdm`);
    const firstWrite = objectFile && fs.statSync(objectFile).mtimeMs;
    const again = await addFace(api, s.source, s.sourceTexture, { expect: 200 });
    if (objectFile) t.check(fs.statSync(objectFile).mtimeMs === firstWrite, 'the same face sent again was written again (mtime changed)');
    t.check(again.json.id === a.json.id, `same upload: expected id ${a.json.id}, got ${again.json.id}`);
    t.check(again.json.created_at === a.json.created_at, `same upload: expected created_at ${a.json.created_at}, got ${again.json.created_at}`);
    const b = await addFace(api, s.target, s.targetTexture, { expect: 201 });
    t.check(b.json.id !== a.json.id, 'two different faces got the same id');
    const untextured = await addFace(api, s.source, null, { expect: 201 });
    t.check(untextured.json.id !== a.json.id, 'the texture should change the id');

    // The id is the SHA-256 of the stored canonical form.
    if (fileStore) {
        const file = path.join(fileStore, 'faces', 'lab-a', `${a.json.id}.mdm`);
        const bytes = fs.readFileSync(file);
        const sha = crypto.createHash('sha256').update(bytes).digest('hex');
        t.check(sha === a.json.id, `stored object's SHA-256: expected ${a.json.id}, got ${sha}`);
        t.check(bytes.length === a.json.bytes, `bytes: expected ${bytes.length}, got ${a.json.bytes}`);
    } else {
        t.note('not a file store: the stored object is not hashed here');
    }

    // Reading.
    const got = await api.get(`/faces/${a.json.id}`, { expect: 200 });
    t.check(JSON.stringify(got.json) === JSON.stringify(a.json), `GET /faces/{id}: expected ${JSON.stringify(a.json)}, got ${got.text}`);
    const page1 = await api.get('/faces?limit=2', { expect: 200 });
    t.check(page1.json.faces.length === 2 && page1.json.next_cursor !== null, `first page of 2: expected 2 faces and a cursor, got ${page1.text}`);
    const page2 = await api.get(`/faces?limit=2&cursor=${encodeURIComponent(page1.json.next_cursor)}`, { expect: 200 });
    const listed = [...page1.json.faces, ...page2.json.faces].map((f) => f.id);
    const want = [untextured.json.id, b.json.id, a.json.id]; // before the tri face below
    t.check(JSON.stringify(listed) === JSON.stringify(want), `GET /faces newest first: expected ${want}, got ${listed}`);
    t.check(page2.json.next_cursor === null, `last page: expected next_cursor null, got ${page2.json.next_cursor}`);
    await api.get('/faces/xyz', { expect: 404 });
    await api.get('/faces?limit=0', { expect: 400 });

    // Another owner sees none of them.
    await api.get(`/faces/${a.json.id}`, { expect: 404, headers: { Authorization: `Bearer ${keyB}` } });
    await api.request('DELETE', `/faces/${a.json.id}`, { expect: 404, headers: { Authorization: `Bearer ${keyB}` } });
    const theirs = await api.get('/faces', { expect: 200, headers: { Authorization: `Bearer ${keyB}` } });
    t.check(theirs.json.faces.length === 0, `another owner's list: expected no faces, got ${theirs.json.faces.length}`);
    await api.get('/faces', { expect: 401, headers: { Authorization: 'Bearer nope' } });

    // Bad input.
    const badForm = new FormData();
    badForm.append('mesh', new Blob(['v 0 0 0\nf 1 2 9\n']), 'bad.obj');
    const bad = await api.request('POST', '/faces', { form: badForm, expect: 422 });
    t.check(bad.headers.get('content-type') === 'application/problem+json', `bad mesh: expected problem+json, got ${bad.headers.get('content-type')}`);
    t.check(/bad\.obj/.test(bad.json.detail), `bad mesh: the detail should name bad.obj, got ${bad.json.detail}`);
    const strayForm = new FormData();
    strayForm.append('mesh', new Blob([fs.readFileSync(s.source)]), 'a.obj');
    strayForm.append('source', new Blob([fs.readFileSync(s.source)]), 'a.obj');
    await api.request('POST', '/faces', { form: strayForm, expect: 400 });
    const unknownForm = new FormData();
    unknownForm.append('mesh', new Blob([fs.readFileSync(s.source)]), 'a.obj');
    unknownForm.append('picture', new Blob(['x']), 'p.png');
    const unknown = await api.request('POST', '/faces', { form: unknownForm, expect: 400 });
    t.check(/POST \/faces takes mesh/.test(unknown.json.detail), `an unknown part: the detail should say what POST /faces takes, got ${unknown.json.detail}`);
    const notMultipart = await api.request('POST', '/faces', { body: '{}', headers: { 'Content-Type': 'application/json' }, expect: 400 });
    t.check(/POST \/faces takes multipart/.test(notMultipart.json.detail), `a JSON body: the detail should say POST /faces takes multipart, got ${notMultipart.json.detail}`);
    await api.request('PUT', '/faces', { expect: 405 });
    const twoForm = new FormData();
    for (const f of [s.source, s.target]) twoForm.append('mesh', new Blob([fs.readFileSync(f)]), path.basename(f));
    await api.request('POST', '/faces', { form: twoForm, expect: 400 });

    // A face of another topology: stored (a face on its own is fine), refused in a job with
    // 422 topology-mismatch. It is the owner's fourth face: a fifth is 409 (max_faces_per_owner)
    // and its object is not left in the store.
    const triFile = path.join(t.mkdir('tri'), 'tri.obj');
    fs.writeFileSync(triFile, 'v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n');
    const tri = await addFace(api, triFile, null, { expect: 201 });
    const full = await addFace(api, s.target, null, { expect: 409 });
    t.check(/max_faces_per_owner=4/.test(full.json.detail), `the 409 should name max_faces_per_owner=4, got ${full.json.detail}`);
    if (fileStore) {
        const left = fs.readdirSync(path.join(fileStore, 'faces', 'lab-a')).length;
        t.check(left === 4, `after the refused fifth face: expected 4 objects in faces/lab-a, got ${left}`);
    }
    const topo = await api.submit({ target: s.target }, { frames: 3, width: 64, height: 64, source_face: tri.json.id }, { expect: 422 });
    t.check(topo.json.type === 'urn:morphd:problem:topology-mismatch', `a face of another topology: expected topology-mismatch, got ${topo.json.type}`);
    t.check(/source/.test(topo.json.detail) && /target/.test(topo.json.detail), `the mismatch should name both sides, got ${topo.json.detail}`);
    await api.request('DELETE', `/faces/${tri.json.id}`, { expect: 204 });

    // A job by face ids, queued (no worker yet): its face cannot be deleted.
    const spec = { frames: 3, width: 96, height: 96 };
    const byFace = (await api.submit({}, { ...spec, source_face: a.json.id, target_face: b.json.id }, { expect: 202 })).json;
    t.check(byFace.inputs.source?.face === a.json.id && byFace.inputs.target?.face === b.json.id, `inputs should name the faces, got ${JSON.stringify(byFace.inputs)}`);
    t.check(byFace.inputs.source?.name === 'sample_A' && byFace.inputs.target?.name === 'sample_B', `inputs should be named as the faces, got ${JSON.stringify(byFace.inputs)}`);
    const busy = await api.request('DELETE', `/faces/${a.json.id}`, { expect: 409 });
    t.check(busy.json.detail.includes(byFace.id), `409 should name job ${byFace.id}, got ${busy.json.detail}`);
    await api.submit({ source: s.source }, { ...spec, source_face: a.json.id, target_face: b.json.id }, { expect: 400 });
    await api.submit({}, { ...spec, source_face: 'f'.repeat(64), target_face: b.json.id }, { expect: 400 });
    await api.submit({}, { ...spec, source_face: 'not-an-id', target_face: b.json.id }, { expect: 400 });
    const render = await api.submit({ mesh: s.source }, { kind: 'render', source_face: a.json.id }, { expect: 400 });
    t.check(/morph jobs/.test(render.json.detail), `a face in a render job: the detail should say faces are for morph jobs, got ${render.json.detail}`);
    const mixed = (await api.submit({ target: s.target, target_texture: s.targetTexture }, { ...spec, source_face: a.json.id }, { expect: 202 })).json;
    const byFiles = (await api.submit({ source: s.source, target: s.target, source_texture: s.sourceTexture, target_texture: s.targetTexture }, spec, { expect: 202 })).json;

    // A worker runs them; the frames agree byte for byte.
    t.startWorker({ redis, storage });
    const done = {};
    for (const job of [byFace, mixed, byFiles]) {
        done[job.id] = await api.poll(job.id);
        t.check(done[job.id].status === 'succeeded', `job ${job.id}: expected succeeded, got ${done[job.id].status} (${done[job.id].error})`);
    }
    const served = {};
    for (const job of [byFace, mixed, byFiles]) served[job.id] = await downloadAll(t, api, done[job.id], t.mkdir(`dl-${job.id}`));
    for (const job of [byFace, mixed]) {
        const names = [...served[job.id].keys()].filter((n) => n.startsWith('frames/')).sort();
        const ref = [...served[byFiles.id].keys()].filter((n) => n.startsWith('frames/')).sort();
        t.check(JSON.stringify(names) === JSON.stringify(ref), `job ${job.id}: frame names differ from the job with files\n  faces: ${names.join(' ')}\n  files: ${ref.join(' ')}`);
        for (const n of ref) {
            const mine = served[job.id].get(n);
            t.check(mine && mine.equals(served[byFiles.id].get(n)), `job ${job.id}: ${n} differs from the job with files`);
        }
    }

    // The worker's face cache (issue 13 item 4): byFace reads faces a and b from storage (two
    // misses), mixed finds a in the cache (one hit); byFiles names no face. The frames above are
    // those of the job with files, which never touches the cache.
    const m = await api.metrics();
    const hits = total(m.families, 'morphd_face_cache_hits_total');
    const misses = total(m.families, 'morphd_face_cache_misses_total');
    t.check(hits === 1, `morphd_face_cache_hits_total: expected 1, got ${hits}`);
    t.check(misses === 2, `morphd_face_cache_misses_total: expected 2, got ${misses}`);
    t.check(total(m.families, 'morphd_face_cache_evictions_total') === 0, 'morphd_face_cache_evictions_total: expected 0 under the 512 MiB cap');

    // Once the jobs ended: 204, then 404; a job naming it is refused.
    await api.request('DELETE', `/faces/${a.json.id}`, { expect: 204 });
    await api.get(`/faces/${a.json.id}`, { expect: 404 });
    await api.request('DELETE', `/faces/${a.json.id}`, { expect: 404 });
    const gone = await api.submit({}, { ...spec, source_face: a.json.id, target_face: b.json.id }, { expect: 400 });
    t.check(gone.json.detail.includes(a.json.id), `a deleted face: the detail should name it, got ${gone.json.detail}`);
    if (fileStore)
        t.check(!fs.existsSync(path.join(fileStore, 'faces', 'lab-a', `${a.json.id}.mdm`)), 'the deleted face\'s object is still stored');
    // The jobs that used it keep their frames.
    await api.artifact(byFace.id, done[byFace.id].artifacts[0].name, { expect: 200 });
});
