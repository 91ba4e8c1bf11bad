// api_outputs.mjs — a morph job's analysis outputs through the job server: the sample pair with
// spec {"outputs": "all"} succeeds; its normalised spec lists every output; its artifacts hold
// the heatmaps, CSVs, per-frame meshes and the video with their content types, each downloads
// with its listed size and type (responses checked against openapi.yaml by the harness); the
// manifest lists them with seconds; frames and artifacts equal `morph run`'s for the same spec.
// Bad values of the new fields, and analysis outputs on a render job, are 400s naming the field.
import fs from 'node:fs';
import path from 'node:path';
import { run } from './harness.mjs';
import { downloadAll, compareFrames, isPng } from './frames.mjs';

const TYPES = { '.png': 'image/png', '.csv': 'text/csv', '.obj': 'model/obj', '.mtl': 'text/plain', '.glb': 'model/gltf-binary', '.fbx': 'application/octet-stream', '.mp4': 'video/mp4' };
const TOP = [
    'shape_displacement_components.png',
    'texture_difference_components.png',
    'texture_difference_uv_luminance.png',
    'texture_difference_uv_chroma.png',
    'texture_difference_uv_delta_e.png',
    'statistics.csv',
    'vertex_displacements.csv',
    'texture_differences.csv',
    'frames.csv',
    'animation.mp4',
];

run('api_outputs', async (t) => {
    t.requireMorphd();
    t.requireMorph();
    const { api } = await t.cluster({ workers: 1 });
    const s = t.sample();
    const files = { source: s.source, target: s.target, source_texture: s.sourceTexture, target_texture: s.targetTexture };

    // 1. Everything, on the sample pair.
    const spec = { frames: 9, width: 96, height: 64, outputs: 'all' };
    const r = await api.submit(files, spec, { expect: 202 });
    t.check(JSON.stringify(r.json.spec.outputs) === JSON.stringify(['frames', 'heatmaps', 'csv', 'meshes', 'video']), `normalised outputs ${JSON.stringify(r.json.spec.outputs)}`);
    t.check(r.json.spec.align === 'none' && r.json.spec.shape_scale === 'auto' && r.json.spec.texture_scale === 'auto' && r.json.spec.heatmap_scale === undefined && r.json.spec.mesh_format === 'obj' && r.json.spec.fps === 30 && r.json.spec.loop === 'once', `normalised analysis options ${JSON.stringify(r.json.spec)}`);
    const done = await api.poll(r.json.id);
    t.assert(done.status === 'succeeded', `outputs all: job ${done.status}: ${done.error}`);
    const names = done.artifacts.map((a) => a.name);
    for (const want of TOP) t.check(names.includes(want), `no ${want} among the artifacts (${names.filter((n) => !n.startsWith('frames/')).join(', ')})`);
    for (const ext of ['.obj', '.mtl', '.png']) {
        const n = names.filter((x) => x.startsWith('meshes/') && x.endsWith(ext)).length;
        t.check(n === 9, `${n} meshes/*${ext} artifacts, expected 9`);
    }
    for (const a of done.artifacts) {
        const ext = path.extname(a.name);
        if (a.name === 'manifest.json' || a.name === 'session.log') continue;
        t.check(a.content_type === TYPES[ext], `artifact ${a.name}: content type ${a.content_type}, expected ${TYPES[ext]}`);
    }
    const served = await downloadAll(t, api, done, t.mkdir(`served-${done.id}`));
    for (const n of TOP.filter((x) => x.endsWith('.png'))) {
        const bad = served.has(n) ? isPng(served.get(n)) : 'missing';
        t.check(bad === null, `${n}: ${bad}`);
    }
    const csv = served.get('vertex_displacements.csv')?.toString('utf8') ?? '';
    t.check(csv.startsWith('vertex_id,x_a,y_a,z_a,x_b,y_b,z_b,normal_disp,tangent_disp,total_disp\n'), `vertex_displacements.csv header: ${csv.slice(0, 80)}`);
    t.check(csv.trimEnd().split('\n').length === 5954 + 1, `vertex_displacements.csv has ${csv.trimEnd().split('\n').length - 1} rows, expected 5954`);
    const mp4 = served.get('animation.mp4');
    t.check(mp4 && mp4.subarray(4, 8).toString('latin1') === 'ftyp', 'animation.mp4 does not start with an ftyp box');

    let manifest = {};
    try {
        manifest = JSON.parse(served.get('manifest.json').toString('utf8'));
    } catch (e) {
        t.check(false, `manifest.json is not JSON: ${e.message}`);
    }
    const listed = new Map((manifest.outputs?.artifacts ?? []).map((a) => [a.name, a]));
    for (const a of done.artifacts) {
        if (a.name.startsWith('frames/') || a.name === 'manifest.json' || a.name === 'session.log') continue;
        const m = listed.get(a.name);
        t.check(m && m.bytes === a.bytes && typeof m.seconds === 'number', `manifest outputs.artifacts: ${a.name} ${JSON.stringify(m)}, artifact ${a.bytes} bytes`);
    }
    t.check(manifest.outputs?.statistics?.shape?.total?.count === 5954, `manifest statistics ${JSON.stringify(manifest.outputs?.statistics?.shape?.total)}`);

    // Frames and artifacts equal `morph run`'s for the same spec (same code, same engine).
    const out = await t.morphRun(s.source, s.target, t.mkdir(`local-${done.id}`), spec, s);
    compareFrames(t, 'outputs all', served, out);
    let same = 0;
    const differ = [];
    for (const [name, bytes] of served) {
        if (name.startsWith('frames/') || name === 'manifest.json' || name === 'session.log') continue;
        const local = path.join(out, name);
        if (!fs.existsSync(local)) {
            t.check(false, `${name}: morph run did not write it`);
            continue;
        }
        if (fs.readFileSync(local).equals(bytes)) same++;
        else differ.push(name);
    }
    t.check(differ.length === 0, `artifacts differ from morph run's: ${differ.join(', ')}`);
    t.log(`outputs all: ${same} artifact(s) byte-identical to morph run`);

    // 2. A smaller set: heatmaps only (plus frames), no texture outputs lost.
    const r2 = await api.submit(files, { frames: 3, width: 64, height: 64, outputs: ['csv'] }, { expect: 202 });
    t.check(JSON.stringify(r2.json.spec.outputs) === JSON.stringify(['frames', 'csv']), `outputs ["csv"] normalised to ${JSON.stringify(r2.json.spec.outputs)}`);
    const d2 = await api.poll(r2.json.id);
    t.check(d2.status === 'succeeded', `outputs csv: ${d2.status} ${d2.error}`);
    const n2 = d2.artifacts.map((a) => a.name).filter((n) => !n.startsWith('frames/')).sort();
    t.check(JSON.stringify(n2) === JSON.stringify(['frames.csv', 'manifest.json', 'session.log', 'statistics.csv', 'texture_differences.csv', 'vertex_displacements.csv']), `outputs csv gave ${n2.join(', ')}`);

    // 3. Refusals, each naming the field.
    const bad = async (what, sendFiles, sendSpec, needle) => {
        const b = await api.submit(sendFiles, sendSpec, { expect: 400 });
        t.check(b.json?.type === 'urn:morphd:problem:bad-request', `${what}: type ${b.json?.type}`);
        t.check((b.json?.detail ?? '').includes(needle), `${what}: detail "${b.json?.detail}" lacks "${needle}"`);
    };
    await bad('render job with outputs all', { mesh: s.source, texture: s.sourceTexture }, { kind: 'render', outputs: 'all' }, 'spec.outputs: a render job produces frames only');
    await bad('render job with fps', { mesh: s.source }, { kind: 'render', fps: 24 }, 'spec.fps: only morph jobs');
    await bad('unknown output', files, { outputs: ['frames', 'gif'] }, 'spec.outputs[1]');
    await bad('fps 0', files, { fps: 0 }, 'spec.fps: must be an integer from 1 to 120');
    await bad('align', files, { align: 'affine' }, 'spec.align');
    await bad('heatmap_scale', files, { heatmap_scale: '3:1' }, 'spec.heatmap_scale');
    await bad('shape_scale', files, { shape_scale: '1:1' }, 'spec.shape_scale: must be "auto" or "MIN:MAX" with MIN < MAX');
    await bad('texture_scale', files, { texture_scale: 'wide' }, 'spec.texture_scale');
    await bad('heatmap_scale with shape_scale', files, { heatmap_scale: '-1:1', shape_scale: '-2:2' }, 'spec.heatmap_scale: is the shorthand for shape_scale');
    await bad('mesh_format', files, { mesh_format: 'stl' }, 'spec.mesh_format');
    await bad('loop', files, { loop: 'bounce' }, 'spec.loop');
    await api.healthy();
});
