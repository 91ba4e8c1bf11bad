// api_facespace.mjs — face-space stimuli through the job server: a job with weights beyond
// [0, 1] (an anti-face at -0.5, a caricature at 1.5) and texture weights apart from the shape's
// is accepted with its normalised spec (range and easing absent, shape_weights null,
// texture_weights kept), succeeds, names its frames and meshes in playing order with the
// texture weight where it differs, and exports meshes whose positions are A + t (B - A) to float
// precision; its frames and meshes equal `morph run`'s byte for byte. frames with range and
// easing come back normalised and as weights in the manifest. Jobs framed on one reference
// (part frame_on, or the spec.frame_on bounds it becomes) share one camera. Bad values are 400
// problem+json naming the field (responses checked against openapi.yaml by the harness).
import fs from 'node:fs';
import { run } from './harness.mjs';
import { downloadAll, compareFrames } from './frames.mjs';

// The 'v' lines of an OBJ as [x, y, z] arrays, in file order.
function positions(text) {
    return text.split('\n').filter((l) => l.startsWith('v ')).map((l) => l.trim().split(/\s+/).slice(1, 4).map(Number));
}

run('api_facespace', async (t) => {
    t.requireMorphd();
    t.requireMorph();
    const { api } = await t.cluster({ workers: 1 });
    const s = t.sample();
    const files = { source: s.source, target: s.target, source_texture: s.sourceTexture, target_texture: s.targetTexture };

    // 1. An anti-face and a caricature, the caricature's texture pushed further.
    const spec = { weights: [-0.5, 1.5], texture_weights: [-0.5, 2], width: 96, height: 64, outputs: ['frames', 'meshes'] };
    const r = await api.submit(files, spec, { expect: 202 });
    const ns = r.json.spec;
    t.check(JSON.stringify(ns.weights) === '[-0.5,1.5]' && ns.shape_weights === null && JSON.stringify(ns.texture_weights) === '[-0.5,2]', `normalised spec ${JSON.stringify(ns)}`);
    t.check(ns.frames === undefined && ns.range === undefined && ns.easing === undefined, `a spec with weights has no frames, range or easing: ${JSON.stringify(ns)}`);
    const done = await api.poll(r.json.id);
    t.assert(done.status === 'succeeded', `facespace job ${done.status}: ${done.error}`);
    const names = done.artifacts.map((a) => a.name);
    const want = ['frames/0000_sample_A-1500_sample_B-m0500.png', 'frames/0001_sample_A-m0500_sample_B-1500_texture-2000.png',
        'meshes/0000_sample_A-1500_sample_B-m0500.obj', 'meshes/0001_sample_A-m0500_sample_B-1500_texture-2000.obj'];
    for (const w of want) t.check(names.includes(w), `no ${w} among the artifacts (${names.join(', ')})`);
    const frames = names.filter((n) => n.startsWith('frames/'));
    t.check(JSON.stringify([...frames].sort()) === JSON.stringify(frames), `frame names do not sort in playing order: ${frames.join(', ')}`);

    const served = await downloadAll(t, api, done, t.mkdir(`served-${done.id}`));
    const a = positions(fs.readFileSync(s.source, 'utf8'));
    const b = positions(fs.readFileSync(s.target, 'utf8'));
    for (const [i, tw] of [[0, -0.5], [1, 1.5]]) {
        const got = positions(served.get(want[2 + i])?.toString('utf8') ?? '');
        t.check(got.length === a.length && a.length > 0, `${want[2 + i]}: ${got.length} vertices, source has ${a.length}`);
        let worst = 0;
        for (let v = 0; v < Math.min(got.length, a.length); v++) {
            for (let k = 0; k < 3; k++) {
                const expect = a[v][k] + tw * (b[v][k] - a[v][k]);
                const scale = Math.abs((1 - tw) * a[v][k]) + Math.abs(tw * b[v][k]) + 1e-30;
                worst = Math.max(worst, Math.abs(expect - got[v][k]) / scale);
            }
        }
        t.check(worst <= 3e-7, `t=${tw}: exported positions differ from A + t (B - A) by ${worst} (relative), expected <= 3e-7`);
        t.log(`t=${tw}: ${got.length} exported vertices, largest relative error vs A + t (B - A) ${worst.toExponential(2)}`);
    }
    const manifest = JSON.parse(served.get('manifest.json').toString('utf8'));
    t.check(/extrapolated in CIE L\*a\*b\*/.test(manifest.options?.texture_blend ?? ''), `manifest options.texture_blend ${manifest.options?.texture_blend}`);
    t.check(manifest.frames?.[1]?.texture_weight === 2 && manifest.frames?.[1]?.weight === 1.5, `manifest frame 1 ${JSON.stringify(manifest.frames?.[1])}`);

    // The same job with `morph run`: identical frames and meshes.
    const out = t.morphRun(s.source, s.target, t.mkdir(`local-${done.id}`), spec, s);
    compareFrames(t, 'facespace', served, out);
    for (const w of want.slice(2)) {
        const local = `${out}/${w}`;
        t.check(fs.existsSync(local) && fs.readFileSync(local).equals(served.get(w)), `${w} differs from morph run's`);
    }

    // 2. frames over a range with an easing.
    const r2 = await api.submit(files, { frames: 5, range: [-1, 2], easing: 'sine', width: 48, height: 48, outputs: 'minimal' }, { expect: 202 });
    t.check(JSON.stringify(r2.json.spec.range) === '[-1,2]' && r2.json.spec.easing === 'sine' && r2.json.spec.frames === 5, `normalised spec ${JSON.stringify(r2.json.spec)}`);
    const d2 = await api.poll(r2.json.id);
    t.assert(d2.status === 'succeeded', `range/easing job ${d2.status}: ${d2.error}`);
    const m2 = JSON.parse((await api.artifact(d2.id, 'manifest.json', { expect: 200 })).text);
    const expectW = [0, 0.25, 0.5, 0.75, 1].map((u) => -1 + 3 * (0.5 - 0.5 * Math.cos(Math.PI * u)));
    const gotW = m2.options?.weights ?? [];
    t.check(gotW.length === 5 && gotW.every((w, i) => Math.abs(w - expectW[i]) < 1e-6), `eased weights ${JSON.stringify(gotW)}, expected ${JSON.stringify(expectW)}`);

    // 3. Shared framing: two different pairs framed on one reference (part frame_on) get one
    // camera; the bounds land in the normalised spec, so spec.frame_on alone does the same.
    const ref = { frame_on: s.target };
    const small = { width: 48, height: 48, outputs: 'minimal', weights: [0, 1] };
    const f1 = await api.submit({ ...files, ...ref }, small, { expect: 202 });
    const f2 = await api.submit({ source: s.source, target: s.source, ...ref }, small, { expect: 202 });
    t.check(f1.json.spec.frame_on?.name === 'sample_B' && f1.json.spec.frame_on.min.length === 3, `normalised frame_on ${JSON.stringify(f1.json.spec.frame_on)}`);
    const f3 = await api.submit(files, { ...small, frame_on: f1.json.spec.frame_on }, { expect: 202 });
    const cams = [];
    for (const f of [f1, f2, f3]) {
        const d = await api.poll(f.json.id);
        t.assert(d.status === 'succeeded', `frame_on job ${d.status}: ${d.error}`);
        cams.push(JSON.parse((await api.artifact(d.id, 'manifest.json', { expect: 200 })).text).camera);
    }
    t.check(cams[0]?.text && cams[0].text === cams[1]?.text && cams[0].text === cams[2]?.text, `cameras framed on one reference differ: ${cams.map((c) => c?.text).join(' | ')}`);
    t.check(cams[0]?.framed_on?.name === 'sample_B', `manifest camera.framed_on ${JSON.stringify(cams[0]?.framed_on)}`);

    // 4. Refusals: 400 problem+json naming the field.
    const bad = async (what, sendSpec, needle) => {
        const b = await api.submit(files, sendSpec, { expect: 400 });
        t.check(b.json?.type === 'urn:morphd:problem:bad-request', `${what}: type ${b.json?.type}`);
        t.check((b.json?.detail ?? '').includes(needle), `${what}: detail "${b.json?.detail}" lacks "${needle}"`);
    };
    await bad('weight 3.5', { weights: [0, 3.5] }, 'spec.weights[1]: must be a number from -3 to 3');
    await bad('range [0, 4]', { frames: 3, range: [0, 4] }, 'spec.range: must be [from, to], two weights from -3 to 3');
    await bad('easing cubic', { easing: 'cubic' }, 'spec.easing: must be "linear", "smoothstep" or "sine", got "cubic"');
    await bad('easing with weights', { weights: [0, 1], easing: 'sine' }, 'spec.easing: spreads the frames of "frames"');
    await bad('short shape_weights', { frames: 3, shape_weights: [0, 1] }, 'spec.shape_weights: must hold one weight per frame: 3 frames, got 2 weights');
    await bad('texture weight -4', { weights: [0, 1], texture_weights: [0, -4] }, 'spec.texture_weights[1]: must be a number from -3 to 3');
    const both = await api.submit({ ...files, ...ref }, { frame_on: f1.json.spec.frame_on }, { expect: 400 });
    t.check((both.json?.detail ?? '').includes("part 'frame_on' and spec.frame_on both give the framing"), `frame_on twice: ${both.json?.detail}`);
    const render = await api.submit({ mesh: s.source, frame_on: s.target }, { kind: 'render' }, { expect: 400 });
    t.check((render.json?.detail ?? '').includes("part 'frame_on' does not belong to render jobs"), `render with frame_on: ${render.json?.detail}`);
    await bad('frame_on bounds', { frame_on: { min: [0, 0, 2], max: [1, 1, 1] } }, 'spec.frame_on: must have min <= max');
    await api.healthy();
});
