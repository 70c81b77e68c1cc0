import { readUsageMessage, rawText } from './read-usage-message.js';

const bytes = (text: string) => new TextEncoder().encode(text);

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
    expect(readUsageMessage(bytes(JSON.stringify(valid)))).toEqual({ ok: true, event: { ...valid, occurredAt: '2026-01-15T10:00:00.123Z' } });
  });

  it('says where malformed JSON broke without quoting it', () => {
    expect(readUsageMessage(bytes('{"a": 1,,}'))).toEqual({ ok: false, kind: 'malformed_json', reason: 'malformed JSON at position 8', type: null, version: null });
    expect(readUsageMessage(bytes('{"secretish": tv_live_abc'))).toEqual({ ok: false, kind: 'malformed_json', reason: 'malformed JSON', type: null, version: null });
  });

  it('tells a message that is no event from an event it does not know', () => {
    expect(readUsageMessage(bytes('[1,2]'))).toMatchObject({ ok: false, kind: 'not_an_event', reason: 'not an event: Invalid input: expected object, received array' });
    expect(readUsageMessage(bytes(JSON.stringify({ ...valid, version: 2 })))).toEqual({
      ok: false,
      kind: 'unknown_version',
      reason: 'unknown event type or version: UsageRecorded v2',
      type: 'UsageRecorded',
      version: 2,
    });
    expect(readUsageMessage(bytes(JSON.stringify({ ...valid, type: 'KeyRevoked' })))).toMatchObject({ kind: 'unknown_version', type: 'KeyRevoked', version: 1 });
  });

  it('names the field of a v1 event that breaks the schema', () => {
    expect(readUsageMessage(bytes(JSON.stringify({ ...valid, hourUsed: 1.5 })))).toEqual({
      ok: false,
      kind: 'schema_invalid',
      reason: 'invalid UsageRecorded v1: hourUsed: Invalid input: expected int, received number',
      type: 'UsageRecorded',
      version: 1,
    });
  });
});

describe('rawText', () => {
  it('keeps the payload as text Postgres can store', () => {
    expect(rawText(new Uint8Array([0x61, 0x00, 0xff, 0x62]))).toBe('a\uFFFD\uFFFDb');
  });
});
