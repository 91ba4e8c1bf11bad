// api_shutdown.mjs — SIGTERM while POST /jobs uploads are in flight and their clients vanish:
// the api must still exit 0 promptly (docs/server.md, "Stopping"). Covers uploads aborted
// mid-body, whole uploads whose client left before the answer (the request is suspended for the
// thread pool or Redis and must be cleaned up when that work ends), and a client that goes quiet
// mid-body and keeps its socket open (the idle timeout, shortened on SIGTERM, ends it). Last,
// the grace period: with MORPHD_API_STOP_GRACE_S shorter than that timeout the api gives up,
// names the request it abandoned and exits non-zero.
import fs from 'node:fs';
import net from 'node:net';
import { run, sleep, SLOW } from './harness.mjs';

const STOP_IDLE_S = 10; // API_STOP_IDLE_S in api/api_int.h

run('api_shutdown', async (t) => {
    t.requireMorphd();
    const s = t.sample();
    const boundary = 'shutdown7MA4YWxk';
    const part = (name, filename, data) =>
        Buffer.concat([Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"${filename ? `; filename="${filename}"` : ''}\r\n\r\n`), Buffer.from(data), Buffer.from('\r\n')]);
    const body = Buffer.concat([
        part('spec', null, '{"frames":2,"width":16,"height":16}'),
        part('source', 'sample_A.obj', fs.readFileSync(s.source)),
        part('target', 'sample_B.obj', fs.readFileSync(s.target)),
        Buffer.from(`--${boundary}--\r\n`),
    ]);
    const head = (port) =>
        Buffer.from(`POST /jobs HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: multipart/form-data; boundary=${boundary}\r\nContent-Length: ${body.length}\r\n\r\n`);

    // Opens a connection and writes head + the first `bytes` of the body; resolves once written.
    const upload = (port, bytes) =>
        new Promise((resolve, reject) => {
            const sock = net.connect(port, '127.0.0.1');
            sock.on('error', () => {}); // the server may reset us once we are gone
            sock.once('connect', () => sock.write(Buffer.concat([head(port), body.subarray(0, bytes)]), (e) => (e ? reject(e) : resolve(sock))));
            sock.once('error', reject);
        });

    // Within `ms` of SIGTERM: the exit.
    const termAndWait = async (api, ms) => {
        const t0 = Date.now();
        api.proc.stopping = true;
        api.proc.kill('SIGTERM');
        const r = await Promise.race([api.proc.exited, sleep(ms).then(() => null)]);
        return { r, took: Date.now() - t0 };
    };
    const logOf = (api) => fs.readFileSync(api.proc.log, 'utf8');

    const redis = await t.startRedis();

    // 1. Uploads aborted mid-body and whole uploads whose clients leave at SIGTERM.
    {
        const api = await t.startApi({ redis, name: 'api-vanish', args: ['--log-level', 'debug'] });
        const half = await Promise.all(Array.from({ length: 6 }, () => upload(api.port, body.length >> 1)));
        const whole = await Promise.all(Array.from({ length: 12 }, () => upload(api.port, body.length)));
        for (const sock of half) sock.destroy();
        const wait = termAndWait(api, 5000 * SLOW);
        for (const sock of whole) sock.destroy();
        const { r, took } = await wait;
        t.check(r !== null, `api still running ${5 * SLOW} s after SIGTERM with vanished clients; log ${api.proc.log}:\n${logOf(api).slice(-3000)}`);
        if (r === null) {
            api.proc.kill('SIGKILL');
            await api.proc.exited;
        } else {
            t.check(r.code === 0, `api exited with ${api.proc.describeExit()} after SIGTERM (expected 0)`);
            t.log(`vanished clients: exit ${r.code} ${took} ms after SIGTERM`);
        }
    }

    // 2. A client quiet mid-body, socket open: the shortened idle timeout ends it.
    {
        const api = await t.startApi({ redis, name: 'api-quiet' });
        const sock = await upload(api.port, body.length >> 1);
        await sleep(200);
        const limit = (STOP_IDLE_S + 8) * 1000 * SLOW;
        const { r, took } = await termAndWait(api, limit);
        sock.destroy();
        t.check(r !== null, `api still running ${limit} ms after SIGTERM with a quiet client; log ${api.proc.log}:\n${logOf(api).slice(-3000)}`);
        if (r === null) {
            api.proc.kill('SIGKILL');
            await api.proc.exited;
        } else {
            t.check(r.code === 0, `api exited with ${api.proc.describeExit()} after SIGTERM with a quiet client (expected 0)`);
            t.check(took >= (STOP_IDLE_S - 2) * 1000, `api exited ${took} ms after SIGTERM, before the quiet client's idle timeout`);
        }
    }

    // 3. Grace period shorter than that timeout: the api gives up, says on what, exits non-zero.
    {
        const api = await t.startApi({ redis, name: 'api-grace', env: { MORPHD_API_STOP_GRACE_S: '1' } });
        api.proc.mayDie = true;
        const sock = await upload(api.port, body.length >> 1);
        await sleep(200);
        const { r } = await termAndWait(api, 6000 * SLOW);
        sock.destroy();
        t.check(r !== null, `api with a 1 s grace period still running 6 s after SIGTERM; log:\n${logOf(api).slice(-3000)}`);
        if (r === null) {
            api.proc.kill('SIGKILL');
            await api.proc.exited;
        } else {
            t.check(r.code !== 0 && r.code !== null, `api that abandoned a request exited with ${api.proc.describeExit()} (expected a non-zero code)`);
            t.check(/abandoned: POST \/jobs \(reading the body/.test(logOf(api)), `the api's log does not name the abandoned POST /jobs:\n${logOf(api).slice(-3000)}`);
        }
    }
});
