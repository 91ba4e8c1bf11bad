// api_batching.mjs — cross-request batching: 8 jobs submitted concurrently to a worker with
// --batch-window-ms 200; /metrics must show an engine batch that carried more than one job
// (morphd_batch_jobs: fewer observations in le="1" than in total), and every job's frames equal
// its own solo `morph run`.
import { run, TSAN } from './harness.mjs';
import { histogramSeries } from './prom.mjs';
import { downloadAll, compareFrames } from './frames.mjs';

run('api_batching', async (t) => {
    t.requireMorphd();
    t.requireMorph();
    const { api } = await t.cluster({ workers: 1, workerArgs: ['--batch-window-ms', '200'] });
    const s = t.sample();
    const files = { source: s.source, target: s.target, source_texture: s.sourceTexture, target_texture: s.targetTexture };
    // Different specs, so a batch that mixed jobs up shows in the frames.
    const specs = Array.from({ length: 8 }, (_, i) => ({
        frames: 2 + (i % 4),
        width: 64 + 16 * (i % 3),
        height: 64,
        samples: i % 2 ? 1 : 4,
        background: ['ffffff', '000000', '336699', 'cc8844'][i % 4],
        label: `batch-${i}`,
        // Under ThreadSanitizer frames only: the heatmaps (eight jobs, and eight `morph run`s
        // again) took most of make test-tsan's time and batch nothing.
        ...(TSAN ? { outputs: 'minimal' } : {}),
    }));
    const submitted = await Promise.all(specs.map((spec) => api.submit(files, spec, { expect: 202 })));
    const jobs = await Promise.all(submitted.map((r) => api.poll(r.json.id)));
    for (const j of jobs) t.check(j.status === 'succeeded', `job ${j.spec.label} ${j.status}: ${j.error}`);

    const m = await api.metrics();
    t.check(m.errors.length === 0, `/metrics format: ${m.errors.join('; ')}`);
    const fam = m.families.get('morphd_batch_jobs');
    t.assert(fam && fam.type === 'histogram', 'no morphd_batch_jobs histogram in /metrics');
    let multi = false;
    let batches = 0;
    for (const series of histogramSeries(fam).values()) {
        const le1 = series.buckets.find((b) => b.le === 1);
        batches += series.count ?? 0;
        if (le1 && series.count > le1.count) multi = true;
        t.log(`morphd_batch_jobs{${series.key}}: ${series.buckets.map((b) => `le=${b.le}:${b.count}`).join(' ')} count=${series.count} sum=${series.sum}`);
    }
    t.check(batches >= 1, 'morphd_batch_jobs has no observations');
    t.check(multi, 'no engine batch carried more than one job (morphd_batch_jobs le="1" == count)');
    const frames = m.families.get('morphd_batch_frames');
    t.check(frames && frames.type === 'histogram', 'no morphd_batch_frames histogram');

    for (const j of jobs) {
        if (j.status !== 'succeeded') continue;
        const served = await downloadAll(t, api, j, t.mkdir(`served-${j.id}`));
        const out = await t.morphRun(s.source, s.target, t.mkdir(`local-${j.id}`), specs[Number(j.spec.label.split('-')[1])], s);
        compareFrames(t, j.spec.label, served, out);
    }
});
