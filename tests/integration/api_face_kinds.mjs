// api_face_kinds.mjs — the face-space kinds through the job server (issue 12, items 4 and 5):
// a transform (parts base, from, to and their textures; spec.amounts) and an average (part
// mesh repeated; spec.mesh_weights) of the ICT faces, submitted over real HTTP to a real api,
// worker and redis-server, succeed with the artifacts transformed_NNNN_<pppp>.obj/.png (or
// average.obj/.png), manifest.json and session.log; the downloaded OBJ positions equal
// BASE + K (TO - FROM) and sum(w_i M_i) to float precision; the renders are PNGs of the asked
// size. Bad input is a 4xx problem+json that says what is wrong (responses are checked against
// openapi.yaml by the harness).
import { run } from './harness.mjs';

function positions(text) {
    return text.split('\n').filter((l) => l.startsWith('v ')).map((l) => l.trim().split(/\s+/).slice(1, 4).map(Number));
}

function pngSize(buf) {
    const sig = buf.subarray(0, 8).toString('hex') === '89504e470d0a1a0a';
    return sig ? [buf.readUInt32BE(16), buf.readUInt32BE(20)] : null;
}

// The largest error of got against expect(v, k), relative to scale(v, k).
function worstRelative(got, n, expect, scale) {
    let worst = 0;
    for (let v = 0; v < n; v++)
        for (let k = 0; k < 3; k++)
            worst = Math.max(worst, Math.abs(expect(v, k) - got[v][k]) / (scale(v, k) + 1e-30));
    return worst;
}

run('api_face_kinds', async (t) => {
    t.requireMorphd();
    const A = t.data('faces/ict/ict_face_identity_A.obj');
    const B = t.data('faces/ict/ict_face_identity_B.obj');
    const MP = t.data('faces/mediapipe/canonical_face_model.obj');
    const skin = t.data('textures/skin_A.jpg');
    const { api } = await t.cluster({ workers: 1 });
    const fs = await import('node:fs');
    const pa = positions(fs.readFileSync(A, 'utf8'));
    const pb = positions(fs.readFileSync(B, 'utf8'));

    // 1. Transform: B moved along A -> B, an anti-direction and an exaggeration.
    const tfiles = { base: B, from: A, to: B, base_texture: skin, from_texture: skin, to_texture: skin };
    const r = await api.submit(tfiles, { kind: 'transform', amounts: [-0.5, 1.5], width: 64, height: 48, samples: 1 }, { expect: 202 });
    t.check(r.json.kind === 'transform', `kind ${r.json.kind}`);
    t.check(JSON.stringify(r.json.spec.amounts) === '[-0.5,1.5]', `normalised spec ${JSON.stringify(r.json.spec)}`);
    const done = await api.poll(r.json.id);
    t.assert(done.status === 'succeeded', `transform job ${done.status}: ${done.error}`);
    const names = done.artifacts.map((a) => a.name);
    for (const w of ['transformed_0000_m0500.obj', 'transformed_0000_m0500.mtl', 'transformed_0000_m0500_texture.png',
        'transformed_0000_m0500.png', 'transformed_0001_1500.obj', 'transformed_0001_1500.png', 'manifest.json', 'session.log'])
        t.check(names.includes(w), `no ${w} among the transform's artifacts (${names.join(', ')})`);
    t.check(done.progress.frames_done === 2 && done.progress.frames_total === 2, `progress ${JSON.stringify(done.progress)}`);
    for (const [name, k] of [['transformed_0000_m0500', -0.5], ['transformed_0001_1500', 1.5]]) {
        const obj = await api.artifact(done.id, `${name}.obj`, { expect: 200 });
        const got = positions(obj.body.toString('utf8'));
        t.check(got.length === pa.length, `${name}.obj: ${got.length} vertices, expected ${pa.length}`);
        const worst = worstRelative(got, Math.min(got.length, pa.length), (v, c) => pb[v][c] + k * (pb[v][c] - pa[v][c]),
            (v, c) => Math.abs(pb[v][c]) + Math.abs(k) * (Math.abs(pa[v][c]) + Math.abs(pb[v][c])));
        t.check(worst <= 5e-7, `${name}: positions differ from BASE + K (TO - FROM) by ${worst} (relative), expected <= 5e-7`);
        t.log(`transform K=${k}: largest relative error ${worst.toExponential(2)}`);
        const png = await api.artifact(done.id, `${name}.png`, { expect: 200 });
        const size = pngSize(png.body);
        t.check(size && size[0] === 64 && size[1] === 48, `${name}.png size ${size}`);
    }
    const manifest = JSON.parse((await api.artifact(done.id, 'manifest.json', { expect: 200 })).text);
    t.check(manifest.kind === 'transform' && manifest.texture_blend === 'lab-gamut-clip', `manifest kind ${manifest.kind}, texture_blend ${manifest.texture_blend} (${manifest.texture_note})`);
    t.check(manifest.outputs?.length === 2 && typeof manifest.camera?.text === 'string', `manifest outputs/camera ${JSON.stringify(manifest.outputs)}`);

    // 2. Average of A and B weighted 1:3, normalised to 0.25 and 0.75.
    const a = await api.submit({ mesh: [A, B] }, { kind: 'average', mesh_weights: [1, 3], width: 64, height: 64, samples: 1 }, { expect: 202 });
    t.check(a.json.kind === 'average' && JSON.stringify(a.json.spec.mesh_weights) === '[1,3]', `average job ${JSON.stringify(a.json.spec)}`);
    const ad = await api.poll(a.json.id);
    t.assert(ad.status === 'succeeded', `average job ${ad.status}: ${ad.error}`);
    const anames = ad.artifacts.map((x) => x.name);
    for (const w of ['average.obj', 'average.mtl', 'average.png', 'manifest.json'])
        t.check(anames.includes(w), `no ${w} among the average's artifacts (${anames.join(', ')})`);
    const avg = positions((await api.artifact(ad.id, 'average.obj', { expect: 200 })).body.toString('utf8'));
    const aw = worstRelative(avg, Math.min(avg.length, pa.length), (v, c) => 0.25 * pa[v][c] + 0.75 * pb[v][c],
        (v, c) => 0.25 * Math.abs(pa[v][c]) + 0.75 * Math.abs(pb[v][c]));
    t.check(avg.length === pa.length && aw <= 2e-7, `average.obj: ${avg.length} vertices, relative error ${aw} (expected <= 2e-7)`);
    t.log(`average: largest relative error ${aw.toExponential(2)}`);
    const am = JSON.parse((await api.artifact(ad.id, 'manifest.json', { expect: 200 })).text);
    t.check(JSON.stringify(am.mesh_weights) === '[0.25,0.75]', `manifest mesh_weights ${JSON.stringify(am.mesh_weights)}`);
    t.check(am.texture_blend === 'none' && /no texture/.test(am.texture_note ?? ''), `untextured uploads: texture_blend ${am.texture_blend}, note ${am.texture_note}`);

    // 3. Refusals.
    const bad = async (what, files, spec, status, slug, needle) => {
        const b = await api.submit(files, spec, { expect: status });
        t.check(b.json?.type === `urn:morphd:problem:${slug}`, `${what}: type ${b.json?.type}`);
        t.check((b.json?.detail ?? '').includes(needle), `${what}: detail "${b.json?.detail}" lacks "${needle}"`);
    };
    await bad('one mesh', { mesh: [A] }, { kind: 'average' }, 400, 'bad-request', "an average needs at least 2 'mesh' parts, got 1");
    await bad('weights count', { mesh: [A, B] }, { kind: 'average', mesh_weights: [1, 1, 1] }, 400, 'bad-request', 'spec.mesh_weights: 3 weight(s) for 2 meshes');
    await bad('negative weight', { mesh: [A, B] }, { kind: 'average', mesh_weights: [1, -1] }, 400, 'bad-request', 'spec.mesh_weights[1]: must be a number, 0 or more');
    await bad('zero sum', { mesh: [A, B] }, { kind: 'average', mesh_weights: [0, 0] }, 400, 'bad-request', 'the weights sum to 0');
    await bad('textures unpaired', { mesh: [A, B], texture: [skin] }, { kind: 'average' }, 400, 'bad-request', "send none or one per mesh; got 1 for 2 meshes");
    await bad('average topology', { mesh: [A, MP] }, { kind: 'average' }, 422, 'topology-mismatch', 'source has 9409 vertices, target 468');
    await bad('transform topology', { base: A, from: A, to: MP }, { kind: 'transform', amount: 1 }, 422, 'topology-mismatch', "part 'to' (canonical_face_model.obj)");
    await bad('amount 4', { base: A, from: A, to: B }, { kind: 'transform', amount: 4 }, 400, 'bad-request', 'spec.amount: must be a number from -3 to 3');
    await bad('no amount', { base: A, from: A, to: B }, { kind: 'transform' }, 400, 'bad-request', 'a transform job needs amount (a number) or amounts');
    await bad('amount on average', { mesh: [A, B] }, { kind: 'average', amount: 1 }, 400, 'bad-request', 'spec.amount: only transform jobs');
    await bad('frames on transform', { base: A, from: A, to: B }, { kind: 'transform', amount: 1, frames: 3 }, 400, 'bad-request', 'spec.frames: a transform job has none');
    await bad('missing to', { base: A, from: A }, { kind: 'transform', amount: 1 }, 400, 'bad-request', "missing part(s) 'to'");
    await bad('source in a transform', { base: A, from: A, to: B, source: A }, { kind: 'transform', amount: 1 }, 400, 'bad-request', "part 'source' does not belong to transform jobs");
    await bad('two meshes in a render', { mesh: [A, B] }, { kind: 'render' }, 400, 'bad-request', "part 'mesh' appears 2 times; only average jobs");
    await api.healthy();
});
