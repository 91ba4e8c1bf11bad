// harness.mjs — what every integration test uses: a private redis-server, `morphd api` and
// `morphd worker` processes on free ports with their own temp folder, an HTTP client whose
// every answer is checked against openapi.yaml, and teardown that stops every process it
// started, whatever happens.
//
// A test is `run(name, async (t) => { ... })`. It exits 0 (pass), 1 (fail) or 77 (skip: no
// redis-server, no morphd binary, no test data). Environment (set by tests/CMakeLists.txt):
//   MORPHD_BIN        build/morphd (api and worker)          MORPH_BIN   build/morph
//   MORPHD_DATA       ../shared/data                         MORPHD_TEST_TMP  scratch root
//   MORPHD_TEST_ENGINE  engine for workers and `morph run` (default cpu, so frames compare)
//   MORPHD_TEST_KEEP=1  keep the temp folder even when the test passes
//   MORPHD_TEST_DEADLINE_S  whole-test deadline (default 840, under the ctest TIMEOUT)
//
// Process model: children are spawned in their own process group with stdout/stderr in
// TMP/<name>.log. A process that dies without being asked fails the test (unless marked
// mayDie); one asked to stop with SIGTERM must exit 0 (docs/server.md), which is also how an
// ASan build's leak report fails the test. On any exit path, 'exit' SIGKILLs what is left.
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { contract } from './contract.mjs';
import { parsePrometheus } from './prom.mjs';

export { sleep };
export const SKIP = 77;
export const TERMINAL = new Set(['succeeded', 'failed', 'canceled']);

export class Skip extends Error {}
export class Failure extends Error {}

const children = new Set(); // live Proc objects
const ENGINE = process.env.MORPHD_TEST_ENGINE || 'cpu';
// MORPHD_TEST_STORAGE=s3: apis and workers started without an explicit storage URL use s3://
// on an s3rver (npm) that the test starts, so the same tests run on both backends.
const STORAGE_KIND = process.env.MORPHD_TEST_STORAGE === 's3' ? 's3' : 'file';
export const S3RVER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'node_modules', 's3rver', 'bin', 's3rver.js');
export const SLOW = /asan|tsan|sanitize/i.test(`${process.env.MORPHD_BIN}${process.env.MORPHD_BIN_DEFAULT}`) ? 3 : 1; // ASan, TSan: more patience
// The ThreadSanitizer build (build-tsan, make test-tsan): tests may choose smaller jobs there.
export const TSAN = /tsan/i.test(`${process.env.MORPHD_BIN}${process.env.MORPHD_BIN_DEFAULT}`);

// ---- Small utilities ----

export function which(cmd) {
    for (const dir of (process.env.PATH || '').split(':')) {
        const p = path.join(dir || '.', cmd);
        try {
            fs.accessSync(p, fs.constants.X_OK);
            return p;
        } catch {
            /* next */
        }
    }
    return null;
}

export function portOpen(port) {
    return new Promise((resolve) => {
        const s = net.connect(port, '127.0.0.1');
        s.on('connect', () => {
            s.destroy();
            resolve(true);
        });
        s.on('error', () => resolve(false));
    });
}

export function freePort() {
    return new Promise((resolve, reject) => {
        const srv = net.createServer();
        srv.unref();
        srv.on('error', reject);
        srv.listen(0, '127.0.0.1', () => {
            const { port } = srv.address();
            srv.close(() => resolve(port));
        });
    });
}

function tail(file, lines = 40) {
    try {
        const text = fs.readFileSync(file, 'utf8');
        return text.split('\n').slice(-lines).join('\n');
    } catch {
        return '(no log)';
    }
}

export function truncate(text, n = 2000) {
    text = String(text);
    return text.length > n ? `${text.slice(0, n)}... (${text.length} chars)` : text;
}

// ---- Processes ----

export class Proc {
    constructor(name, cmd, args, { dir, env = {}, mayDie = false } = {}) {
        this.name = name;
        this.cmd = cmd;
        this.args = args;
        this.log = path.join(dir, `${name}.log`);
        this.mayDie = mayDie;
        this.stopping = false;
        const fd = fs.openSync(this.log, 'a');
        fs.writeSync(fd, `$ ${cmd} ${args.map((a) => (a === '' ? "''" : a)).join(' ')}\n`);
        this.child = spawn(cmd, args, {
            stdio: ['ignore', fd, fd],
            env: { ...process.env, ...env },
            detached: true, // own process group: a kill reaches what it forks
        });
        fs.closeSync(fd);
        this.pid = this.child.pid;
        this.exited = new Promise((resolve) => {
            this.child.on('exit', (code, signal) => {
                this.code = code;
                this.signal = signal;
                children.delete(this);
                resolve({ code, signal });
            });
            this.child.on('error', (e) => {
                this.code = -1;
                this.spawnError = e;
                children.delete(this);
                resolve({ code: -1, signal: null });
            });
        });
        children.add(this);
    }

    get alive() {
        return this.code === undefined;
    }

    describeExit() {
        if (this.spawnError) return `could not start: ${this.spawnError.message}`;
        return this.signal ? `killed by ${this.signal}` : `exit code ${this.code}`;
    }

    kill(signal = 'SIGKILL') {
        if (!this.alive) return;
        try {
            process.kill(-this.pid, signal);
        } catch {
            try {
                this.child.kill(signal);
            } catch {
                /* gone */
            }
        }
    }

    // SIGTERM and wait; returns the exit. Graceful exits must be 0 (server.md).
    async stop(timeoutMs = 15000 * SLOW) {
        if (!this.alive) return { code: this.code, signal: this.signal };
        this.stopping = true;
        this.kill('SIGTERM');
        const timer = sleep(timeoutMs).then(() => 'timeout');
        const r = await Promise.race([this.exited, timer]);
        if (r === 'timeout') {
            this.kill('SIGKILL');
            await this.exited;
            throw new Failure(`${this.name} did not exit within ${timeoutMs} ms of SIGTERM; log ${this.log}:\n${tail(this.log)}`);
        }
        if (r.code !== 0) throw new Failure(`${this.name} exited with ${this.describeExit()} after SIGTERM (expected 0); log ${this.log}:\n${tail(this.log)}`);
        return r;
    }

    // kill -9, as a crash.
    async crash() {
        this.mayDie = true;
        this.kill('SIGKILL');
        await this.exited;
    }
}

function killAllNow() {
    for (const p of children) p.kill('SIGKILL');
}
process.on('exit', killAllNow);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(sig, () => {
        killAllNow();
        process.exit(1);
    });
}

// ---- HTTP ----

function headersOf(obj) {
    const map = new Map(Object.entries(obj).map(([k, v]) => [k.toLowerCase(), Array.isArray(v) ? v.join(', ') : v]));
    return { get: (k) => map.get(k.toLowerCase()) ?? null, entries: () => map.entries() };
}

// A raw HTTP/1.1 exchange over a socket, for requests fetch will not send as written (dot
// segments, %2F, bodies the server cuts off). body: Buffer | Buffer[] | null. Returns the same
// shape as request().
export function rawHttp(port, method, target, { headers = {}, body = null, chunked = false, timeoutMs = 30000 } = {}) {
    return new Promise((resolve, reject) => {
        const sock = net.connect(port, '127.0.0.1');
        const chunks = [];
        let done = false;
        const finish = (err) => {
            if (done) return;
            done = true;
            clearTimeout(timer);
            sock.destroy();
            const buf = Buffer.concat(chunks);
            if (buf.length === 0) return reject(err || new Error('connection closed without a response'));
            try {
                resolve(parseRawResponse(buf));
            } catch (e) {
                reject(new Error(`${e.message} (raw: ${truncate(buf.toString('latin1'), 400)})`));
            }
        };
        const timer = setTimeout(() => finish(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
        sock.on('data', (d) => {
            chunks.push(d);
            const buf = Buffer.concat(chunks);
            try {
                const r = parseRawResponse(buf, true);
                if (r) finish();
            } catch {
                /* incomplete */
            }
        });
        sock.on('end', () => finish());
        sock.on('error', (e) => finish(e)); // EPIPE/ECONNRESET after an early answer is fine
        sock.on('connect', async () => {
            const h = { Host: `127.0.0.1:${port}`, Connection: 'close', ...headers };
            const parts = body === null ? [] : Array.isArray(body) ? body : [body];
            if (body !== null && !chunked && h['Content-Length'] === undefined) h['Content-Length'] = String(parts.reduce((n, b) => n + b.length, 0));
            if (chunked) h['Transfer-Encoding'] = 'chunked';
            let head = `${method} ${target} HTTP/1.1\r\n`;
            for (const [k, v] of Object.entries(h)) if (v !== undefined) head += `${k}: ${v}\r\n`; // undefined: leave it out
            sock.write(`${head}\r\n`);
            for (const b of parts) {
                if (done || sock.destroyed) break;
                // All three writes of a chunk, always: a short-circuit on back-pressure would
                // leave out the data and its CRLF and send malformed chunked encoding.
                const ok = chunked ? [sock.write(`${b.length.toString(16)}\r\n`), sock.write(b), sock.write('\r\n')].every(Boolean) : sock.write(b);
                if (!ok) await new Promise((r) => sock.once('drain', r).once('close', r));
            }
            if (chunked && !done && !sock.destroyed) sock.write('0\r\n\r\n');
        });
    });
}

// Parses one HTTP/1.1 response; with partial=true returns null while incomplete.
export function parseRawResponse(buf, partial = false) {
    const end = buf.indexOf('\r\n\r\n');
    if (end < 0) {
        if (partial) return null;
        throw new Error('no end of headers');
    }
    const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0]);
    if (!m) throw new Error(`bad status line ${lines[0]}`);
    const hdr = {};
    for (const l of lines.slice(1)) {
        const i = l.indexOf(':');
        const k = l.slice(0, i).trim().toLowerCase();
        hdr[k] = hdr[k] ? `${hdr[k]}, ${l.slice(i + 1).trim()}` : l.slice(i + 1).trim();
    }
    let body = buf.subarray(end + 4);
    if (hdr['content-length'] !== undefined) {
        const n = Number(hdr['content-length']);
        if (body.length < n) {
            if (partial) return null;
            throw new Error(`body has ${body.length} of ${n} bytes`);
        }
        body = body.subarray(0, n);
    } else if (/chunked/i.test(hdr['transfer-encoding'] || '')) {
        const out = [];
        let p = 0;
        for (;;) {
            const nl = body.indexOf('\r\n', p);
            if (nl < 0) {
                if (partial) return null;
                throw new Error('truncated chunked body');
            }
            const size = parseInt(body.subarray(p, nl).toString('latin1'), 16);
            if (size === 0) break;
            if (body.length < nl + 2 + size) {
                if (partial) return null;
                throw new Error('truncated chunk');
            }
            out.push(body.subarray(nl + 2, nl + 2 + size));
            p = nl + 2 + size + 2;
        }
        body = Buffer.concat(out);
    } else if (partial) {
        return null; // until close
    }
    return { status: Number(m[1]), headers: headersOf(hdr), body };
}

// ---- The test context ----

export class Test {
    constructor(name) {
        this.name = name;
        this.failures = [];
        this.notes = [];
        this.responses = []; // every checked response, for the record
        this.procs = [];
        const root = process.env.MORPHD_TEST_TMP || os.tmpdir();
        fs.mkdirSync(root, { recursive: true });
        this.dir = fs.mkdtempSync(path.join(root, `${name}-`));
        this.env = {
            morphd: process.env.MORPHD_BIN || (process.env.MORPHD_BIN_DEFAULT && fs.existsSync(process.env.MORPHD_BIN_DEFAULT) ? process.env.MORPHD_BIN_DEFAULT : null),
            morph: process.env.MORPH_BIN || null,
            data: process.env.MORPHD_DATA || null,
        };
    }

    // ---- Assertions ----
    log(msg) {
        console.log(`[${this.name}] ${msg}`);
    }
    note(msg) {
        this.notes.push(msg);
        this.log(`note: ${msg}`);
    }
    // Records a failure and carries on.
    check(cond, msg) {
        if (!cond) {
            this.failures.push(msg);
            console.error(`[${this.name}] FAIL: ${msg}`);
        }
        return !!cond;
    }
    // Fails and stops the test.
    assert(cond, msg) {
        if (!cond) throw new Failure(msg);
    }
    skip(msg) {
        throw new Skip(msg);
    }

    requireMorphd() {
        if (!this.env.morphd || !fs.existsSync(this.env.morphd)) this.skip(`MORPHD_BIN (${this.env.morphd}) is not there: the server is not built`);
        return this.env.morphd;
    }
    requireMorph() {
        if (!this.env.morph || !fs.existsSync(this.env.morph)) this.skip(`MORPH_BIN (${this.env.morph}) is not there`);
        return this.env.morph;
    }
    // A path under MORPHD_DATA, or skip (optional: null instead).
    data(rel, { optional = false } = {}) {
        const p = this.env.data ? path.join(this.env.data, rel) : null;
        if (p && fs.existsSync(p)) return p;
        if (optional) return null;
        this.skip(`test data ${rel} is not here (MORPHD_DATA=${this.env.data})`);
    }
    mkdir(name) {
        const d = path.join(this.dir, name);
        fs.mkdirSync(d, { recursive: true });
        return d;
    }

    // An --api-keys file for keys {owner: key}: lines 'owner:sha256:<hex of the key>', the
    // server's format (it keeps hashes, not keys). Returns its path.
    keysFile(keys, name = 'keys.txt') {
        const lines = Object.entries(keys).map(([owner, key]) => `${owner}:sha256:${crypto.createHash('sha256').update(key).digest('hex')}`);
        const p = path.join(this.dir, name);
        fs.writeFileSync(p, `# test keys\n${lines.join('\n')}\n`);
        return p;
    }

    // ---- Processes ----
    spawn(name, cmd, args, opts = {}) {
        const p = new Proc(name, cmd, args, { dir: this.dir, ...opts });
        this.procs.push(p);
        return p;
    }

    // A redis-server on a free port with AOF on, in its own folder. args: more redis-server
    // options (e.g. ['--appendfsync', 'always']); restartRedis starts it again with them.
    async startRedis({ args = [] } = {}) {
        const bin = which('redis-server');
        if (!bin) this.skip('redis-server is not installed (apt-get install redis-server)');
        for (let attempt = 0; attempt < 5; attempt++) {
            const port = await freePort();
            const dir = this.mkdir(`redis-${port}`);
            const redis = { port, url: `redis://127.0.0.1:${port}`, proc: null, dir, bin, args };
            redis.proc = this.spawn(`redis-${port}`, bin, redisArgv(redis), { mayDie: true });
            if (await this.redisUp(redis, 10000)) return redis;
            redis.proc.kill('SIGKILL');
            await redis.proc.exited;
            if (!/in use/i.test(tail(redis.proc.log))) throw new Failure(`redis-server did not start on port ${port}:\n${tail(redis.proc.log)}`);
        }
        throw new Failure('redis-server: no free port after 5 attempts');
    }

    // Starts redis-server again on the same port and folder (so it loads its AOF) after
    // redis.proc stopped or crashed; redis.proc is the new process. Ready once PING answers
    // PONG, which Redis does only after loading the data.
    async restartRedis(redis) {
        this.assert(!redis.proc.alive, `restartRedis: ${redis.proc.name} (pid ${redis.proc.pid}) is still running`);
        redis.proc = this.spawn(`redis-${redis.port}`, redis.bin, redisArgv(redis), { mayDie: true });
        if (await this.redisUp(redis, 20000 * SLOW)) return redis;
        throw new Failure(`redis-server did not start again on port ${redis.port} (${redis.proc.alive ? 'no PONG' : redis.proc.describeExit()}):\n${tail(redis.proc.log)}`);
    }

    // Waits for PONG from redis.proc; true once it answers (then it may no longer die).
    async redisUp(redis, timeoutMs) {
        const deadline = Date.now() + timeoutMs;
        while (Date.now() < deadline && redis.proc.alive) {
            if (await redisPing(redis.port)) {
                redis.proc.mayDie = false;
                return true;
            }
            await sleep(50);
        }
        return false;
    }

    // Starts an s3rver (once per test) with one bucket; returns {port, env, url}: env holds
    // what morphd needs to reach it (MORPHD_S3_ENDPOINT, AWS_*), url is s3://BUCKET.
    async startS3({ bucket = 'morphd-test' } = {}) {
        if (this.s3) return this.s3;
        if (!fs.existsSync(S3RVER)) this.skip(`s3rver is not installed (${S3RVER}); run npm ci in tests/integration`);
        const dataDir = this.mkdir('s3rver');
        for (let attempt = 0; attempt < 3; attempt++) {
            const port = await freePort();
            // s3rver makes continuation tokens with DES, which OpenSSL 3 keeps in its legacy provider.
            const proc = this.spawn(`s3rver-${port}`, process.execPath, ['--openssl-legacy-provider', S3RVER, '-d', dataDir, '-a', '127.0.0.1', '-p', String(port), '--silent', '--configure-bucket', bucket], { mayDie: true });
            const deadline = Date.now() + 20000;
            while (Date.now() < deadline && proc.alive) {
                if (await portOpen(port)) {
                    proc.mayDie = false;
                    const env = { MORPHD_S3_ENDPOINT: `http://127.0.0.1:${port}`, AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1' };
                    this.s3 = { port, env, url: `s3://${bucket}`, proc, dataDir };
                    return this.s3;
                }
                await sleep(100);
            }
            if (proc.alive) proc.kill('SIGKILL');
        }
        throw new Failure('s3rver did not start');
    }

    // A test that looks into the file store itself skips on the s3 run.
    requireFileStorage(why) {
        if (STORAGE_KIND === 's3') this.skip(`MORPHD_TEST_STORAGE=s3: ${why}`);
    }

    // The env a morphd process needs for storage (the s3rver's endpoint and keys for s3://).
    storageEnv(storage, env) {
        return storage.startsWith('s3://') && this.s3 ? { ...this.s3.env, ...env } : env;
    }

    // Starts `morphd api`. limits: {name: value} → --limit name=value. Waits for /healthz.
    async startApi({ redis, storage, limits = {}, args = [], env = {}, name = 'api' } = {}) {
        const bin = this.requireMorphd();
        if (!storage) storage = STORAGE_KIND === 's3' ? `${(await this.startS3()).url}/${name}` : `file://${this.mkdir('store')}`;
        env = this.storageEnv(storage, env);
        for (let attempt = 0; attempt < 3; attempt++) {
            const port = await freePort();
            const argv = ['api', '--listen', `127.0.0.1:${port}`, '--redis', redis.url, '--storage', storage];
            for (const [k, v] of Object.entries(limits)) argv.push('--limit', `${k}=${v}`);
            argv.push(...args);
            const proc = this.spawn(`${name}-${port}`, bin, argv, { env, mayDie: true });
            const api = new Api(this, port, proc, storage);
            const deadline = Date.now() + 20000 * SLOW;
            while (Date.now() < deadline && proc.alive) {
                try {
                    const r = await fetch(`${api.base}/healthz`);
                    await r.arrayBuffer();
                    if (r.status === 200) {
                        proc.mayDie = false;
                        return api;
                    }
                } catch {
                    /* not listening yet */
                }
                await sleep(50);
            }
            if (proc.alive) {
                proc.kill('SIGKILL');
                throw new Failure(`morphd api did not answer /healthz within ${20 * SLOW} s; log ${proc.log}:\n${tail(proc.log)}`);
            }
            if (!/in use/i.test(tail(proc.log))) throw new Failure(`morphd api exited at start (${proc.describeExit()}); log ${proc.log}:\n${tail(proc.log)}`);
        }
        throw new Failure('morphd api: no free port after 3 attempts');
    }

    startWorker({ redis, storage, name = 'w1', args = [], env = {}, mayDie = false } = {}) {
        const bin = this.requireMorphd();
        const argv = ['worker', '--redis', redis.url, '--storage', storage, '--name', name, '--engine', ENGINE, ...args];
        return this.spawn(`worker-${name}`, bin, argv, { env: this.storageEnv(storage, env), mayDie });
    }

    // redis + api (+ workers), ready when /readyz says so (or /healthz without workers).
    async cluster({ workers = 1, limits = {}, apiArgs = [], workerArgs = [], workerEnv = {}, redisArgs = [] } = {}) {
        const redis = await this.startRedis({ args: redisArgs });
        const api = await this.startApi({ redis, limits, args: apiArgs });
        const ws = [];
        for (let i = 1; i <= workers; i++) ws.push(this.startWorker({ redis, storage: api.storage, name: `w${i}`, args: workerArgs, env: workerEnv }));
        if (workers > 0) await api.waitReady();
        return { redis, api, workers: ws };
    }

    // Fails the test if a process died that was not allowed to.
    checkProcs() {
        for (const p of this.procs) {
            if (!p.alive && !p.mayDie && !p.stopping) {
                p.stopping = true; // report once
                this.check(false, `${p.name} died unexpectedly (${p.describeExit()}); log ${p.log}:\n${tail(p.log)}`);
            }
        }
    }

    // Graceful stop of everything still running: workers, then apis, then redis.
    async teardown() {
        const order = (p) => (p.name.startsWith('worker') ? 0 : p.name.startsWith('api') ? 1 : p.name.startsWith('s3rver') ? 3 : 2);
        const live = this.procs.filter((p) => p.alive).sort((a, b) => order(a) - order(b));
        for (const p of live) {
            try {
                // s3rver, a node program, dies of SIGTERM instead of exiting 0: it goes last, by kill.
                if (p.name.startsWith('s3rver')) await p.crash();
                else await p.stop();
            } catch (e) {
                this.check(false, e.message);
            }
        }
    }

    // `morph run A B -o OUT` with a spec's options as flags. Asynchronous, not spawnSync: a run
    // can take minutes (under ThreadSanitizer), and a blocked event loop misses the api closing
    // fetch's idle keep-alive connections (API_IDLE_S), so the next request would be written
    // into a closed socket (EPIPE).
    // target null with targetMorph: `morph run SOURCE --target-morph T`.
    async morphRun(source, target, out, spec = {}, { sourceTexture, targetTexture, targetMorph } = {}) {
        const bin = this.requireMorph();
        const args = ['run', source, ...(target === null ? [] : [target]), '-o', out, '-q', '--engine', ENGINE, ...specToCliArgs(spec)];
        if (sourceTexture) args.push('--source-texture', sourceTexture);
        if (targetTexture) args.push('--target-texture', targetTexture);
        if (targetMorph !== undefined) args.push('--target-morph', targetMorph);
        const r = await new Promise((resolve) => {
            const child = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
            let stderr = '';
            child.stderr.setEncoding('utf8');
            child.stderr.on('data', (d) => (stderr += d));
            const timer = setTimeout(() => child.kill('SIGKILL'), 600000);
            child.on('error', (e) => {
                clearTimeout(timer);
                resolve({ status: null, stderr: e.message });
            });
            child.on('close', (status, signal) => {
                clearTimeout(timer);
                resolve({ status: status ?? signal, stderr });
            });
        });
        this.assert(r.status === 0, `morph ${args.join(' ')} failed (${r.status}):\n${r.stderr}`);
        return out;
    }

    // `morph sample DIR`, with the OBJs also copied alone into DIR/bare (no .mtl beside them),
    // so a local run sees exactly what the server gets: the OBJ and the textures as parts.
    sample() {
        const bin = this.requireMorph();
        const dir = this.mkdir('sample');
        const r = spawnSync(bin, ['sample', dir], { encoding: 'utf8' });
        this.assert(r.status === 0, `morph sample failed:\n${r.stderr}`);
        const bare = this.mkdir('sample/bare');
        for (const f of ['sample_A.obj', 'sample_B.obj']) fs.copyFileSync(path.join(dir, f), path.join(bare, f));
        return {
            source: path.join(bare, 'sample_A.obj'),
            target: path.join(bare, 'sample_B.obj'),
            sourceTexture: path.join(dir, 'sample_A.png'),
            targetTexture: path.join(dir, 'sample_B.png'),
        };
    }
}

// Maps a spec to `morph run` flags (see `morph run --help`).
export function specToCliArgs(spec) {
    const a = [];
    if (spec.weights) a.push('--weights', spec.weights.join(','));
    else if (spec.frames !== undefined) a.push('--frames', String(spec.frames));
    if (spec.range) a.push('--range', spec.range.join(':'));
    if (spec.easing !== undefined) a.push('--easing', spec.easing);
    if (spec.shape_weights) a.push('--shape-weights', spec.shape_weights.join(','));
    if (spec.texture_weights) a.push('--texture-weights', spec.texture_weights.join(','));
    if (spec.width !== undefined || spec.height !== undefined) a.push('--size', `${spec.width ?? 512}x${spec.height ?? 512}`);
    if (spec.samples !== undefined) a.push('--samples', String(spec.samples));
    if (spec.background !== undefined) a.push('--background', spec.background);
    if (spec.png_level !== undefined) a.push('--png-level', String(spec.png_level));
    const c = spec.camera;
    if (c) {
        const parts = [];
        for (const k of ['eye', 'target', 'up']) if (c[k]) parts.push(`${k}=${c[k].join(',')}`);
        for (const k of ['fov', 'near', 'far']) if (c[k] !== undefined && c[k] !== null) parts.push(`${k}=${c[k]}`);
        if (parts.length) a.push('--camera', parts.join(';'));
        if (c.ortho !== undefined && c.ortho !== null) a.push('--ortho', String(c.ortho));
    }
    if (spec.outputs !== undefined) a.push('--outputs', Array.isArray(spec.outputs) ? spec.outputs.join(',') || 'frames' : spec.outputs);
    for (const [k, flag] of [['align', '--align'], ['heatmap_scale', '--heatmap-scale'], ['mesh_format', '--mesh-format'], ['fps', '--fps'], ['loop', '--loop']]) {
        if (spec[k] !== undefined) a.push(flag, String(spec[k]));
    }
    if (spec.hide_materials?.length) a.push('--hide-materials', spec.hide_materials.join(','));
    return a;
}

function redisPing(port) {
    return new Promise((resolve) => {
        const s = net.connect(port, '127.0.0.1');
        let buf = '';
        const done = (v) => {
            s.destroy();
            resolve(v);
        };
        s.setTimeout(500, () => done(false));
        s.on('error', () => done(false));
        s.on('connect', () => s.write('PING\r\n'));
        s.on('data', (d) => {
            buf += d;
            if (buf.includes('\r\n')) done(buf.startsWith('+PONG'));
        });
    });
}

// The argv of a redis-server for startRedis/restartRedis: AOF on, no RDB snapshots.
function redisArgv(redis) {
    return ['--port', String(redis.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'yes', '--dir', redis.dir, '--daemonize', 'no', ...redis.args];
}

export class RedisReplyError extends Error {}

// One Redis command on its own connection (RESP2), for tests that look at the keys of
// docs/server.md: redisCall(port, 'XLEN', 'morphd:jobs') → 3. Error replies reject with a
// RedisReplyError; nested ones are RedisReplyError values in the array.
export function redisCall(port, ...args) {
    return new Promise((resolve, reject) => {
        const sock = net.connect(port, '127.0.0.1');
        let buf = Buffer.alloc(0);
        let done = false;
        const finish = (err, value) => {
            if (done) return;
            done = true;
            clearTimeout(timer);
            sock.destroy();
            if (err) reject(err);
            else if (value instanceof RedisReplyError) reject(value);
            else resolve(value);
        };
        const timer = setTimeout(() => finish(new Error(`redis ${args[0]}: no answer within 10 s`)), 10000);
        sock.on('error', (e) => finish(e));
        sock.on('end', () => finish(new Error(`redis ${args[0]}: connection closed before the reply`)));
        sock.on('connect', () => {
            const parts = [`*${args.length}\r\n`];
            for (const a of args) {
                const b = Buffer.from(String(a));
                parts.push(`$${b.length}\r\n`, b, '\r\n');
            }
            sock.write(Buffer.concat(parts.map((p) => (Buffer.isBuffer(p) ? p : Buffer.from(p)))));
        });
        sock.on('data', (d) => {
            buf = Buffer.concat([buf, d]);
            let r;
            try {
                r = parseResp(buf, 0);
            } catch (e) {
                return finish(e);
            }
            if (r) finish(null, r.value);
        });
    });
}

// Parses one RESP2 value at pos: { value, next }, or null while incomplete.
function parseResp(buf, pos) {
    const nl = buf.indexOf('\r\n', pos);
    if (nl < 0) return null;
    const type = String.fromCharCode(buf[pos]);
    const line = buf.subarray(pos + 1, nl).toString('utf8');
    const next = nl + 2;
    switch (type) {
        case '+':
            return { value: line, next };
        case '-':
            return { value: new RedisReplyError(line), next };
        case ':':
            return { value: Number(line), next };
        case '$': {
            const n = Number(line);
            if (n < 0) return { value: null, next };
            if (buf.length < next + n + 2) return null;
            return { value: buf.subarray(next, next + n).toString('utf8'), next: next + n + 2 };
        }
        case '*': {
            const n = Number(line);
            if (n < 0) return { value: null, next };
            const out = [];
            let p = next;
            for (let i = 0; i < n; i++) {
                const r = parseResp(buf, p);
                if (!r) return null;
                out.push(r.value);
                p = r.next;
            }
            return { value: out, next: p };
        }
        default:
            throw new Error(`redis: unexpected reply type ${JSON.stringify(type)}`);
    }
}

// ---- One api process and a checked HTTP client for it ----

export class Api {
    constructor(t, port, proc, storage) {
        this.t = t;
        this.port = port;
        this.proc = proc;
        this.storage = storage;
        this.base = `http://127.0.0.1:${port}`;
        this.token = null; // bearer key for every request, when set
    }

    // fetch + check against openapi.yaml. opts: method, headers, body, json (sets spec body),
    // form (FormData), validate (default true), expect (status or list; fails otherwise).
    // Returns { status, headers, body: Buffer, text, json }.
    async request(method, urlPath, opts = {}) {
        const headers = { ...(opts.headers || {}) };
        if (this.token && !Object.keys(headers).some((k) => k.toLowerCase() === 'authorization')) headers.Authorization = `Bearer ${this.token}`;
        let body = opts.body;
        if (opts.form) body = opts.form;
        if (opts.json !== undefined) {
            body = JSON.stringify(opts.json);
            headers['Content-Type'] = 'application/json';
        }
        let r;
        try {
            r = await fetch(this.base + urlPath, { method, headers, body, redirect: 'manual', signal: opts.signal });
        } catch (e) {
            this.t.checkProcs();
            throw new Failure(`${method} ${urlPath}: no answer (${e.cause?.code || e.message}); api ${this.proc.alive ? 'alive' : this.proc.describeExit()}; log:\n${tail(this.proc.log)}`);
        }
        const buf = Buffer.from(await r.arrayBuffer());
        return this.checked(method, urlPath, { status: r.status, headers: r.headers, body: buf }, opts);
    }

    // The raw-socket request (see rawHttp), checked the same way.
    async raw(method, target, opts = {}) {
        const headers = { ...(opts.headers || {}) };
        if (this.token) headers.Authorization = `Bearer ${this.token}`;
        const r = await rawHttp(this.port, method, target, { ...opts, headers });
        return this.checked(method, target, r, opts);
    }

    checked(method, urlPath, r, opts) {
        const res = { status: r.status, headers: r.headers, body: r.body, text: null, json: null };
        const ctype = r.headers.get('content-type') || '';
        if (/json|^text\//.test(ctype)) res.text = r.body.toString('utf8');
        if (/json/.test(ctype)) {
            try {
                res.json = JSON.parse(res.text);
            } catch {
                /* the contract check reports it */
            }
        }
        const pathOnly = urlPath.split('?')[0];
        if (opts.validate !== false) {
            const v = contract().checkResponse(method, pathOnly, r.status, r.headers, r.body);
            this.t.responses.push({ method, path: pathOnly, status: r.status, operation: v.operation });
            if (!v.ok) {
                throw new Failure(`response does not match openapi.yaml\n  request: ${method} ${urlPath}\n  operation: ${v.operation}\n  status: ${r.status}, Content-Type: ${ctype || '(none)'}\n  schema: ${v.schemaPointer}\n  errors:\n    ${v.errors.join('\n    ')}\n  body: ${res.text !== null ? truncate(res.text) : `(${r.body.length} bytes)`}`);
            }
        }
        if (opts.expect !== undefined) {
            const want = Array.isArray(opts.expect) ? opts.expect : [opts.expect];
            if (!want.includes(r.status)) throw new Failure(`${method} ${urlPath}: expected ${want.join(' or ')}, got ${r.status}: ${res.text !== null ? truncate(res.text) : `(${r.body.length} bytes)`}`);
        }
        return res;
    }

    get(p, o) {
        return this.request('GET', p, o);
    }

    // Submits a job: files {source: path | {name, data}, ...}, spec object or raw string.
    async submit(files, spec, opts = {}) {
        const form = new FormData();
        if (spec !== undefined) form.append('spec', typeof spec === 'string' ? spec : JSON.stringify(spec));
        // A part given as an array is sent once per item, in order (an average's 'mesh' parts).
        for (const [part, given] of Object.entries(files)) {
            for (const f of Array.isArray(given) ? given : [given]) {
                const { name, data } = typeof f === 'string' ? { name: path.basename(f), data: fs.readFileSync(f) } : f;
                form.append(part, new Blob([data], { type: 'application/octet-stream' }), name);
            }
        }
        return this.request('POST', '/jobs', { ...opts, form });
    }

    async waitReady(timeoutMs = 30000 * SLOW) {
        const deadline = Date.now() + timeoutMs;
        let last;
        while (Date.now() < deadline) {
            last = await this.get('/readyz');
            if (last.status === 200) return;
            this.t.checkProcs();
            await sleep(100);
        }
        throw new Failure(`/readyz not 200 within ${timeoutMs} ms: ${last?.status} ${truncate(last?.text)}`);
    }

    async healthy() {
        const r = await this.get('/healthz');
        this.t.check(r.status === 200, `/healthz answered ${r.status} (the server should keep serving)`);
    }

    // Polls GET /jobs/{id} until pred(job) (default: terminal). Checks Retry-After on every
    // non-terminal answer and its absence on terminal ones.
    async poll(id, { until = (j) => TERMINAL.has(j.status), timeoutMs = 300000 * SLOW, intervalMs = 100 } = {}) {
        const deadline = Date.now() + timeoutMs;
        let job;
        for (;;) {
            const r = await this.get(`/jobs/${id}`, { expect: 200 });
            job = r.json;
            const ra = r.headers.get('retry-after');
            if (TERMINAL.has(job.status)) this.t.check(ra === null, `GET /jobs/${id} is ${job.status} (terminal) but has Retry-After: ${ra}`);
            else this.t.check(ra !== null, `GET /jobs/${id} is ${job.status} but has no Retry-After`);
            if (until(job)) return job;
            if (TERMINAL.has(job.status)) throw new Failure(`job ${id} ended ${job.status} (error: ${job.error}) before the awaited condition`);
            if (Date.now() > deadline) throw new Failure(`job ${id} still ${job.status} (${JSON.stringify(job.progress)}) after ${timeoutMs} ms`);
            this.t.checkProcs();
            await sleep(intervalMs);
        }
    }

    async metrics() {
        const r = await this.get('/metrics', { expect: 200 });
        return parsePrometheus(r.text);
    }

    async artifact(id, name, opts = {}) {
        return this.get(`/jobs/${id}/artifacts/${name}`, opts);
    }
}

// ---- Running a test ----

export async function run(name, fn) {
    let t;
    let code = 0;
    const deadlineS = Number(process.env.MORPHD_TEST_DEADLINE_S || 840);
    const deadline = setTimeout(() => {
        console.error(`[${name}] FAIL: over the test deadline of ${deadlineS} s`);
        killAllNow();
        process.exit(1);
    }, deadlineS * 1000);
    deadline.unref();
    try {
        t = new Test(name);
        t.log(`temp ${t.dir}`);
        await fn(t);
        t.checkProcs();
    } catch (e) {
        if (e instanceof Skip) {
            console.log(`[${name}] SKIP: ${e.message}`);
            code = SKIP;
        } else {
            const msg = e instanceof Failure ? e.message : e.stack || String(e);
            console.error(`[${name}] FAIL: ${msg}`);
            if (t) t.failures.push(msg);
            code = 1;
        }
    }
    if (t) {
        try {
            await t.teardown();
        } catch (e) {
            t.failures.push(`teardown: ${e.message}`);
        }
        if (code !== SKIP && t.failures.length) code = 1;
        try {
            fs.writeFileSync(path.join(t.dir, 'responses.json'), JSON.stringify(t.responses, null, 1));
        } catch {
            /* best effort */
        }
        if (code === 0) {
            t.log(`PASS (${t.responses.length} responses checked against openapi.yaml)`);
            if (process.env.MORPHD_TEST_KEEP !== '1') fs.rmSync(t.dir, { recursive: true, force: true });
        } else if (code === 1) {
            console.error(`[${name}] ${t.failures.length} failure(s); logs kept in ${t.dir}`);
            for (const p of t.procs) console.error(`--- ${p.name} (${p.alive ? 'alive' : p.describeExit()}): ${p.log}\n${tail(p.log, 15)}`);
        } else {
            fs.rmSync(t.dir, { recursive: true, force: true });
        }
    }
    killAllNow();
    process.exit(code);
}
