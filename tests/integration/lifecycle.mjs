// lifecycle.mjs — what the crash-lifecycle tests (redis_restart, worker_chaos; issue 9) check of
// every job they had accepted (202): it is never lost (GET answers 404), it reaches one terminal
// state and keeps it (no later status or finished_at change), and when it succeeded its
// artifacts hold all frames_total frames, each a decodable PNG of the listed size.
import fs from 'node:fs';
import path from 'node:path';
import { Failure, TERMINAL, sleep } from './harness.mjs';
import { isPng } from './frames.mjs';

export class JobWatch {
    constructor(t, api) {
        this.t = t;
        this.api = api;
        this.jobs = new Map(); // id → record
    }

    // Records a job from its 202 answer; frames: how many frames its spec asked for.
    add(accepted, frames) {
        const j = accepted.json;
        this.jobs.set(j.id, { id: j.id, frames, last: j, terminal: null, finishedAt: null, lost: false, flipped: false, label: j.spec?.label ?? '' });
    }

    get ids() {
        return [...this.jobs.keys()];
    }

    // GETs every job once. With allow503, answers 503 (Redis down) are accepted and skipped.
    // Returns { queued, running, terminal, unavailable, framesDone, byStatus }.
    async observe({ allow503 = false } = {}) {
        const t = this.t;
        const out = { queued: 0, running: 0, terminal: 0, unavailable: 0, lost: 0, framesDone: 0, byStatus: {} };
        for (const rec of this.jobs.values()) {
            const r = await this.api.get(`/jobs/${rec.id}`, { expect: allow503 ? [200, 404, 503] : [200, 404] });
            if (r.status === 503) {
                out.unavailable++;
                continue;
            }
            if (r.status === 404) {
                out.lost++;
                if (!rec.lost) t.check(false, `job ${rec.id} was accepted (202) and is lost: GET /jobs/${rec.id} answers 404`);
                rec.lost = true;
                continue;
            }
            const job = r.json;
            rec.last = job;
            out.byStatus[job.status] = (out.byStatus[job.status] || 0) + 1;
            out.framesDone += job.progress.frames_done;
            const ra = r.headers.get('retry-after');
            if (TERMINAL.has(job.status)) {
                out.terminal++;
                t.check(ra === null, `GET /jobs/${rec.id} is ${job.status} (terminal) but has Retry-After: ${ra}`);
                if (rec.terminal === null) {
                    rec.terminal = job.status;
                    rec.finishedAt = job.finished_at;
                }
            } else {
                if (job.status === 'queued') out.queued++;
                else out.running++;
                t.check(ra !== null, `GET /jobs/${rec.id} is ${job.status} but has no Retry-After`);
            }
            // Exactly one terminal state: once terminal, the status and finished_at stay.
            if (rec.terminal !== null && !rec.flipped && (job.status !== rec.terminal || job.finished_at !== rec.finishedAt)) {
                rec.flipped = true;
                t.check(false, `job ${rec.id} was ${rec.terminal} (finished_at ${rec.finishedAt}) and is now ${job.status} (finished_at ${job.finished_at}, error ${job.error}): a terminal state must be final`);
            }
            t.check(job.progress.frames_done <= job.progress.frames_total, `job ${rec.id}: frames_done ${job.progress.frames_done} > frames_total ${job.progress.frames_total}`);
        }
        return out;
    }

    // Observes until every job is terminal (or lost); calls tick(counts) after each round.
    async waitAllTerminal(timeoutMs, { tick = null, intervalMs = 200 } = {}) {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
            const c = await this.observe();
            if (tick) await tick(c);
            if (c.terminal + c.lost === this.jobs.size) return c;
            this.t.checkProcs();
            if (Date.now() > deadline) throw new Failure(`after ${timeoutMs} ms ${c.queued} job(s) still queued and ${c.running} running: ${JSON.stringify(c.byStatus)}`);
            await sleep(intervalMs);
        }
    }

    // A succeeded job: frames_done = frames_total = what was asked; the artifacts list every
    // frame once (indices 0..N-1); each downloads as a decodable PNG of the listed size.
    // Returns the number of frames checked.
    async checkFrames(rec) {
        const t = this.t;
        const job = rec.last;
        const p = job.progress;
        t.check(p.frames_total === rec.frames, `job ${rec.id}: frames_total ${p.frames_total}, the spec asked for ${rec.frames}`);
        t.check(p.frames_done === p.frames_total, `job ${rec.id} succeeded with frames_done ${p.frames_done} of ${p.frames_total}`);
        const frames = job.artifacts.filter((a) => a.name.startsWith('frames/'));
        const names = frames.map((a) => a.name);
        t.check(frames.length === p.frames_total, `job ${rec.id} succeeded with ${frames.length} frame artifacts, expected ${p.frames_total}`);
        t.check(new Set(names).size === names.length, `job ${rec.id}: ${names.length - new Set(names).size} duplicate frame artifacts`);
        const indices = names.map((n) => Number(n.slice(7, 11))).sort((a, b) => a - b);
        t.check(indices.every((v, i) => v === i), `job ${rec.id}: frame indices are not 0..${names.length - 1}`);
        let bad = 0;
        const queue = [...frames];
        const one = async () => {
            for (let a = queue.shift(); a; a = queue.shift()) {
                const r = await this.api.get(a.url, { expect: 200 });
                const why = isPng(r.body) || (r.body.length === a.bytes ? null : `${r.body.length} bytes, listed ${a.bytes}`);
                if (why && bad++ < 3) t.check(false, `job ${rec.id}: ${a.name}: ${why}`);
            }
        };
        await Promise.all(Array.from({ length: 6 }, one));
        t.check(bad === 0, `job ${rec.id}: ${bad} of ${frames.length} frame(s) are not valid PNGs of the listed size`);
        return frames.length;
    }
}

// Every file under dir whose name is a storage temp file (".tmp.<pid>.<n>", storage/file.c),
// relative to dir.
export function tempFiles(dir) {
    const out = [];
    const walk = (d) => {
        for (const e of fs.readdirSync(d, { withFileTypes: true })) {
            const p = path.join(d, e.name);
            if (e.isDirectory()) walk(p);
            else if (/^\.tmp\./.test(e.name)) out.push(path.relative(dir, p));
        }
    };
    walk(dir);
    return out;
}

// The folder of a file:// storage URL.
export function storeDir(storageUrl) {
    return new URL(storageUrl).pathname;
}
