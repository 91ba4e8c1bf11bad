// selftest.mjs — tests the test machinery without a server (ctest: integration_selftest):
// the contract checker on hand-written good and bad responses, the Prometheus parser, the raw
// HTTP client against a local node server, and the harness starting, stopping and restarting
// redis-server (its AOF keeping the data) and talking to it with redisCall.
import http from 'node:http';
import { contract } from './contract.mjs';
import { parsePrometheus, histogramSeries } from './prom.mjs';
import { run, rawHttp, which, Api, redisCall, RedisReplyError } from './harness.mjs';

const ID = '0123456789abcdef0123456789abcdef';
const job = (over = {}) => ({
    id: ID,
    kind: 'morph',
    status: 'running',
    progress: { frames_done: 3, frames_total: 41, stage: 'rendering' },
    created_at: '2026-11-25T10:00:00.123Z',
    started_at: '2026-11-25T10:00:00.200Z',
    finished_at: null,
    spec: {
        kind: 'morph', frames: 41, weights: [0, 0.5, 1], width: 512, height: 512, samples: 4,
        camera: { eye: 'auto', target: 'auto', up: 'auto', fov: 30, near: 'auto', far: 'auto', ortho: null },
        background: 'ffffff', png_level: 1, label: 'x',
    },
    inputs: { vertices: 9409, faces: 18460, textures: 2, source: { name: 'ict_face_identity_A', format: 'obj' }, target: { name: 'ict_face_identity_B', format: 'obj' } },
    error: null,
    artifacts: [{ name: 'frames/0000_a-1000_b-0000.png', url: `/jobs/${ID}/artifacts/frames/0000_a-1000_b-0000.png`, bytes: 1234, content_type: 'image/png' }],
    ...over,
});
const problem = (slug, status, over = {}) => ({ type: `urn:morphd:problem:${slug}`, title: 'T', status, detail: 'what went wrong', instance: '/jobs', ...over });
const H = (h) => ({ get: (k) => h[k.toLowerCase()] ?? null });
const json = (v) => Buffer.from(JSON.stringify(v));

// [description, method, path, status, headers, body, expect ok]
const cases = [
    ['202 job', 'POST', '/jobs', 202, { 'content-type': 'application/json', location: `/jobs/${ID}` }, json(job({ status: 'queued', started_at: null })), true],
    ['202 without Location', 'POST', '/jobs', 202, { 'content-type': 'application/json' }, json(job()), false],
    ['202 with an extra field', 'POST', '/jobs', 202, { 'content-type': 'application/json', location: `/jobs/${ID}` }, json(job({ priority: 1 })), false],
    ['job with a bad id', 'GET', `/jobs/${ID}`, 200, { 'content-type': 'application/json', 'retry-after': '1' }, json(job({ id: 'XYZ' })), false],
    ['job with a time without ms', 'GET', `/jobs/${ID}`, 200, { 'content-type': 'application/json' }, json(job({ created_at: '2026-11-25T10:00:00Z' })), false],
    ['job with unknown status', 'GET', `/jobs/${ID}`, 200, { 'content-type': 'application/json' }, json(job({ status: 'done' })), false],
    ['job with bad Retry-After', 'GET', `/jobs/${ID}`, 200, { 'content-type': 'application/json', 'retry-after': 'soon' }, json(job()), false],
    ['job with an unknown spec field', 'GET', `/jobs/${ID}`, 200, { 'content-type': 'application/json' }, json(job({ spec: { framez: 3 } })), false],
    ['job with an explicit camera', 'GET', `/jobs/${ID}`, 200, { 'content-type': 'application/json' }, json(job({ spec: { camera: { eye: [0, 0, 5], target: [0, 0, 0], up: [0, 1, 0], fov: 30, near: 0.1, far: 50, ortho: null } } })), true],
    ['job with a null eye', 'GET', `/jobs/${ID}`, 200, { 'content-type': 'application/json' }, json(job({ spec: { camera: { eye: null } } })), false],
    ['job with ortho auto', 'GET', `/jobs/${ID}`, 200, { 'content-type': 'application/json' }, json(job({ spec: { camera: { ortho: 'auto' } } })), true],
    ['render job with turntable', 'GET', `/jobs/${ID}`, 200, { 'content-type': 'application/json' }, json(job({ kind: 'render', spec: { kind: 'render', views: { turntable: { count: 36, elevation: 10 } } }, inputs: { vertices: 1, faces: 1, textures: 0, mesh: { name: 'm', format: 'glb' } } })), true],
    ['artifact with url elsewhere', 'GET', `/jobs/${ID}`, 200, { 'content-type': 'application/json' }, json(job({ artifacts: [{ name: 'a.png', url: 'http://evil/a.png', bytes: 1, content_type: 'image/png' }] })), false],
    ['job as text/plain', 'GET', `/jobs/${ID}`, 200, { 'content-type': 'text/plain' }, json(job()), false],
    ['list', 'GET', '/jobs', 200, { 'content-type': 'application/json; charset=utf-8' }, json({ jobs: [job()], next_cursor: null }), true],
    ['list without next_cursor', 'GET', '/jobs', 200, { 'content-type': 'application/json' }, json({ jobs: [] }), false],
    ['404 problem', 'GET', `/jobs/${ID}`, 404, { 'content-type': 'application/problem+json' }, json(problem('not-found', 404)), true],
    ['404 as application/json', 'GET', `/jobs/${ID}`, 404, { 'content-type': 'application/json' }, json(problem('not-found', 404)), false],
    ['404 with the wrong slug', 'GET', `/jobs/${ID}`, 404, { 'content-type': 'application/problem+json' }, json(problem('bad-request', 404)), false],
    ['404 without detail', 'GET', `/jobs/${ID}`, 404, { 'content-type': 'application/problem+json' }, json({ type: 'urn:morphd:problem:not-found', title: 'x', status: 404 }), false],
    ['422 topology', 'POST', '/jobs', 422, { 'content-type': 'application/problem+json' }, json(problem('topology-mismatch', 422, { detail: 'source has 468 vertices, target 478' })), true],
    ['undocumented 418', 'POST', '/jobs', 418, { 'content-type': 'application/problem+json' }, json(problem('internal', 418)), false],
    ['503 with Retry-After', 'POST', '/jobs', 503, { 'content-type': 'application/problem+json', 'retry-after': '2' }, json(problem('queue-full', 503)), true],
    ['503 without Retry-After', 'POST', '/jobs', 503, { 'content-type': 'application/problem+json' }, json(problem('queue-full', 503)), false],
    ['204 delete', 'DELETE', `/jobs/${ID}`, 204, {}, Buffer.alloc(0), true],
    ['204 with a body', 'DELETE', `/jobs/${ID}`, 204, { 'content-type': 'application/json' }, json({}), false],
    ['cancel 202', 'POST', `/jobs/${ID}/cancel`, 202, { 'content-type': 'application/json', 'retry-after': '1' }, json(job()), true],
    ['artifact png', 'GET', `/jobs/${ID}/artifacts/frames/0000_a-1000_b-0000.png`, 200, { 'content-type': 'image/png' }, Buffer.from([0x89, 0x50]), true],
    ['artifact png with Content-Length', 'GET', `/jobs/${ID}/artifacts/frames/0000_a-1000_b-0000.png`, 200, { 'content-type': 'image/png', 'content-length': '2' }, Buffer.from([0x89, 0x50]), true],
    ['artifact png with a bad Content-Length', 'GET', `/jobs/${ID}/artifacts/frames/0000_a-1000_b-0000.png`, 200, { 'content-type': 'image/png', 'content-length': '-2' }, Buffer.from([0x89, 0x50]), false],
    ['artifact log', 'GET', `/jobs/${ID}/artifacts/session.log`, 200, { 'content-type': 'text/plain; charset=utf-8' }, Buffer.from('ok'), true],
    ['artifact deep path 404', 'GET', `/jobs/${ID}/artifacts/a/b/c`, 404, { 'content-type': 'application/problem+json' }, json(problem('not-found', 404)), true],
    ['artifact bad name 400', 'GET', `/jobs/${ID}/artifacts/..%2fx`, 400, { 'content-type': 'application/problem+json' }, json(problem('bad-request', 400)), true],
    ['unknown route 404', 'GET', '/nope', 404, { 'content-type': 'application/problem+json' }, json(problem('not-found', 404)), true],
    ['unknown route 200', 'GET', '/nope', 200, { 'content-type': 'text/plain' }, Buffer.from('hi'), false],
    ['405 with Allow', 'PUT', '/jobs', 405, { 'content-type': 'application/problem+json', allow: 'GET, POST' }, json(problem('method-not-allowed', 405)), true],
    ['405 without Allow', 'PUT', '/jobs', 405, { 'content-type': 'application/problem+json' }, json(problem('method-not-allowed', 405)), false],
    ['wrong method answered 404', 'PATCH', `/jobs/${ID}`, 404, { 'content-type': 'application/problem+json' }, json(problem('not-found', 404)), false],
    ['metrics', 'GET', '/metrics', 200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }, Buffer.from('# TYPE a counter\na 1\n'), true],
    ['metrics without version', 'GET', '/metrics', 200, { 'content-type': 'text/plain' }, Buffer.from('a 1\n'), false],
    ['healthz text', 'GET', '/healthz', 200, { 'content-type': 'text/plain' }, Buffer.from('ok\n'), true],
    ['readyz 503', 'GET', '/readyz', 503, { 'content-type': 'application/problem+json', 'retry-after': '1' }, json(problem('unavailable', 503, { detail: 'no worker heartbeat' })), true],
    ['readyz 503 queue-full', 'GET', '/readyz', 503, { 'content-type': 'application/problem+json', 'retry-after': '1' }, json(problem('queue-full', 503)), false],
];

const PROM_OK = `# HELP morphd_batch_jobs Jobs per engine batch.
# TYPE morphd_batch_jobs histogram
morphd_batch_jobs_bucket{le="1"} 2
morphd_batch_jobs_bucket{le="2"} 3
morphd_batch_jobs_bucket{le="+Inf"} 4
morphd_batch_jobs_sum 9
morphd_batch_jobs_count 4
# HELP morphd_http_requests_total Requests.
# TYPE morphd_http_requests_total counter
morphd_http_requests_total{route="/jobs/{id}",code="200"} 17
morphd_http_requests_total{route="/healthz",code="200"} 1e3
`;
const PROM_BAD = `# TYPE x histogram
x_bucket{le="1"} 5
x_bucket{le="+Inf"} 3
x_count 4
y{a="1",a="2"} 1
z 1 2 3
`;

run('integration_selftest', async (t) => {
    const c = contract();
    for (const [what, method, p, status, headers, body, ok] of cases) {
        const v = c.checkResponse(method, p, status, H(headers), body);
        t.check(v.ok === ok, `contract self-test '${what}': expected ${ok ? 'valid' : 'invalid'}, got ${v.ok ? 'valid' : `invalid: ${v.errors.join('; ')}`}`);
    }

    const good = parsePrometheus(PROM_OK);
    t.check(good.errors.length === 0, `prometheus parser rejects good text: ${good.errors.join('; ')}`);
    const series = [...histogramSeries(good.families.get('morphd_batch_jobs')).values()][0];
    t.check(series && series.buckets[0].count === 2 && series.count === 4, `histogram series: ${JSON.stringify(series)}`);
    t.check(good.families.get('morphd_http_requests_total')?.samples[1].value === 1000, 'sample value 1e3');
    const bad = parsePrometheus(PROM_BAD);
    for (const needle of ['cumulative', '+Inf bucket 3 != _count 4', 'bad labels', 'not a sample', 'no _sum']) t.check(bad.errors.some((e) => e.includes(needle)), `prometheus parser misses '${needle}': ${bad.errors.join('; ')}`);

    // rawHttp against a local server: fixed length, chunked, an early answer to a big upload.
    const srv = http.createServer((req, res) => {
        if (req.url === '/chunked') {
            res.setHeader('Content-Type', 'text/plain');
            res.write('ab');
            res.end('cd');
        } else if (req.url === '/early') {
            res.writeHead(413, { 'Content-Type': 'application/problem+json', Connection: 'close' });
            res.end(JSON.stringify(problem('too-large', 413)));
            req.socket.destroySoon();
        } else {
            res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': 5 });
            res.end(req.url.slice(0, 5).padEnd(5));
        }
    });
    await new Promise((r) => srv.listen(0, '127.0.0.1', r));
    const port = srv.address().port;
    try {
        const a = await rawHttp(port, 'GET', '/jobs/x/artifacts/..%2f..%2fetc');
        t.check(a.status === 200 && a.body.toString() === '/jobs', `raw fixed: ${a.status} ${a.body}`);
        const b = await rawHttp(port, 'GET', '/chunked');
        t.check(b.body.toString() === 'abcd', `raw chunked: ${b.body}`);
        const big = Array.from({ length: 64 }, () => Buffer.alloc(1 << 20, 120));
        const e = await rawHttp(port, 'POST', '/early', { body: big });
        t.check(e.status === 413, `raw early answer: ${e.status}`);
    } finally {
        srv.close();
    }

    // The harness's redis-server, started and stopped (skipped parts when it is missing).
    if (which('redis-server')) {
        const redis = await t.startRedis({ args: ['--appendfsync', 'always'] });
        t.check(redis.proc.alive, 'redis-server runs');
        // redisCall, and restartRedis on the same port and folder: the AOF brings the data back,
        // after a clean stop and after kill -9.
        t.check((await redisCall(redis.port, 'SET', 'k', 'v 1')) === 'OK', 'redisCall SET');
        t.check((await redisCall(redis.port, 'XADD', 's', '*', 'id', 'x')).includes('-'), 'redisCall XADD');
        const err = await redisCall(redis.port, 'NOSUCHCOMMAND').catch((e) => e);
        t.check(err instanceof RedisReplyError && /unknown command/i.test(err.message), `redisCall error reply: ${err}`);
        await redis.proc.stop();
        t.check(!redis.proc.alive && redis.proc.code === 0, `redis-server exit: ${redis.proc.describeExit()}`);
        await t.restartRedis(redis);
        t.check((await redisCall(redis.port, 'GET', 'k')) === 'v 1', 'the AOF kept k across a stop');
        await redisCall(redis.port, 'HSET', 'h', 'a', '1', 'b', '');
        await redis.proc.crash();
        await t.restartRedis(redis);
        const h = await redisCall(redis.port, 'HGETALL', 'h');
        t.check(JSON.stringify(h) === '["a","1","b",""]', `the AOF kept h across kill -9: ${JSON.stringify(h)}`);
        t.check((await redisCall(redis.port, 'XLEN', 's')) === 1, 'redisCall XLEN');
        t.check((await redisCall(redis.port, 'GET', 'nothing')) === null, 'redisCall nil');
        await redis.proc.stop();
    } else {
        t.note('redis-server is not installed: its start/stop was not tried');
    }
    t.check(typeof Api === 'function', 'Api exported');
});
