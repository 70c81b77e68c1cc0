/**
 * Who answers a matched route: the upstream API behind the gateway, or one of the gateway's
 * own management handlers (DESIGN §7), each naming the path parameters it needs.
 */
export const TARGETS = {
  upstream: [],
  'keys.create': [],
  'keys.list': [],
  'keys.get': ['id'],
  'keys.update': ['id'],
  'keys.rotate': ['id'],
  'keys.revoke': ['id'],
  'keys.audit': [],
  'metering.usage': ['id'],
  'metering.events': ['id'],
  'metering.alerts': [],
} as const satisfies Record<string, readonly string[]>;

export type Target = keyof typeof TARGETS;
export type ManagementTarget = Exclude<Target, 'upstream'>;

export const isTarget = (value: string): value is Target => Object.hasOwn(TARGETS, value);
