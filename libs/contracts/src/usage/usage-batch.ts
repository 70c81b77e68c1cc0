import { createHash } from 'node:crypto';
import { z } from 'zod';
import { UsageRecorded } from './usage-event.js';

/**
 * How auth carries usage events on the stream: the events of the decisions made while its
 * previous message awaited the broker, in one message. Still one event per decision; a
 * message per decision cost the broker, auth and metering more than the decision itself.
 * Consumers also read a bare `UsageRecorded` as a message of its own.
 */
export const UsageBatch = z.strictObject({
  type: z.literal('UsageBatch'),
  version: z.literal(1),
  events: z.array(UsageRecorded).min(1),
});
export type UsageBatch = z.infer<typeof UsageBatch>;

export const usageBatch = (events: readonly UsageRecorded[]): UsageBatch => ({ type: 'UsageBatch', version: 1, events: [...events] });

const encoder = new TextEncoder();
const HEAD = encoder.encode('{"type":"UsageBatch","version":1,"events":[');
const TAIL = encoder.encode(']}');
const COMMA = 0x2c;

/** The bytes of a `UsageBatch` around events already encoded as JSON: what the publisher weighs is what it sends. */
export function encodeUsageBatch(events: readonly Uint8Array[]): Uint8Array {
  const body = new Uint8Array(usageBatchBytes(events));
  body.set(HEAD, 0);
  let at = HEAD.length;
  events.forEach((event, index) => {
    if (index > 0) body[at++] = COMMA;
    body.set(event, at);
    at += event.length;
  });
  body.set(TAIL, at);
  return body;
}

/** The size of `encodeUsageBatch(events)`. */
export function usageBatchBytes(events: readonly Uint8Array[]): number {
  return events.reduce((sum, event) => sum + event.length, HEAD.length + TAIL.length + Math.max(0, events.length - 1));
}

/**
 * The batch's JetStream message id: a digest of its event ids in order (each after its length,
 * so no two lists run together the same way). A batch sent again after a lost acknowledgement
 * is stored once, and two different batches never share an id.
 */
export function usageBatchMessageId(events: readonly Pick<UsageRecorded, 'eventId'>[]): string {
  const digest = createHash('sha256');
  for (const { eventId } of events) digest.update(`${eventId.length}:${eventId}`);
  return `usage-${digest.digest('base64url')}`;
}
