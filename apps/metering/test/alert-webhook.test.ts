import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHmac } from 'node:crypto';
import { keyIdOf, usageEvent, waitFor } from '@keyplane/testing';
import { MeteringHarness } from './support/metering-harness.js';

const SECRET = 'whsec_test_only';

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  answered: number;
}

/** A webhook receiver that answers from a script of statuses (then 200), keeping every request. */
async function receiver(script: number[]): Promise<{ server: Server; url: string; received: Received[] }> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      const answered = script.shift() ?? 200;
      received.push({ headers: req.headers, body, answered });
      res.writeHead(answered).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/keyplane`, received };
}

describe('metering alert webhook', () => {
  let h: MeteringHarness;
  let hook: Awaited<ReturnType<typeof receiver>>;

  beforeAll(async () => {
    hook = await receiver([503]);
    h = await MeteringHarness.create('webhook', { ALERT_WEBHOOK_URL: hook.url, ALERT_WEBHOOK_SECRET: SECRET, ALERT_WEBHOOK_BACKOFF_MS: '100' });
    await h.start();
  });

  afterAll(async () => {
    await h.close();
    await new Promise((resolve) => hook.server.close(resolve));
  });

  it('POSTs each alert signed with HMAC-SHA256 of the raw body, retrying after a failure', async () => {
    const keyId = keyIdOf('hooked');
    await h.publish([usageEvent({ keyId, outcome: 'unauthorized', reason: 'rotated_out', clientIp: '192.0.2.9', occurredAt: '2026-05-01T12:00:00.000Z' })]);
    await waitFor('a successful delivery', () => hook.received.some((request) => request.answered === 200), 5000);

    expect(hook.received.map((request) => request.answered)).toEqual([503, 200]);
    const [failed, delivered] = hook.received;
    expect(delivered.body).toBe(failed.body);
    const alert = JSON.parse(delivered.body);
    expect(alert).toMatchObject({ type: 'revoked_key_use', keyId, summary: `A rotated-out secret of ${keyId} was used from 192.0.2.9` });
    expect(delivered.headers['content-type']).toBe('application/json');
    expect(delivered.headers['x-keyplane-alert-id']).toBe(alert.id);
    expect(delivered.headers['x-keyplane-signature']).toBe(`sha256=${createHmac('sha256', SECRET).update(delivered.body).digest('hex')}`);

    // Recorded once the receiver's answer is back.
    const delivery = await waitFor('the delivery recorded', () =>
      h.db.selectFrom('alert_deliveries').selectAll().where('alert_id', '=', alert.id).where('delivered_at', 'is not', null).executeTakeFirst(),
    );
    expect(delivery).toMatchObject({ attempts: 2, failed_at: null, last_error: null });
  });

  it('resumes a delivery still owed after a restart', async () => {
    const down = await receiver([]);
    await new Promise((resolve) => down.server.close(resolve));
    await h.stop();
    // The receiver unreachable and the next retry a minute away: the delivery waits in Postgres.
    await h.start({ ALERT_WEBHOOK_URL: down.url, ALERT_WEBHOOK_BACKOFF_MS: '60000' });
    const keyId = keyIdOf('resumed');
    await h.publish([usageEvent({ keyId, outcome: 'rate_limited', reason: 'day_limit', dayUsed: 10000, dayLimit: 10000, occurredAt: '2026-05-01T13:00:00.000Z' })]);
    await waitFor('a failed attempt', async () => {
      const row = await h.db.selectFrom('alert_deliveries').select(['attempts', 'last_error']).where('delivered_at', 'is', null).executeTakeFirst();
      return row?.attempts === 1 && row.last_error !== null;
    });
    await h.stop();
    hook.received.length = 0;

    // Back with the receiver up, once the backoff has passed.
    await h.db.updateTable('alert_deliveries').set({ next_attempt_at: new Date() }).where('delivered_at', 'is', null).execute();
    await h.start();

    await waitFor('the owed delivery', () => hook.received.length > 0, 5000);
    expect(hook.received).toHaveLength(1);
    expect(JSON.parse(hook.received[0].body)).toMatchObject({ type: 'quota_exhausted', keyId, summary: `Key ${keyId} reached its daily limit of 10000 requests` });
    const delivery = await waitFor('the delivery recorded', () =>
      h.db.selectFrom('alert_deliveries').select('attempts').where('alert_id', '=', JSON.parse(hook.received[0].body).id).where('delivered_at', 'is not', null).executeTakeFirst(),
    );
    expect(delivery.attempts).toBe(2);
  });

  it('gives up after the last attempt', async () => {
    const failing = await receiver([500, 500, 500]);
    try {
      await h.stop();
      await h.start({ ALERT_WEBHOOK_URL: failing.url, ALERT_WEBHOOK_MAX_ATTEMPTS: '2' });
      const keyId = keyIdOf('abandoned');
      await h.publish([usageEvent({ keyId, outcome: 'unauthorized', reason: 'revoked', occurredAt: '2026-05-01T14:00:00.000Z' })]);
      const delivery = await waitFor('the delivery to be given up', () =>
        h.db
          .selectFrom('alert_deliveries')
          .innerJoin('alerts', 'alerts.id', 'alert_deliveries.alert_id')
          .select(['attempts', 'failed_at', 'delivered_at', 'last_error'])
          .where('alerts.key_id', '=', keyId)
          .where('failed_at', 'is not', null)
          .executeTakeFirst(),
      );
      expect(delivery).toMatchObject({ attempts: 2, delivered_at: null, last_error: 'HTTP 500' });
      expect(failing.received.map((request) => request.answered)).toEqual([500, 500]);
    } finally {
      await new Promise((resolve) => failing.server.close(resolve));
    }
  });
});
