// frames.mjs — downloading a job's artifacts and comparing its frames with a local `morph run`.
import fs from 'node:fs';
import path from 'node:path';
import { PNG } from 'pngjs';

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

export function isPng(buf) {
    if (buf.length < 8 || !buf.subarray(0, 8).equals(PNG_SIGNATURE)) return 'no PNG signature';
    try {
        PNG.sync.read(buf);
        return null;
    } catch (e) {
        return `does not decode: ${e.message}`;
    }
}

// Downloads every artifact of a job into dir; checks size, Content-Type and Content-Length
// against the artifact list. Returns Map(name → Buffer).
export async function downloadAll(t, api, job, dir) {
    const out = new Map();
    for (const a of job.artifacts) {
        t.check(a.url === `/jobs/${job.id}/artifacts/${a.name}`, `artifact ${a.name}: url ${a.url}`);
        const r = await api.get(a.url, { expect: 200 });
        t.check(r.body.length === a.bytes, `artifact ${a.name}: listed ${a.bytes} bytes, got ${r.body.length}`);
        const ct = (r.headers.get('content-type') || '').split(';')[0].trim();
        t.check(ct === a.content_type.split(';')[0].trim(), `artifact ${a.name}: listed ${a.content_type}, served ${ct}`);
        const len = r.headers.get('content-length');
        if (len !== null) t.check(Number(len) === a.bytes, `artifact ${a.name}: Content-Length ${len}, listed ${a.bytes}`);
        const file = path.join(dir, a.name);
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(file, r.body);
        out.set(a.name, r.body);
    }
    return out;
}

// Compares the job's frames (name → bytes) with the PNGs in localDir/frames: same names, same
// bytes; where bytes differ, the decoded pixels must be equal (and that is noted with why).
export function compareFrames(t, what, served, localDir) {
    const localNames = fs.readdirSync(path.join(localDir, 'frames')).filter((n) => n.endsWith('.png')).sort();
    const servedNames = [...served.keys()].filter((n) => n.startsWith('frames/')).map((n) => n.slice(7)).sort();
    t.check(JSON.stringify(servedNames) === JSON.stringify(localNames), `${what}: frame names differ from morph run\n  served: ${servedNames.slice(0, 5).join(' ')}... (${servedNames.length})\n  local:  ${localNames.slice(0, 5).join(' ')}... (${localNames.length})`);
    let byteEqual = 0;
    let pixelEqual = 0;
    for (const name of localNames) {
        const mine = served.get(`frames/${name}`);
        if (!mine) continue;
        const ref = fs.readFileSync(path.join(localDir, 'frames', name));
        if (mine.equals(ref)) {
            byteEqual++;
            continue;
        }
        let a;
        let b;
        try {
            a = PNG.sync.read(mine);
            b = PNG.sync.read(ref);
        } catch (e) {
            t.check(false, `${what}: frame ${name} does not decode: ${e.message}`);
            continue;
        }
        if (a.width !== b.width || a.height !== b.height) {
            t.check(false, `${what}: frame ${name} is ${a.width}x${a.height}, morph run made ${b.width}x${b.height}`);
            continue;
        }
        let diff = 0;
        let maxd = 0;
        for (let i = 0; i < a.data.length; i++) {
            const d = Math.abs(a.data[i] - b.data[i]);
            if (d) {
                diff++;
                maxd = Math.max(maxd, d);
            }
        }
        if (diff === 0) pixelEqual++;
        else t.check(false, `${what}: frame ${name} differs from morph run in ${diff} channel values (max ${maxd})`);
    }
    if (pixelEqual) t.note(`${what}: ${pixelEqual} frame(s) have the same pixels as morph run but different bytes (PNG encoding: zlib level, filters or chunks differ between the worker and morph run)`);
    t.log(`${what}: ${byteEqual} frame(s) byte-identical, ${pixelEqual} pixel-identical, of ${localNames.length}`);
    return { byteEqual, pixelEqual };
}
