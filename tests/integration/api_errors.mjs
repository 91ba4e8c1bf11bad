// api_errors.mjs — bad requests get the documented 4xx as problem+json, and the server keeps
// serving (GET /healthz after each). Also the queue cap: a full queue is 503 + Retry-After.
// Limit names: MORPHD_TEST_BODY_LIMIT (default max_body_bytes) and MORPHD_TEST_QUEUE_LIMIT
// (default max_queued), the `--limit` names of `morphd api`.
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { run } from './harness.mjs';

const BODY_LIMIT = process.env.MORPHD_TEST_BODY_LIMIT || 'max_body_bytes';
const QUEUE_LIMIT = process.env.MORPHD_TEST_QUEUE_LIMIT || 'max_queued';
const BODY_MAX = 4 << 20;

run('api_errors', async (t) => {
    t.requireMorphd();
    const { redis, api } = await t.cluster({ workers: 1, limits: { [BODY_LIMIT]: BODY_MAX } });
    const s = t.sample();
    const A = { name: 'sample_A.obj', data: fs.readFileSync(s.source) };
    const B = { name: 'sample_B.obj', data: fs.readFileSync(s.target) };
    const tiny = { frames: 1, width: 16, height: 16 };

    // Sends, expects one of the statuses (and slug), checks detail mentions needles, then healthz.
    async function bad(what, send, statuses, { slug, needles = [] } = {}) {
        const r = await send();
        t.check([].concat(statuses).includes(r.status), `${what}: expected ${statuses}, got ${r.status}: ${r.text}`);
        if (r.json && r.status >= 400) {
            if (slug) t.check([].concat(slug).some((x) => r.json.type === `urn:morphd:problem:${x}`), `${what}: type ${r.json.type}, expected ${slug}`);
            for (const n of needles) t.check(new RegExp(n, 'i').test(r.json.detail), `${what}: detail "${r.json.detail}" does not mention ${n}`);
        }
        await api.healthy();
        return r;
    }
    const multipart = (boundary, parts) => {
        const chunks = [];
        for (const p of parts) {
            chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${p.name}"${p.filename ? `; filename="${p.filename}"` : ''}\r\n${p.type ? `Content-Type: ${p.type}\r\n` : ''}\r\n`));
            chunks.push(Buffer.isBuffer(p.data) ? p.data : Buffer.from(p.data));
            chunks.push(Buffer.from('\r\n'));
        }
        chunks.push(Buffer.from(`--${boundary}--\r\n`));
        return Buffer.concat(chunks);
    };

    // ---- Malformed requests (400) ----
    await bad('garbage multipart', () => api.request('POST', '/jobs', { headers: { 'Content-Type': 'multipart/form-data; boundary=xyz' }, body: 'this is not multipart at all' }), 400, { slug: 'bad-request' });
    await bad('multipart without a final boundary', () => api.request('POST', '/jobs', { headers: { 'Content-Type': 'multipart/form-data; boundary=b0' }, body: multipart('b0', [{ name: 'source', filename: 'a.obj', data: A.data }]).subarray(0, 2000) }), 400, { slug: 'bad-request' });
    await bad('multipart without a boundary', () => api.request('POST', '/jobs', { headers: { 'Content-Type': 'multipart/form-data' }, body: 'x' }), 400, { slug: 'bad-request' });
    await bad('JSON instead of multipart', () => api.request('POST', '/jobs', { json: { frames: 3 } }), [400, 415], { slug: ['bad-request', 'unsupported-format'] });
    await bad('no body', () => api.request('POST', '/jobs'), [400, 415], { slug: ['bad-request', 'unsupported-format'] });
    await bad('no target part', () => api.submit({ source: A }, tiny), 400, { slug: 'bad-request', needles: ['target'] });
    await bad('no source part', () => api.submit({ target: B }, tiny), 400, { slug: 'bad-request', needles: ['source'] });
    await bad('only a spec', () => api.submit({}, tiny), 400, { slug: 'bad-request', needles: ['source'] });
    await bad('an unknown part', () => api.submit({ source: A, target: B, surprise: { name: 'x.bin', data: Buffer.from('x') } }, tiny), 400, { slug: 'bad-request', needles: ['surprise'] });
    await bad('source part twice', () => api.request('POST', '/jobs', { headers: { 'Content-Type': 'multipart/form-data; boundary=d2' }, body: multipart('d2', [{ name: 'source', filename: 'a.obj', data: A.data }, { name: 'source', filename: 'b.obj', data: B.data }, { name: 'target', filename: 'b.obj', data: B.data }]) }), 400, { slug: 'bad-request', needles: ['source'] });
    await bad('spec is not JSON', () => api.submit({ source: A, target: B }, '{"frames": 3,'), 400, { slug: 'bad-request', needles: ['spec'] });
    await bad('spec is a JSON array', () => api.submit({ source: A, target: B }, '[1,2]'), 400, { slug: 'bad-request', needles: ['spec'] });
    await bad('unknown spec field', () => api.submit({ source: A, target: B }, { frames: 3, framez: 4 }), 400, { slug: 'bad-request', needles: ['framez'] });
    await bad('unknown camera field', () => api.submit({ source: A, target: B }, { camera: { zoom: 2 } }), 400, { slug: 'bad-request', needles: ['zoom'] });
    await bad('frames 0', () => api.submit({ source: A, target: B }, { frames: 0 }), 400, { slug: 'bad-request', needles: ['frames'] });
    await bad('frames as a string', () => api.submit({ source: A, target: B }, { frames: 'many' }), 400, { slug: 'bad-request', needles: ['frames'] });
    await bad('weight out of range', () => api.submit({ source: A, target: B }, { weights: [0, 3.5] }), 400, { slug: 'bad-request', needles: ['spec.weights', 'from -3 to 3'] });
    await bad('samples not square', () => api.submit({ source: A, target: B }, { samples: 3 }), 400, { slug: 'bad-request', needles: ['samples'] });
    await bad('width too big', () => api.submit({ source: A, target: B }, { width: 100000, height: 16 }), 400, { slug: 'bad-request', needles: ['width|size'] });
    await bad('a frame over the render budget', () => api.submit({ source: A, target: B }, { width: 8192, height: 8192, samples: 64 }), 422, { slug: 'over-budget', needles: ['8192x8192', 'max_frame_bytes', '32960\\.0 MiB'] });
    await bad('bad background', () => api.submit({ source: A, target: B }, { background: 'pink' }), 400, { slug: 'bad-request', needles: ['background'] });
    await bad('label over 200 bytes', () => api.submit({ source: A, target: B }, { label: 'x'.repeat(201) }), 400, { slug: 'bad-request', needles: ['label'] });
    await bad('render job with source/target', () => api.submit({ source: A, target: B }, { kind: 'render' }), 400, { slug: 'bad-request', needles: ['mesh'] });
    await bad('Idempotency-Key over 255 chars', () => api.submit({ source: A, target: B }, tiny, { headers: { 'Idempotency-Key': 'k'.repeat(300) } }), 400, { slug: 'bad-request', needles: ['idempotency'] });

    // ---- Too large (413): a declared length over the limit, and a chunked body that grows ----
    const huge = Array.from({ length: 16 }, () => crypto.randomBytes(1 << 20));
    await bad('Content-Length over the body limit', () => api.raw('POST', '/jobs', { headers: { 'Content-Type': 'multipart/form-data; boundary=h1' }, body: [Buffer.from('--h1\r\nContent-Disposition: form-data; name="source"; filename="a.obj"\r\n\r\n'), ...huge] }), 413, { slug: 'too-large' });
    await bad('chunked body over the body limit', () => api.raw('POST', '/jobs', { headers: { 'Content-Type': 'multipart/form-data; boundary=h2' }, chunked: true, body: [Buffer.from('--h2\r\nContent-Disposition: form-data; name="source"; filename="a.obj"\r\n\r\n'), ...huge] }), 413, { slug: 'too-large' });
    await bad('one part over the body limit via fetch', () => api.submit({ source: { name: 'big.obj', data: Buffer.concat(huge.slice(0, 6)) }, target: B }, tiny).catch((e) => ({ status: 'no answer', text: e.message })), 413, { slug: 'too-large' });

    // ---- Meshes that do not parse (422) or are not a format (415) ----
    const garbage = crypto.randomBytes(4096);
    const hand = [
        ['empty OBJ', { name: 'empty.obj', data: Buffer.alloc(0) }],
        ['random bytes as .obj', { name: 'noise.obj', data: garbage }],
        ['face index out of range', { name: 'oob.obj', data: Buffer.from('v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 9\n') }],
        ['NaN vertex', { name: 'nan.obj', data: Buffer.from('v nan 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n') }],
        ['no faces', { name: 'points.obj', data: Buffer.from('v 0 0 0\nv 1 0 0\nv 0 1 0\n') }],
        ['binary junk as .glb', { name: 'junk.glb', data: garbage }],
    ];
    for (const [what, file] of hand) {
        await bad(`${what} (source)`, () => api.submit({ source: file, target: B }, tiny), [422, 415], { slug: ['invalid-mesh', 'unsupported-format'], needles: ['source'] });
        await bad(`${what} (target)`, () => api.submit({ source: A, target: file }, tiny), [422, 415], { slug: ['invalid-mesh', 'unsupported-format'], needles: ['target'] });
    }
    await bad('unknown extension', () => api.submit({ source: { name: 'mesh.xyz123', data: garbage }, target: B }, tiny), [415, 422], { slug: ['unsupported-format', 'invalid-mesh'] });
    await bad('garbage texture', () => api.submit({ source: A, target: B, source_texture: { name: 't.png', data: garbage } }, tiny), [415, 422], { slug: ['unsupported-format', 'invalid-mesh'], needles: ['texture|png'] });
    const invalidDir = t.data('formats/assimp/test/models/invalid', { optional: true });
    if (invalidDir) {
        for (const f of fs.readdirSync(invalidDir).filter((n) => n !== 'readme.txt').sort()) {
            const file = { name: f, data: fs.readFileSync(path.join(invalidDir, f)) };
            const strict = f.endsWith('.obj');
            await bad(`invalid/${f}`, () => api.submit({ source: file, target: file }, tiny), strict ? 422 : [422, 415], { slug: strict ? 'invalid-mesh' : ['invalid-mesh', 'unsupported-format'] });
        }
    } else {
        t.note('MORPHD_DATA has no formats/assimp/test/models/invalid: only hand-made garbage was sent');
    }

    // ---- Topology mismatch (422 with both counts) ----
    const tri = { name: 'tri.obj', data: Buffer.from('v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n') };
    await bad('sample vs one triangle', () => api.submit({ source: A, target: tri }, tiny), 422, { slug: 'topology-mismatch', needles: ['5954|5,954', '\\b3\\b'] });
    const mpA = t.data('faces/mediapipe/canonical_face_model.obj', { optional: true });
    if (mpA) {
        const mpB = t.data('faces/mediapipe/face_model_with_iris.obj');
        await bad('mediapipe face vs face with iris', () => api.submit({ source: mpA, target: mpB }, tiny), 422, { slug: 'topology-mismatch', needles: ['468', '478'] });
    } else {
        t.note('MORPHD_DATA has no mediapipe pair: the data topology mismatch was not sent');
    }

    // ---- Unknown ids, bad artifact names, unknown routes, wrong methods ----
    const ghost = 'f'.repeat(32);
    for (const p of [`/jobs/${ghost}`, '/jobs/not-an-id', `/jobs/${ghost.toUpperCase()}`, `/jobs/${ghost}/artifacts/manifest.json`]) await bad(`GET ${p}`, () => api.get(p), 404, { slug: 'not-found' });
    await bad('cancel unknown', () => api.request('POST', `/jobs/${ghost}/cancel`), 404, { slug: 'not-found' });
    await bad('delete unknown', () => api.request('DELETE', `/jobs/${ghost}`), 404, { slug: 'not-found' });

    const ok = await api.submit({ source: A, target: B }, tiny, { expect: 202 });
    const job = await api.poll(ok.json.id);
    t.assert(job.status === 'succeeded', `a tiny job ${job.status}: ${job.error}`);
    const base = `/jobs/${job.id}/artifacts`;
    await bad('absent artifact', () => api.get(`${base}/absent.png`), 404, { slug: 'not-found' });
    await bad('absent frame', () => api.get(`${base}/frames/9999_x.png`), 404, { slug: 'not-found' });
    for (const name of ['..%2f..%2fmanifest.json', '..%2F..%2F..%2Fetc%2Fpasswd', '%2e%2e/%2e%2e/manifest.json', '../../../../etc/passwd', 'frames/../../manifest.json',
        'frames%2f..%2f..%2fx', 'frames//x.png', 'frames/', '.hidden', 'a/b/c.png', 'manifest.json%00.png', `${'a'.repeat(300)}.png`, '%ff%fe', 'frames\\..\\x']) {
        const r = await bad(`artifact name ${name}`, () => api.raw('GET', `${base}/${name}`), [400, 404], { slug: ['bad-request', 'not-found'] });
        t.check(!(r.body && r.body.includes('root:')), `artifact name ${name} served a file outside the job`);
    }
    const inputs = await api.get(`${base}/inputs/source.mdm`);
    if (inputs.status === 200) t.note('GET artifacts/inputs/source.mdm serves the stored input, which is not in the artifact list');
    await api.healthy();

    for (const p of ['/nope', '/jobs/x/y/z/w', `/jobs/${job.id}/bogus`, '/metrics/x', '/']) await bad(`GET ${p}`, () => api.get(p), 404, { slug: 'not-found' });
    for (const [m, p] of [['PUT', '/jobs'], ['DELETE', '/jobs'], ['PATCH', `/jobs/${job.id}`], ['POST', `/jobs/${job.id}`], ['GET', `/jobs/${job.id}/cancel`], ['DELETE', '/healthz'], ['POST', '/metrics'], ['POST', '/readyz'], ['PUT', `${base}/manifest.json`]]) {
        const r = await bad(`${m} ${p}`, () => api.request(m, p, m === 'GET' || m === 'DELETE' ? {} : { body: 'x' }), 405, { slug: 'method-not-allowed' });
        const allow = r.headers.get('allow') || '';
        t.check(!allow.split(/,\s*/).includes(m), `${m} ${p}: Allow ${allow} lists the method it refused`);
    }

    // ---- Queue full: a second api on its own redis with max_queued=1 and no worker ----
    const redis2 = await t.startRedis();
    const capped = await t.startApi({ redis: redis2, limits: { [QUEUE_LIMIT]: 1 }, name: 'api-capped' });
    // The spec here is an empty object (every default): no worker runs it, and "{}" is a part
    // MHD hands over in two calls at offset 0, which must not read as the part sent twice.
    await capped.submit({ source: A, target: B }, {}, { expect: 202 });
    const full = await capped.submit({ source: A, target: B }, tiny);
    t.check(full.status === 503 && full.json?.type === 'urn:morphd:problem:queue-full', `a full queue answered ${full.status} ${full.text}`);
    await capped.healthy();
    t.check(redis.proc.alive, 'redis is alive');
});
