import type { NatsConnection } from '@nats-io/transport-node';

const DEFAULT_INBOX_PREFIX = '_INBOX';

/**
 * Where the replies to a NATS user's requests arrive: `_INBOX.<user>`. nats.conf lets each user
 * subscribe to its own `_INBOX.<user>.>` and nothing else under `_INBOX`, so one service's
 * credentials cannot read the replies meant for another (auth's decisions and metering's
 * answers to the gateway, JetStream's answers to each service). The prefix stays under
 * `_INBOX.`, so a server still allowing `_INBOX.>` keeps working while services are upgraded.
 */
export function inboxPrefixFor(user: string): string {
  const prefix = `${DEFAULT_INBOX_PREFIX}.${user}`;
  const usable = user.split('.').every((token) => token !== '' && token !== '*' && token !== '>' && !/\s/.test(token));
  if (!usable) throw new Error(`the NATS user ${JSON.stringify(user)} cannot name an inbox subject (${prefix}): use letters, digits, "-" and "_"`);
  return prefix;
}

/**
 * The inbox prefix a connection was made with: what nats.js's own requests, JetStream's API
 * calls and its consumers' pulls take their reply subjects from.
 */
export function inboxPrefixOf(nc: NatsConnection): string {
  return (nc as unknown as { options?: { inboxPrefix?: string } }).options?.inboxPrefix || DEFAULT_INBOX_PREFIX;
}
