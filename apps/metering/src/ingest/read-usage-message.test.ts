import { readUsageMessage, rawText } from './read-usage-message.js';

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (data: Uint8Array) => new TextDecoder().decode(data);

/** Reads a message that must come back as one entry, the whole message, and returns what was read. */
function readOne(payload: string) {
  const entries = readUsageMessage(7, bytes(payload));
  expect(entries.map(({ seq, position, data }) => ({ seq, position, data: text(data) }))).toEqual([{ seq: 7, position: 0, data: payload }]);
  return entries[0].read;
}

const valid = {
  type: 'UsageRecorded',
  version: 1,
  eventId: '01JABCDEF',
  occurredAt: '2026-01-15T11:00:00.123+01:00',
  keyId: 'key_01JABCDEFGHJKMNPQRSTVWXYZ0',
  accountId: 'acc_test',
  environment: 'live',
  outcome: 'allowed',
  reason: 'ok',
  permission: 'FLOWS:READ',
  method: 'GET',
  path: '/v1/flows',
  clientIp: '198.51.100.7',
  userAgent: null,
  requestId: 'req_1',
  hourUsed: 1,
  dayUsed: 1,
  hourLimit: 1000,
  dayLimit: 10000,
};

describe('readUsageMessage', () => {
  it('reads a UsageRecorded v1 and normalizes its time to UTC milliseconds', () => {
    expect(readOne(JSON.stringify(valid))).toEqual({ ok: true, event: { ...valid, occurredAt: '2026-01-15T10:00:00.123Z' } });
  });

  it('says where malformed JSON broke without quoting it', () => {
    expect(readOne('{"a": 1,,}')).toEqual({ ok: false, kind: 'malformed_json', reason: 'malformed JSON at position 8', type: null, version: null });
    expect(readOne('{"secretish": tv_live_abc')).toEqual({ ok: false, kind: 'malformed_json', reason: 'malformed JSON', type: null, version: null });
  });

  it('tells a message that is no event from an event it does not know', () => {
    expect(readOne('[1,2]')).toMatchObject({ ok: false, kind: 'not_an_event', reason: 'not an event: Invalid input: expected object, received array' });
    expect(readOne(JSON.stringify({ ...valid, version: 2 }))).toEqual({
      ok: false,
      kind: 'unknown_version',
      reason: 'unknown event type or version: UsageRecorded v2',
      type: 'UsageRecorded',
      version: 2,
    });
    expect(readOne(JSON.stringify({ ...valid, type: 'KeyRevoked' }))).toMatchObject({ kind: 'unknown_version', type: 'KeyRevoked', version: 1 });
  });

  it('names the field of a v1 event that breaks the schema', () => {
    expect(readOne(JSON.stringify({ ...valid, hourUsed: 1.5 }))).toEqual({
      ok: false,
      kind: 'schema_invalid',
      reason: 'invalid UsageRecorded v1: hourUsed: Invalid input: expected int, received number',
      type: 'UsageRecorded',
      version: 1,
    });
  });
});

describe('readUsageMessage on a UsageBatch', () => {
  const batch = (events: unknown) => JSON.stringify({ type: 'UsageBatch', version: 1, events });

  it('reads each event at its position, and a bad one sets aside only itself, with its own text', () => {
    const second = { ...valid, eventId: '01JABCDEG', outcome: 'maybe' };
    const third = { ...valid, eventId: '01JABCDEH' };
    const entries = readUsageMessage(9, bytes(batch([valid, second, third])));
    expect(entries.map(({ seq, position, read }) => ({ seq, position, ok: read.ok }))).toEqual([
      { seq: 9, position: 0, ok: true },
      { seq: 9, position: 1, ok: false },
      { seq: 9, position: 2, ok: true },
    ]);
    expect(entries[0].read).toEqual({ ok: true, event: { ...valid, occurredAt: '2026-01-15T10:00:00.123Z' } });
    expect(entries[1].read).toMatchObject({ kind: 'schema_invalid', reason: expect.stringMatching(/^invalid UsageRecorded v1: outcome: /) });
    expect(JSON.parse(text(entries[1].data))).toEqual(second);
  });

  it('names what is wrong with the envelope, and sets the whole message aside', () => {
    expect(readOne(batch([]))).toEqual({
      ok: false,
      kind: 'schema_invalid',
      reason: 'invalid UsageBatch v1: events: Too small: expected array to have >=1 items',
      type: 'UsageBatch',
      version: 1,
    });
    expect(readOne(batch({ 0: valid }))).toMatchObject({ kind: 'schema_invalid', reason: 'invalid UsageBatch v1: events: Invalid input: expected array, received object' });
    expect(readOne(JSON.stringify({ type: 'UsageBatch', version: 1, events: [valid], extra: 1 }))).toMatchObject({ kind: 'schema_invalid', type: 'UsageBatch' });
    expect(readOne(JSON.stringify({ type: 'UsageBatch', version: 2, events: [valid] }))).toEqual({
      ok: false,
      kind: 'unknown_version',
      reason: 'unknown event type or version: UsageBatch v2',
      type: 'UsageBatch',
      version: 2,
    });
  });

  it('does not take a batch inside a batch', () => {
    const [entry] = readUsageMessage(3, bytes(batch([{ type: 'UsageBatch', version: 1, events: [valid] }])));
    expect(entry.read).toMatchObject({ ok: false, kind: 'unknown_version', reason: 'unknown event type or version: UsageBatch v1' });
  });
});

describe('rawText', () => {
  it('keeps the payload as text Postgres can store', () => {
    expect(rawText(new Uint8Array([0x61, 0x00, 0xff, 0x62]))).toBe('a\uFFFD\uFFFDb');
  });
});
