// api_hide_materials.mjs — spec.hide_materials through the job server (issue 17 item 1): a copy
// of the ICT pair whose first 1,500 faces use M_Teeth, submitted with hide_materials
// ["M_Teeth"], succeeds over real HTTP with a real api, worker and redis-server; the normalised
// spec echoes the list; the manifest's inputs.hidden_materials names it with the 3,000
// triangles and 1,035 vertices taken out; vertex_displacements.csv has 8,374 rows, not 9,409;
// the frames are byte-equal to `morph run --hide-materials` of the same files. `morph submit
// --hide-materials` sends it. The same pair as library faces is hidden alike, and the cached faces
// stay whole for the next job. Refusals (400, at submit): a name in neither mesh (the detail
// lists the meshes' materials), hiding every material, a render job, a list that is not one,
// 33 names, an empty name.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { run } from './harness.mjs';
import { downloadAll, compareFrames } from './frames.mjs';

// The ICT face with its first 1,500 faces in M_Teeth, alone in its folder (no MTL beside it:
// the server reads no other file either, so a local run sees what the server gets).
function teethCopy(src, out) {
    let faces = 0;
    const lines = fs.readFileSync(src, 'utf8').split('\n').filter((l) => !l.startsWith('usemtl'));
    const outLines = [];
    for (const l of lines) {
        if (l.startsWith('f ')) {
            if (faces === 0) outLines.push('usemtl M_Teeth');
            else if (faces === 1500) outLines.push('usemtl M_Face');
            faces++;
        }
        outLines.push(l);
    }
    fs.writeFileSync(out, outLines.join('\n'));
    return out;
}

run('api_hide_materials', async (t) => {
    t.requireMorphd();
    const dir = t.mkdir('meshes');
    const source = teethCopy(t.data('faces/ict/ict_face_identity_A.obj'), path.join(dir, 'ict_A.obj'));
    const target = teethCopy(t.data('faces/ict/ict_face_identity_B.obj'), path.join(dir, 'ict_B.obj'));
    const { api } = await t.cluster({ workers: 1 });

    // 1. Hidden on the server; the same frames as morph run.
    const spec = { frames: 2, width: 64, height: 64, outputs: ['frames', 'csv'], hide_materials: ['M_Teeth', 'M_Teeth'] };
    const r = await api.submit({ source, target }, spec, { expect: 202 });
    t.check(JSON.stringify(r.json.spec.hide_materials) === '["M_Teeth"]', `normalised spec.hide_materials ${JSON.stringify(r.json.spec.hide_materials)}`);
    const done = await api.poll(r.json.id);
    t.assert(done.status === 'succeeded', `job ${done.status}: ${done.error}`);
    const served = await downloadAll(t, api, done, t.mkdir(`served-${done.id}`));
    const manifest = JSON.parse(served.get('manifest.json').toString('utf8'));
    const hidden = manifest.inputs?.hidden_materials;
    t.check(JSON.stringify(hidden?.names) === '["M_Teeth"]' && hidden?.triangles === 3000 && hidden?.vertices === 1035, `manifest inputs.hidden_materials ${JSON.stringify(hidden)}`);
    const rows = served.get('vertex_displacements.csv').toString('utf8').trim().split('\n').length - 1;
    t.check(rows === 8374, `vertex_displacements.csv: ${rows} rows, expected 8374 (9409 less the 1035 only M_Teeth used)`);
    const local = await t.morphRun(source, target, t.mkdir(`local-${done.id}`), spec);
    compareFrames(t, 'hide_materials M_Teeth', served, local);

    // 2. Not hidden: every vertex is a row (the list is what made the difference).
    const whole = await api.submit({ source, target }, { ...spec, hide_materials: null }, { expect: 202 });
    t.check(whole.json.spec.hide_materials === undefined, `spec without hide_materials echoes ${JSON.stringify(whole.json.spec.hide_materials)}`);
    const dw = await api.poll(whole.json.id);
    t.assert(dw.status === 'succeeded', `job ${dw.status}: ${dw.error}`);
    const servedWhole = await downloadAll(t, api, dw, t.mkdir(`served-${dw.id}`));
    const wholeRows = servedWhole.get('vertex_displacements.csv').toString('utf8').trim().split('\n').length - 1;
    t.check(wholeRows === 9409, `unhidden vertex_displacements.csv: ${wholeRows} rows, expected 9409`);
    t.check(JSON.parse(servedWhole.get('manifest.json').toString('utf8')).inputs?.hidden_materials === undefined, 'an unhidden job lists hidden_materials in its manifest');

    // 3. `morph submit --hide-materials`.
    const morph = t.requireMorph();
    const sub = await promisify(execFile)(morph, ['submit', source, target, '--hide-materials', 'M_Teeth', '--frames', '2', '--size', '64x64', '--server', api.base]).catch((e) => e);
    t.assert(sub.code === undefined, `morph submit --hide-materials failed (${sub.code}): ${sub.stderr}`);
    const cd = await api.poll(sub.stdout.trim());
    t.assert(cd.status === 'succeeded', `morph submit's job ${cd.status}: ${cd.error}`);
    t.check(JSON.stringify(cd.spec.hide_materials) === '["M_Teeth"]', `morph submit's job: spec.hide_materials ${JSON.stringify(cd.spec.hide_materials)}`);
    const typo = await promisify(execFile)(morph, ['submit', source, target, '--hide-materials', 'M_Tooth', '--server', api.base]).catch((e) => e);
    t.check(typo.code !== undefined && /M_Tooth/.test(typo.stderr) && /M_Teeth, M_Face/.test(typo.stderr), `morph submit with an unknown material: exit ${typo.code}, ${typo.stderr}`);

    // 3b. The same pair as library faces: hidden too (the worker hides on a copy of the cached
    // faces), the same frames; then the faces serve an unhidden job whole.
    const addFace = async (mesh) => {
        const form = new FormData();
        form.append('mesh', new Blob([fs.readFileSync(mesh)]), path.basename(mesh));
        return (await api.request('POST', '/faces', { form, expect: 201 })).json.id;
    };
    const fa = await addFace(source), fb = await addFace(target);
    const byFace = await api.submit({}, { ...spec, source_face: fa, target_face: fb }, { expect: 202 });
    const df = await api.poll(byFace.json.id);
    t.assert(df.status === 'succeeded', `job by faces ${df.status}: ${df.error}`);
    const servedFaces = await downloadAll(t, api, df, t.mkdir(`served-${df.id}`));
    compareFrames(t, 'hide_materials on library faces', servedFaces, local);
    const faceRows = servedFaces.get('vertex_displacements.csv').toString('utf8').trim().split('\n').length - 1;
    t.check(faceRows === 8374, `faces job vertex_displacements.csv: ${faceRows} rows, expected 8374`);
    const wholeFaces = await api.submit({}, { ...spec, hide_materials: null, source_face: fa, target_face: fb }, { expect: 202 });
    const dwf = await api.poll(wholeFaces.json.id);
    t.assert(dwf.status === 'succeeded', `unhidden job by faces ${dwf.status}: ${dwf.error}`);
    const servedWholeFaces = await downloadAll(t, api, dwf, t.mkdir(`served-${dwf.id}`));
    const wfRows = servedWholeFaces.get('vertex_displacements.csv').toString('utf8').trim().split('\n').length - 1;
    t.check(wfRows === 9409, `unhidden faces job after a hidden one: ${wfRows} rows, expected 9409 (the cached faces stay whole)`);
    const unknownOnFaces = await api.submit({}, { ...spec, hide_materials: ['M_Tooth'], source_face: fa, target_face: fb });
    t.check(unknownOnFaces.status === 400 && (unknownOnFaces.json?.detail ?? '').includes("no material 'M_Tooth'"), `unknown material on faces: ${unknownOnFaces.status} ${unknownOnFaces.text}`);

    // 4. Refusals at submit.
    const bad = async (what, files, s, needles) => {
        const b = await api.submit(files, s);
        t.check(b.status === 400, `${what}: status ${b.status}, expected 400: ${b.text}`);
        for (const needle of needles) t.check((b.json?.detail ?? '').includes(needle), `${what}: detail "${b.json?.detail}" lacks "${needle}"`);
    };
    await bad('unknown name', { source, target }, { ...spec, hide_materials: ['M_Teeth', 'M_Tooth'] }, ["spec.hide_materials: no material 'M_Tooth' in either mesh; both have M_Teeth, M_Face"]);
    await bad('everything', { source, target }, { ...spec, hide_materials: ['M_Face', 'M_Teeth'] }, ['spec.hide_materials: hiding those materials leaves no triangle to render']);
    await bad('render job', { mesh: source }, { kind: 'render', hide_materials: ['M_Teeth'] }, ['spec.hide_materials: only morph jobs have it']);
    await bad('not a list', { source, target }, { ...spec, hide_materials: 'M_Teeth' }, ['spec.hide_materials: must be a list of material names']);
    await bad('too many', { source, target }, { ...spec, hide_materials: Array.from({ length: 33 }, (_, i) => `m${i}`) }, ['spec.hide_materials: 33 names; at most 32']);
    await bad('empty name', { source, target }, { ...spec, hide_materials: [''] }, ['spec.hide_materials[0]: a material name is empty']);
    await api.healthy();
});
