// api_decode_budget.mjs — decoded pixels have a budget (issue 14, item 1). Eight concurrent
// POST /jobs, each with two 8192x8192 PNG textures (small files: one solid colour), must keep
// `morphd api` under 1.5 GB resident and end every request with 2xx, 413 or 503 (the budget,
// max_decode_bytes, makes decodes wait, then answer 503 with Retry-After, rather than grow),
// and at least one is accepted: each request reserves its whole need before decoding any.
// Also max_request_pixels: a request whose textures declare more pixels than it allows is 413,
// found from the PNG header before anything is decoded.
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { run, sleep, SLOW } from './harness.mjs';

const SIDE = 8192;
const RSS_MAX = 1.5 * 1024 * 1024 * 1024;

// A solid-colour SIDE x SIDE RGBA PNG, deflated row by row (never the whole image in memory).
async function solidPng(file, side, rgba) {
    const crcTable = new Int32Array(256).map((_, n) => {
        let c = n;
        for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
        return c;
    });
    const crc = (buf) => {
        let c = -1;
        for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
        return (c ^ -1) >>> 0;
    };
    const chunk = (type, data) => {
        const out = Buffer.alloc(12 + data.length);
        out.writeUInt32BE(data.length, 0);
        out.write(type, 4, 'latin1');
        data.copy(out, 8);
        out.writeUInt32BE(crc(out.subarray(4, 8 + data.length)), 8 + data.length);
        return out;
    };
    const ihdr = Buffer.alloc(13);
    ihdr.writeUInt32BE(side, 0);
    ihdr.writeUInt32BE(side, 4);
    ihdr[8] = 8; // bit depth
    ihdr[9] = 6; // RGBA
    const row = Buffer.alloc(1 + side * 4);
    for (let x = 0; x < side; x++) Buffer.from(rgba).copy(row, 1 + 4 * x);
    const idat = await new Promise((resolve, reject) => {
        const d = zlib.createDeflate({ level: 9 });
        const parts = [];
        d.on('data', (b) => parts.push(b));
        d.on('end', () => resolve(Buffer.concat(parts)));
        d.on('error', reject);
        let y = 0;
        const pump = () => {
            while (y < side) {
                y++;
                if (!d.write(row)) return d.once('drain', pump);
            }
            d.end();
        };
        pump();
    });
    const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', idat), chunk('IEND', Buffer.alloc(0))]);
    fs.writeFileSync(file, png);
    return png;
}

function rssBytes(pid) {
    try {
        const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
        return m ? Number(m[1]) * 1024 : 0;
    } catch {
        return 0;
    }
}

run('api_decode_budget', async (t) => {
    t.requireMorphd();
    // Under ASan freed memory waits in a quarantine and every byte has shadow: RSS says little.
    if (SLOW > 1) t.skip('the RSS bounds are measured on the plain build, not under ASan');
    const { redis, api } = await t.cluster({ workers: 0 });
    const s = t.sample();
    const dir = t.mkdir('big');
    const texA = await solidPng(path.join(dir, 'big_A.png'), SIDE, [200, 150, 100, 255]);
    const texB = await solidPng(path.join(dir, 'big_B.png'), SIDE, [90, 120, 210, 255]);
    t.log(`two ${SIDE}x${SIDE} PNGs of ${texA.length} and ${texB.length} bytes`);
    const files = {
        source: s.source,
        target: s.target,
        source_texture: { name: 'big_A.png', data: texA },
        target_texture: { name: 'big_B.png', data: texB },
    };

    let peak = 0;
    let sampling = true;
    const sampler = (async () => {
        while (sampling) {
            peak = Math.max(peak, rssBytes(api.proc.pid));
            await sleep(50);
        }
    })();
    const started = Date.now();
    const answers = await Promise.all(Array.from({ length: 8 }, () => api.submit(files, { frames: 2, width: 32, height: 32 }, { expect: [202, 413, 503] })));
    sampling = false;
    await sampler;
    const counts = {};
    for (const r of answers) counts[r.status] = (counts[r.status] || 0) + 1;
    t.log(`8 requests in ${((Date.now() - started) / 1000).toFixed(1)} s: ${JSON.stringify(counts)}; api peak RSS ${(peak / 2 ** 20).toFixed(0)} MiB`);
    t.check(peak > 0, 'expected to read the api\'s RSS from /proc, got nothing');
    t.check(peak < RSS_MAX, `expected the api's peak RSS under ${RSS_MAX / 2 ** 20} MiB, got ${(peak / 2 ** 20).toFixed(0)} MiB`);
    // A request reserves its two textures' whole need (2 x 256 MiB decoded + the padding of
    // one, 896 MiB of the 1 GiB budget) before decoding either, all or nothing: the first
    // reservation always finds the budget empty, so at least one request is accepted, and the
    // others wait holding nothing rather than each holding one texture (md_budget_reserve).
    t.check(counts[202] >= 1, `expected at least one request accepted (202), got ${JSON.stringify(counts)}`);
    for (const r of answers.filter((x) => x.status === 503)) {
        t.check(r.headers.get('retry-after') !== null, `a 503 without Retry-After: ${r.text}`);
        t.check(/max_decode_bytes/.test(r.json?.detail || ''), `expected the 503 detail to name max_decode_bytes, got "${r.json?.detail}"`);
    }
    await api.healthy();
    // The decoded pixels are freed with their requests (large buffers go back to the system).
    const settled = rssBytes(api.proc.pid);
    t.check(settled < 400 * 2 ** 20, `expected the api under 400 MiB once the requests ended, got ${(settled / 2 ** 20).toFixed(0)} MiB`);

    // max_request_pixels, from the headers: two 8192² textures are 2 x 64 Mi pixels, so with
    // 96 Mi the target's is refused from its header, and since every texture part is probed
    // before any is decoded, neither is: the api grows by less than one decoded texture.
    const capped = await t.startApi({ redis, limits: { max_request_pixels: '96M' }, name: 'api-capped' });
    const before = rssBytes(capped.proc.pid);
    let cappedPeak = before;
    sampling = true;
    const sampler2 = (async () => {
        while (sampling) {
            cappedPeak = Math.max(cappedPeak, rssBytes(capped.proc.pid));
            await sleep(20);
        }
    })();
    const r = await capped.submit(files, { frames: 2 }, { expect: 413 });
    sampling = false;
    await sampler2;
    t.check(r.json?.type === 'urn:morphd:problem:too-large', `max_request_pixels: expected type too-large, got ${r.json?.type}`);
    t.check(/max_request_pixels/.test(r.json?.detail || '') && /target_texture/.test(r.json?.detail || ''), `max_request_pixels: expected the detail to name it and the part target_texture, got "${r.json?.detail}"`);
    const grew = cappedPeak - before;
    t.check(grew < 256 * 2 ** 20, `max_request_pixels: expected the api to grow by less than one decoded texture (256 MiB), it grew by ${(grew / 2 ** 20).toFixed(0)} MiB`);
    await capped.healthy();
});
