import { alertsQuery, eventsQuery, usageQuery } from './metering-query-params.js';

const now = new Date('2026-11-26T10:30:00.000Z');
const invalid = (details: string) => ({ ok: false, details });

describe('usageQuery', () => {
  it('defaults to the last 24 hours by hour', () => {
    expect(usageQuery({}, now)).toEqual({ ok: true, value: { granularity: 'hour', from: '2026-11-25T10:30:00.000Z', to: '2026-11-26T10:30:00.000Z' } });
  });

  it('defaults to the last 30 days by day, before the given end', () => {
    expect(usageQuery({ granularity: 'day', to: '2026-11-20T00:00:00Z' }, now)).toEqual({
      ok: true,
      value: { granularity: 'day', from: '2026-10-21T00:00:00.000Z', to: '2026-11-20T00:00:00.000Z' },
    });
  });

  it('starts a default range no earlier than the year 0001, so a 400 never names a from the caller did not send', () => {
    expect(usageQuery({ to: '0001-01-01T05:00:00Z' }, now)).toEqual({ ok: true, value: { granularity: 'hour', from: '0001-01-01T00:00:00.000Z', to: '0001-01-01T05:00:00.000Z' } });
    expect(usageQuery({ granularity: 'day', to: '0001-01-10T00:00:00Z' }, now)).toEqual({
      ok: true,
      value: { granularity: 'day', from: '0001-01-01T00:00:00.000Z', to: '0001-01-10T00:00:00.000Z' },
    });
  });

  it('normalizes offsets and fractions to UTC milliseconds', () => {
    expect(usageQuery({ from: '2026-11-26T09:00:00+02:00', to: '2026-11-26T10:00:00.5Z' }, now)).toEqual({
      ok: true,
      value: { granularity: 'hour', from: '2026-11-26T07:00:00.000Z', to: '2026-11-26T10:00:00.500Z' },
    });
  });

  it('takes a range inside one millisecond, and refuses one that runs backwards inside it', () => {
    expect(usageQuery({ from: '2026-11-26T09:59:59.9995Z', to: '2026-11-26T09:59:59.9999Z' }, now)).toEqual({
      ok: true,
      value: { granularity: 'hour', from: '2026-11-26T09:59:59.9995Z', to: '2026-11-26T09:59:59.9999Z' },
    });
    expect(usageQuery({ from: '2026-11-26T10:00:00.0009Z', to: '2026-11-26T10:00:00.0005Z' }, now)).toEqual(invalid('from: must not be after to'));
  });

  it.each([
    [{ granularity: 'minute' }, 'granularity: must be "hour" or "day"'],
    [{ granularity: ['hour', 'day'] }, 'granularity: must be "hour" or "day"'],
    [{ from: 'yesterday' }, 'from: must be an ISO 8601 date-time'],
    [{ from: '2026-11-26' }, 'from: must be an ISO 8601 date-time'],
    [{ to: '2026-11-26T10:00:00' }, 'to: must be an ISO 8601 date-time'],
    [{ to: '2026-02-30T10:00:00Z' }, 'to: must be an ISO 8601 date-time'],
    [{ to: '2026-11-26T10:00:00 02:00' }, 'to: must be an ISO 8601 date-time (send a + in a query string as %2B)'],
    [{ from: ['2026-11-26T10:00:00Z', '2026-11-26T11:00:00Z'] }, 'from: must be an ISO 8601 date-time'],
    [{ from: '2026-11-26T11:00:00Z', to: '2026-11-26T10:00:00Z' }, 'from: must not be after to'],
    [{ from: '2026-11-27T00:00:00Z' }, 'from: must not be after to'],
    [{ granularity: 'hour', limit: '5' }, 'unknown query parameter "limit"'],
  ])('refuses %j', (query, details) => {
    expect(usageQuery(query, now)).toEqual(invalid(details));
  });
});

describe('eventsQuery', () => {
  it('passes filters through, with no defaults of its own', () => {
    expect(eventsQuery({})).toEqual({ ok: true, value: {} });
    expect(eventsQuery({ from: '2026-11-26T10:00:00Z', to: '2026-11-26T10:00:00Z', outcome: 'rate_limited', limit: '1000', cursor: 'abc' })).toEqual({
      ok: true,
      value: { from: '2026-11-26T10:00:00.000Z', to: '2026-11-26T10:00:00.000Z', outcome: 'rate_limited', limit: 1000, cursor: 'abc' },
    });
  });

  it('passes a bound finer than a millisecond on in UTC to the nanosecond, for metering to round', () => {
    expect(eventsQuery({ from: '2026-11-26T10:00:00.0005Z', to: '2026-11-26T11:00:00.9999+01:00' })).toEqual({
      ok: true,
      value: { from: '2026-11-26T10:00:00.0005Z', to: '2026-11-26T10:00:00.9999Z' },
    });
    expect(eventsQuery({ from: '2026-11-26T10:00:00.000000Z' })).toEqual({ ok: true, value: { from: '2026-11-26T10:00:00.000Z' } });
  });

  it('takes a range inside one millisecond, and refuses one that runs backwards inside it', () => {
    expect(eventsQuery({ from: '2026-11-27T10:00:00.0005Z', to: '2026-11-27T10:00:00.0009Z' })).toEqual({
      ok: true,
      value: { from: '2026-11-27T10:00:00.0005Z', to: '2026-11-27T10:00:00.0009Z' },
    });
    expect(eventsQuery({ from: '2026-11-27T10:00:00.0009Z', to: '2026-11-27T10:00:00.0005Z' })).toEqual(invalid('from: must not be after to'));
    expect(eventsQuery({ from: '2026-11-27T11:00:00.0009+01:00', to: '2026-11-27T10:00:00.0005Z' })).toEqual(invalid('from: must not be after to'));
  });

  it.each([
    [{ limit: '0' }, 'limit: Too small: expected number to be >=1'],
    [{ limit: '1001' }, 'limit: Too big: expected number to be <=1000'],
    [{ limit: 'all' }, 'limit: expected an integer between 1 and 1000'],
    [{ outcome: 'denied' }, 'outcome: must be one of allowed, forbidden, rate_limited, unauthorized'],
    [{ from: 'now' }, 'from: must be an ISO 8601 date-time'],
    [{ from: '2026-11-26T10:00:01Z', to: '2026-11-26T10:00:00Z' }, 'from: must not be after to'],
    [{ cursor: '' }, 'cursor: Too small: expected string to have >=1 characters'],
    [{ granularity: 'hour' }, 'unknown query parameter "granularity"'],
  ])('refuses %j', (query, details) => {
    expect(eventsQuery(query)).toEqual(invalid(details));
  });
});

describe('alertsQuery', () => {
  it('passes filters through', () => {
    expect(alertsQuery({ keyId: 'key_01JABCDEFGHJKMNPQRSTVWXYZ0', type: 'quota_exhausted', since: '2026-11-26T10:00:00Z', limit: '5' })).toEqual({
      ok: true,
      value: { keyId: 'key_01JABCDEFGHJKMNPQRSTVWXYZ0', type: 'quota_exhausted', since: '2026-11-26T10:00:00.000Z', limit: 5 },
    });
  });

  it.each([
    [{ type: 'spike' }, 'type: must be one of usage_spike, auth_failure_burst, permission_probe, quota_exhausted, revoked_key_use, new_source'],
    [{ since: 'last week' }, 'since: must be an ISO 8601 date-time'],
    [{ limit: '-1' }, 'limit: expected an integer between 1 and 1000'],
    [{ keyId: 'key_1' }, 'keyId: expected a key id like key_01J...'],
    [{ from: '2026-11-26T10:00:00Z' }, 'unknown query parameter "from"'],
  ])('refuses %j', (query, details) => {
    expect(alertsQuery(query)).toEqual(invalid(details));
  });
});
