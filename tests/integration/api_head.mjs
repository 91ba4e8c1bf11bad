// api_head.mjs — every error the server answers is application/problem+json, including those
// found in the request head before any route runs (issue 14, item 3): a Content-Length that is
// not a number (400), a 200 KB header or 5,000 headers (431), a 100 KB request target (414),
// HTTP/1.1 without Host (400). libmicrohttpd answers these with its own HTML pages unless our
// gate (api/gate.c) answers first; this sends each on a raw socket and checks the status, the
// problem+json body against openapi.yaml, and that the server keeps serving. Also: a head that
// trickles in is served, and a request that breaks the header limits on a kept-alive
// connection (which skips the gate) still gets problem+json.
import net from 'node:net';
import { run, parseRawResponse, sleep } from './harness.mjs';

run('api_head', async (t) => {
    t.requireMorphd();
    const { api } = await t.cluster({ workers: 0 });

    async function bad(what, method, target, headers, status, slug, needle) {
        const r = await api.raw(method, target, { headers, expect: status });
        t.check(r.headers.get('content-type') === 'application/problem+json', `${what}: expected Content-Type application/problem+json, got ${r.headers.get('content-type')}`);
        t.check(r.json !== null && r.json.type === `urn:morphd:problem:${slug}`, `${what}: expected type urn:morphd:problem:${slug}, got ${r.json && r.json.type}`);
        t.check(r.json !== null && r.json.status === status, `${what}: expected status ${status} in the body, got ${r.json && r.json.status}`);
        t.check(r.json !== null && new RegExp(needle, 'i').test(r.json.detail), `${what}: expected the detail to mention ${needle}, got "${r.json && r.json.detail}"`);
        await api.healthy();
    }

    await bad('Content-Length: -1', 'POST', '/jobs', { 'Content-Length': '-1' }, 400, 'bad-request', 'Content-Length');
    await bad('Content-Length: 12abc', 'POST', '/jobs', { 'Content-Length': '12abc' }, 400, 'bad-request', 'Content-Length');
    await bad('Transfer-Encoding: gzip', 'POST', '/jobs', { 'Transfer-Encoding': 'gzip' }, 400, 'bad-request', 'Transfer-Encoding');
    await bad('a 200 KB header', 'GET', '/healthz', { 'X-Big': 'a'.repeat(200 * 1024) }, 431, 'headers-too-large', 'max_header_bytes');
    const many = {};
    for (let i = 0; i < 5000; i++) many[`X-H${i}`] = String(i);
    await bad('5,000 headers', 'GET', '/healthz', many, 431, 'headers-too-large', 'max_headers');
    await bad('101 headers', 'GET', '/jobs', Object.fromEntries(Object.entries(many).slice(0, 101)), 431, 'headers-too-large', 'max_headers');
    await bad('a 100 KB URL', 'GET', `/jobs/${'a'.repeat(100 * 1024)}`, {}, 414, 'uri-too-long', '2048');
    await bad('a 3 KB URL', 'GET', `/jobs?cursor=${'a'.repeat(3 * 1024)}`, {}, 414, 'uri-too-long', '2048');
    await bad('no Host', 'GET', '/healthz', { Host: undefined }, 400, 'bad-request', 'Host');

    // A head within the limits passes: 90 headers, a 12 KB header.
    await api.raw('GET', '/healthz', { headers: Object.fromEntries(Object.entries(many).slice(0, 90)), expect: 200 });
    await api.raw('GET', '/healthz', { headers: { 'X-Big': 'b'.repeat(12 * 1024) }, expect: 200 });

    // Raw bytes on one socket: each request's answer in turn.
    function exchange(pieces, count, gapMs = 0) {
        return new Promise((resolve, reject) => {
            const sock = net.connect(api.port, '127.0.0.1');
            let buf = Buffer.alloc(0);
            const answers = [];
            const timer = setTimeout(() => { sock.destroy(); reject(new Error(`${answers.length} of ${count} answers within 20 s`)); }, 20000);
            sock.on('data', (d) => {
                buf = Buffer.concat([buf, d]);
                for (;;) {
                    const r = parseRawResponse(buf, true);
                    if (!r) break;
                    answers.push(r);
                    const end = buf.indexOf('\r\n\r\n') + 4 + r.body.length;
                    buf = buf.subarray(end);
                    if (answers.length === count) {
                        clearTimeout(timer);
                        sock.destroy();
                        return resolve(answers);
                    }
                }
            });
            sock.on('error', (e) => { clearTimeout(timer); reject(e); });
            sock.on('connect', async () => {
                for (const p of pieces) {
                    sock.write(p);
                    if (gapMs) await sleep(gapMs);
                }
            });
        });
    }

    // A head sent in five pieces 150 ms apart is served normally.
    const head = `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:${api.port}\r\nX-Slow: yes\r\nConnection: close\r\n\r\n`;
    const pieces = [];
    for (let i = 0; i < 5; i++) pieces.push(head.slice((i * head.length) / 5, ((i + 1) * head.length) / 5));
    const [slow] = await exchange(pieces, 1, 150);
    t.check(slow.status === 200, `a head sent in five pieces: expected 200, got ${slow.status}`);

    // Kept alive: the second request reaches libmicrohttpd directly; 150 headers still get 431
    // as problem+json (http.c checks the same limits).
    const lots = Array.from({ length: 150 }, (_, i) => `X-K${i}: ${i}\r\n`).join('');
    const [first, second] = await exchange([`GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n${lots}\r\n`], 2);
    t.check(first.status === 200, `first request on a kept-alive connection: expected 200, got ${first.status}`);
    t.check(second.status === 431, `second request with 150 headers on a kept-alive connection: expected 431, got ${second.status}`);
    t.check(second.headers.get('content-type') === 'application/problem+json', `second request: expected problem+json, got ${second.headers.get('content-type')}: ${second.body.toString().slice(0, 200)}`);
    await api.healthy();
});
