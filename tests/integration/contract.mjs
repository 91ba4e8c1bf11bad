// contract.mjs — openapi.yaml as a response checker. Loads the document once, compiles its
// schemas with Ajv (JSON Schema 2020-12, the dialect of OpenAPI 3.1) and answers one question:
// does this HTTP response (method, path, status, headers, body) match what the document says?
//
// Route matching follows the document's path templates; a parameter marked
// `x-morphd-matches-slash: true` may span one '/' (artifact names such as frames/0000_x.png).
// A path that matches no template must be the NotFound response, a known path asked with an
// undocumented method must be MethodNotAllowed (info.description says so). The answers of the
// request-head checks may come from any path and method: 414 is UriTooLong, 431
// HeadersTooLarge, and a 400 where the operation documents none is MalformedRequest.
//
// Used by harness.mjs for every response of every test, and by selftest.mjs on hand-written
// bodies. Pure: no I/O beyond reading openapi.yaml at load time.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import YAML from 'yaml';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

const here = path.dirname(fileURLToPath(import.meta.url));
export const OPENAPI_PATH = process.env.MORPHD_OPENAPI || path.resolve(here, '../../openapi.yaml');
const DOC_ID = 'https://morphd.invalid/openapi.yaml';
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

// RFC 6901 escaping of one reference token.
const esc = (s) => String(s).replace(/~/g, '~0').replace(/\//g, '~1');
const unesc = (s) => s.replace(/~1/g, '/').replace(/~0/g, '~');
export const pointer = (tokens) => '#/' + tokens.map(esc).join('/');

function lookup(doc, ref) {
    if (!ref.startsWith('#/')) throw new Error(`only local $refs are supported, not ${ref}`);
    let node = doc;
    for (const tok of ref.slice(2).split('/').map(unesc)) {
        if (node === undefined || node === null) break;
        node = node[tok];
    }
    if (node === undefined) throw new Error(`$ref ${ref} does not resolve`);
    return node;
}

// Follows OpenAPI-level $refs (responses, headers, parameters); returns [object, pointer].
function deref(doc, obj, ptr) {
    const seen = new Set();
    while (obj && typeof obj === 'object' && typeof obj.$ref === 'string') {
        if (seen.has(obj.$ref)) throw new Error(`$ref cycle at ${obj.$ref}`);
        seen.add(obj.$ref);
        ptr = obj.$ref;
        obj = lookup(doc, obj.$ref);
    }
    return [obj, ptr];
}

// Media type without parameters, lower case, and its parameters as a map.
export function parseMediaType(text) {
    const [type, ...params] = String(text || '').split(';');
    const map = {};
    for (const p of params) {
        const eq = p.indexOf('=');
        if (eq > 0) map[p.slice(0, eq).trim().toLowerCase()] = p.slice(eq + 1).trim().replace(/^"|"$/g, '');
    }
    return { type: type.trim().toLowerCase(), params: map };
}

// The documented media-type key that an actual Content-Type satisfies: same type/subtype (or a
// wildcard), and every parameter the document names with the same value.
function matchMediaType(contentKeys, actual) {
    const a = parseMediaType(actual);
    let best = null;
    for (const key of contentKeys) {
        const d = parseMediaType(key);
        const [dt, ds] = d.type.split('/');
        const [at, as] = a.type.split('/');
        if (!(dt === '*' || dt === at) || !(ds === '*' || ds === as)) continue;
        if (!Object.entries(d.params).every(([k, v]) => a.params[k] === v)) continue;
        const score = (dt === '*' ? 0 : 2) + (ds === '*' ? 0 : 1) + Object.keys(d.params).length * 4;
        if (!best || score > best.score) best = { key, score };
    }
    return best ? best.key : null;
}

export class Contract {
    constructor(file = OPENAPI_PATH) {
        this.file = file;
        this.doc = YAML.parse(readFileSync(file, 'utf8'));
        this.ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true });
        addFormats(this.ajv);
        this.ajv.addSchema(this.doc, DOC_ID);
        this.validators = new Map();
        this.routes = Object.keys(this.doc.paths || {}).map((template) => this.compileRoute(template));
    }

    compileRoute(template) {
        const item = this.doc.paths[template];
        const params = {};
        for (const p of item.parameters || []) {
            const [obj] = deref(this.doc, p);
            if (obj.in === 'path') params[obj.name] = obj;
        }
        const names = [];
        const source = template.split(/(\{[^}]+\})/).map((part) => {
            const m = /^\{([^}]+)\}$/.exec(part);
            if (!m) return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
            names.push(m[1]);
            const p = params[m[1]];
            return p && p['x-morphd-matches-slash'] ? '(.+)' : '([^/]+)';
        }).join('');
        return { template, regex: new RegExp(`^${source}$`), names, item };
    }

    // The route a request path belongs to: { template, params, item } or null.
    match(urlPath) {
        const p = urlPath.split('?')[0];
        // Literal segments first (/jobs/{id}/cancel before /jobs/{id}/artifacts/{name}).
        const hits = [];
        for (const r of this.routes) {
            const m = r.regex.exec(p);
            if (!m) continue;
            const params = {};
            r.names.forEach((n, i) => { params[n] = m[i + 1]; });
            hits.push({ template: r.template, params, item: r.item, literal: r.template.replace(/\{[^}]+\}/g, '').length });
        }
        hits.sort((a, b) => b.literal - a.literal);
        return hits[0] || null;
    }

    schemaValidator(ptr) {
        let v = this.validators.get(ptr);
        if (!v) {
            v = this.ajv.compile({ $ref: DOC_ID + ptr });
            this.validators.set(ptr, v);
        }
        return v;
    }

    // Validates a JSON value against the schema at a pointer into the document
    // ('#/components/schemas/Job'). Returns [] or a list of error strings.
    validateValue(ptr, value) {
        const v = this.schemaValidator(ptr);
        if (v(value)) return [];
        return v.errors.map((e) => `${e.instancePath || '(root)'} ${e.message}` +
            `${e.params && Object.keys(e.params).length ? ' ' + JSON.stringify(e.params) : ''}` +
            ` (schema ${e.schemaPath})`);
    }

    // Checks one response. method: 'GET'...; urlPath: '/jobs/...'; headers: a Headers-like
    // object with get(); body: Buffer. Returns { ok, errors: [...], operation, schemaPointer }.
    checkResponse(method, urlPath, status, headers, body) {
        const errors = [];
        const m = method.toLowerCase();
        const route = this.match(urlPath);
        let responsePtr;
        let responseObj;
        let operation;
        const anyPath = { 414: 'UriTooLong', 431: 'HeadersTooLarge' }[status];
        if (anyPath) {
            operation = `(request head) ${method} ${urlPath}`;
            [responseObj, responsePtr] = deref(this.doc, { $ref: `#/components/responses/${anyPath}` });
        } else if (!route) {
            operation = `(no route) ${method} ${urlPath}`;
            if (status !== 404) errors.push(`no route in openapi.yaml matches ${urlPath}, so the answer must be 404, not ${status}`);
            [responseObj, responsePtr] = deref(this.doc, { $ref: '#/components/responses/NotFound' });
        } else if (!route.item[m]) {
            operation = `(no method) ${method} ${route.template}`;
            const allowed = METHODS.filter((x) => route.item[x]).map((x) => x.toUpperCase());
            if (status !== 405) errors.push(`${route.template} has no ${method} (it has ${allowed.join(', ')}), so the answer must be 405, not ${status}`);
            [responseObj, responsePtr] = deref(this.doc, { $ref: '#/components/responses/MethodNotAllowed' });
        } else {
            operation = `${method} ${route.template}`;
            const op = route.item[m];
            const basePtr = pointer(['paths', route.template, m, 'responses', String(status)]);
            const declared = op.responses[String(status)] ?? op.responses[`${String(status)[0]}XX`] ?? op.responses.default ??
                (status === 400 ? { $ref: '#/components/responses/MalformedRequest' } : undefined);
            if (!declared) {
                errors.push(`${operation}: status ${status} is not documented (documented: ${Object.keys(op.responses).join(', ')})`);
                return { ok: false, errors, operation, schemaPointer: basePtr };
            }
            [responseObj, responsePtr] = deref(this.doc, declared, basePtr);
        }

        // Headers the response object marks required.
        for (const [name, h] of Object.entries(responseObj.headers || {})) {
            const [hobj, hptr] = deref(this.doc, h, `${responsePtr}/headers/${esc(name)}`);
            const value = headers.get(name);
            if (value === null || value === undefined) {
                if (hobj.required) errors.push(`header ${name} is required (${hptr})`);
                continue;
            }
            if (hobj.schema) {
                const sptr = hobj.$ref ? `${hptr}/schema` : `${hptr}/schema`;
                for (const e of this.validateValue(sptr, value)) errors.push(`header ${name}: ${value}: ${e}`);
            }
        }

        const contentKeys = Object.keys(responseObj.content || {});
        const ctype = headers.get('content-type');
        let schemaPointer = null;
        if (contentKeys.length === 0) {
            if (body && body.length > 0) errors.push(`${operation} ${status}: the document says no body, got ${body.length} bytes (${ctype})`);
        } else {
            const key = ctype ? matchMediaType(contentKeys, ctype) : null;
            if (!key) {
                errors.push(`${operation} ${status}: Content-Type ${ctype ?? '(none)'} is none of ${contentKeys.join(', ')}`);
            } else {
                const media = responseObj.content[key];
                schemaPointer = `${responsePtr}/content/${esc(key)}/schema`;
                const isJson = /(^|[/+])json$/.test(parseMediaType(key).type);
                if (isJson && media.schema) {
                    let value;
                    try {
                        value = JSON.parse(body.toString('utf8'));
                    } catch (e) {
                        errors.push(`${operation} ${status}: body is not JSON (${e.message})`);
                    }
                    if (value !== undefined) {
                        for (const e of this.validateValue(schemaPointer, value)) errors.push(e);
                    }
                } else if (media.schema && media.schema.type === 'string' && /^text\//.test(parseMediaType(key).type)) {
                    // Text must at least be UTF-8.
                    try {
                        new TextDecoder('utf-8', { fatal: true }).decode(body);
                    } catch {
                        errors.push(`${operation} ${status}: ${key} body is not UTF-8`);
                    }
                }
            }
        }
        return { ok: errors.length === 0, errors, operation, schemaPointer: schemaPointer || responsePtr };
    }

    // Every (path template, method, status) the document has, for coverage reports.
    operations() {
        const out = [];
        for (const [template, item] of Object.entries(this.doc.paths)) {
            for (const m of METHODS) {
                if (!item[m]) continue;
                for (const status of Object.keys(item[m].responses || {})) out.push(`${m.toUpperCase()} ${template} ${status}`);
            }
        }
        return out;
    }
}

let shared;
export function contract() {
    if (!shared) shared = new Contract();
    return shared;
}
