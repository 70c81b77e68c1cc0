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
