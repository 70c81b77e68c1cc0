// Every NATS subject and JetStream stream name, derived from one namespace prefix.
// Production runs with an empty prefix; each test file picks its own so files never see
// each other's traffic on the shared NATS server.

export interface Namespace {
  readonly prefix: string;
  readonly subjects: ReturnType<typeof subjectsFor>;
  readonly streams: ReturnType<typeof streamsFor>;
}

const validPrefix = /^[a-zA-Z0-9_-]*$/;

export function namespace(prefix = ''): Namespace {
  if (!validPrefix.test(prefix)) {
    throw new Error(`NATS namespace prefix "${prefix}" may hold only letters, digits, "_" and "-"`);
  }
  return { prefix, subjects: subjectsFor(prefix), streams: streamsFor(prefix) };
}

function subjectsFor(prefix: string) {
  const p = prefix ? `${prefix}.` : '';
  return {
    keys: {
      issue: `${p}keys.cmd.issue`,
      rotate: `${p}keys.cmd.rotate`,
      revoke: `${p}keys.cmd.revoke`,
      update: `${p}keys.cmd.update`,
      get: `${p}keys.query.get`,
      list: `${p}keys.query.list`,
      audit: `${p}keys.query.audit`,
    },
    auth: {
      decide: `${p}auth.decide`,
    },
    metering: {
      usage: `${p}metering.query.usage`,
      events: `${p}metering.query.events`,
      alerts: `${p}metering.query.alerts`,
      lastUsed: `${p}metering.query.last-used`,
    },
    /** Key lifecycle events, one subject per key: `events.keys.<keyId>`. */
    keyEvents: {
      all: `${p}events.keys.>`,
      forKey: (keyId: string) => `${p}events.keys.${keyId}`,
    },
    /** One usage event per authorization decision, several decisions' events to a `UsageBatch` message. */
    usageEvents: `${p}events.usage`,
    /** Usage events metering could not read, set aside with the reason. */
    usageDeadLetter: `${p}events.usage-dead-letter`,
    alerts: {
      all: `${p}alerts.>`,
      ofType: (type: string) => `${p}alerts.${type}`,
    },
  };
}

function streamsFor(prefix: string) {
  const p = prefix ? `${prefix.replace(/-/g, '_')}_` : '';
  return {
    keyEvents: `${p}KEY_EVENTS`,
    usageEvents: `${p}USAGE_EVENTS`,
    alerts: `${p}ALERTS`,
  };
}
