import { encodeUsageBatch, UsageBatch, usageBatch, usageBatchBytes, usageBatchMessageId } from './usage-batch.js';
import type { UsageRecorded } from './usage-event.js';

const event = (eventId: string): UsageRecorded => ({
  type: 'UsageRecorded',
  version: 1,
  eventId,
  occurredAt: '2026-11-26T20:00:00.000Z',
  keyId: null,
  accountId: null,
  environment: null,
  outcome: 'unauthorized',
  reason: 'unknown_key',
  permission: null,
  method: 'GET',
  path: '/v1/flows',
  clientIp: '203.0.113.7',
  userAgent: null,
  requestId: 'req_1',
  hourUsed: null,
  dayUsed: null,
  hourLimit: null,
  dayLimit: null,
});

describe('UsageBatch', () => {
  it('wraps events in order and reads back as a v1 batch', () => {
    const batch = usageBatch([event('a'), event('b')]);
    expect(batch).toEqual({ type: 'UsageBatch', version: 1, events: [event('a'), event('b')] });
    expect(UsageBatch.parse(JSON.parse(JSON.stringify(batch)))).toEqual(batch);
  });

  it('refuses an empty batch', () => {
    expect(UsageBatch.safeParse({ type: 'UsageBatch', version: 1, events: [] }).success).toBe(false);
  });
});

describe('encodeUsageBatch', () => {
  const json = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

  it('is the JSON of the batch, built from the events\' own bytes', () => {
    const events = [event('a'), { ...event('b'), userAgent: 'Mozilla/5.0 "quoted" ü' }, event('c')];
    const body = encodeUsageBatch(events.map(json));
    expect(new TextDecoder().decode(body)).toBe(JSON.stringify(usageBatch(events)));
    expect(UsageBatch.parse(JSON.parse(new TextDecoder().decode(body)))).toEqual(usageBatch(events));
    expect(usageBatchBytes(events.map(json))).toBe(body.length);
  });

  it('weighs one event and none exactly too', () => {
    expect(new TextDecoder().decode(encodeUsageBatch([json(event('a'))]))).toBe(JSON.stringify(usageBatch([event('a')])));
    expect(usageBatchBytes([])).toBe('{"type":"UsageBatch","version":1,"events":[]}'.length);
  });
});

describe('usageBatchMessageId', () => {
  it('is the same for the same events in the same order', () => {
    expect(usageBatchMessageId([event('a'), event('b')])).toBe(usageBatchMessageId([{ eventId: 'a' }, { eventId: 'b' }]));
    expect(usageBatchMessageId([event('a')])).toMatch(/^usage-[\w-]{43}$/);
  });

  it('differs when an event is missing, added, reordered or the ids run together differently', () => {
    const ids = (...eventIds: string[]) => usageBatchMessageId(eventIds.map((eventId) => ({ eventId })));
    const all = new Set([ids('a', 'b'), ids('a'), ids('b'), ids('a', 'b', 'c'), ids('b', 'a'), ids('ab'), ids('a', 'bc'), ids('ab', 'c')]);
    expect(all.size).toBe(8);
  });
});
