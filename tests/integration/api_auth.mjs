// api_auth.mjs — optional bearer keys: with `--api-keys FILE` (one key per line, '#' comments)
// /jobs routes need a key (401 + WWW-Authenticate otherwise), a key sees only its own jobs
// (another key's job is 404), and /healthz, /readyz, /metrics need none.
import fs from 'node:fs';
import path from 'node:path';
import { run } from './harness.mjs';

run('api_auth', async (t) => {
    t.requireMorphd();
    const keys = path.join(t.dir, 'keys.txt');
    fs.writeFileSync(keys, '# test keys\nkey-alice-0123456789\nkey-bob-0123456789\n');
    const { api } = await t.cluster({ workers: 1, apiArgs: ['--api-keys', keys] });
    const s = t.sample();
    const files = { source: s.source, target: s.target };
    const tiny = { frames: 1, width: 16, height: 16 };

    for (const p of ['/healthz', '/readyz', '/metrics']) await api.get(p, { expect: 200 });
    const none = await api.get('/jobs', { expect: 401 });
    t.check(/^Bearer/.test(none.headers.get('www-authenticate') || ''), `401 without WWW-Authenticate: Bearer (${none.headers.get('www-authenticate')})`);
    await api.submit(files, tiny, { expect: 401 });
    await api.get('/jobs', { headers: { Authorization: 'Bearer nope' }, expect: 401 });

    api.token = 'key-alice-0123456789';
    const job = (await api.submit(files, tiny, { expect: 202 })).json;
    const done = await api.poll(job.id);
    t.check(done.status === 'succeeded', `alice's job ${done.status}`);
    api.token = 'key-bob-0123456789';
    await api.get(`/jobs/${job.id}`, { expect: 404 });
    await api.get(`/jobs/${job.id}/artifacts/manifest.json`, { expect: 404 });
    await api.request('POST', `/jobs/${job.id}/cancel`, { expect: 404 });
    await api.request('DELETE', `/jobs/${job.id}`, { expect: 404 });
    const bobs = (await api.get('/jobs', { expect: 200 })).json;
    t.check(!bobs.jobs.some((j) => j.id === job.id), "bob's list shows alice's job");
    api.token = 'key-alice-0123456789';
    await api.request('DELETE', `/jobs/${job.id}`, { expect: 204 });
});
