import { randomBytes } from 'node:crypto';
import { jest } from '@jest/globals';
import pg from 'pg';
import { jetstream, jetstreamManager, type JetStreamClient } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { fingerprint, generateKey } from '@keyplane/key-format';
import { connectNats, encodeJson } from '@keyplane/nats';
import { keyIdOf, TEST_NATS_URL, usageEvent, waitFor } from '@keyplane/testing';
import { ulid } from 'ulid';
import { startStack, sleep, type Stack } from './stack.js';

// Robustness probes of every NATS request handler and every stream consumer, over a raw NATS
// connection (DESIGN §1: an invalid message gets a clear error reply, never a crash; §8: a
// consumer ignores what it does not know only after logging it). Each test asserts the
// contract, so a failing test is a finding.

jest.setTimeout(120_000);

const REPLY_WAIT_MS = 2500;
const enc = new TextEncoder();

let stack: Stack;
let nc: NatsConnection;
let js: JetStreamClient;
let db: pg.Client;
let maxPayload: number;
let admin: { key: string; id: string };
let target: { key: string; id: string };
let actor: { keyId: string; accountId: string; environment: 'live'; permissions: string[] };
const ACCOUNT = 'acc_probe';
/** Every secret this file made or sent, to look for in the logs at the end. */
const secrets: string[] = [];

beforeAll(async () => {
  stack = await startStack('nats_bad_input', { metering: {} });
  nc = await connectNats({ url: TEST_NATS_URL, name: 'nats-bad-input' });
  js = jetstream(nc);
  maxPayload = nc.info!.max_payload;
  db = new pg.Client({ connectionString: stack.databaseUrl });
  await db.connect();
  admin = await stack.createAccountAdmin(ACCOUNT);
  actor = { keyId: admin.id, accountId: ACCOUNT, environment: 'live', permissions: ['*'] };
  target = await stack.createKey({ name: 'target', permissions: ['FLOWS:READ'] }, admin.key);
  secrets.push(stack.adminKey, admin.key, target.key);
});

afterAll(async () => {
  if (process.env.NBI_DUMP && stack) (await import('node:fs')).writeFileSync(process.env.NBI_DUMP, stack.logs.text());
  await db?.end();
  await nc?.close();
  await stack?.close();
});

// ---------------------------------------------------------------------------------------------
// helpers

type Outcome = { kind: 'reply'; body: any; ms: number } | { kind: 'timeout' } | { kind: 'no-responders' } | { kind: 'error'; message: string }; // eslint-disable-line @typescript-eslint/no-explicit-any

async function raw(subject: string, bytes: Uint8Array, timeout = REPLY_WAIT_MS): Promise<Outcome> {
  const started = performance.now();
  try {
    const msg = await nc.request(subject, bytes, { timeout });
    let body: unknown = msg.string();
    try {
      body = JSON.parse(msg.string());
    } catch {
      // keep the text
    }
    return { kind: 'reply', body, ms: Math.round(performance.now() - started) };
  } catch (error) {
    const text = String((error as Error).message ?? error);
    if (/timeout/i.test(text)) return { kind: 'timeout' };
    if (/no responders|503/i.test(text)) return { kind: 'no-responders' };
    return { kind: 'error', message: text };
  }
}

const envelope = (subject: string, data: unknown, id: string | undefined = ulid()) => encodeJson({ pattern: subject, ...(id === undefined ? {} : { id }), data });

/** A one-word summary: `400: <details>`, `ok`, `timeout`... */
function summary(outcome: Outcome): string {
  if (outcome.kind !== 'reply') return outcome.kind === 'error' ? `error: ${outcome.message}` : outcome.kind;
  const response = outcome.body?.response;
  if (response?.ok === true) return 'ok';
  if (response?.ok === false) return `${response.error?.status}: ${String(response.error?.details).slice(0, 160)}`;
  if (outcome.body?.err !== undefined) return `err: ${JSON.stringify(outcome.body.err).slice(0, 160)}`;
  return `other: ${JSON.stringify(outcome.body).slice(0, 160)}`;
}

const is400 = (s: string) => s.startsWith('400: ');

function subjectsOf() {
  const s = stack.ns.subjects;
  return {
    'keys.cmd.issue': s.keys.issue,
    'keys.cmd.rotate': s.keys.rotate,
    'keys.cmd.revoke': s.keys.revoke,
    'keys.cmd.update': s.keys.update,
    'keys.query.get': s.keys.get,
    'keys.query.list': s.keys.list,
    'keys.query.audit': s.keys.audit,
    'auth.decide': s.auth.decide,
    'metering.query.usage': s.metering.usage,
    'metering.query.events': s.metering.events,
    'metering.query.alerts': s.metering.alerts,
    'metering.query.last-used': s.metering.lastUsed,
  };
}
type Name = keyof ReturnType<typeof subjectsOf>;

function decideRequest(keyHash: string, overrides: Record<string, unknown> = {}) {
  return {
    keyHash,
    permission: 'FLOWS:READ',
    method: 'GET',
    path: '/v1/flows',
    clientIp: '198.51.100.9',
    userAgent: 'probe/1.0',
    requestId: `req_${ulid()}`,
    ...overrides,
  };
}

/** A request each handler accepts (commands against `target`, which none of them changes when it is refused). */
function validRequest(name: Name): Record<string, unknown> {
  const hour = new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000).toISOString();
  switch (name) {
    case 'keys.cmd.issue':
      return { actor, name: 'probe', environment: 'live', permissions: ['FLOWS:READ'], secret: fingerprint(generateKey({ environment: 'live' }).key) };
    case 'keys.cmd.rotate':
      return { actor, keyId: target.id, gracePeriodSeconds: 0, secret: fingerprint(generateKey({ environment: 'live' }).key) };
    case 'keys.cmd.revoke':
      return { actor, keyId: target.id };
    case 'keys.cmd.update':
      return { actor, keyId: target.id, name: 'target' };
    case 'keys.query.get':
      return { actor, keyId: target.id };
    case 'keys.query.list':
      return { actor };
    case 'keys.query.audit':
      return { actor };
    case 'auth.decide':
      return decideRequest(generateKey({ environment: 'live' }).hash);
    case 'metering.query.usage':
      return { accountId: ACCOUNT, keyId: target.id, granularity: 'hour', from: hour, to: hour };
    case 'metering.query.events':
      return { accountId: ACCOUNT, keyId: target.id };
    case 'metering.query.alerts':
      return { accountId: ACCOUNT };
    case 'metering.query.last-used':
      return { accountId: ACCOUNT, keyIds: [target.id] };
  }
}

/** Sends `bytesFor(subject)` to every request subject at once; returns name -> summary. */
async function toEverySubject(bytesFor: (subject: string, name: Name) => Uint8Array): Promise<Record<string, string>> {
  const entries = Object.entries(subjectsOf()) as [Name, string][];
  const outcomes = await Promise.all(entries.map(async ([name, subject]) => [name, summary(await raw(subject, bytesFor(subject, name)))] as const));
  return Object.fromEntries(outcomes);
}

function expectAll400(results: Record<string, string>) {
  const notAnswered = Object.fromEntries(Object.entries(results).filter(([, s]) => !is400(s)));
  expect(notAnswered).toEqual({});
}

async function count(sql: string, values: unknown[] = []): Promise<number> {
  const { rows } = await db.query(sql, values);
  return Number(rows[0].n);
}

const keyRows = () => count('SELECT count(*) AS n FROM keys.api_keys');
const keyEvents = () => count('SELECT count(*) AS n FROM keys.events');

/** Every service still answers a valid request on each of its subjects. */
async function expectStillServing() {
  const get = await raw(stack.ns.subjects.keys.get, envelope(stack.ns.subjects.keys.get, { actor, keyId: target.id }), 5000);
  expect(summary(get)).toBe('ok');
  const decide = await raw(stack.ns.subjects.auth.decide, envelope(stack.ns.subjects.auth.decide, decideRequest(generateKey({ environment: 'live' }).hash)), 5000);
  expect(summary(decide)).toBe('ok');
  const lastUsed = await raw(stack.ns.subjects.metering.lastUsed, envelope(stack.ns.subjects.metering.lastUsed, { accountId: ACCOUNT, keyIds: [target.id] }), 5000);
  expect(summary(lastUsed)).toBe('ok');
  for (const service of [stack.keys, ...stack.auth]) expect((await fetch(`${service.url}/healthz`)).status).toBe(200);
}

function deep(levels: number, leaf = '0'): string {
  return '['.repeat(levels) + leaf + ']'.repeat(levels);
}

type LogLine = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const logLines = (): LogLine[] =>
  stack.logs.lines.flatMap((line) => {
    try {
      return [JSON.parse(line) as LogLine];
    } catch {
      return [];
    }
  });

// ---------------------------------------------------------------------------------------------
// 1. framing: what the Nest NATS transport sees before any handler

describe('request framing: every request subject answers a 400 promptly', () => {
  const framings: [string, (subject: string) => Uint8Array][] = [
    ['non-JSON bytes', () => enc.encode('{not json')],
    ['binary garbage (invalid UTF-8)', () => new Uint8Array([0xff, 0xfe, 0x00, 0x01, 0x80])],
    ['an empty payload', () => new Uint8Array(0)],
    ['JSON null', () => enc.encode('null')],
    ['a JSON array', () => enc.encode('[1,2,3]')],
    ['a JSON string', () => enc.encode('"hello"')],
    ['a JSON number', () => enc.encode('42')],
    ['an empty JSON object (no envelope)', () => enc.encode('{}')],
    ['a Nest envelope without `data`', (subject) => encodeJson({ pattern: subject, id: ulid() })],
    ['a Nest envelope without `id`', (subject) => encodeJson({ pattern: subject, data: { hello: 1 } })],
    ['a Nest envelope with `data: null`', (subject) => envelope(subject, null)],
    ['a Nest envelope with `data` a string', (subject) => envelope(subject, 'x')],
    ['a Nest envelope with `data` a number', (subject) => envelope(subject, 1e308)],
    ['a Nest envelope with `data` an array', (subject) => envelope(subject, [{}])],
    ['a Nest envelope with `data` {}', (subject) => envelope(subject, {})],
    ['a Nest envelope whose `data` is nested 100,000 arrays deep', (subject) => enc.encode(`{"pattern":${JSON.stringify(subject)},"id":"deep","data":${deep(100_000)}}`)],
  ];

  it.each(framings)('%s', async (_what, bytesFor) => {
    expectAll400(await toEverySubject(bytesFor));
  });

  // An envelope without `data` is a request all the same: its handler answers 400, as for any bad field.
  const notRequests = framings.slice(0, 10).filter(([what]) => what !== 'a Nest envelope without `data`');

  it.each(notRequests)('never silently: %s leaves a warning in the log', async (_what, bytesFor) => {
    const subject = stack.ns.subjects.keys.get;
    const mark = stack.logs.lines.length;
    await raw(subject, bytesFor(subject), 1000);
    await sleep(200);
    const logged = stack.logs.lines.slice(mark).map((l) => JSON.parse(l)).filter((l) => l.level >= 40);
    expect(logged.map((l) => l.msg)).not.toEqual([]);
  });

  it('still serves after all of that, and stored nothing', async () => {
    await expectStillServing();
  });
});

describe('a message that is not a Nest request is answered 400 and not carried out', () => {
  it('keys.cmd.issue: a bare, valid IssueKeyRequest issues no key', async () => {
    const before = await keyRows();
    const outcome = await raw(stack.ns.subjects.keys.issue, encodeJson(validRequest('keys.cmd.issue')));
    await sleep(300);
    // A key issued with no answer would be a key nobody holds, issued again on the caller's retry.
    expect({ reply: summary(outcome), keysIssued: (await keyRows()) - before }).toEqual({ reply: '400: the message is not a request: it has no "id"', keysIssued: 0 });
  });

  it('auth.decide: a Nest envelope without `id` counts no quota', async () => {
    const used = () => count("SELECT coalesce(sum(used), 0) AS n FROM auth.quota_windows WHERE key_id = $1 AND period = 'hour'", [target.id]);
    // Warm up: the key is known to both replicas and its window row exists.
    const hash = generateKeyHash(target.key);
    for (let i = 0; i < 2; i++) await raw(stack.ns.subjects.auth.decide, envelope(stack.ns.subjects.auth.decide, decideRequest(hash)));
    const before = await used();
    const subject = stack.ns.subjects.auth.decide;
    const outcome = await raw(subject, encodeJson({ pattern: subject, data: decideRequest(hash) }));
    await sleep(1500); // leases go back after 1 s idle
    expect({ reply: summary(outcome), counted: (await used()) - before }).toEqual({ reply: '400: the message is not a request: it has no "id"', counted: 0 });
  });
});

function generateKeyHash(secret: string): string {
  return fingerprint(secret).secretHash;
}

// ---------------------------------------------------------------------------------------------
// 2. fields: wrong types, unknown fields, extreme values

describe('fields: every handler names the bad field with a 400', () => {
  it('an unknown field on an otherwise valid request', async () => {
    const results = await toEverySubject((subject, name) => envelope(subject, { ...validRequest(name), extra: 1 }));
    expect(results).toEqual(Object.fromEntries(Object.keys(subjectsOf()).map((name) => [name, '400: Unrecognized key: "extra"'])));
  });

  it('every field of the wrong type (objects replaced by strings, strings by objects)', async () => {
    const results = await toEverySubject((subject, name) => {
      const request = validRequest(name);
      const [first] = Object.keys(request);
      return envelope(subject, { ...request, [first]: { nested: ['x'] } });
    });
    expectAll400(results);
    for (const [name, s] of Object.entries(results)) expect([name, s]).toEqual([name, expect.stringMatching(/^400: [a-zA-Z.\[\]0-9]+: /)]);
  });

  it('a field nested 100,000 arrays deep', async () => {
    const results = await toEverySubject((subject, name) => {
      const request = validRequest(name);
      const [first] = Object.keys(request);
      const text = JSON.stringify({ pattern: subject, id: 'deep', data: { ...request, [first]: '__DEEP__' } });
      return enc.encode(text.replace('"__DEEP__"', deep(100_000)));
    });
    expectAll400(results);
  });

  it('numbers out of range: 1e308, 1e400 (Infinity once parsed), -0.5, 2^63', async () => {
    const k = stack.ns.subjects.keys;
    const m = stack.ns.subjects.metering;
    const cases: [string, Uint8Array][] = [
      ['issue rateLimits.hour 1e308', envelope(k.issue, { ...validRequest('keys.cmd.issue'), rateLimits: { hour: 1e308 } })],
      ['issue rateLimits.day 1e400', enc.encode(JSON.stringify({ pattern: k.issue, id: 'n', data: { ...validRequest('keys.cmd.issue'), rateLimits: { day: '__N__' } } }).replace('"__N__"', '1e400'))],
      ['update rateLimits.hour 9223372036854775808', enc.encode(JSON.stringify({ pattern: k.update, id: 'n', data: { actor, keyId: target.id, rateLimits: { hour: '__N__' } } }).replace('"__N__"', '9223372036854775808'))],
      ['rotate gracePeriodSeconds -0.5', envelope(k.rotate, { ...validRequest('keys.cmd.rotate'), gracePeriodSeconds: -0.5 })],
      ['rotate gracePeriodSeconds 1e308', envelope(k.rotate, { ...validRequest('keys.cmd.rotate'), gracePeriodSeconds: 1e308 })],
      ['list limit 1e308', envelope(k.list, { actor, limit: 1e308 })],
      ['audit limit -1e400', enc.encode(JSON.stringify({ pattern: k.audit, id: 'n', data: { actor, limit: '__N__' } }).replace('"__N__"', '-1e400'))],
      ['events limit 1.5', envelope(m.events, { ...validRequest('metering.query.events'), limit: 1.5 })],
      ['alerts limit 1e400', enc.encode(JSON.stringify({ pattern: m.alerts, id: 'n', data: { accountId: ACCOUNT, limit: '__N__' } }).replace('"__N__"', '1e400'))],
    ];
    const results = Object.fromEntries(await Promise.all(cases.map(async ([what, bytes]) => [what, summary(await raw(subjectOfCase(what), bytes))] as const)));
    expectAll400(results);
  });

  it('timestamps at and past the storable range', async () => {
    const m = stack.ns.subjects.metering;
    const k = stack.ns.subjects.keys;
    const cases: [string, string, unknown][] = [
      ['usage from year 0000', m.usage, { ...validRequest('metering.query.usage'), from: '0000-01-01T00:00:00Z' }],
      ['usage to +275760', m.usage, { ...validRequest('metering.query.usage'), to: '+275760-09-13T00:00:00Z' }],
      ['events from 9999-12-31T23:59:59-23:59', m.events, { ...validRequest('metering.query.events'), from: '9999-12-31T23:59:59-23:59' }],
      ['audit from with a 1000-digit fraction', k.audit, { actor, from: `2026-01-01T00:00:00.${'9'.repeat(1000)}Z` }],
      ['alerts since 2026-02-30', m.alerts, { accountId: ACCOUNT, since: '2026-02-30T00:00:00Z' }],
    ];
    const results = Object.fromEntries(await Promise.all(cases.map(async ([what, subject, data]) => [what, summary(await raw(subject, envelope(subject, data)))] as const)));
    expectAll400(results);
  });
});

function subjectOfCase(what: string): string {
  const k = stack.ns.subjects.keys;
  const m = stack.ns.subjects.metering;
  const verb = what.split(' ')[0];
  return ({ issue: k.issue, update: k.update, rotate: k.rotate, list: k.list, audit: k.audit, events: m.events, alerts: m.alerts } as Record<string, string>)[verb];
}

describe('NUL characters and lone surrogates', () => {
  const NUL = '\u0000';
  const LONE = '\uD800';

  it.each([
    ['last4 with a NUL', (fp: ReturnType<typeof fingerprint>) => ({ ...fp, last4: `ab${NUL}c` }), 'secret.last4'],
    ['last4 with a lone surrogate', (fp: ReturnType<typeof fingerprint>) => ({ ...fp, last4: `ab${LONE}c` }), 'secret.last4'],
    ['displayPrefix with a NUL', (fp: ReturnType<typeof fingerprint>) => ({ ...fp, displayPrefix: `tv_live_${NUL}` }), 'secret.displayPrefix'],
    ['displayPrefix with a lone surrogate', (fp: ReturnType<typeof fingerprint>) => ({ ...fp, displayPrefix: `tv_live_a${LONE}` }), 'secret.displayPrefix'],
  ])('keys.cmd.issue: a secret fingerprint whose %s is a 400 naming it, and stores nothing', async (_what, change, field) => {
    const before = await keyEvents();
    const subject = stack.ns.subjects.keys.issue;
    const fp = fingerprint(generateKey({ environment: 'live' }).key);
    const outcome = await raw(subject, envelope(subject, { ...validRequest('keys.cmd.issue'), secret: change(fp) }));
    expect({ reply: summary(outcome), eventsStored: (await keyEvents()) - before }).toEqual({ reply: expect.stringMatching(new RegExp(`^400: ${field.replace('.', '\\.')}: `)), eventsStored: 0 });
  });

  it('keys.cmd.rotate: the same fingerprint checks on rotation', async () => {
    const before = await keyEvents();
    const subject = stack.ns.subjects.keys.rotate;
    const fp = fingerprint(generateKey({ environment: 'live' }).key);
    const outcome = await raw(subject, envelope(subject, { actor, keyId: target.id, gracePeriodSeconds: 0, secret: { ...fp, last4: `ab${NUL}c` } }));
    expect(summary(outcome)).toMatch(/^400: secret\.last4: /);
    expect(await keyEvents()).toBe(before);
  });

  it('names, reasons and cursors with NUL or lone surrogates are 400s naming the field', async () => {
    const k = stack.ns.subjects.keys;
    const m = stack.ns.subjects.metering;
    const cases: [string, string, unknown, RegExp][] = [
      ['issue name NUL', k.issue, { ...validRequest('keys.cmd.issue'), name: `a${NUL}b` }, /^400: name: /],
      ['issue name lone surrogate', k.issue, { ...validRequest('keys.cmd.issue'), name: `a${LONE}b` }, /^400: name: /],
      ['update name lone low surrogate', k.update, { actor, keyId: target.id, name: 'a\uDC00' }, /^400: name: /],
      ['revoke reason NUL', k.revoke, { actor, keyId: target.id, reason: NUL }, /^400: reason: /],
      ['list cursor NUL', k.list, { actor, cursor: NUL }, /^400: cursor: /],
      ['audit cursor lone surrogate', k.audit, { actor, cursor: LONE }, /^400: cursor: /],
      ['events cursor NUL', m.events, { ...validRequest('metering.query.events'), cursor: `x${NUL}` }, /^400: cursor: /],
      ['alerts cursor lone surrogate', m.alerts, { accountId: ACCOUNT, cursor: LONE }, /^400: cursor: /],
      ['events cursor encoding a NUL id', m.events, { ...validRequest('metering.query.events'), cursor: Buffer.from(JSON.stringify(['2026-01-01T00:00:00.000Z', `a${NUL}`])).toString('base64url') }, /^400: cursor: /],
      ['list cursor encoding a year-0 time', k.list, { actor, cursor: Buffer.from(JSON.stringify(['0000-01-01T00:00:00.000Z', target.id])).toString('base64url') }, /^400: cursor: /],
    ];
    const before = await keyEvents();
    const results = Object.fromEntries(await Promise.all(cases.map(async ([what, subject, data]) => [what, summary(await raw(subject, envelope(subject, data)))] as const)));
    const failing = Object.fromEntries(cases.filter(([what, , , expected]) => !expected.test(results[what])).map(([what]) => [what, results[what]]));
    expect(failing).toEqual({});
    expect(await keyEvents()).toBe(before);
  });
});

describe('huge messages close to max_payload', () => {
  /** A request of exactly `size` bytes: a valid request plus one unknown field whose name fills the rest. */
  function filled(subject: string, name: Name, size: number, fill = 'A'): Uint8Array {
    const base = JSON.stringify({ pattern: subject, id: 'huge', data: { ...validRequest(name), __F__: 0 } });
    const room = size - (base.length - '__F__'.length);
    return enc.encode(base.replace('__F__', fill.repeat(Math.max(0, room))));
  }

  it('a request of max_payload bytes with one huge unknown field name gets a 400 on every subject', async () => {
    expectAll400(await toEverySubject((subject, name) => filled(subject, name, maxPayload - 64)));
  });

  it('a request of 400 KB of invalid UTF-8 in a field name gets a 400 on every subject', async () => {
    expectAll400(
      await toEverySubject((subject, name) => {
        const base = enc.encode(JSON.stringify({ pattern: subject, id: 'ff', data: { ...validRequest(name), __F__: 0 } }));
        const text = new TextDecoder().decode(base);
        const [head, tail] = text.split('__F__');
        const garbage = new Uint8Array(400_000).fill(0xff);
        return concat(enc.encode(head), garbage, enc.encode(tail));
      }),
    );
  });

  it('huge strings in known fields are 400s naming the field', async () => {
    const k = stack.ns.subjects.keys;
    const m = stack.ns.subjects.metering;
    const big = 'x'.repeat(maxPayload - 4096);
    const cases: [string, string, unknown, RegExp][] = [
      ['issue name', k.issue, { ...validRequest('keys.cmd.issue'), name: big }, /^400: name: /],
      ['list cursor', k.list, { actor, cursor: big }, /^400: cursor: /],
      ['decide path', stack.ns.subjects.auth.decide, decideRequest(generateKey({ environment: 'live' }).hash, { path: big }), /^400: path: /],
      ['decide requestId', stack.ns.subjects.auth.decide, decideRequest(generateKey({ environment: 'live' }).hash, { requestId: big }), /^400: requestId: /],
      ['events cursor', m.events, { ...validRequest('metering.query.events'), cursor: big }, /^400: cursor: /],
      ['issue permissions: 60,000 entries', k.issue, { ...validRequest('keys.cmd.issue'), permissions: Array(60_000).fill('FLOWS:READ') }, /^400: permissions: /],
      ['last-used keyIds: 30,000 entries', m.lastUsed, { accountId: ACCOUNT, keyIds: Array(30_000).fill(target.id) }, /^400: keyIds: /],
    ];
    const results = Object.fromEntries(await Promise.all(cases.map(async ([what, subject, data]) => [what, summary(await raw(subject, envelope(subject, data), 5000))] as const)));
    const failing = Object.fromEntries(cases.filter(([what, , , expected]) => !expected.test(results[what])).map(([what]) => [what, results[what]]));
    expect(failing).toEqual({});
  });

  it('still serves after the huge messages', async () => {
    await expectStillServing();
  });
});

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// 3. auth.decide input that is accepted but poisons what comes after it

describe('auth.decide: what it accepts must not poison the usage pipeline', () => {
  async function meteredRequests(requestIds: string[]): Promise<number> {
    return count('SELECT count(*) AS n FROM metering.usage_events WHERE request_id = ANY($1)', [requestIds]);
  }

  it('a decision whose strings hold NUL characters is counted by metering (or refused by auth with a 400)', async () => {
    const hash = generateKeyHash(target.key);
    const subject = stack.ns.subjects.auth.decide;
    const cases = [{ userAgent: 'curl\u0000/8' }, { path: '/v1/flows/\u0000' }, { method: 'G\u0000T' }, { permission: 'FLOWS:READ\u0000' }, { clientIp: '10.0.0.1\u0000' }, { requestId: `req_\u0000${ulid()}` }];
    const results: Record<string, string> = {};
    for (const change of cases) {
      const request = decideRequest(hash, change);
      const outcome = await raw(subject, envelope(subject, request));
      const field = Object.keys(change)[0];
      const s = summary(outcome);
      if (is400(s)) {
        results[field] = 'refused';
        continue;
      }
      // Auth decided (and counted it against the quota): metering must then count it too (DESIGN §2: windows equal decisions).
      const needle = JSON.stringify(request.requestId).slice(1, -1);
      const fate = await waitFor(
        `${field}: the usage event in metering`,
        async () => {
          if ((await count('SELECT count(*) AS n FROM metering.usage_events WHERE request_id = $1', [request.requestId.replaceAll('\u0000', '')])) > 0) return 'stored';
          if ((await count('SELECT count(*) AS n FROM metering.dead_letters WHERE strpos(raw_payload, $1) > 0', [needle])) > 0) return 'dead-lettered';
          return undefined;
        },
        15_000,
        100,
      ).catch(() => 'lost');
      results[field] = fate;
    }
    expect(results).toEqual(Object.fromEntries(cases.map((c) => [Object.keys(c)[0], expect.stringMatching(/^(refused|stored)$/)])));
  });

  it('a decision with a permission string near max_payload is refused, or its usage event reaches metering; and it never holds back the events after it', async () => {
    const subject = stack.ns.subjects.auth.decide;
    // The contract bounds every DecideRequest string but `permission`; the usage event repeats it, with more fields around it.
    const poisonRequest = decideRequest(generateKey({ environment: 'live' }).hash, { permission: '__P__' });
    const base = JSON.stringify({ pattern: subject, id: 'big', data: poisonRequest });
    const poison = enc.encode(base.replace('__P__', 'P'.repeat(maxPayload - base.length)));
    expect(poison.length).toBeLessThanOrEqual(maxPayload);
    const mark = stack.logs.lines.length;
    const poisonReply = summary(await raw(subject, poison, 5000));
    // Let the publisher's retry backoff grow (100 ms doubling to 5 s), then time an ordinary decision to metering.
    await sleep(9000);
    const hash = generateKeyHash(generateKey({ environment: 'live' }).key);
    const lags: number[] = [];
    for (let i = 0; i < 4; i++) {
      const request = decideRequest(hash);
      const sent = Date.now();
      expect(summary(await raw(subject, envelope(subject, request)))).toBe('ok');
      await waitFor('an ordinary decision in metering', async () => (await meteredRequests([request.requestId])) === 1, 15_000, 20);
      lags.push(Date.now() - sent);
    }
    const poisonMetered = await meteredRequests([poisonRequest.requestId]);
    const failures = stack.logs.lines.slice(mark).map((l) => JSON.parse(l)).filter((l) => l.msg === 'usage event publish failed; retrying');
    expect({
      poison: is400(poisonReply) ? 'refused' : poisonMetered === 1 ? 'metered' : `answered ${poisonReply}, never metered`,
      slowestOrdinaryDecisionToMeteringMs: Math.max(...lags) < 1500 ? '< 1500' : Math.max(...lags),
      publishFailuresLogged: failures.length,
    }).toEqual({ poison: expect.stringMatching(/^(refused|metered)$/), slowestOrdinaryDecisionToMeteringMs: '< 1500', publishFailuresLogged: 0 });
  }, 90_000);
});

// ---------------------------------------------------------------------------------------------
// 4. the key event stream, as auth follows it

describe('auth following the key event stream', () => {
  const skipMessages = new Set([
    'malformed key event; skipped',
    'key event of an unknown type or version; skipped',
    'key event does not fit the key view (key never issued, or issued twice); skipped',
    'key event could not be applied; skipped',
  ]);

  function keyIssued(keyId: string, secretHash: string, overrides: Record<string, unknown> = {}) {
    const generated = generateKey({ environment: 'live' });
    return {
      type: 'KeyIssued',
      version: 1,
      eventId: ulid(),
      keyId,
      accountId: ACCOUNT,
      occurredAt: new Date().toISOString(),
      actor: 'system',
      data: {
        name: 'from the stream',
        environment: 'live',
        permissions: ['*'],
        rateLimits: { hour: 1000, day: 10000 },
        expiresAt: null,
        secret: { secretHash, displayPrefix: generated.displayPrefix, last4: generated.last4 },
      },
      ...overrides,
    };
  }

  /**
   * Where the message landed: its subject and sequence. A stream keys made anew (after it lost
   * history, docs/operations.md) numbers its messages from 1 again, so a sequence alone may come
   * round again.
   */
  async function publishKeyEvent(keyId: string, bytes: Uint8Array): Promise<{ subject: string; seq: number }> {
    const subject = stack.ns.subjects.keyEvents.forKey(keyId);
    const ack = await js.publish(subject, bytes, { msgID: ulid() });
    return { subject, seq: ack.seq };
  }

  const loggedFor = (at: { subject: string; seq: number }) => (line: LogLine) => line.subject === at.subject && line.seq === at.seq;

  async function decideFor(hash: string) {
    const subject = stack.ns.subjects.auth.decide;
    const outcome = await raw(subject, envelope(subject, decideRequest(hash)), 5000);
    return outcome.kind === 'reply' ? outcome.body.response : outcome;
  }

  it('skips, with a warning naming the sequence, everything it cannot apply, and applies the event behind it on every replica', async () => {
    const keyId = `key_${ulid()}`;
    const junk: [string, Uint8Array][] = [
      ['empty', new Uint8Array(0)],
      ['null', enc.encode('null')],
      ['array', enc.encode('[{"type":"KeyIssued","version":1}]')],
      ['number', enc.encode('1e308')],
      ['binary', randomBytes(512)],
      ['deep', enc.encode(deep(100_000))],
      ['unknown type', encodeJson({ type: 'KeyTeleported', version: 1, keyId })],
      ['future version', encodeJson({ ...keyIssued(keyId, generateKey({ environment: 'live' }).hash), version: 2 })],
      ['version 1e308', encodeJson({ type: 'KeyIssued', version: 1e308 })],
      ['type with NUL', encodeJson({ type: 'Key\u0000Issued', version: 1 })],
      ['huge type', encodeJson({ type: 'T'.repeat(600_000), version: 1 })],
      ['revoke of a key never issued', encodeJson({ type: 'KeyRevoked', version: 1, eventId: ulid(), keyId: `key_${ulid()}`, accountId: ACCOUNT, occurredAt: new Date().toISOString(), actor: 'system', data: { reason: null } })],
      ['__proto__ type', enc.encode('{"type":"__proto__","version":1,"__proto__":{"polluted":true}}')],
    ];
    const landed: Record<string, { subject: string; seq: number }> = {};
    for (const [what, bytes] of junk) landed[what] = await publishKeyEvent(keyId, bytes);
    const fresh = generateKey({ environment: 'live' });
    secrets.push(fresh.key);
    await publishKeyEvent(keyId, encodeJson(keyIssued(keyId, fresh.hash)));

    // Applied behind the junk, on both replicas (the queue group spreads the asks).
    const decisions = [];
    for (let i = 0; i < 8; i++) decisions.push(await decideFor(fresh.hash));
    expect(decisions.map((d) => d?.value?.outcome ?? JSON.stringify(d))).toEqual(Array(8).fill('allowed'));

    // Never silently: each replica logged each one it skipped, at warn or above, with its sequence.
    const skipped = logLines().filter((l) => skipMessages.has(l.msg) && l.level >= 40);
    for (const [what, at] of Object.entries(landed)) {
      expect([what, skipped.filter(loggedFor(at)).length]).toEqual([what, stack.auth.length]);
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    // A skipped 600 KB type must not be written out whole to the logs, once per replica.
    const longest = Math.max(...stack.logs.lines.map((l) => l.length));
    expect(longest).toBeLessThan(64 * 1024);
  });

  it('does not let a KeyIssued of another key take over a secret hash some key already holds', async () => {
    const victimHash = generateKeyHash(target.key);
    const before = await decideFor(victimHash);
    expect(before.value.key.keyId).toBe(target.id);
    const thief = `key_${ulid()}`;
    const forged = await publishKeyEvent(thief, encodeJson(keyIssued(thief, victimHash, { accountId: 'acc_thief' })));
    await sleep(200);
    const after = [];
    for (let i = 0; i < 6; i++) after.push(await decideFor(victimHash));
    expect(after.map((d) => d.value?.key?.keyId)).toEqual(Array(6).fill(target.id));
    expect(logLines().filter((l) => loggedFor(forged)(l) && l.level >= 40)).toHaveLength(stack.auth.length);
  });

  it('does not let a KeySecretRotated of another key take over a secret hash some key already holds', async () => {
    const owner = generateKey({ environment: 'live' });
    const other = `key_${ulid()}`;
    await publishKeyEvent(other, encodeJson(keyIssued(other, owner.hash, { accountId: 'acc_thief' })));
    const victimHash = generateKeyHash(target.key);
    const forged = await publishKeyEvent(
      other,
      encodeJson({
        type: 'KeySecretRotated',
        version: 1,
        eventId: ulid(),
        keyId: other,
        accountId: 'acc_thief',
        occurredAt: new Date().toISOString(),
        actor: 'system',
        data: { secret: { secretHash: victimHash, displayPrefix: 'tv_live_abcd', last4: 'abcd' }, previousSecretHash: owner.hash, previousKeyExpiresAt: new Date().toISOString() },
      }),
    );
    await sleep(200);
    const after = [];
    for (let i = 0; i < 6; i++) after.push(await decideFor(victimHash));
    expect(after.map((d) => d.value?.key?.keyId)).toEqual(Array(6).fill(target.id));
    expect(logLines().filter((l) => loggedFor(forged)(l) && l.level >= 40)).toHaveLength(stack.auth.length);
  });
});

// ---------------------------------------------------------------------------------------------
// 5. the usage stream, as metering consumes it

describe('metering consuming the usage stream', () => {
  async function publishUsage(bytes: Uint8Array): Promise<number> {
    const ack = await js.publish(stack.ns.subjects.usageEvents, bytes, { msgID: ulid() });
    return ack.seq;
  }

  async function settled(timeoutMs = 20_000) {
    const jsm = await jetstreamManager(nc);
    await waitFor(
      'metering to ack every usage event',
      async () => {
        const stream = await jsm.streams.info(stack.ns.streams.usageEvents);
        const consumer = await jsm.consumers.info(stack.ns.streams.usageEvents, 'metering');
        return consumer.ack_floor.stream_seq >= stream.state.last_seq && consumer.num_ack_pending === 0 && consumer.num_pending === 0;
      },
      timeoutMs,
      50,
    );
  }

  /** A dead letter carries the type and version the message claimed (a version an int column cannot hold reads null), never a made-up `UsageRecorded v1`. */
  function labelled(row: { event_type: string | null; event_version: number | null }, expected: { type: string | null; version: number | null }) {
    const version = row.event_version === null ? null : Number(row.event_version);
    const versionOk = version === expected.version || (expected.version !== null && expected.version > 2 ** 31 - 1 && version === null);
    return row.event_type === expected.type && versionOk ? 'as sent' : `${row.event_type} v${version}`;
  }

  const randomText = (n: number) => randomBytes(Math.ceil(n / 2)).toString('hex').slice(0, n);

  it('sets aside, with the right type and version and a warning, everything it cannot store, and counts the event behind it', async () => {
    const keyId = keyIdOf('behindjunk');
    const junk: [string, Uint8Array, { type: string | null; version: number | null } | null][] = [
      ['empty', new Uint8Array(0), { type: null, version: null }],
      ['null', enc.encode('null'), { type: null, version: null }],
      ['array', enc.encode('[1,2]'), { type: null, version: null }],
      ['number', enc.encode('1e400'), { type: null, version: null }],
      ['deep', enc.encode(deep(100_000)), { type: null, version: null }],
      ['binary', randomBytes(300), { type: null, version: null }],
      // A type that is no event type name makes the message no event at all.
      ['type with NUL', encodeJson({ type: 'Usage\u0000Recorded', version: 1 }), { type: null, version: null }],
      ['version 3e9', encodeJson({ type: 'UsageRecorded', version: 3_000_000_000 }), { type: 'UsageRecorded', version: 3_000_000_000 }],
      ['batch version 3e9', encodeJson({ type: 'UsageBatch', version: 3_000_000_000, events: [] }), { type: 'UsageBatch', version: 3_000_000_000 }],
      ['event id of 10,000 random characters', encodeJson(usageEvent({ keyId, eventId: randomText(10_000) })), null],
      ['key id of 10,000 random characters', encodeJson(usageEvent({ keyId: `key_${randomText(10_000)}` })), null],
      ['hourUsed 2^63', enc.encode(JSON.stringify(usageEvent({ keyId })).replace('"hourUsed":1', '"hourUsed":9223372036854775808')), null],
      ['clientIp with a lone surrogate', encodeJson(usageEvent({ keyId, clientIp: '\uD800' })), null],
      ['batch with a NUL event among good ones', encodeJson({ type: 'UsageBatch', version: 1, events: [usageEvent({ keyId, occurredAt: '2026-04-01T10:00:00.000Z' }), { ...usageEvent({ keyId }), path: '\u0000' }] }), null],
    ];
    const seqs: Record<string, number> = {};
    for (const [what, bytes] of junk) seqs[what] = await publishUsage(bytes);
    const good = usageEvent({ keyId, occurredAt: '2026-04-01T11:00:00.000Z' });
    await publishUsage(encodeJson(good));
    await settled();

    // The good event behind the junk is counted (and the good one inside the batch).
    expect(await count("SELECT coalesce(sum(requests), 0) AS n FROM metering.usage_windows WHERE key_id = $1 AND granularity = 'day'", [keyId])).toBeGreaterThanOrEqual(2);

    // Every junk message is either stored (an event it can hold) or set aside as a dead letter: never dropped, never silent.
    const { rows } = await db.query('SELECT stream_seq, batch_position, reason, event_type, event_version FROM metering.dead_letters WHERE stream_seq = ANY($1)', [Object.values(seqs)]);
    const report: Record<string, unknown> = {};
    for (const [what, , expected] of junk) {
      const seq = seqs[what];
      const dead = rows.filter((r) => Number(r.stream_seq) === seq);
      const stored = await count('SELECT count(*) AS n FROM metering.usage_events WHERE stream_seq = $1', [seq]);
      const warned = logLines().filter((l) => l.msg === 'usage event set aside as a dead letter' && l.streamSeq === seq).length;
      report[what] = {
        handled: dead.length + stored > 0,
        warnedForEachDeadLetter: warned === dead.length,
        ...(expected && dead[0] ? { labelled: labelled(dead[0], expected) } : {}),
      };
    }
    expect(report).toEqual(
      Object.fromEntries(junk.map(([what, , expected]) => [what, { handled: true, warnedForEachDeadLetter: true, ...(expected ? { labelled: 'as sent' } : {}) }])),
    );
  });

  it('a valid-looking usage event for a key never issued does not block the stream (observation: it is stored)', async () => {
    const ghost = keyIdOf('ghost');
    const seq = await publishUsage(encodeJson(usageEvent({ keyId: ghost, accountId: ACCOUNT, occurredAt: new Date().toISOString() })));
    const after = usageEvent({ keyId: keyIdOf('afterghost') });
    await publishUsage(encodeJson(after));
    await settled();
    expect(await count('SELECT count(*) AS n FROM metering.usage_events WHERE event_id = $1', [after.eventId])).toBe(1);
    const ghostStored = await count('SELECT count(*) AS n FROM metering.usage_events WHERE stream_seq = $1', [seq]);
    // Recorded for the report: metering cannot tell a key never issued from one it has not heard of.
    expect([0, 1]).toContain(ghostStored);
  });

  it('still answers queries after all of that', async () => {
    await expectStillServing();
  });
});

// ---------------------------------------------------------------------------------------------
// 6. secrets in logs

describe('secrets stay out of the logs on these paths', () => {
  function leaksOf(known: string[]) {
    return logLines()
      .filter((line) => known.some((secret) => JSON.stringify(line).includes(secret)))
      .map((line) => ({ msg: line.msg, fields: Object.keys(line).filter((k) => known.some((secret) => JSON.stringify(line[k]).includes(secret))) }));
  }

  it('a raw key sent to every handler as the payload, a field or a field name, or carried in a usage event, is never logged', async () => {
    const secret = generateKey({ environment: 'live' }).key;
    secrets.push(secret);
    await toEverySubject(() => enc.encode(secret));
    await toEverySubject(() => enc.encode(`{"pattern":"x","id":"s","data":{"key":"${secret}"} trailing ${secret}`));
    await toEverySubject((subject) => envelope(subject, { key: secret, [secret]: secret }));
    await toEverySubject((subject, name) => envelope(subject, { ...validRequest(name), secret: secret }));
    await toEverySubject((subject, name) => envelope(subject, { ...validRequest(name), [Object.keys(validRequest(name))[0]]: secret }));
    await publishKeyEventRaw(enc.encode(`not json ${secret}`));
    await publishKeyEventRaw(encodeJson({ ...JSON.parse('{"type":"KeyRenamed","version":1}'), keyId: secret, data: { name: secret } }));
    await js.publish(stack.ns.subjects.usageEvents, encodeJson(usageEvent({ userAgent: secret, path: `/v1/flows?key=${secret}`, eventId: ulid() })), { msgID: ulid() });
    await js.publish(stack.ns.subjects.usageEvents, encodeJson({ ...usageEvent({ userAgent: secret }), outcome: 'bogus' }), { msgID: ulid() });
    await sleep(1500);
    expect(leaksOf(secrets)).toEqual([]);
    expect(stack.logs.text().match(/tv_(live|test)_[0-9A-Za-z]{38}/g) ?? []).toEqual([]);
  });

  it('a key put where an event names its type is not logged either', async () => {
    const secret = generateKey({ environment: 'live' }).key;
    await publishKeyEventRaw(encodeJson({ type: secret, version: 1 }));
    await js.publish(stack.ns.subjects.usageEvents, encodeJson({ type: secret, version: 1 }), { msgID: ulid() });
    await sleep(1500);
    expect(leaksOf([secret])).toEqual([]);
  });
});

async function publishKeyEventRaw(bytes: Uint8Array) {
  await js.publish(stack.ns.subjects.keyEvents.forKey(`key_${ulid()}`), bytes, { msgID: ulid() });
}
