import { z } from 'zod';
import { AlertType, Cursor, Granularity, KeyId, Outcome } from '@keyplane/contracts';
import { checkQuery, type Checked } from '../management/query-input.js';
import { dateTimeParam, limitParam } from '../management/query-params.js';
import { exactDateTimeParam, fromNotAfterTo } from '../management/exact-instant.js';

// The query strings of the usage, usage-event and alert endpoints (DESIGN §7), checked at the
// edge so a 400 names the parameter as the client wrote it. Times leave normalized to UTC. The
// ends of a range leave to the nanosecond, and metering rounds them to its milliseconds: a
// range inside one millisecond is valid (empty of events, inside one window), where rounding
// both ends here would turn it around.

const HOUR_MS = 3_600_000;

/** Without `from`, usage covers the last 24 hours by hour, the last 30 days by day, up to `to`. */
const DEFAULT_USAGE_SPAN_MS: Record<Granularity, number> = { hour: 24 * HOUR_MS, day: 30 * 24 * HOUR_MS };

const oneOf = (values: readonly string[]) => `must be one of ${values.join(', ')}`;

const UsageParams = z.strictObject({
  granularity: z.enum(Granularity.options, { error: 'must be "hour" or "day"' }).default('hour'),
  from: exactDateTimeParam.optional(),
  to: exactDateTimeParam.optional(),
});

const EventsParams = z.strictObject({
  from: exactDateTimeParam.optional(),
  to: exactDateTimeParam.optional(),
  outcome: z.enum(Outcome.options, { error: oneOf(Outcome.options) }).optional(),
  limit: limitParam.optional(),
  cursor: Cursor.optional(),
});

const AlertsParams = z.strictObject({
  keyId: KeyId.optional(),
  type: z.enum(AlertType.options, { error: oneOf(AlertType.options) }).optional(),
  since: dateTimeParam('up').optional(),
  limit: limitParam.optional(),
  cursor: Cursor.optional(),
});

export interface UsageRange {
  granularity: Granularity;
  from: string;
  to: string;
}
export type EventsFilter = z.infer<typeof EventsParams>;
export type AlertsFilter = z.infer<typeof AlertsParams>;

/**
 * The earliest instant a time parameter may name. A default `from` stops there: the span before
 * a `to` in the year 0001 would otherwise fall outside what metering accepts, and its 400 would
 * name a `from` the caller never sent.
 */
const EARLIEST_MS = Date.parse('0001-01-01T00:00:00.000Z');

/** `to` defaults to `now`, `from` to the default span before `to`. How many windows a range may span is metering's to say. */
export function usageQuery(query: unknown, now: Date): Checked<UsageRange> {
  const checked = checkQuery(UsageParams, query);
  if (!checked.ok) return checked;
  const { granularity, from, to = now.toISOString() } = checked.value;
  const defaultFrom = () => new Date(Math.max(Date.parse(to) - DEFAULT_USAGE_SPAN_MS[granularity], EARLIEST_MS)).toISOString();
  return fromNotAfterTo({ ok: true, value: { granularity, from: from ?? defaultFrom(), to } });
}

export function eventsQuery(query: unknown): Checked<EventsFilter> {
  return fromNotAfterTo(checkQuery(EventsParams, query));
}

export function alertsQuery(query: unknown): Checked<AlertsFilter> {
  return checkQuery(AlertsParams, query);
}
