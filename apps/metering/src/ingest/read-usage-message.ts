import { z } from 'zod';
import { describeIssue, EventHeader, UsageBatch, UsageRecorded } from '@keyplane/contracts';

export type DeadLetterKind = 'malformed_json' | 'not_an_event' | 'unknown_version' | 'schema_invalid' | 'rejected_by_database' | 'unstorable' | 'conflicting_duplicate';

export interface Unreadable {
  ok: false;
  kind: DeadLetterKind;
  reason: string;
  type: string | null;
  version: number | null;
}

export type ReadResult = { ok: true; event: UsageRecorded } | Unreadable;

/** One event read from the usage stream, or a whole message that could not be read as events. */
export interface ReadEntry {
  /** Stream sequence and position in the message: the dead-letter table's key, so a redelivered bad entry is set aside once. */
  seq: number;
  /** The event's index in a `UsageBatch`; 0 for a bare event or an unreadable message. */
  position: number;
  /** What a dead letter keeps: the message, or the one event of a batch. */
  readonly data: Uint8Array;
  read: ReadResult;
}

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** A batch's envelope; its events are read one by one, so one bad event sets aside only itself. */
const BatchEnvelope = UsageBatch.extend({ events: z.array(z.unknown()).min(1) });

/**
 * Reads one message of the usage stream: a `UsageBatch` v1 or a bare `UsageRecorded` v1.
 * Anything this consumer cannot count (not JSON, not an event, a type or version it does not
 * know, an event that breaks its schema) comes back with the reason, to be set aside rather
 * than dropped or retried forever.
 */
export function readUsageMessage(seq: number, data: Uint8Array): ReadEntry[] {
  const whole = (read: ReadResult): ReadEntry[] => [{ seq, position: 0, data, read }];
  let json: unknown;
  try {
    json = JSON.parse(decoder.decode(data));
  } catch (error) {
    // JSON.parse quotes the input in its message; keep only where it broke, never the payload.
    const position = /at position (\d+)/.exec((error as Error).message);
    const reason = position ? `malformed JSON at position ${position[1]}` : 'malformed JSON';
    return whole({ ok: false, kind: 'malformed_json', reason, type: null, version: null });
  }
  const header = EventHeader.safeParse(json);
  if (!header.success || header.data.type !== 'UsageBatch') return whole(readEvent(json, header));
  const { type, version } = header.data;
  if (version !== 1) return whole({ ok: false, kind: 'unknown_version', reason: `unknown event type or version: ${type} v${version}`, type, version });
  const batch = BatchEnvelope.safeParse(json);
  if (!batch.success) return whole({ ok: false, kind: 'schema_invalid', reason: `invalid ${type} v${version}: ${describeSchemaIssue(batch.error.issues[0])}`, type, version });
  return batch.data.events.map((event, position) => ({
    seq,
    position,
    // Only a dead letter needs the event's own text.
    get data() {
      return encoder.encode(JSON.stringify(event));
    },
    read: readEvent(event),
  }));
}

/**
 * `header` is the event's header read already, when the caller had to read it. A valid event
 * has a valid header, so the header is read only to say why an event is not valid.
 */
function readEvent(json: unknown, header?: ReturnType<typeof EventHeader.safeParse>): ReadResult {
  const event = UsageRecorded.safeParse(json);
  // Stored and paged by millisecond time, so a cursor built from a stored row matches it exactly.
  if (event.success) return { ok: true, event: { ...event.data, occurredAt: new Date(event.data.occurredAt).toISOString() } };
  const read = header ?? EventHeader.safeParse(json);
  if (!read.success) {
    return { ok: false, kind: 'not_an_event', reason: `not an event: ${describeIssue(read.error.issues[0])}`, type: null, version: null };
  }
  const { type, version } = read.data;
  if (type !== 'UsageRecorded' || version !== 1) {
    return { ok: false, kind: 'unknown_version', reason: `unknown event type or version: ${type} v${version}`, type, version };
  }
  return { ok: false, kind: 'schema_invalid', reason: `invalid ${type} v${version}: ${describeSchemaIssue(event.error.issues[0])}`, type, version };
}

/** A field name as ours are spelled; anything else a sender put there could be any text, a secret included. */
const FIELD_NAME = /^[A-Za-z][A-Za-z0-9]{0,63}$/;

/** The first problem, as describeIssue says it, except that an unknown field is named only when its name is a field name. */
function describeSchemaIssue(issue: z.core.$ZodIssue | undefined): string {
  if (issue?.code !== 'unrecognized_keys' || issue.keys.every((key) => FIELD_NAME.test(key))) return describeIssue(issue);
  const shown = issue.keys.filter((key) => FIELD_NAME.test(key)).map((key) => `"${key}"`);
  const hidden = issue.keys.length - shown.length;
  const message = `Unrecognized key${issue.keys.length > 1 ? 's' : ''}: ${[...shown, `${hidden} name${hidden > 1 ? 's' : ''} not shown`].join(', ')}`;
  return describeIssue({ ...issue, message });
}

/** The raw payload as text Postgres can hold (no NUL), for the dead-letter table. */
export function rawText(data: Uint8Array): string {
  return decoder.decode(data).replaceAll('\u0000', '\uFFFD');
}
