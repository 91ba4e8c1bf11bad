// api_morph_target.mjs — spec.target_morph through the job server (issue 17 item 2, server
// half): a GLB carrying morph targets (the glTF sample AnimatedMorphCube, packed here into a
// GLB with its targets named "thin" and "angle" through extras.targetNames) submitted as part
// 'source' alone with spec {target_morph, frames: 3, width: 64, height: 64} succeeds over real
// HTTP with a real api, worker and redis-server, names its target "<stem>-<target>", and its
// frames are byte-equal to `morph run SOURCE --target-morph` of the same file. Refusals: a
// 'target' part sent too (400), an unknown target (400, the message lists the file's targets),
// an OBJ source (400: OBJ has no morph targets), target_morph on a render job (400). `morph
// submit SOURCE --target-morph` sends it: the same frames again. The job's inputs and manifest
// carry the target and morph run's note; a plain job of the same file notes its unused targets.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { run } from './harness.mjs';
import { downloadAll, compareFrames } from './frames.mjs';

const CUBE = 'formats/assimp/test/models/glTF2/AnimatedMorphCube/glTF/AnimatedMorphCube';

// The .gltf and its one .bin as a GLB (the buffer's uri dropped; uploads read no other file),
// with the mesh's targets named.
function packGlb(gltfPath, binPath, out) {
    const root = JSON.parse(fs.readFileSync(gltfPath, 'utf8'));
    const bin = fs.readFileSync(binPath);
    delete root.buffers[0].uri;
    root.buffers[0].byteLength = bin.length;
    root.meshes[0].extras = { ...(root.meshes[0].extras ?? {}), targetNames: ['thin', 'angle'] };
    let json = Buffer.from(JSON.stringify(root), 'utf8');
    json = Buffer.concat([json, Buffer.alloc((4 - (json.length % 4)) % 4, 0x20)]);
    const body = Buffer.concat([bin, Buffer.alloc((4 - (bin.length % 4)) % 4, 0)]);
    const header = Buffer.alloc(12);
    header.write('glTF', 0, 'ascii');
    header.writeUInt32LE(2, 4);
    header.writeUInt32LE(12 + 8 + json.length + 8 + body.length, 8);
    const chunk = (type, data) => {
        const h = Buffer.alloc(8);
        h.writeUInt32LE(data.length, 0);
        h.writeUInt32LE(type, 4);
        return Buffer.concat([h, data]);
    };
    fs.writeFileSync(out, Buffer.concat([header, chunk(0x4e4f534a, json), chunk(0x004e4942, body)]));
    return out;
}

run('api_morph_target', async (t) => {
    t.requireMorphd();
    t.requireMorph();
    const gltf = t.data(`${CUBE}.gltf`);
    const bin = t.data(`${CUBE}.bin`);
    const obj = t.data('faces/ict/ict_face_identity_A.obj');
    const glb = packGlb(gltf, bin, path.join(t.mkdir('glb'), 'cube.glb'));
    const { api } = await t.cluster({ workers: 1 });

    // 1. Source alone, its morph target "angle" as the target.
    const spec = { target_morph: 'angle', frames: 3, width: 64, height: 64 };
    const r = await api.submit({ source: glb }, spec, { expect: 202 });
    const job = r.json;
    t.check(job.kind === 'morph', `kind ${job.kind}`);
    t.check(job.spec.target_morph === 'angle', `normalised spec.target_morph ${job.spec.target_morph}`);
    t.check(job.inputs.source?.name === 'cube' && job.inputs.source?.format === 'glb', `inputs.source ${JSON.stringify(job.inputs.source)}`);
    t.check(job.inputs.target?.name === 'cube_angle' && job.inputs.target?.format === 'glb', `inputs.target ${JSON.stringify(job.inputs.target)}, expected the name cube_angle ("<stem>-<target>" sanitised, as morph run)`);
    t.check(job.progress.frames_total === 3, `frames_total ${job.progress.frames_total}`);
    const done = await api.poll(job.id);
    t.assert(done.status === 'succeeded', `job ${done.status}: ${done.error}`);
    const served = await downloadAll(t, api, done, t.mkdir(`served-${done.id}`));
    t.check([...served.keys()].filter((n) => n.startsWith('frames/')).length === 3, `frames: ${[...served.keys()].join(', ')}`);
    const local = await t.morphRun(glb, null, t.mkdir(`local-${done.id}`), { frames: 3, width: 64, height: 64 }, { targetMorph: 'angle' });
    compareFrames(t, 'target_morph angle', served, local);
    // The job and its manifest say which target was used, worded as morph run words it.
    const note = "morph target 'angle' of cube";
    t.check(done.inputs.target?.morph_target === 'angle' && done.inputs.target?.note === note, `inputs.target ${JSON.stringify(done.inputs.target)}, expected morph_target angle and note "${note}"`);
    const manifest = JSON.parse(served.get('manifest.json')?.toString() ?? '{}');
    t.check(manifest.inputs?.target?.morph_target === 'angle' && manifest.inputs?.target?.note === note, `manifest inputs.target ${JSON.stringify(manifest.inputs?.target)}, expected morph_target angle and note "${note}"`);
    t.check(manifest.inputs?.source?.note === undefined, `manifest inputs.source.note ${manifest.inputs?.source?.note}, expected none (the targets were used)`);

    // The same file as a plain source and target: its unused targets are named in a note.
    const plain = await api.submit({ source: glb, target: glb }, { frames: 2, width: 32, height: 32 }, { expect: 202 });
    const pd = await api.poll(plain.json.id);
    t.assert(pd.status === 'succeeded', `plain job ${pd.status}: ${pd.error}`);
    const unused = "cube has 2 morph target(s) (0 'thin', 1 'angle'), not used: the base mesh was morphed";
    for (const role of ['source', 'target'])
        t.check((pd.inputs[role]?.note ?? '').startsWith(unused), `plain job inputs.${role}.note "${pd.inputs[role]?.note}", expected it to start "${unused}"`);
    const plainFiles = await downloadAll(t, api, pd, t.mkdir(`served-${pd.id}`));
    const pm = JSON.parse(plainFiles.get('manifest.json')?.toString() ?? '{}');
    t.check((pm.inputs?.source?.note ?? '').startsWith(unused), `plain job manifest inputs.source.note "${pm.inputs?.source?.note}"`);

    // 2. By index: the same target, the same frames.
    const byIndex = await api.submit({ source: glb }, { ...spec, target_morph: '1' }, { expect: 202 });
    const di = await api.poll(byIndex.json.id);
    t.assert(di.status === 'succeeded', `job by index ${di.status}: ${di.error}`);
    const servedIndex = await downloadAll(t, api, di, t.mkdir(`served-${di.id}`));
    const frameA = [...served.keys()].filter((n) => n.startsWith('frames/')).sort().map((n) => served.get(n));
    const frameI = [...servedIndex.keys()].filter((n) => n.startsWith('frames/')).sort().map((n) => servedIndex.get(n));
    t.check(frameA.length === frameI.length && frameA.every((b, i) => b.equals(frameI[i])), 'target_morph "1" renders other frames than "angle" (the same target)');

    // 3. `morph submit SOURCE --target-morph T` (the client): the same job, the same frames.
    const morph = t.requireMorph();
    const sub = await promisify(execFile)(morph, ['submit', glb, '--target-morph', 'angle', '--frames', '3', '--size', '64x64', '--server', api.base]).catch((e) => e);
    t.assert(sub.code === undefined, `morph submit --target-morph failed (${sub.code}): ${sub.stderr}`);
    const cd = await api.poll(sub.stdout.trim());
    t.assert(cd.status === 'succeeded', `morph submit's job ${cd.status}: ${cd.error}`);
    t.check(cd.spec.target_morph === 'angle' && cd.inputs.target?.name === 'cube_angle', `morph submit's job: spec.target_morph ${cd.spec.target_morph}, inputs.target ${JSON.stringify(cd.inputs.target)}`);
    const servedCli = await downloadAll(t, api, cd, t.mkdir(`served-${cd.id}`));
    compareFrames(t, 'morph submit --target-morph', servedCli, local);
    const twoFiles = await promisify(execFile)(morph, ['submit', glb, glb, '--target-morph', 'angle', '--server', api.base]).catch((e) => e);
    t.check(twoFiles.code === 2 && /give one mesh file, got 2/.test(twoFiles.stderr), `morph submit with TARGET and --target-morph: exit ${twoFiles.code}, ${twoFiles.stderr}`);

    // 4. Refusals.
    const bad = async (what, files, s, statuses, needles) => {
        const b = await api.submit(files, s);
        t.check(statuses.includes(b.status), `${what}: status ${b.status}, expected ${statuses.join(' or ')}: ${b.text}`);
        for (const needle of needles) t.check((b.json?.detail ?? '').includes(needle), `${what}: detail "${b.json?.detail}" lacks "${needle}"`);
    };
    await bad('target part too', { source: glb, target: glb }, spec, [400], ["spec.target_morph makes the target from part 'source'", "part 'target' was sent too"]);
    await bad('unknown target', { source: glb }, { ...spec, target_morph: 'wide' }, [400], ['spec.target_morph', 'wide', "0 'thin'", "1 'angle'"]);
    await bad('OBJ source', { source: obj }, spec, [400], ['spec.target_morph', 'ict_face_identity_A.obj']);
    await bad('render job', { mesh: glb }, { kind: 'render', target_morph: 'thin' }, [400], ['spec.target_morph: only morph jobs have it']);
    await bad('too long', { source: glb }, { ...spec, target_morph: 'x'.repeat(129) }, [400], ['spec.target_morph: 129 bytes; give 1 to 128']);
    await bad('no source', {}, spec, [400], ["missing part(s) 'source'"]);
    await api.healthy();
});
