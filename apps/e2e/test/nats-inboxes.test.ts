import { jetstreamManager } from '@nats-io/jetstream';
import { connect, Empty, type NatsConnection } from '@nats-io/transport-node';
import { namespace } from '@keyplane/contracts';
import { decodeJson, encodeJson, natsServerOptions, RequestMux } from '@keyplane/nats';
import { waitFor } from '@keyplane/testing';
import type { ConfiguredNats, NatsUser } from './configured-nats.js';
import { startConfiguredStack, type ConfiguredStack } from './configured-stack.js';
import type { Stack } from './stack.js';

// Replies on NATS carry decisions and account data (auth's answers, key metadata, usage). Under
// infra/nats/nats.conf as shipped, each service's replies arrive under `_INBOX.<its user>` and
// only that user may subscribe there: one service's credentials read no other service's replies.

const USERS: NatsUser[] = ['keys', 'auth', 'metering', 'gateway'];
const ns = namespace('');
let server: ConfiguredNats;
let stack: Stack;
let configured: ConfiguredStack;
const connectAs = (user: NatsUser) => configured.connectAs(user);

interface Watch {
  /** The server's refusal of the subscription, if it refused it. */
  refusal?: string;
  /** Subjects of the messages the subscription received. */
  seen: string[];
}

/** Subscribes and records what comes of it; a refusal arrives before the answer to the next flush(). */
function watch(nc: NatsConnection, subject: string): Watch {
  const result: Watch = { seen: [] };
  nc.subscribe(subject, {
    callback: (error, msg) => {
      if (error) result.refusal = error.message;
      else result.seen.push(msg.subject);
    },
  });
  return result;
}

const refusedSubscription = (subject: string) => `Permissions Violation for Subscription to "${subject}"`;

beforeAll(async () => {
  configured = await startConfiguredStack('e2e_nats_inboxes');
  ({ server, stack } = configured);
}, 60_000);

afterAll(() => configured?.close());

describe("NATS replies, under infra/nats/nats.conf as shipped", () => {
  it("refuses the metering user a subscription to auth.decide's replies, which it then never sees", async () => {
    const { key } = await stack.createKey({ permissions: ['FLOWS:READ'] });
    const metering = await connectAs('metering');
    const gatewayReplies = watch(metering, '_INBOX.gateway.>');
    const everyReply = watch(metering, '_INBOX.>');
    await metering.flush();

    const answers = [];
    for (let i = 0; i < 3; i++) answers.push((await stack.call('GET', '/v1/flows', { key })).status);
    await metering.flush();

    expect(answers).toEqual([200, 200, 200]);
    expect(gatewayReplies).toEqual({ refusal: refusedSubscription('_INBOX.gateway.>'), seen: [] });
    expect(everyReply).toEqual({ refusal: refusedSubscription('_INBOX.>'), seen: [] });
  });

  it("refuses every service's user the inbox of every other one, and the whole of _INBOX", async () => {
    const refusals: Record<string, string | undefined> = {};
    const expected: Record<string, string> = {};
    for (const user of USERS) {
      const nc = await connectAs(user);
      const subjects = ['_INBOX.>', '_INBOX.*.>', ...USERS.filter((other) => other !== user).map((other) => `_INBOX.${other}.>`)];
      const watches = subjects.map((subject) => [subject, watch(nc, subject)] as const);
      await nc.flush();
      for (const [subject, { refusal }] of watches) {
        refusals[`${user} ${subject}`] = refusal;
        expected[`${user} ${subject}`] = refusedSubscription(subject);
      }
    }
    expect(refusals).toEqual(expected);
  });

  it('lets each user read the replies on its own inbox, through nats.js and through a RequestMux', async () => {
    for (const user of ['keys', 'auth', 'metering'] as const) {
      const nc = await connectAs(user);
      // JetStream answers on the connection's inbox: $JS.API.INFO is the one call every service may make.
      const info = await (await jetstreamManager(nc)).getAccountInfo();
      const mux = new RequestMux(nc);
      const muxed = await mux.request('$JS.API.INFO', Empty, { timeoutMs: 5000 }).finally(() => mux.close());
      expect({ user, streams: info.streams > 0, muxedInbox: muxed.subject.split('.').slice(0, 2).join('.') }).toEqual({
        user,
        streams: true,
        muxedInbox: `_INBOX.${user}`,
      });
    }
    const gateway = await connectAs('gateway');
    // Not a Nest request: auth's front answers it 400 itself, on the gateway user's inbox.
    const reply = await gateway.request(ns.subjects.auth.decide, encodeJson({ not: 'a request' }), { timeout: 5000 });
    expect(reply.subject.startsWith('_INBOX.gateway.')).toBe(true);
    expect(decodeJson(reply.data)).toMatchObject({ id: null, response: { ok: false, error: { status: 400 } } });
  });

  it("fails a RequestMux's requests with the server's reason when its user may not read its inbox, and keeps the connection working", async () => {
    // As a service would be under a nats.conf that names its user's inbox wrongly.
    const misplaced = await connect({ ...natsServerOptions(server.urlFor('metering')), inboxPrefix: '_INBOX.gateway', name: 'e2e-inboxes-misplaced' });
    configured.closeLater(misplaced);
    const probes: string[] = [];
    misplaced.subscribe('metering.query.inbox-probe', { callback: (_error, msg) => void probes.push(msg.string()) });
    const mux = new RequestMux(misplaced);
    const refusal = /^no reply can arrive: Permissions Violation for Subscription to "_INBOX\.gateway\.\w+\.\*"$/;

    await expect(mux.request('$JS.API.INFO', Empty, { timeoutMs: 20_000 })).rejects.toThrow(refusal);
    // The next request subscribes anew (a corrected config would take), and is refused the same way.
    await expect(mux.request('$JS.API.INFO', Empty, { timeoutMs: 20_000 })).rejects.toThrow(refusal);
    expect(mux.waiting).toBe(0);
    mux.close();

    const gateway = await connectAs('gateway');
    gateway.publish('metering.query.inbox-probe', 'still reading');
    await waitFor('the connection to still take messages', () => probes.includes('still reading'), 10_000);
  }, 60_000);
});
