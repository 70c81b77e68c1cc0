import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { namespace } from '@keyplane/contracts';
import { repoRoot } from './read.js';

const conf = readFileSync(join(repoRoot, 'infra/nats/nats.conf'), 'utf8');
const { subjects, streams } = namespace('');

/** The permissions block of one user, as text. */
function userBlock(user: string): string {
  const start = conf.indexOf(`user: ${user}\n`);
  if (start < 0) throw new Error(`no NATS user ${user}`);
  const next = conf.indexOf('user: ', start + 1);
  return conf.slice(start, next < 0 ? undefined : next);
}

function allowed(block: string, direction: 'publish' | 'subscribe'): string[] {
  const at = block.indexOf(`${direction}:`);
  const open = block.indexOf('[', at);
  const close = block.indexOf(']', open);
  return [...block.slice(open + 1, close).matchAll(/"([^"]+)"/g)].map((m) => m[1]);
}

function matches(pattern: string, subject: string): boolean {
  const p = pattern.split('.');
  const s = subject.split('.');
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '>') return s.length > i;
    if (p[i] !== '*' && p[i] !== s[i]) return false;
  }
  return p.length === s.length;
}

const can = (user: string, direction: 'publish' | 'subscribe', subject: string) =>
  allowed(userBlock(user), direction).some((pattern) => matches(pattern, subject));

describe('infra/nats/nats.conf', () => {
  it('enables JetStream', () => {
    expect(conf).toMatch(/jetstream\s*{/);
  });

  it('lets each service serve exactly its own requests', () => {
    for (const subject of Object.values(subjects.keys)) expect(can('keys', 'subscribe', subject)).toBe(true);
    expect(can('auth', 'subscribe', subjects.auth.decide)).toBe(true);
    for (const subject of Object.values(subjects.metering)) expect(can('metering', 'subscribe', subject)).toBe(true);
    expect(can('auth', 'subscribe', subjects.keys.issue)).toBe(false);
    expect(can('gateway', 'subscribe', subjects.auth.decide)).toBe(false);
  });

  it('lets the gateway ask every service, and nothing else', () => {
    for (const subject of [subjects.auth.decide, ...Object.values(subjects.keys), ...Object.values(subjects.metering)]) {
      expect(can('gateway', 'publish', subject)).toBe(true);
    }
    expect(can('gateway', 'publish', subjects.usageEvents)).toBe(false);
    expect(can('gateway', 'publish', subjects.keyEvents.forKey('key_01J0000000000000000000000A'))).toBe(false);
  });

  it('lets only the owner publish its events', () => {
    expect(can('keys', 'publish', subjects.keyEvents.forKey('key_01J0000000000000000000000A'))).toBe(true);
    expect(can('auth', 'publish', subjects.usageEvents)).toBe(true);
    expect(can('metering', 'publish', subjects.alerts.ofType('usage_spike'))).toBe(true);
    expect(can('auth', 'publish', subjects.keyEvents.forKey('key_01J0000000000000000000000A'))).toBe(false);
    expect(can('metering', 'publish', subjects.usageEvents)).toBe(false);
  });

  it('names the streams the services use', () => {
    expect(userBlock('keys')).toContain(streams.keyEvents);
    expect(userBlock('auth')).toContain(streams.usageEvents);
    expect(userBlock('metering')).toContain(streams.usageEvents);
    expect(userBlock('metering')).toContain(streams.alerts);
  });

  it("lets metering alone set the usage stream's limits (USAGE_STREAM_MAX_AGE_HOURS)", () => {
    expect(can('metering', 'publish', `$JS.API.STREAM.UPDATE.${streams.usageEvents}`)).toBe(true);
    expect(can('auth', 'publish', `$JS.API.STREAM.UPDATE.${streams.usageEvents}`)).toBe(false);
    expect(can('metering', 'publish', `$JS.API.STREAM.UPDATE.${streams.keyEvents}`)).toBe(false);
  });

  it('answers requests through allow_responses rather than a broad _INBOX publish', () => {
    for (const user of ['keys', 'auth', 'metering']) {
      expect(userBlock(user)).toContain('allow_responses: true');
      expect(can(user, 'publish', '_INBOX.abc')).toBe(false);
    }
  });

  it("lets each service read the replies on its own inbox, where it receives them, and on no other's", () => {
    const users = ['keys', 'auth', 'metering', 'gateway'];
    // Where a user's replies arrive: inboxPrefixFor in libs/nats.
    const inboxPrefixFor = (user: string) => `_INBOX.${user}`;
    for (const user of users) {
      expect(allowed(userBlock(user), 'subscribe')).toContain(`${inboxPrefixFor(user)}.>`);
      expect(can(user, 'subscribe', `${inboxPrefixFor(user)}.Yq3Xb1ZpTmVn8KcQh2JdRs.7`)).toBe(true);
      for (const other of users.filter((candidate) => candidate !== user)) {
        expect(can(user, 'subscribe', `${inboxPrefixFor(other)}.Yq3Xb1ZpTmVn8KcQh2JdRs.7`)).toBe(false);
      }
      expect(can(user, 'subscribe', '_INBOX.Yq3Xb1ZpTmVn8KcQh2JdRs.7')).toBe(false);
    }
  });
});
