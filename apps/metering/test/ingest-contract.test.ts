import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { jetstreamManager } from '@nats-io/jetstream';
import type { Msg } from '@nats-io/transport-node';
import { keyIdOf, usageEvent, waitFor } from '@keyplane/testing';
import type { UsageRecorded } from '@keyplane/contracts';
import { MeteringHarness } from './support/metering-harness.js';

type Answer = (res: ServerResponse) => void;

interface Hit {
  method: string | undefined;
  url: string | undefined;
  authorization: string | undefined;
  signature: string | undefined;
  body: string;
}

/** An HTTP server answering each request with the next scripted answer (then 200), keeping what it got. */
async function receiver(script: Answer[] = []) {
  const hits: Hit[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      hits.push({ method: req.method, url: req.url, authorization: req.headers.authorization, signature: req.headers['x-keyplane-signature'] as string | undefined, body });
      (script.shift() ?? ((r: ServerResponse) => r.writeHead(200).end()))(res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/keyplane`;
  const close = async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  };
  return { url, hits, close };
}

const redirectTo = (status: number, location: string): Answer => (res) => res.writeHead(status, { location }).end();

describe('metering ingest and alert delivery contract', () => {
  let h: MeteringHarness;
  let hour = 0;
  /** A revoked secret in use: one alert per event, each in an hour of its own. */
  const revokedUse = (name: string) =>
    usageEvent({ keyId: keyIdOf(name), outcome: 'unauthorized', reason: 'revoked', hourUsed: null, dayUsed: null, hourLimit: null, dayLimit: null, occurredAt: new Date(Date.parse('2026-07-01T00:00:00.000Z') + hour++ * 3_600_000).toISOString() });
  const deliveryOf = (keyId: string | null) =>
    h.db.selectFrom('alert_deliveries').innerJoin('alerts', 'alerts.id', 'alert_deliveries.alert_id').select(['attempts', 'delivered_at', 'failed_at', 'last_error']).where('alerts.key_id', '=', keyId).executeTakeFirst();

  beforeAll(async () => {
    h = await MeteringHarness.create('ingestcontract', { ALERT_WEBHOOK_URL: 'http://127.0.0.1:9/unused', ALERT_WEBHOOK_SECRET: 'whsec_contract', ALERT_WEBHOOK_BACKOFF_MS: '50' });
  });

  afterAll(async () => {
    await h.close();
  });

  it('keeps alert ids on the ALERTS stream for a day, so an alert published again after a crash and a late restart is dropped', async () => {
    await h.start();
    try {
      const { config } = await (await jetstreamManager(h.nc)).streams.info(h.ns.streams.alerts);
      expect(config.duplicate_window).toBe(86_400e9);
    } finally {
      await h.stop();
    }
  });

  describe('alert webhook', () => {
    afterEach(async () => {
      await h.stop();
    });

    it('never follows a redirect: each 3xx is a failed attempt, and nothing reaches the host it points to', async () => {
      const elsewhere = await receiver();
      const hook = await receiver([redirectTo(307, elsewhere.url), redirectTo(302, elsewhere.url)]);
      try {
        await h.start({ ALERT_WEBHOOK_URL: hook.url, ALERT_WEBHOOK_MAX_ATTEMPTS: '2' });
        const event = revokedUse('redirected');
        await h.publish([event]);
        const delivery = await waitFor('the delivery given up', async () => {
          const row = await deliveryOf(event.keyId);
          return row?.failed_at ? row : undefined;
        });

        expect(delivery).toMatchObject({ attempts: 2, delivered_at: null, last_error: 'HTTP 302 (redirects are not followed)' });
        expect(hook.hits.map((hit) => hit.method)).toEqual(['POST', 'POST']);
        expect(elsewhere.hits).toEqual([]);
      } finally {
        await hook.close();
        await elsewhere.close();
      }
    });

    it('records a delivery as soon as the 2xx arrives, whatever body follows it', async () => {
      // A 200 whose body never ends: waiting for it (or holding it) would cost the POST's whole timeout, and memory.
      const hook = await receiver([
        (res) => {
          res.writeHead(200, { 'content-type': 'text/plain' });
          const timer = setInterval(() => res.write('still talking\n'), 20);
          res.on('close', () => clearInterval(timer));
        },
      ]);
      try {
        await h.start({ ALERT_WEBHOOK_URL: hook.url, ALERT_WEBHOOK_TIMEOUT_MS: '60000' });
        const event = revokedUse('chatty');
        await h.publish([event]);
        const delivery = await waitFor(
          'the delivery recorded',
          async () => {
            const row = await deliveryOf(event.keyId);
            return row?.delivered_at ? row : undefined;
          },
          5000,
        );

        expect(delivery).toMatchObject({ attempts: 1, failed_at: null, last_error: null });
        expect(hook.hits).toHaveLength(1);
      } finally {
        await hook.close();
      }
    });

    it('sends credentials written in the URL as Basic auth, and never logs them', async () => {
      const hook = await receiver();
      try {
        const url = new URL(hook.url);
        url.username = 'keyplane';
        url.password = 'p@ss:w0rd/secret';
        await h.start({ ALERT_WEBHOOK_URL: url.href });
        const event = revokedUse('basic');
        await h.publish([event]);
        const delivery = await waitFor('the delivery recorded', async () => {
          const row = await deliveryOf(event.keyId);
          return row?.delivered_at || row?.failed_at ? row : undefined;
        });

        expect(delivery).toMatchObject({ attempts: 1, failed_at: null, last_error: null });
        expect(hook.hits.map(({ url, authorization }) => ({ url, authorization }))).toEqual([
          { url: '/hooks/keyplane', authorization: `Basic ${Buffer.from('keyplane:p@ss:w0rd/secret').toString('base64')}` },
        ]);
        expect(h.logs.lines.filter((line) => line.includes('w0rd'))).toEqual([]);
      } finally {
        await hook.close();
      }
    });

    it('says why a POST could not be sent, not only that fetch failed', async () => {
      const gone = await receiver();
      await gone.close();
      await h.start({ ALERT_WEBHOOK_URL: gone.url, ALERT_WEBHOOK_BACKOFF_MS: '60000' });
      const event = revokedUse('unreachable');
      await h.publish([event]);
      const delivery = await waitFor('a failed attempt', async () => {
        const row = await deliveryOf(event.keyId);
        return row?.last_error ? row : undefined;
      });

      expect(delivery).toMatchObject({ attempts: 1, delivered_at: null, failed_at: null, last_error: `fetch failed: connect ECONNREFUSED ${new URL(gone.url).host}` });
    });
  });

  describe('usage events', () => {
    const deadLetters: Msg[] = [];

    beforeAll(async () => {
      h.nc.subscribe(h.ns.subjects.usageDeadLetter, { callback: (_error, msg) => void deadLetters.push(msg) });
      await h.nc.flush();
      await h.start();
    });

    it('sets aside an event no decision could have made, rather than counting it where no account can see it', async () => {
      const keyId = keyIdOf('shapes');
      const occurredAt = '2026-08-01T10:00:00.000Z';
      const bad: [Partial<UsageRecorded>, string][] = [
        [{ keyId: '', accountId: '', environment: 'live' }, 'invalid UsageRecorded v1: keyId: expected a key id like key_01J...'],
        [{ keyId, accountId: 'tenant 7' }, 'invalid UsageRecorded v1: accountId: expected an account id like acc_...'],
        [{ keyId, accountId: null }, 'invalid UsageRecorded v1: accountId: must be null exactly when keyId is null'],
        [{ keyId, environment: null }, 'invalid UsageRecorded v1: environment: must be null exactly when keyId is null'],
        [{ keyId: null, accountId: 'acc_test', environment: null, outcome: 'unauthorized', reason: 'unknown_key' }, 'invalid UsageRecorded v1: accountId: must be null exactly when keyId is null'],
        [{ keyId, hourUsed: -5 }, 'invalid UsageRecorded v1: hourUsed: Too small: expected number to be >=0'],
        [{ keyId, dayLimit: -1 }, 'invalid UsageRecorded v1: dayLimit: Too small: expected number to be >=0'],
      ];
      const events = bad.map(([fields]) => usageEvent({ occurredAt, ...fields }));
      const good = usageEvent({ keyId, occurredAt });
      await h.publish([...events, good]);
      await h.settled();

      const windows = await h.db.selectFrom('usage_windows').select(['key_id', 'account_id', 'granularity', 'requests', 'allowed']).where('window_start', '>=', new Date('2026-08-01T00:00:00.000Z')).orderBy('granularity').execute();
      expect(windows).toEqual([
        { key_id: keyId, account_id: 'acc_test', granularity: 'day', requests: 1, allowed: 1 },
        { key_id: keyId, account_id: 'acc_test', granularity: 'hour', requests: 1, allowed: 1 },
      ]);
      expect(await h.db.selectFrom('usage_events').select('event_id').where('occurred_at', '>=', new Date(occurredAt)).execute()).toEqual([{ event_id: good.eventId }]);

      const stored = await h.db.selectFrom('dead_letters').select(['raw_payload', 'reason', 'event_type', 'event_version']).orderBy('stream_seq').execute();
      expect(stored).toEqual(events.map((event, index) => ({ raw_payload: JSON.stringify(event), reason: bad[index][1], event_type: 'UsageRecorded', event_version: 1 })));
      await waitFor('each on the dead-letter subject', () => deadLetters.length >= bad.length);
      expect(deadLetters.map((msg) => msg.headers?.get('Keyplane-Dead-Letter-Reason'))).toEqual(bad.map(([, reason]) => reason));
    });

    it('never quotes a field name that is no field name, in the reason, the header or the log', async () => {
      const secret = 'tv_live_0123456789ABCDEFGHIJabcdefghij4Xk9Qz';
      const keyId = keyIdOf('fieldnames');
      const bad: [Record<string, unknown>, string][] = [
        [{ ...usageEvent({ keyId }), [secret]: true }, 'invalid UsageRecorded v1: Unrecognized key: 1 name not shown'],
        [{ ...usageEvent({ keyId }), region: 'eu', [`x-${secret}`]: 1, [secret]: 2 }, 'invalid UsageRecorded v1: Unrecognized keys: "region", 2 names not shown'],
        [{ ...usageEvent({ keyId }), region: 'eu' }, 'invalid UsageRecorded v1: Unrecognized key: "region"'],
        [{ type: 'UsageBatch', version: 1, events: [usageEvent({ keyId })], [secret]: 1 }, 'invalid UsageBatch v1: Unrecognized key: 1 name not shown'],
      ];
      const seqs: number[] = [];
      for (const [message] of bad) seqs.push(await h.publishRaw(JSON.stringify(message)));
      await h.settled();

      const stored = await h.db.selectFrom('dead_letters').select('reason').where('stream_seq', 'in', seqs).orderBy('stream_seq').execute();
      expect(stored.map(({ reason }) => reason)).toEqual(bad.map(([, reason]) => reason));
      await waitFor('each on the dead-letter subject', () => seqs.every((seq) => deadLetters.some((msg) => msg.headers?.get('Keyplane-Stream-Seq') === String(seq))));
      const headers = deadLetters.filter((msg) => seqs.includes(Number(msg.headers?.get('Keyplane-Stream-Seq')))).map((msg) => msg.headers?.get('Keyplane-Dead-Letter-Reason'));
      expect(headers).toEqual(bad.map(([, reason]) => reason));
      expect(h.logs.lines.filter((line) => line.includes(secret))).toEqual([]);
    });

    it('sets aside an event id that comes back with other content, keeping the first; an identical one is a duplicate, however its time is written', async () => {
      const keyId = keyIdOf('immutable');
      const first = usageEvent({ keyId, userAgent: 'lone \uD800 surrogate', occurredAt: '2026-08-02T10:00:00.000Z' });
      const inBatch = usageEvent({ keyId, occurredAt: '2026-08-02T10:05:00.000Z' });
      const seqs = [
        await h.publishRaw(JSON.stringify(first)),
        await h.publishRaw(JSON.stringify(first)),
        await h.publishRaw(JSON.stringify({ ...first, outcome: 'forbidden', reason: 'missing_permission' })),
        await h.publishRaw(JSON.stringify({ type: 'UsageBatch', version: 1, events: [inBatch, { ...inBatch, path: '/v1/records', hourUsed: 7 }] })),
        // The same instant written another way is the same event.
        await h.publishRaw(JSON.stringify({ ...first, occurredAt: '2026-08-02T12:00:00+02:00' })),
      ];
      await h.settled();

      const window = await h.db.selectFrom('usage_windows').select(['requests', 'allowed', 'forbidden']).where('key_id', '=', keyId).where('granularity', '=', 'hour').executeTakeFirst();
      expect(window).toEqual({ requests: 2, allowed: 2, forbidden: 0 });
      const stored = await h.db.selectFrom('dead_letters').select(['stream_seq', 'batch_position', 'raw_payload', 'reason']).where('stream_seq', 'in', seqs).orderBy('stream_seq').execute();
      expect(stored).toEqual([
        { stream_seq: seqs[2], batch_position: 0, raw_payload: JSON.stringify({ ...first, outcome: 'forbidden', reason: 'missing_permission' }), reason: 'event id already stored with different content (outcome, reason); the first is kept' },
        { stream_seq: seqs[3], batch_position: 1, raw_payload: JSON.stringify({ ...inBatch, path: '/v1/records', hourUsed: 7 }), reason: 'event id already stored with different content (path, hour_used); the first is kept' },
      ]);
      const warnings = h.logs.lines.map((line) => JSON.parse(line)).filter((line) => line.msg === 'usage event set aside as a dead letter' && seqs.includes(line.streamSeq));
      expect(warnings.map(({ level, kind, streamSeq }) => ({ level, kind, streamSeq }))).toEqual([
        { level: 40, kind: 'conflicting_duplicate', streamSeq: seqs[2] },
        { level: 40, kind: 'conflicting_duplicate', streamSeq: seqs[3] },
      ]);
    });

    it('counts an event stamped in the future in its window, but never sets a last use later than now', async () => {
      const keyId = keyIdOf('clock-ahead');
      const before = Date.now();
      await h.publishRaw(JSON.stringify(usageEvent({ keyId, occurredAt: '9999-12-31T23:59:59.999Z' })));
      await h.settled();
      const window = await h.db.selectFrom('usage_windows').select(['window_start', 'requests']).where('key_id', '=', keyId).where('granularity', '=', 'hour').executeTakeFirst();
      expect(window).toEqual({ window_start: new Date('9999-12-31T23:00:00.000Z'), requests: 1 });
      const lastUse = await h.db.selectFrom('key_last_used').select('last_used_at').where('key_id', '=', keyId).executeTakeFirstOrThrow();
      expect(lastUse.last_used_at.getTime()).toBeGreaterThanOrEqual(before);
      expect(lastUse.last_used_at.getTime()).toBeLessThanOrEqual(Date.now());
    });
  });
});
