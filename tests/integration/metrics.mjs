// metrics.mjs — /metrics is Prometheus text 0.0.4 with every metric name of the contract (HELP
// and TYPE lines, right types and labels); /healthz is 200; /readyz is 503 with no worker alive
// and 200 once one is.
import { run } from './harness.mjs';
import { CONTRACT_METRICS, total } from './prom.mjs';

run('metrics', async (t) => {
    t.requireMorphd();
    const { redis, api } = await t.cluster({ workers: 0 });
    await api.get('/healthz', { expect: 200 });
    const nr = await api.get('/readyz', { expect: 503 });
    t.check(/worker/i.test(nr.json?.detail || ''), `/readyz 503 detail does not say there is no worker: ${nr.json?.detail}`);

    const check = async (when) => {
        const r = await api.get('/metrics', { expect: 200 });
        const m = await api.metrics();
        t.check(m.errors.length === 0, `${when}: /metrics is not valid Prometheus text:\n  ${m.errors.join('\n  ')}`);
        for (const [name, want] of Object.entries(CONTRACT_METRICS)) {
            const f = m.families.get(name);
            if (!t.check(f, `${when}: /metrics has no ${name}`)) continue;
            t.check(f.help !== null && f.help.length > 0, `${when}: ${name} has no HELP line`);
            t.check(f.type === want.type, `${when}: ${name} is TYPE ${f.type}, expected ${want.type}`);
            for (const s of f.samples) {
                const labels = Object.keys(s.labels).filter((l) => l !== 'le');
                t.check(labels.every((l) => want.labels.includes(l)), `${when}: ${s.name} has labels ${labels.join(',')}, the contract has ${want.labels.join(',') || 'none'}`);
            }
        }
        return { r, m };
    };
    const before = await check('without a worker');
    t.check(total(before.m.families, 'morphd_workers_alive') === 0, `morphd_workers_alive is ${total(before.m.families, 'morphd_workers_alive')} with no worker`);
    t.check(before.m.families.get('morphd_build_info')?.samples.some((s) => s.value === 1 && s.labels.version), 'morphd_build_info has no sample with value 1 and a version');

    const w = t.startWorker({ redis, storage: api.storage, name: 'w1' });
    await api.waitReady();
    const after = await check('with a worker');
    t.check(total(after.m.families, 'morphd_workers_alive') >= 1, 'morphd_workers_alive is 0 with a worker running');
    const http = after.m.families.get('morphd_http_requests_total');
    t.check(http?.samples.some((s) => s.labels.code === '503') && http?.samples.some((s) => s.labels.code === '200'), 'morphd_http_requests_total does not count the 200s and 503s answered so far');
    for (const name of ['morphd_http_requests_total', 'morphd_http_request_duration_seconds']) {
        const f = after.m.families.get(name);
        t.check(!f?.samples.some((s) => /[0-9a-f]{32}/.test(s.labels.route || '')), `${name} route labels contain job ids (unbounded cardinality)`);
    }
    await w.stop();
});
