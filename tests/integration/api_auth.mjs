// api_auth.mjs — bearer keys and the safe defaults around them (issue 16, item 5):
// - the --api-keys file holds 'owner:sha256:<hex>' lines; a plaintext 'owner:key' line is
//   refused at start (exit 2) with a message naming `morphd hash-key` and `morphd keygen`;
//   `morphd keygen` prints a key and its line, `morphd hash-key` the line of a key on stdin;
// - without --api-keys, a --listen other machines reach exits 2 naming --api-keys and
//   --allow-anonymous; --allow-anonymous serves;
// - /jobs routes need a key (401 + WWW-Authenticate otherwise), a key sees only its own jobs
//   (another key's job is 404), and /healthz, /readyz, /metrics need none;
// - one key has at most max_queued_per_owner jobs queued or running: 503 queue-full (with
//   Retry-After, the limit and the count) past it, other keys unaffected, and cancel, delete
//   and finishing give the share back.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { run, redisCall, sleep, SLOW } from './harness.mjs';

run('api_auth', async (t) => {
    const bin = t.requireMorphd();
    const morphd = (args, input) => spawnSync(bin, args, { encoding: 'utf8', input, timeout: 20000 * SLOW });

    // ---- keygen and hash-key ----
    const kg = morphd(['keygen', 'carol']);
    t.check(kg.status === 0, `morphd keygen carol: expected exit 0, got ${kg.status}: ${kg.stderr}`);
    const carolKey = /^key: +(mk_[A-Za-z0-9_-]{43})$/m.exec(kg.stdout)?.[1];
    const carolLine = /^line: +(carol:sha256:[0-9a-f]{64})$/m.exec(kg.stdout)?.[1];
    t.assert(carolKey && carolLine, `morphd keygen: expected 'key: mk_...' and 'line: carol:sha256:...', got:\n${kg.stdout}`);
    const sha = (k) => crypto.createHash('sha256').update(k).digest('hex');
    t.check(carolLine === `carol:sha256:${sha(carolKey)}`, `keygen's line is not the SHA-256 of its key: ${carolLine}`);
    const kg2 = morphd(['keygen', 'carol']);
    t.check(!kg2.stdout.includes(carolKey), 'two keygen runs printed the same key');
    const hk = morphd(['hash-key', 'alice'], 'key-alice-0123456789\n');
    t.check(hk.status === 0 && hk.stdout.trim() === `alice:sha256:${sha('key-alice-0123456789')}`,
        `morphd hash-key alice: expected alice:sha256:${sha('key-alice-0123456789')}, got ${hk.status} '${hk.stdout.trim()}' ${hk.stderr}`);
    const bad = morphd(['keygen', 'no spaces']);
    t.check(bad.status === 2, `morphd keygen 'no spaces': expected exit 2, got ${bad.status}`);

    // ---- refused starts (no redis needed: both are checked before anything starts) ----
    const store = `file://${t.mkdir('store-refused')}`;
    const plain = path.join(t.dir, 'plain-keys.txt');
    fs.writeFileSync(plain, 'alice:key-alice-0123456789\n');
    const pr = morphd(['api', '--listen', '127.0.0.1:0', '--redis', 'redis://127.0.0.1:1', '--storage', store, '--api-keys', plain]);
    t.check(pr.status === 2, `a plaintext keys file: expected exit 2, got ${pr.status}: ${pr.stderr}`);
    t.check(/hash-key/.test(pr.stderr) && /keygen/.test(pr.stderr) && /line 1/.test(pr.stderr), `the plaintext refusal names neither hash-key nor keygen nor the line: ${pr.stderr}`);
    t.check(!pr.stderr.includes('key-alice-0123456789'), `the refusal echoes the plaintext key: ${pr.stderr}`);
    for (const listen of ['0.0.0.0:0', '[::]:0']) {
        const open = morphd(['api', '--listen', listen, '--redis', 'redis://127.0.0.1:1', '--storage', store]);
        t.check(open.status === 2, `--listen ${listen} without --api-keys: expected exit 2, got ${open.status}: ${open.stderr}`);
        t.check(/--api-keys/.test(open.stderr) && /--allow-anonymous/.test(open.stderr), `--listen ${listen}: the message names not both ways out: ${open.stderr}`);
    }
    // --allow-anonymous serves on 0.0.0.0 (it listens before Redis answers).
    const anon = t.spawn('api-anon', bin, ['api', '--listen', '0.0.0.0:0', '--allow-anonymous', '--redis', 'redis://127.0.0.1:1', '--storage', store], { mayDie: true });
    let listening = false;
    for (let i = 0; i < 200 && anon.alive && !listening; i++) {
        listening = /listening on http:\/\/0\.0\.0\.0:0/.test(fs.readFileSync(anon.log, 'utf8'));
        if (!listening) await sleep(50);
    }
    t.check(listening, `--allow-anonymous on 0.0.0.0: expected 'listening on', got:\n${fs.readFileSync(anon.log, 'utf8')}`);
    if (anon.alive) anon.kill('SIGTERM');

    // ---- keys: who sees what ----
    const keys = t.keysFile({ alice: 'key-alice-0123456789', bob: 'key-bob-0123456789' });
    fs.appendFileSync(keys, `${carolLine}\n`);
    const { redis, api } = await t.cluster({ workers: 1, apiArgs: ['--api-keys', keys] });
    const s = t.sample();
    const files = { source: s.source, target: s.target };
    const tiny = { frames: 1, width: 16, height: 16 };

    for (const p of ['/healthz', '/readyz', '/metrics']) await api.get(p, { expect: 200 });
    const none = await api.get('/jobs', { expect: 401 });
    t.check(/^Bearer/.test(none.headers.get('www-authenticate') || ''), `401 without WWW-Authenticate: Bearer (${none.headers.get('www-authenticate')})`);
    await api.submit(files, tiny, { expect: 401 });
    await api.get('/jobs', { headers: { Authorization: 'Bearer nope' }, expect: 401 });
    // The hash itself is not a key.
    await api.get('/jobs', { headers: { Authorization: `Bearer ${sha('key-alice-0123456789')}` }, expect: 401 });
    await api.get('/jobs', { headers: { Authorization: `Bearer ${carolKey}` }, expect: 200 });

    api.token = 'key-alice-0123456789';
    const job = (await api.submit(files, tiny, { expect: 202 })).json;
    const done = await api.poll(job.id);
    t.check(done.status === 'succeeded', `alice's job ${done.status}`);
    const active = await redisCall(redis.port, 'HGET', 'morphd:active', 'alice');
    t.check(active === null || active === undefined, `after alice's job finished: expected no morphd:active count, got ${active}`);
    api.token = 'key-bob-0123456789';
    await api.get(`/jobs/${job.id}`, { expect: 404 });
    await api.get(`/jobs/${job.id}/artifacts/manifest.json`, { expect: 404 });
    await api.request('POST', `/jobs/${job.id}/cancel`, { expect: 404 });
    await api.request('DELETE', `/jobs/${job.id}`, { expect: 404 });
    const bobs = (await api.get('/jobs', { expect: 200 })).json;
    t.check(!bobs.jobs.some((j) => j.id === job.id), "bob's list shows alice's job");
    api.token = 'key-alice-0123456789';
    await api.request('DELETE', `/jobs/${job.id}`, { expect: 204 });

    // ---- a key's share of the queue: no worker, max_queued_per_owner=2 ----
    const redis2 = await t.startRedis();
    const capped = await t.startApi({ redis: redis2, limits: { max_queued_per_owner: 2 }, args: ['--api-keys', keys], name: 'api-capped' });
    capped.token = 'key-alice-0123456789';
    const a1 = (await capped.submit(files, tiny, { expect: 202 })).json;
    const a2 = (await capped.submit(files, tiny, { expect: 202 })).json;
    const full = await capped.submit(files, tiny, { expect: 503 });
    t.check(full.json?.type === 'urn:morphd:problem:queue-full', `alice's third job: expected queue-full, got ${full.json?.type}`);
    t.check(/max_queued_per_owner=2/.test(full.json?.detail) && /has 2 job/.test(full.json?.detail) && /alice/.test(full.json?.detail),
        `the 503 detail names not the limit (2), the count (2) and the owner: ${full.json?.detail}`);
    t.check(Number(full.headers.get('retry-after')) > 0, `the 503 has no Retry-After (${full.headers.get('retry-after')})`);
    capped.token = 'key-bob-0123456789';
    await capped.submit(files, tiny, { expect: 202 });
    capped.token = 'key-alice-0123456789';
    await capped.request('POST', `/jobs/${a1.id}/cancel`, { expect: [200, 202] });
    const a3 = (await capped.submit(files, tiny, { expect: 202 })).json;
    await capped.submit(files, tiny, { expect: 503 });
    await capped.request('DELETE', `/jobs/${a2.id}`, { expect: 204 });
    await capped.submit(files, tiny, { expect: 202 });
    const count = await redisCall(redis2.port, 'HGET', 'morphd:active', 'alice');
    t.check(String(count) === '2', `alice's morphd:active count: expected 2 (a3 and the last), got ${count}`);
    t.check(a3.id !== a2.id, 'a3 reused an id');
});
