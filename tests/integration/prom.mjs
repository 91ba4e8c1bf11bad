// prom.mjs — a strict parser for the Prometheus text exposition format 0.0.4, enough to hold
// /metrics to it: HELP/TYPE lines, samples with labels, histogram consistency. Pure functions.
//
// parsePrometheus(text) → { families: Map(name → {help, type, samples: [{name, labels, value}]}),
//                           errors: [string] }  (errors: every line that breaks the format)
const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const LABEL = '[a-zA-Z_][a-zA-Z0-9_]*';
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

function parseValue(s) {
    if (s === '+Inf' || s === 'Inf') return Infinity;
    if (s === '-Inf') return -Infinity;
    if (s === 'NaN') return NaN;
    if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s)) return undefined;
    return Number(s);
}

// Labels text `a="x",b="y\"z"` → object, or null when malformed.
function parseLabels(text) {
    const labels = {};
    let i = 0;
    const re = new RegExp(`^\\s*(${LABEL})\\s*=\\s*"((?:[^"\\\\\\n]|\\\\[\\\\"n])*)"\\s*(,|$)`);
    while (i < text.length) {
        const m = re.exec(text.slice(i));
        if (!m) return null;
        if (m[1] in labels) return null;
        labels[m[1]] = m[2].replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
        i += m[0].length;
        if (m[3] === '' && i < text.length) return null;
    }
    return labels;
}

// The family a sample name belongs to (histogram/summary suffixes folded).
function familyOf(name, families) {
    for (const suf of ['_bucket', '_sum', '_count']) {
        if (name.endsWith(suf)) {
            const base = name.slice(0, -suf.length);
            const f = families.get(base);
            if (f && (f.type === 'histogram' || f.type === 'summary')) return base;
        }
    }
    return name;
}

export function parsePrometheus(text) {
    const families = new Map();
    const errors = [];
    const fam = (n) => {
        if (!families.has(n)) families.set(n, { name: n, help: null, type: null, samples: [] });
        return families.get(n);
    };
    if (typeof text !== 'string') return { families, errors: ['no text'] };
    if (text.length && !text.endsWith('\n')) errors.push('the exposition does not end with a newline');
    const lines = text.split('\n');
    const sampleRe = new RegExp(`^(${NAME})(?:\\{(.*)\\})?\\s+(\\S+)(?:\\s+(-?\\d+))?$`);
    lines.forEach((line, idx) => {
        const ln = idx + 1;
        if (line === '' || /^\s*$/.test(line)) return;
        if (line.startsWith('#')) {
            const m = new RegExp(`^#\\s+(HELP|TYPE)\\s+(${NAME})(?:\\s+(.*))?$`).exec(line);
            if (!m) return; // other comments are allowed
            const f = fam(m[2]);
            if (m[1] === 'HELP') {
                if (f.help !== null) errors.push(`line ${ln}: second HELP for ${m[2]}`);
                f.help = m[3] ?? '';
            } else {
                if (f.type !== null) errors.push(`line ${ln}: second TYPE for ${m[2]}`);
                if (f.samples.length) errors.push(`line ${ln}: TYPE for ${m[2]} after its samples`);
                if (!TYPES.has(m[3])) errors.push(`line ${ln}: unknown type '${m[3]}' for ${m[2]}`);
                f.type = m[3];
            }
            return;
        }
        const m = sampleRe.exec(line);
        if (!m) {
            errors.push(`line ${ln}: not a sample: ${line}`);
            return;
        }
        const labels = m[2] !== undefined ? parseLabels(m[2]) : {};
        if (labels === null) {
            errors.push(`line ${ln}: bad labels: ${line}`);
            return;
        }
        const value = parseValue(m[3]);
        if (value === undefined) {
            errors.push(`line ${ln}: bad value '${m[3]}'`);
            return;
        }
        fam(familyOf(m[1], families)).samples.push({ name: m[1], labels, value, line: ln });
    });

    // Histograms: per label set, cumulative buckets ending in +Inf == _count, and a _sum.
    for (const f of families.values()) {
        if (f.type !== 'histogram') continue;
        for (const series of histogramSeries(f).values()) {
            const key = series.key || '(no labels)';
            let prev = -1;
            for (const b of series.buckets) {
                if (b.count < prev) errors.push(`${f.name}{${key}}: bucket le="${b.le}" count ${b.count} is below the previous ${prev} (buckets are cumulative)`);
                prev = b.count;
            }
            const inf = series.buckets.find((b) => b.le === Infinity);
            if (!inf) errors.push(`${f.name}{${key}}: no le="+Inf" bucket`);
            if (series.count === undefined) errors.push(`${f.name}{${key}}: no _count`);
            if (series.sum === undefined) errors.push(`${f.name}{${key}}: no _sum`);
            if (inf && series.count !== undefined && inf.count !== series.count) errors.push(`${f.name}{${key}}: +Inf bucket ${inf.count} != _count ${series.count}`);
        }
    }
    return { families, errors };
}

// Groups a histogram family's samples by their labels (without le):
// Map(key → {key, labels, buckets: [{le, count}] sorted, sum, count}).
export function histogramSeries(f) {
    const out = new Map();
    for (const s of f.samples) {
        const labels = { ...s.labels };
        delete labels.le;
        const key = Object.keys(labels).sort().map((k) => `${k}="${labels[k]}"`).join(',');
        if (!out.has(key)) out.set(key, { key, labels, buckets: [], sum: undefined, count: undefined });
        const series = out.get(key);
        if (s.name.endsWith('_bucket')) series.buckets.push({ le: parseValue(s.labels.le), count: s.value });
        else if (s.name.endsWith('_sum')) series.sum = s.value;
        else if (s.name.endsWith('_count')) series.count = s.value;
    }
    for (const s of out.values()) s.buckets.sort((a, b) => a.le - b.le);
    return out;
}

// Sum of a counter/gauge family's sample values, optionally only samples whose labels match.
export function total(families, name, where = {}) {
    const f = families.get(name);
    if (!f) return undefined;
    return f.samples.filter((s) => Object.entries(where).every(([k, v]) => s.labels[k] === v)).reduce((n, s) => n + s.value, 0);
}

// The metric names of the issue (part of the contract) and their types.
export const CONTRACT_METRICS = {
    morphd_jobs_submitted_total: { type: 'counter', labels: ['kind'] },
    morphd_jobs_finished_total: { type: 'counter', labels: ['kind', 'status'] },
    morphd_queue_depth: { type: 'gauge', labels: [] },
    morphd_queue_wait_seconds: { type: 'histogram', labels: [] },
    morphd_job_duration_seconds: { type: 'histogram', labels: [] },
    morphd_batch_jobs: { type: 'histogram', labels: [] },
    morphd_batch_frames: { type: 'histogram', labels: [] },
    morphd_engine_seconds: { type: 'histogram', labels: ['stage'] },
    morphd_frames_rendered_total: { type: 'counter', labels: [] },
    morphd_redeliveries_total: { type: 'counter', labels: [] },
    morphd_dead_lettered_total: { type: 'counter', labels: [] },
    morphd_live_frames_total: { type: 'counter', labels: ['outcome'] },
    morphd_live_frame_seconds: { type: 'histogram', labels: [] },
    morphd_face_cache_hits_total: { type: 'counter', labels: [] },
    morphd_face_cache_misses_total: { type: 'counter', labels: [] },
    morphd_face_cache_evictions_total: { type: 'counter', labels: [] },
    morphd_face_cache_bytes: { type: 'gauge', labels: ['worker'] },
    morphd_face_cache_entries: { type: 'gauge', labels: ['worker'] },
    morphd_gpu_texture_cache_hits_total: { type: 'counter', labels: [] },
    morphd_gpu_texture_cache_misses_total: { type: 'counter', labels: [] },
    morphd_gpu_texture_cache_bytes: { type: 'gauge', labels: ['worker'] },
    morphd_http_requests_total: { type: 'counter', labels: ['route', 'code'] },
    morphd_http_request_duration_seconds: { type: 'histogram', labels: ['route'] },
    morphd_workers_alive: { type: 'gauge', labels: [] },
    morphd_gpu_memory_used_bytes: { type: 'gauge', labels: ['worker'] },
    morphd_gpu_memory_total_bytes: { type: 'gauge', labels: ['worker'] },
    morphd_gpu_utilization_ratio: { type: 'gauge', labels: ['worker'] },
    morphd_build_info: { type: 'gauge', labels: ['version', 'engine'] },
    morphd_worker_info: { type: 'gauge', labels: ['worker', 'engine'] },
};
