import type { Alert, Reply, UsageWindows } from '@keyplane/contracts';
import { MeteringHarness } from './support/metering-harness.js';
import { keyIdOf, usageEvent } from '@keyplane/testing';
import type { UsageEventsPage } from '../src/queries/usage-events.query.js';

const keyId = keyIdOf('queried');
const otherKey = keyIdOf('other');
const accountId = 'acc_test';

const zero = { requests: 0, allowed: 0, forbidden: 0, rateLimited: 0, unauthorized: 0 };
const badRequest = (details: string) => ({ ok: false, error: { status: 400, error: 'Bad Request', details } });

describe('metering queries', () => {
  let h: MeteringHarness;
  const events = [
    usageEvent({ keyId, occurredAt: '2026-06-01T10:05:00.000Z' }),
    usageEvent({ keyId, occurredAt: '2026-06-01T10:06:00.000Z', outcome: 'forbidden', reason: 'missing_permission', permission: 'FLOWS:WRITE' }),
    usageEvent({ keyId, occurredAt: '2026-06-01T12:00:00.000Z', outcome: 'rate_limited', reason: 'hour_limit' }),
    usageEvent({ keyId, occurredAt: '2026-06-01T12:00:00.000Z' }),
    usageEvent({ keyId, occurredAt: '2026-06-03T00:30:00.000Z', outcome: 'rate_limited', reason: 'day_limit' }),
    usageEvent({ keyId: otherKey, accountId: 'acc_other', occurredAt: '2026-06-01T10:07:00.000Z' }),
  ];
  const newestFirst = [...events.slice(0, 5)].sort((a, b) => (a.occurredAt === b.occurredAt ? (a.eventId < b.eventId ? 1 : -1) : a.occurredAt < b.occurredAt ? 1 : -1));
  /** What the events query answers: the event without its type and version. */
  const asStored = (event: (typeof events)[number]) => {
    const stored: Partial<typeof event> = { ...event };
    delete stored.type;
    delete stored.version;
    return stored;
  };

  beforeAll(async () => {
    h = await MeteringHarness.create('queries');
    await h.start();
    await h.publish(events);
    await h.settled();
  });

  afterAll(async () => {
    await h.close();
  });

  describe('usage', () => {
    const usage = (payload: Record<string, unknown>) => h.ask<UsageWindows>(h.ns.subjects.metering.usage, { accountId, keyId, ...payload });

    it('answers every hour window of the range, zeros where the key was idle', async () => {
      expect(await usage({ granularity: 'hour', from: '2026-06-01T09:30:00.000Z', to: '2026-06-01T12:00:00.000Z' })).toEqual({
        ok: true,
        value: {
          keyId,
          granularity: 'hour',
          data: [
            { start: '2026-06-01T09:00:00.000Z', ...zero },
            { start: '2026-06-01T10:00:00.000Z', requests: 2, allowed: 1, forbidden: 1, rateLimited: 0, unauthorized: 0 },
            { start: '2026-06-01T11:00:00.000Z', ...zero },
            { start: '2026-06-01T12:00:00.000Z', requests: 2, allowed: 1, forbidden: 0, rateLimited: 1, unauthorized: 0 },
          ],
        },
      });
    });

    it('answers day windows, and accepts times with an offset', async () => {
      expect(await usage({ granularity: 'day', from: '2026-06-01T01:00:00+02:00', to: '2026-06-03T23:59:59Z' })).toEqual({
        ok: true,
        value: {
          keyId,
          granularity: 'day',
          data: [
            { start: '2026-05-31T00:00:00.000Z', ...zero },
            { start: '2026-06-01T00:00:00.000Z', requests: 4, allowed: 2, forbidden: 1, rateLimited: 1, unauthorized: 0 },
            { start: '2026-06-02T00:00:00.000Z', ...zero },
            { start: '2026-06-03T00:00:00.000Z', requests: 1, allowed: 0, forbidden: 0, rateLimited: 1, unauthorized: 0 },
          ],
        },
      });
    });

    it("shows another account's key as unused", async () => {
      const reply = await h.ask<UsageWindows>(h.ns.subjects.metering.usage, { accountId: 'acc_intruder', keyId, granularity: 'day', from: '2026-06-01T00:00:00Z', to: '2026-06-01T00:00:00Z' });
      expect(reply).toEqual({ ok: true, value: { keyId, granularity: 'day', data: [{ start: '2026-06-01T00:00:00.000Z', ...zero }] } });
    });

    it('refuses bad parameters, naming them', async () => {
      expect(await usage({ granularity: 'minute', from: '2026-06-01T00:00:00Z', to: '2026-06-01T01:00:00Z' })).toEqual(
        badRequest('granularity: Invalid option: expected one of "hour"|"day"'),
      );
      expect(await usage({ granularity: 'hour', from: 'yesterday', to: '2026-06-01T01:00:00Z' })).toEqual(badRequest('from: Invalid ISO datetime'));
      expect(await usage({ granularity: 'hour', from: '2026-06-02T00:00:00Z', to: '2026-06-01T00:00:00Z' })).toEqual(badRequest('from: must not be after to'));
      expect(await usage({ granularity: 'hour', from: '2026-01-01T00:00:00Z', to: '2026-06-01T00:00:00Z' })).toEqual(
        badRequest('from: the range spans 3625 hourly windows, at most 2232 are allowed'),
      );
      expect(await usage({ granularity: 'day', from: '2000-01-01T00:00:00Z', to: '2026-06-01T00:00:00Z' })).toEqual(
        badRequest('from: the range spans 9649 daily windows, at most 3660 are allowed'),
      );
      expect(await h.ask(h.ns.subjects.metering.usage, { accountId, keyId: 'key_nope', granularity: 'hour', from: '2026-06-01T00:00:00Z', to: '2026-06-01T00:00:00Z' })).toEqual(
        badRequest('keyId: expected a key id like key_01J...'),
      );
      expect(await h.ask(h.ns.subjects.metering.usage, 'not an object')).toEqual(badRequest('Invalid input: expected object, received string'));
    });
  });

  describe('events', () => {
    const list = (payload: Record<string, unknown>) => h.ask<UsageEventsPage>(h.ns.subjects.metering.events, { accountId, keyId, ...payload });

    it('lists the key’s events newest first, as stored', async () => {
      expect(await list({})).toEqual({ ok: true, value: { data: newestFirst.map(asStored), nextCursor: null } });
    });

    it('pages with an opaque cursor until the end', async () => {
      const seen = [];
      let cursor: string | undefined;
      for (let page = 0; page < 10; page += 1) {
        const reply = (await list({ limit: 2, ...(cursor ? { cursor } : {}) })) as Extract<Reply<UsageEventsPage>, { ok: true }>;
        seen.push(reply.value.data.map((event) => event.eventId));
        if (reply.value.nextCursor === null) break;
        cursor = reply.value.nextCursor;
      }
      const ids = newestFirst.map((event) => event.eventId);
      expect(seen).toEqual([ids.slice(0, 2), ids.slice(2, 4), ids.slice(4)]);
    });

    it('filters by time (both ends included) and outcome', async () => {
      const reply = (await list({ from: '2026-06-01T10:06:00.000Z', to: '2026-06-01T12:00:00.000Z' })) as Extract<Reply<UsageEventsPage>, { ok: true }>;
      expect(reply.value.data.map((event) => event.occurredAt)).toEqual(['2026-06-01T12:00:00.000Z', '2026-06-01T12:00:00.000Z', '2026-06-01T10:06:00.000Z']);
      const limited = (await list({ outcome: 'rate_limited' })) as Extract<Reply<UsageEventsPage>, { ok: true }>;
      expect(limited.value.data.map((event) => [event.occurredAt, event.reason])).toEqual([
        ['2026-06-03T00:30:00.000Z', 'day_limit'],
        ['2026-06-01T12:00:00.000Z', 'hour_limit'],
      ]);
    });

    it("shows nothing of another account's key", async () => {
      expect(await h.ask(h.ns.subjects.metering.events, { accountId, keyId: otherKey })).toEqual({ ok: true, value: { data: [], nextCursor: null } });
    });

    it('refuses bad parameters, naming them', async () => {
      expect(await list({ limit: 0 })).toEqual(badRequest('limit: Too small: expected number to be >=1'));
      expect(await list({ limit: 1001 })).toEqual(badRequest('limit: Too big: expected number to be <=1000'));
      expect(await list({ outcome: 'denied' })).toEqual(badRequest('outcome: Invalid option: expected one of "allowed"|"forbidden"|"rate_limited"|"unauthorized"'));
      expect(await list({ cursor: 'bm90IGEgY3Vyc29y' })).toEqual(badRequest('cursor: invalid cursor'));
      expect(await list({ from: '2026-06-02T00:00:00Z', to: '2026-06-01T00:00:00Z' })).toEqual(badRequest('from: must not be after to'));
      expect(await list({ secret: 'x' })).toEqual(badRequest('Unrecognized key: "secret"'));
    });
  });

  describe('alerts', () => {
    const list = (payload: Record<string, unknown>) => h.ask<{ data: Alert[]; nextCursor: string | null }>(h.ns.subjects.metering.alerts, { accountId, ...payload });

    it("lists the account's alerts newest first, filtered and paged", async () => {
      // The two 429s raised one quota_exhausted each: one for the hour, one for the day.
      const all = (await list({})) as Extract<Reply<{ data: Alert[] }>, { ok: true }>;
      expect(all.value.data.map((alert) => [alert.type, alert.keyId, alert.detectedAt, alert.evidence.window])).toEqual([
        ['quota_exhausted', keyId, '2026-06-03T00:30:00.000Z', 'day'],
        ['quota_exhausted', keyId, '2026-06-01T12:00:00.000Z', 'hour'],
      ]);
      const first = (await list({ limit: 1 })) as Extract<Reply<{ data: Alert[]; nextCursor: string | null }>, { ok: true }>;
      expect(first.value.data).toEqual([all.value.data[0]]);
      expect(await list({ limit: 1, cursor: first.value.nextCursor })).toEqual({ ok: true, value: { data: [all.value.data[1]], nextCursor: null } });
      expect(await list({ since: '2026-06-02T00:00:00Z' })).toEqual({ ok: true, value: { data: [all.value.data[0]], nextCursor: null } });
      expect(await list({ keyId: otherKey })).toEqual({ ok: true, value: { data: [], nextCursor: null } });
      expect(await list({ type: 'usage_spike' })).toEqual({ ok: true, value: { data: [], nextCursor: null } });
      expect(await h.ask(h.ns.subjects.metering.alerts, { accountId: 'acc_other' })).toEqual({ ok: true, value: { data: [], nextCursor: null } });
    });

    it('refuses bad parameters, naming them', async () => {
      expect(await list({ type: 'weird' })).toEqual(
        badRequest('type: Invalid option: expected one of "usage_spike"|"auth_failure_burst"|"permission_probe"|"quota_exhausted"|"revoked_key_use"|"new_source"'),
      );
      expect(await list({ since: 'soon' })).toEqual(badRequest('since: Invalid ISO datetime'));
      expect(await h.ask(h.ns.subjects.metering.alerts, {})).toEqual(badRequest('accountId: Invalid input: expected string, received undefined'));
    });
  });

  describe('last used', () => {
    it('answers the latest request time of the keys that have one', async () => {
      expect(await h.ask(h.ns.subjects.metering.lastUsed, { accountId, keyIds: [keyId, otherKey, keyIdOf('never')] })).toEqual({
        ok: true,
        value: { [keyId]: '2026-06-03T00:30:00.000Z' },
      });
      expect(await h.ask(h.ns.subjects.metering.lastUsed, { accountId, keyIds: [] })).toEqual({ ok: true, value: {} });
    });

    it('refuses bad parameters, naming them', async () => {
      expect(await h.ask(h.ns.subjects.metering.lastUsed, { accountId, keyIds: [keyId, 'nope'] })).toEqual(badRequest('keyIds[1]: expected a key id like key_01J...'));
    });
  });
});
