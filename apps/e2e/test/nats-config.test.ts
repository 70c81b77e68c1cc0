import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { namespace } from '@keyplane/contracts';
import { generateKey } from '@keyplane/key-format';
import { encodeJson } from '@keyplane/nats';
import { usageEvent, waitFor } from '@keyplane/testing';
import type { ConfiguredNats, NatsUser } from './configured-nats.js';
import { startConfiguredStack, type ConfiguredStack } from './configured-stack.js';
import { awayFromHourEnd, hourEndWaitMs, RATE_LIMIT_HEADERS, type Stack } from './stack.js';

// The NATS configuration as shipped (infra/nats/nats.conf: one user per service, each allowed
// only its own subjects and streams) runs the whole product: every service logs in as its own
// user on a nats-server of this file's own, and every path of DESIGN that crosses NATS works.
// What a service's user must not do, it cannot. (That no user reads another's replies:
// nats-inboxes.test.ts.)

const HOUR_MARGIN_SECONDS = 30;
const ns = namespace('');
let server: ConfiguredNats;
let stack: Stack;
let configured: ConfiguredStack;
const connectAs = (user: NatsUser) => configured.connectAs(user);

beforeAll(async () => {
  configured = await startConfiguredStack('e2e_nats_config');
  ({ server, stack } = configured);
}, 60_000);

afterAll(() => configured?.close());

describe('infra/nats/nats.conf, as shipped', () => {
  it('lets every service start and report ready under its own user', async () => {
    const services = [stack.keys, ...stack.auth, stack.metering()!, stack.gateway];
    for (const { url } of services) {
      const response = await fetch(`${url}/readyz`);
      expect({ url, status: response.status }).toEqual({ url, status: 200 });
    }
  });

  it('carries a key through its whole life: issue, use, rotate, revoke, usage, events, audit, alerts', async () => {
    await awayFromHourEnd(HOUR_MARGIN_SECONDS);
    const { key, id } = await stack.createKey({ permissions: ['FLOWS:READ'], rateLimits: { hour: 100, day: 1000 } });
    const statuses: number[] = [];
    const use = async (secret: string, method = 'GET', body?: unknown) => {
      const answer = await stack.call(method, '/v1/flows', { key: secret, body });
      statuses.push(answer.status);
      return answer;
    };

    const used = await use(key);
    expect(used.status).toBe(200);
    for (const header of RATE_LIMIT_HEADERS) expect(used.headers.get(header)).not.toBeNull();
    expect((await use(key, 'POST', { name: 'x' })).status).toBe(403);

    const rotated = await stack.call('POST', `/v1/api-keys/${id}/rotate`, { body: { gracePeriodSeconds: 0 } });
    expect(rotated.status).toBe(200);
    const newKey: string = rotated.body.key;
    expect((await use(newKey)).status).toBe(200);

    expect((await stack.call('DELETE', `/v1/api-keys/${id}`)).status).toBe(200);
    await waitFor('the revocation on every auth replica', async () => {
      const answer = await use(newKey);
      return answer.status === 401 && answer.body.details === 'API key has been revoked';
    });

    const count = (status: number) => statuses.filter((seen) => seen === status).length;
    const usage = await waitFor('metering to count every decision', async () => {
      const answer = await stack.call('GET', `/v1/api-keys/${id}/usage?granularity=day`);
      const today = answer.status === 200 ? answer.body.data.at(-1) : undefined;
      return today?.requests === statuses.length ? today : undefined;
    }, 15_000);
    expect(usage).toMatchObject({ requests: statuses.length, allowed: count(200), forbidden: count(403), rateLimited: 0, unauthorized: count(401) });
    const events = await stack.call('GET', `/v1/api-keys/${id}/events?limit=100`);
    const outcomeOf: Record<number, string> = { 200: 'allowed', 403: 'forbidden', 401: 'unauthorized' };
    expect({ status: events.status, outcomes: events.body.data.map((event: { outcome: string }) => event.outcome) }).toEqual({
      status: 200,
      outcomes: statuses.map((status) => outcomeOf[status]).reverse(),
    });
    const audit = await stack.call('GET', `/v1/audit/events?keyId=${id}`);
    expect({ status: audit.status, types: audit.body.data.map((event: { type: string }) => event.type) }).toEqual({
      status: 200,
      types: ['KeyRevoked', 'KeySecretRotated', 'KeyIssued'],
    });
    await waitFor('the revoked-key alert', async () => {
      const alerts = await stack.call('GET', `/v1/alerts?keyId=${id}`);
      return alerts.status === 200 && alerts.body.data.some((alert: { type: string }) => alert.type === 'revoked_key_use');
    }, 15_000);
  }, 60_000 + hourEndWaitMs(HOUR_MARGIN_SECONDS));

  it("refuses a service's user what belongs to another service", async () => {
    const auth = await connectAs('auth');
    const forged = { type: 'KeyRevoked', version: 1, eventId: 'forged' };
    await expect(jetstream(auth).publish(ns.subjects.keyEvents.forKey(`key_${'0'.repeat(26)}`), encodeJson(forged))).rejects.toThrow(/permission/i);

    const metering = await connectAs('metering');
    await expect(jetstream(metering).publish(ns.subjects.usageEvents, encodeJson(usageEvent()))).rejects.toThrow(/permission/i);

    const gateway = await connectAs('gateway');
    await expect(jetstreamManager(gateway)).rejects.toThrow(/permission/i);
    await expect(gateway.request(ns.subjects.usageEvents, encodeJson(usageEvent()), { timeout: 2000 })).rejects.toThrow(/permission/i);
  });

  it("answers an unknown key once auth has asked JetStream for the stream's head, and counts use again after metering restarts", async () => {
    // Each reply comes back on the asking service's own inbox: auth's stream info, metering's consumer calls and pulls.
    const unknown = await stack.call('GET', '/v1/flows', { key: generateKey({ environment: 'live' }).key });
    expect({ status: unknown.status, body: unknown.body }).toEqual({ status: 401, body: { error: 'Unauthorized', details: 'Invalid or missing API key' } });

    await stack.restartMetering();
    const { key, id } = await stack.createKey({ permissions: ['FLOWS:READ'] });
    expect((await stack.call('GET', '/v1/flows', { key })).status).toBe(200);
    const today = await waitFor('the restarted metering to count the request', async () => {
      const answer = await stack.call('GET', `/v1/api-keys/${id}/usage?granularity=day`);
      return answer.status === 200 && answer.body.data.at(-1)?.requests === 1 ? answer.body.data.at(-1) : undefined;
    }, 15_000);
    expect(today).toMatchObject({ requests: 1, allowed: 1 });
  }, 60_000);

  it('leaves no NATS password in any log line, after all of the above', () => {
    const logged = stack.logs.text();
    for (const password of server.passwords) expect(logged).not.toContain(password);
  });
});
