import { jest } from '@jest/globals';
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import pg from 'pg';
import { namespace, type Reply } from '@keyplane/contracts';
import { fingerprint, hashKey } from '@keyplane/key-format';
import { connectNats, decodeJson, encodeJson } from '@keyplane/nats';
import { freshNamespace, TEST_NATS_URL, waitFor, type FreshNamespace } from '@keyplane/testing';
import type { GatewayHandle } from '../../gateway/src/start.js';
import { sleep, startStack, type Stack } from './stack.js';

// A rotation or permission change is in force on every auth replica within 250 ms of its reply
// (DESIGN §2), not at once. Within that window auth still lets the old secret, or the key as it
// was, through to a management call, and the keys service judges the caller again: its secret
// must still be one the key takes, and the route's permission one it still holds.
//
// The window is made deterministic with a second gateway on a subject prefix of its own, in
// front of a relay to this stack: the relay hands every message to the stack's services, except
// `auth.decide` for a key hash the test holds, which it answers with the decision auth last gave
// for that hash, as a replica that has not yet folded the change answers. Everything else (the
// gateway, keys, the other keys) is the product as it runs.

jest.setTimeout(120_000);

const unprefixed = namespace('').subjects;

const INVALID_KEY = '{"error":"Unauthorized","details":"Invalid or missing API key"}';
const MISSING_KEYS_WRITE = '{"error":"Forbidden","details":"Missing required permission: KEYS:WRITE"}';

let stack: Stack;
let trailing: FreshNamespace;
let nc: NatsConnection;
let relays: Subscription[] = [];
let gateway: GatewayHandle;
let pool: pg.Pool;

/** The last decision auth gave for each key hash, and the hashes answered from it instead of auth. */
const lastDecision = new Map<string, Reply<unknown>>();
const held = new Set<string>();
let heldAnswers = 0;
/** What auth.decide was asked for each request id, and every keys message the gateway sent, as sent. */
const decided = new Map<string, { keyHash: string; permission: string | null }>();
const keysMessages: { subject: string; data: Record<string, unknown>; text: string }[] = [];

async function relayed(msg: Msg): Promise<void> {
  const subject = msg.subject.slice(trailing.ns.prefix.length + 1);
  const { id, data } = decodeJson(msg.data) as { id: string; data: Record<string, unknown> };
  const keyHash = subject === unprefixed.auth.decide ? String(data.keyHash) : null;
  if (keyHash !== null) decided.set(String(data.requestId), { keyHash, permission: data.permission as string | null });
  if (keyHash !== null && held.has(keyHash)) {
    heldAnswers++;
    msg.respond(encodeJson({ id, response: lastDecision.get(keyHash), isDisposed: true }));
    return;
  }
  if (subject.startsWith('keys.')) keysMessages.push({ subject, data, text: new TextDecoder().decode(msg.data) });
  const answer = await nc.request(`${stack.ns.prefix}.${subject}`, msg.data, { headers: msg.headers, timeout: 10_000 });
  if (keyHash !== null) lastDecision.set(keyHash, (decodeJson(answer.data) as { response: Reply<unknown> }).response);
  msg.respond(answer.data, { headers: answer.headers });
}

interface Raw {
  status: number;
  challenge: string | null;
  body: string;
}

/** A call through the gateway whose auth trails keys for the held hashes; the body as sent, to compare byte for byte. */
async function viaTrailing(key: string, method: string, path: string, body?: unknown): Promise<Raw> {
  const response = await fetch(`${gateway.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  return { status: response.status, challenge: response.headers.get('www-authenticate'), body: await response.text() };
}

/** The same call through the stack's own gateway, whose auth has the change. */
async function viaCaughtUp(key: string, method: string, path: string, body?: unknown): Promise<Raw> {
  const answer = await stack.call(method, path, { key, body });
  return { status: answer.status, challenge: answer.headers.get('www-authenticate'), body: JSON.stringify(answer.body) };
}

/** From now on auth answers for this secret as it did a moment ago: what it decides on until it folds the next change. */
async function holdAuthView(secret: string): Promise<void> {
  expect((await viaTrailing(secret, 'GET', '/v1/api-keys?limit=1')).status).toBe(200);
  held.add(hashKey(secret));
}

async function eventCount(): Promise<number> {
  const { rows } = await pool.query('select count(*)::int as n from keys.events');
  return rows[0].n;
}

/** Every management call a caller could make on `target`, with what it would change. */
function everyCall(target: string): [string, string, unknown?][] {
  return [
    ['GET', '/v1/api-keys'],
    ['GET', `/v1/api-keys/${target}`],
    ['PATCH', `/v1/api-keys/${target}`, { name: 'changed in the window' }],
    ['PATCH', `/v1/api-keys/${target}`, { rateLimits: { hour: 5 } }],
    ['POST', `/v1/api-keys/${target}/rotate`, {}],
    ['POST', `/v1/api-keys/${target}/revoke`, {}],
    ['DELETE', `/v1/api-keys/${target}`],
    ['POST', '/v1/api-keys', { name: 'made in the window', permissions: ['FLOWS:READ'] }],
  ];
}

/** Each call made in turn with `key` through the trailing gateway, with its answer. */
async function everyAnswer(key: string, calls: [string, string, unknown?][]) {
  const answers = [];
  for (const [method, path, body] of calls) answers.push({ call: `${method} ${path}`, answer: await viaTrailing(key, method, path, body) });
  return answers;
}

const answeredWith =
  (status: number, challenge: string | null, body: string) =>
  ([method, path]: [string, string, unknown?]) => ({ call: `${method} ${path}`, answer: { status, challenge, body } });

const unchanged = async (id: string) => {
  const { body } = await stack.call('GET', `/v1/api-keys/${id}`);
  return { name: body.name, status: body.status, rateLimits: body.rateLimits };
};

beforeAll(async () => {
  stack = await startStack('e2e_recheck');
  pool = new pg.Pool({ connectionString: stack.databaseUrl, max: 2 });
  trailing = freshNamespace();
  nc = await connectNats({ url: TEST_NATS_URL, name: 'e2e-recheck' });
  // Metering is not relayed: it runs nowhere here, and the gateway finds no responder, as on the stack's own prefix.
  relays = ['auth.>', 'keys.>'].map((subjects) => nc.subscribe(`${trailing.ns.prefix}.${subjects}`, { callback: (_error, msg) => void relayed(msg) }));
  gateway = await stack.startGateway({ NATS_PREFIX: trailing.ns.prefix });
}, 60_000);

afterAll(async () => {
  // The pool first: closing the stack drops the database.
  await pool?.end();
  await stack?.close();
  for (const relay of relays) relay.unsubscribe();
  await nc?.close();
  await trailing?.cleanup();
});

/** Secrets used below, whose hashes must appear in no keys log line and no other key's events. */
const callers: { id: string; secrets: string[] }[] = [];

async function caller(name: string, permissions: string[]): Promise<{ id: string; key: string }> {
  const created = await stack.createKey({ name, permissions });
  callers.push({ id: created.id, secrets: [created.key] });
  return created;
}

async function rotate(id: string, gracePeriodSeconds: number): Promise<{ key: string; previousKeyExpiresAt: string }> {
  const rotated = await stack.call('POST', `/v1/api-keys/${id}/rotate`, { body: { gracePeriodSeconds } });
  expect(rotated.status).toBe(200);
  callers.find((c) => c.id === id)?.secrets.push(rotated.body.key);
  return rotated.body;
}

describe('a secret rotated out while auth still takes it', () => {
  it('with no grace period: every management call made with it is 401 `Invalid or missing API key` with WWW-Authenticate, as once auth caught up; nothing is changed', async () => {
    const rotatedCaller = await caller('rotated caller', ['KEYS:*', 'FLOWS:READ']);
    const target = await stack.createKey({ name: 'target', permissions: ['FLOWS:READ'] });
    await holdAuthView(rotatedCaller.key);
    const { key: newSecret } = await rotate(rotatedCaller.id, 0);
    const before = { events: await eventCount(), held: heldAnswers };

    expect(await everyAnswer(rotatedCaller.key, everyCall(target.id))).toEqual(everyCall(target.id).map(answeredWith(401, 'Bearer', INVALID_KEY)));
    // Auth let every one of them through: the window was there, and keys closed it.
    expect(heldAnswers - before.held).toBe(everyCall(target.id).length);
    expect(await eventCount()).toBe(before.events);
    expect(await unchanged(target.id)).toEqual({ name: 'target', status: 'active', rateLimits: { hour: 1000, day: 10000 } });

    // The answer is auth's own for that secret once it has the rotation.
    const caughtUp = await waitFor('auth to answer the rotated-out secret', async () => {
      const answer = await viaCaughtUp(rotatedCaller.key, 'PATCH', `/v1/api-keys/${target.id}`, { name: 'x' });
      return answer.status === 401 ? answer : null;
    });
    expect(caughtUp).toEqual({ status: 401, challenge: 'Bearer', body: INVALID_KEY });
    // The new secret, which auth knows, acts at once through the same gateway.
    expect((await viaTrailing(newSecret, 'PATCH', `/v1/api-keys/${target.id}`, { name: 'renamed by new secret' })).status).toBe(200);
  });

  it('within its grace period it still works; a secret replaced two rotations ago, or whose grace period is over, is 401', async () => {
    const graced = await caller('graced caller', ['KEYS:*', 'FLOWS:READ']);
    const target = await stack.createKey({ name: 'graced target', permissions: ['FLOWS:READ'] });
    await holdAuthView(graced.key);
    await rotate(graced.id, 3600);
    const renamed = await viaTrailing(graced.key, 'PATCH', `/v1/api-keys/${target.id}`, { name: 'renamed in grace' });
    expect({ status: renamed.status, name: JSON.parse(renamed.body).name }).toEqual({ status: 200, name: 'renamed in grace' });
    expect((await viaTrailing(graced.key, 'POST', `/v1/api-keys/${target.id}/rotate`, { gracePeriodSeconds: 60 })).status).toBe(200);

    // Rotated again: the first secret's grace ends at once, as auth ends it.
    await rotate(graced.id, 3600);
    const short = await caller('short grace caller', ['KEYS:*', 'FLOWS:READ']);
    await holdAuthView(short.key);
    const { previousKeyExpiresAt } = await rotate(short.id, 1);
    const before = await eventCount();
    expect(await viaTrailing(graced.key, 'PATCH', `/v1/api-keys/${target.id}`, { name: 'two rotations ago' })).toEqual({ status: 401, challenge: 'Bearer', body: INVALID_KEY });

    await sleep(Date.parse(previousKeyExpiresAt) - Date.now() + 50);
    expect(await everyAnswer(short.key, everyCall(target.id))).toEqual(everyCall(target.id).map(answeredWith(401, 'Bearer', INVALID_KEY)));
    expect(await eventCount()).toBe(before);
    expect(await unchanged(target.id)).toEqual({ name: 'renamed in grace', status: 'active', rateLimits: { hour: 1000, day: 10000 } });
  });
});

describe('a key that lost KEYS:WRITE while auth still grants it', () => {
  it('is refused PATCH, rotate, revoke, DELETE and create with the gateway\'s own 403; nothing is changed, and what it still holds it may use', async () => {
    const narrowed = await caller('narrowed caller', ['KEYS:READ', 'KEYS:WRITE', 'FLOWS:READ']);
    const target = await stack.createKey({ name: 'narrowed target', permissions: ['FLOWS:READ'] });
    await holdAuthView(narrowed.key);
    expect((await stack.call('PATCH', `/v1/api-keys/${narrowed.id}`, { body: { permissions: ['KEYS:READ', 'FLOWS:READ'] } })).status).toBe(200);
    const before = { events: await eventCount(), held: heldAnswers };

    const writes = everyCall(target.id).filter(([method]) => method !== 'GET');
    expect(await everyAnswer(narrowed.key, writes)).toEqual(writes.map(answeredWith(403, null, MISSING_KEYS_WRITE)));
    expect(heldAnswers - before.held).toBe(writes.length);
    expect(await eventCount()).toBe(before.events);
    expect(await unchanged(target.id)).toEqual({ name: 'narrowed target', status: 'active', rateLimits: { hour: 1000, day: 10000 } });

    // KEYS:READ it still holds: reads go on.
    const read = await viaTrailing(narrowed.key, 'GET', `/v1/api-keys/${target.id}`);
    expect({ status: read.status, name: JSON.parse(read.body).name }).toEqual({ status: 200, name: 'narrowed target' });
    // The same body as the gateway's own 403 once auth has the change.
    const caughtUp = await waitFor('auth to refuse the narrowed key', async () => {
      const answer = await viaCaughtUp(narrowed.key, 'PATCH', `/v1/api-keys/${target.id}`, { name: 'x' });
      return answer.status === 403 ? answer : null;
    });
    expect(caughtUp).toEqual({ status: 403, challenge: null, body: MISSING_KEYS_WRITE });
  });
});

describe('the presented key\'s hash on its way to keys', () => {
  it('is the one auth.decide got, never the secret, and is in no keys log line, no other key\'s stored event and no answer', async () => {
    const secrets = callers.flatMap((c) => c.secrets);
    const hashes = secrets.map(hashKey);
    expect(keysMessages.length).toBeGreaterThan(0);
    for (const { subject, data, text } of keysMessages) {
      // The route's permission with it: KEYS:READ on reads, KEYS:WRITE on changes (and on the read a rotation starts with).
      expect({ subject, recheck: data.recheck }).toEqual({ subject, recheck: decided.get(String(data.requestId)) });
      expect(hashes).toContain((data.recheck as { keyHash: string }).keyHash);
      for (const secret of secrets) expect(text).not.toContain(secret);
    }

    const keysLines = stack.logs.records().filter((line) => line.name === 'keys').map((line) => JSON.stringify(line));
    expect(keysLines.length).toBeGreaterThan(0);
    for (const hash of hashes) expect(keysLines.filter((line) => line.includes(hash))).toEqual([]);

    const ownStreams = callers.map((c) => `key-${c.id}`);
    const { rows } = await pool.query<{ data: string }>('select data::text as data from keys.events where not (stream_id = any($1))', [ownStreams]);
    for (const hash of hashes) expect(rows.filter((row) => row.data.includes(hash))).toEqual([]);
  });

  it('keys refuses a malformed recheck with a 400 naming the field, not echoing it, and changes nothing', async () => {
    const target = await stack.createKey({ name: 'recheck target', permissions: ['FLOWS:READ'] });
    const actor = { keyId: target.id, accountId: 'acc_root', environment: 'live', permissions: ['FLOWS:READ'] };
    const ask = async (data: object) => {
      const subject = stack.ns.subjects.keys.revoke;
      const answer = await nc.request(subject, encodeJson({ pattern: subject, id: 'recheck', data }), { timeout: 10_000 });
      return (decodeJson(answer.data) as { response: Reply<unknown> }).response;
    };
    const upper = hashKey(target.key).toUpperCase();
    const bad = (details: string) => ({ ok: false, error: { status: 400, error: 'Bad Request', details } });
    expect(await ask({ actor, keyId: target.id, recheck: { keyHash: upper, permission: 'KEYS:WRITE' } })).toEqual(bad('recheck.keyHash: expected a SHA-256 hash in lowercase hex'));
    expect(await ask({ actor, keyId: target.id, recheck: { keyHash: hashKey(target.key), permission: 'KEY:WRITE' } })).toEqual(bad('recheck.permission: unknown permission "KEY:WRITE"'));
    expect(await ask({ actor, keyId: target.id, recheck: { keyHash: hashKey(target.key), permission: 'KEYS:WRITE', secret: fingerprint(target.key) } })).toEqual(
      bad('recheck: Unrecognized key: "secret"'),
    );
    expect((await stack.call('GET', `/v1/api-keys/${target.id}`)).body.status).toBe('active');
  });
});

describe('messages without a recheck (a gateway of the release before, during a rollout; internal callers)', () => {
  it('are judged as before: by the stored key\'s status and permissions, not by a secret they do not name', async () => {
    const older = await caller('caller of an older gateway', ['KEYS:*', 'FLOWS:READ']);
    const target = await stack.createKey({ name: 'older target', permissions: ['FLOWS:READ'] });
    await rotate(older.id, 0);
    const actor = { keyId: older.id, accountId: 'acc_root', environment: 'live', permissions: ['KEYS:*', 'FLOWS:READ'] };
    const subject = stack.ns.subjects.keys.update;
    const answer = await nc.request(subject, encodeJson({ pattern: subject, id: 'older', data: { actor, keyId: target.id, name: 'by an older gateway' } }), { timeout: 10_000 });
    expect((decodeJson(answer.data) as { response: Reply<{ key: { name: string } }> }).response).toMatchObject({ ok: true, value: { key: { name: 'by an older gateway' } } });
  });
});
