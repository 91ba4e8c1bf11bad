// api_events.mjs — GET /jobs/{id}/events (issue 13, item 5): a job's life as Server-Sent Events
// from the real api, worker and redis-server.
// - A job watched from submission: status first, progress events that only grow up to
//   frames_total, one artifact event per artifact GET /jobs/{id} lists (same names, in order),
//   then the terminal status as the last event, and the stream ends.
// - A finished job: its progress, artifacts and final status at once.
// - A queued job: a heartbeat comment within 15 s; canceled: a canceled status ends the stream;
//   deleted behind the api's back (the hash removed in Redis): a "gone" event ends it.
// - Errors: unknown job 404, another owner's job 404, POST 405, past max_event_streams 503 with
//   Retry-After, all problem+json per openapi.yaml.
// - SIGTERM with a stream open: the stream ends and the api exits 0 within its grace period.
import { spawnSync } from 'node:child_process';
import { run, sleep, redisCall, SLOW } from './harness.mjs';

// Requests the api counted on a route (all codes), from /metrics.
async function routeCount(api, route, code = null) {
    const text = (await api.get('/metrics', { expect: 200 })).text;
    let n = 0;
    for (const line of text.split('\n')) {
        const m = /^morphd_http_requests_total\{route="([^"]*)",code="(\d+)"\} (\d+)$/.exec(line);
        if (m && m[1] === route && (code === null || Number(m[2]) === code)) n += Number(m[3]);
    }
    return n;
}

// Reads a text/event-stream until it ends (or untilMs passes): [{event, data}] and comments.
async function readEvents(api, id, { untilMs = 120000, token = api.token, onEvent = null } = {}) {
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), untilMs);
    const headers = { Accept: 'text/event-stream' };
    if (token) headers.Authorization = `Bearer ${token}`;
    const res = await fetch(`${api.base}/jobs/${id}/events`, { headers, signal: ctl.signal });
    const out = { status: res.status, type: res.headers.get('content-type'), events: [], comments: [], retry: null, ended: false };
    if (res.status !== 200) {
        out.body = await res.text();
        clearTimeout(timer);
        return out;
    }
    const dec = new TextDecoder();
    let buf = '';
    try {
        for await (const chunk of res.body) {
            buf += dec.decode(chunk, { stream: true });
            let cut;
            while ((cut = buf.indexOf('\n\n')) >= 0) {
                const block = buf.slice(0, cut);
                buf = buf.slice(cut + 2);
                const ev = { event: 'message', data: '' };
                let isEvent = false;
                for (const line of block.split('\n')) {
                    if (line.startsWith(':')) out.comments.push(line.slice(1).trim());
                    else if (line.startsWith('retry:')) out.retry = Number(line.slice(6));
                    else if (line.startsWith('event:')) (ev.event = line.slice(6).trim()), (isEvent = true);
                    else if (line.startsWith('data:')) (ev.data += line.slice(5).trim()), (isEvent = true);
                }
                if (!isEvent) continue;
                ev.json = JSON.parse(ev.data);
                out.events.push(ev);
                if (onEvent) onEvent(ev, out);
            }
        }
        out.ended = true;
    } catch (e) {
        if (e.name !== 'AbortError') throw e;
    } finally {
        clearTimeout(timer);
    }
    return out;
}

run('api_events', async (t) => {
    t.requireMorphd();
    t.requireMorph();
    const keys = t.keysFile({ 'lab-a': 'events-key-a-0123456789', 'lab-b': 'events-key-b-0123456789' });
    const { redis, api } = await t.cluster({ workers: 0, limits: { max_event_streams: 3 }, apiArgs: ['--api-keys', keys] });
    api.token = 'events-key-a-0123456789';
    const s = t.sample();
    const files = { source: s.source, target: s.target, source_texture: s.sourceTexture, target_texture: s.targetTexture };

    // Errors, checked against openapi.yaml.
    const nobody = '0123456789abcdef0123456789abcdef';
    const r404 = await api.get(`/jobs/${nobody}/events`, { expect: 404 });
    t.check(r404.headers.get('content-type') === 'application/problem+json', `unknown job: expected problem+json, got ${r404.headers.get('content-type')}`);
    await api.request('POST', `/jobs/${nobody}/events`, { expect: 405 });

    // A queued job (no worker yet): status queued, progress, then a heartbeat within 15 s.
    const queued = (await api.submit(files, { frames: 3, width: 64, height: 64 }, { expect: 202 })).json.id;
    const other = await readEvents(api, queued, { token: 'events-key-b-0123456789', untilMs: 5000 });
    t.check(other.status === 404, `another owner's job: expected 404, got ${other.status}`);
    const hb = await readEvents(api, queued, { untilMs: 17000 });
    t.check(hb.status === 200 && /^text\/event-stream/.test(hb.type || ''), `events of a queued job: expected 200 text/event-stream, got ${hb.status} ${hb.type}`);
    t.check(hb.retry === 2000, `expected "retry: 2000" first, got ${hb.retry}`);
    t.check(hb.events.length === 2 && hb.events[0].event === 'status' && hb.events[0].json.status === 'queued', `a queued job: expected [status queued, progress], got ${JSON.stringify(hb.events.map((e) => [e.event, e.json.status]))}`);
    t.check(hb.events[1] && hb.events[1].event === 'progress' && hb.events[1].json.frames_total === 3 && hb.events[1].json.frames_done === 0, `a queued job's progress: expected 0 of 3, got ${hb.events[1] && hb.events[1].data}`);
    t.check(hb.events[0].json.artifacts === undefined, 'the status event should leave the artifacts list to artifact events');
    t.check(hb.comments.includes('heartbeat'), `expected a heartbeat comment within 17 s, got comments ${JSON.stringify(hb.comments)}`);
    t.check(!hb.ended, 'the stream of a queued job should stay open');

    // Past max_event_streams (3): 503 with Retry-After, while three streams are open. A client
    // that hung up is noticed at the api's next poll (250 ms): wait for that first.
    await sleep(800);
    const open = [0, 1, 2].map(() => readEvents(api, queued, { untilMs: 4000 }));
    await sleep(1000);
    const busy = await api.get(`/jobs/${queued}/events`, { expect: 503, signal: AbortSignal.timeout(10000) });
    t.check(busy.headers.get('retry-after') !== null, 'a 503 past max_event_streams should carry Retry-After');
    t.check(/max_event_streams/.test(busy.json && busy.json.detail), `the 503 should name max_event_streams, got ${busy.json && busy.json.detail}`);
    const three = await Promise.all(open);
    t.check(three.every((o) => o.status === 200), `three streams within max_event_streams=3: expected 200 each, got ${three.map((o) => o.status).join(', ')}`);
    await sleep(800); // the three hung up: their slots free at the api's next poll

    // Canceled while watched: the canceled status is the last event and the stream ends.
    const watch = readEvents(api, queued, { untilMs: 30000 });
    await sleep(500);
    await api.request('POST', `/jobs/${queued}/cancel`, { expect: [200, 202] });
    const canceled = await watch;
    const last = canceled.events[canceled.events.length - 1];
    t.check(canceled.ended, 'the stream of a canceled job should end');
    t.check(last && last.event === 'status' && last.json.status === 'canceled', `canceled: expected a final status canceled, got ${last && last.event} ${last && last.data}`);

    // Deleted behind the api's back: "gone" ends the stream.
    const doomed = (await api.submit(files, { frames: 2, width: 64, height: 64 }, { expect: 202 })).json.id;
    const gone = readEvents(api, doomed, { untilMs: 30000 });
    await sleep(500);
    const keysFound = await redisCall(redis.port, 'KEYS', `*job:${doomed}`);
    t.assert(Array.isArray(keysFound) && keysFound.length === 1, `expected one Redis hash for job ${doomed}, got ${JSON.stringify(keysFound)}`);
    await redisCall(redis.port, 'DEL', keysFound[0]);
    const g = await gone;
    const gl = g.events[g.events.length - 1];
    t.check(g.ended && gl && gl.event === 'gone' && gl.json.id === doomed, `deleted: expected a final "gone" event, got ${gl && gl.event} ${gl && gl.data} (ended ${g.ended})`);

    // A job watched from submission to success, with a worker.
    const worker = t.startWorker({ redis, storage: api.storage });
    await api.waitReady();
    const id = (await api.submit(files, { frames: 12, width: 96, height: 96, outputs: 'all' }, { expect: 202 })).json.id;
    const live = await readEvents(api, id, { untilMs: 300000 });
    const job = (await api.get(`/jobs/${id}`, { expect: 200 })).json;
    t.check(job.status === 'succeeded', `job ${id}: ${job.status} ${job.error}`);
    t.check(live.ended, 'the stream should end after the terminal status');
    const names = live.events.map((e) => e.event);
    t.check(names[0] === 'status', `the first event should be a status, got ${names[0]}`);
    const fin = live.events[live.events.length - 1];
    t.check(fin.event === 'status' && fin.json.status === 'succeeded', `the last event should be status succeeded, got ${fin.event} ${fin.json.status}`);
    t.check(names.filter((n) => n === 'status' && true).length >= 2, `expected the first and the final status events, got ${names.join(',')}`);
    let prev = -1;
    let sawDone = false;
    for (const e of live.events.filter((x) => x.event === 'progress')) {
        t.check(e.json.frames_done >= prev, `progress went back: ${prev} then ${e.json.frames_done}`);
        t.check(e.json.frames_total === 12, `progress frames_total: expected 12, got ${e.json.frames_total}`);
        prev = e.json.frames_done;
        if (e.json.frames_done === 12) sawDone = true;
    }
    t.check(sawDone, `expected a progress event with 12 of 12 frames, last was ${prev}`);
    const arts = live.events.filter((e) => e.event === 'artifact').map((e) => e.json.name);
    const want = job.artifacts.map((a) => a.name);
    t.check(JSON.stringify(arts) === JSON.stringify(want), `artifact events: expected ${want.length} (${want.slice(0, 4).join(', ')}…), got ${arts.length} (${arts.slice(0, 4).join(', ')}…)`);
    const firstArt = names.indexOf('artifact');
    t.check(firstArt > 0 && firstArt < names.length - 1, `artifact events should come before the final status, got order ${names.join(',')}`);
    const a0 = live.events.find((e) => e.event === 'artifact');
    t.check(a0 && a0.json.url === `/jobs/${id}/artifacts/${a0.json.name}` && a0.json.bytes > 0, `an artifact event should carry url and bytes like GET /jobs/{id}, got ${a0 && a0.data}`);

    // The same job watched after it finished: progress, artifacts, final status, end.
    const after = await readEvents(api, id, { untilMs: 30000 });
    const an = after.events.map((e) => e.event);
    t.check(after.ended && an[0] === 'progress' && an[an.length - 1] === 'status' && an.filter((n) => n === 'artifact').length === want.length, `a finished job: expected progress, ${want.length} artifacts, status; got ${an.length} events ${an.slice(0, 3).join(',')}…${an[an.length - 1]}`);

    // `morph wait` follows the stream: one events request, then one GET /jobs/{id} for the
    // outcome, instead of a poll a second.
    const evBefore = await routeCount(api, '/jobs/{id}/events', 200);
    const getBefore = await routeCount(api, '/jobs/{id}');
    const wid = (await api.submit(files, { frames: 24, width: 96, height: 96 }, { expect: 202 })).json.id;
    const w = spawnSync(t.requireMorph(), ['wait', wid, '--server', api.base, '--api-key', api.token], { encoding: 'utf8', timeout: 300000 * SLOW });
    t.check(w.status === 0 && /succeeded: 24\/24 frames/.test(w.stdout), `morph wait: expected exit 0 and "succeeded: 24/24 frames", got ${w.status}: ${w.stdout} ${w.stderr}`);
    const evAfter = await routeCount(api, '/jobs/{id}/events', 200);
    const getAfter = await routeCount(api, '/jobs/{id}');
    t.check(evAfter - evBefore === 1, `morph wait: expected 1 event stream, the api counted ${evAfter - evBefore}`);
    t.check(getAfter - getBefore === 1, `morph wait: expected 1 GET /jobs/{id} (the outcome), the api counted ${getAfter - getBefore}`);

    // SIGTERM with a stream open on a queued job (the worker stopped first): the stream ends and
    // the api exits 0 (no 30 s grace wait).
    await worker.stop();
    const held = (await api.submit(files, { frames: 5, width: 64, height: 64 }, { expect: 202 })).json.id;
    const stream = readEvents(api, held, { untilMs: 60000 });
    await sleep(800);
    const t0 = Date.now();
    const exit = api.proc.stop();
    const cut = await stream;
    t.check(cut.ended, 'SIGTERM: the stream should end, not hang');
    await exit;
    const took = Date.now() - t0;
    t.log(`api stopped ${took} ms after SIGTERM with a stream open`);
    t.check(took < 20000, `SIGTERM with an event stream open: expected the api to stop before its 30 s grace, took ${took} ms`);
});
