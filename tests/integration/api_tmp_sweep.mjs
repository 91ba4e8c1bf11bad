// api_tmp_sweep.mjs — an api killed with -9 mid-upload leaves $TMPDIR/morphd-api-XXXXXX behind
// with the partial upload in it; the next api to start removes it, while the folder of an api
// that is still alive stays. Also: a folder without a lock file (an older api) is removed only
// when it is over an hour old, and a symlink named like one is neither followed nor removed.
// Every api here gets the same private TMPDIR.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { run, sleep, Failure, SLOW } from './harness.mjs';


run('api_tmp_sweep', async (t) => {
    t.requireMorphd();
    const redis = await t.startRedis();
    const tmp = t.mkdir('tmpdir');
    const env = { TMPDIR: tmp };
    const storage = `file://${t.mkdir('store')}`;
    const folders = () => new Set(fs.readdirSync(tmp).filter((n) => n.startsWith('morphd-api-')));
    // Starts an api and returns it with the temp folder it made (the one new name in TMPDIR).
    const start = async (name) => {
        const before = folders();
        const api = await t.startApi({ redis, storage, env, name });
        const made = [...folders()].filter((n) => !before.has(n));
        t.assert(made.length === 1, `${name} made ${made.length} temp folders in ${tmp}: ${made.join(', ')}`);
        const dir = path.join(tmp, made[0]);
        t.check(fs.existsSync(path.join(dir, '.lock')), `${name}'s temp folder ${dir} has no .lock`);
        return { api, dir };
    };

    const live = await start('api-live');
    const doomed = await start('api-doomed');

    // Folders of an older api, without a lock file: one 2 h old, one fresh.
    const oldLegacy = path.join(tmp, 'morphd-api-oldone');
    const newLegacy = path.join(tmp, 'morphd-api-newone');
    for (const d of [oldLegacy, newLegacy]) {
        fs.mkdirSync(path.join(d, 'req-abcdef'), { recursive: true });
        fs.writeFileSync(path.join(d, 'req-abcdef', 'source'), 'v 0 0 0\n');
    }
    const twoHoursAgo = new Date(Date.now() - 2 * 3600 * 1000);
    fs.utimesSync(oldLegacy, twoHoursAgo, twoHoursAgo);
    // A symlink that looks like a temp folder, pointing at something precious.
    const outside = t.mkdir('outside');
    fs.writeFileSync(path.join(outside, 'precious'), 'keep me');
    const link = path.join(tmp, 'morphd-api-link');
    fs.symlinkSync(outside, link);

    // ---- a large multipart upload to the doomed api, cut by kill -9 ----
    const boundary = 'sweepboundary42';
    const total = 64 << 20;
    const sock = net.connect(doomed.api.port, '127.0.0.1');
    sock.on('error', () => {}); // the api dies under it
    await new Promise((resolve, reject) => sock.once('connect', resolve).once('error', reject));
    sock.write(`POST /jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=${boundary}\r\nContent-Length: ${total}\r\n\r\n`);
    sock.write(`--${boundary}\r\nContent-Disposition: form-data; name="source"; filename="big.obj"\r\nContent-Type: application/octet-stream\r\n\r\n`);
    const chunk = Buffer.from('v 0.125 0.25 0.5\n'.repeat(4096));
    let sent = 0;
    while (sent < 8 << 20) {
        if (!sock.write(chunk)) await new Promise((r) => sock.once('drain', r));
        sent += chunk.length;
    }
    // Wait until the partial part is on disk: <dir>/req-*/<file> with bytes in it.
    const partBytes = () => {
        let n = 0;
        for (const r of fs.readdirSync(doomed.dir).filter((e) => e.startsWith('req-'))) {
            for (const f of fs.readdirSync(path.join(doomed.dir, r))) n += fs.statSync(path.join(doomed.dir, r, f)).size;
        }
        return n;
    };
    const deadline = Date.now() + 20000 * SLOW;
    while (partBytes() < 1 << 20) {
        if (Date.now() > deadline) throw new Failure(`the doomed api wrote ${partBytes()} bytes of the upload to ${doomed.dir} within 20 s (sent ${sent})`);
        await sleep(50);
    }
    const partial = partBytes();
    await doomed.api.proc.crash();
    sock.destroy();
    t.check(fs.existsSync(doomed.dir), `the killed api's temp folder ${doomed.dir} vanished by itself`);
    t.log(`killed the api with ${partial} bytes of a ${total}-byte upload in ${doomed.dir}`);

    // ---- a new api sweeps ----
    const fresh = await start('api-fresh');
    t.check(!fs.existsSync(doomed.dir), `the killed api's temp folder ${doomed.dir} is still there after a new api started`);
    t.check(fs.existsSync(live.dir), `the live api's temp folder ${live.dir} was removed`);
    t.check(fs.existsSync(path.join(live.dir, '.lock')), `the live api's ${live.dir}/.lock was removed`);
    t.check(!fs.existsSync(oldLegacy), `${oldLegacy} (no lock file, 2 h old) is still there`);
    t.check(fs.existsSync(path.join(newLegacy, 'req-abcdef', 'source')), `${newLegacy} (no lock file, fresh) was touched`);
    t.check(fs.lstatSync(link).isSymbolicLink(), `the symlink ${link} was removed`);
    t.check(fs.readFileSync(path.join(outside, 'precious'), 'utf8') === 'keep me', 'the symlink was followed: its target lost its file');
    const log = fs.readFileSync(fresh.api.proc.log, 'utf8');
    const m = /swept (\d+) upload temp folder\(s\) of api processes that are gone from .* \((\d+) bytes\)/.exec(log);
    t.check(m !== null, `the new api did not log what it swept; log ${fresh.api.proc.log}`);
    if (m) {
        t.check(Number(m[1]) === 2, `swept ${m[1]} folders, expected 2 (the killed api's and the old lock-less one)`);
        t.check(Number(m[2]) >= partial, `swept ${m[2]} bytes, but the partial upload alone had ${partial}`);
    }
    await live.api.healthy();

    // ---- clean stops remove their own folders ----
    await live.api.proc.stop();
    await fresh.api.proc.stop();
    const left = [...folders()].sort();
    t.check(JSON.stringify(left) === JSON.stringify(['morphd-api-link', 'morphd-api-newone']), `after clean stops ${tmp} holds ${left.join(', ')}`);
});
