import type { UsageRecorded } from '@keyplane/contracts';
import { createLogger, createMetricsRegistry } from '@keyplane/observability';
import { CapturedLogs } from '@keyplane/testing';
import { decideRequest } from '../../test/support/requests.js';
import { unauthorized } from '../decision/decide.js';
import type { UsagePublisher } from '../usage/usage-publisher.js';
import type { Authorizer } from './authorizer.js';
import { DecideController } from './decide.controller.js';
import { DecideMetrics } from './decide-metrics.js';
import { InFlight } from './in-flight.js';

function controller(decide: Authorizer['decide']) {
  const recorded: UsageRecorded[] = [];
  const logs = new CapturedLogs();
  const subject = new DecideController(
    { decide } as Authorizer,
    { record: (event: UsageRecorded) => recorded.push(event) } as unknown as UsagePublisher,
    new DecideMetrics(createMetricsRegistry('auth')),
    new InFlight(),
    createLogger('auth', { destination: logs }),
  );
  return { subject, recorded, logs };
}

describe('DecideController', () => {
  it('answers with the decision and records one usage event for it', async () => {
    const request = decideRequest('a'.repeat(64), 'FLOWS:READ');
    const { subject, recorded } = controller(async () => ({ request, decision: unauthorized('unknown_key'), matched: null, at: Date.now() }));
    expect(await subject.decide(request)).toEqual({ ok: true, value: unauthorized('unknown_key') });
    expect(recorded).toHaveLength(1);
    expect(recorded[0]).toMatchObject({ requestId: request.requestId, outcome: 'unauthorized', reason: 'unknown_key' });
  });

  it('answers 400 naming the field, deciding and recording nothing', async () => {
    const { subject, recorded } = controller(() => Promise.reject(new Error('must not be asked')));
    expect(await subject.decide({ ...decideRequest('a'.repeat(64), null), method: '' })).toEqual({
      ok: false,
      error: { status: 400, error: 'Bad Request', details: 'method: Too small: expected string to have >=1 characters' },
    });
    expect(recorded).toEqual([]);
  });

  it('answers 400 to a required permission outside the catalog, deciding and recording nothing', async () => {
    const { subject, recorded } = controller(() => Promise.reject(new Error('must not be asked')));
    expect(await subject.decide(decideRequest('a'.repeat(64), 'FLOW:READ'))).toEqual({
      ok: false,
      error: { status: 400, error: 'Bad Request', details: 'permission: unknown permission "FLOW:READ"' },
    });
    expect(recorded).toEqual([]);
  });

  it('fails closed with 503 when no decision can be made, and records no usage', async () => {
    const { subject, recorded, logs } = controller(() => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:5432')));
    expect(await subject.decide(decideRequest('a'.repeat(64), null))).toEqual({
      ok: false,
      error: { status: 503, error: 'Service Unavailable', details: 'Authorization service unavailable' },
    });
    expect(recorded).toEqual([]);
    expect(logs.text()).toContain('no decision: the quota store failed');
  });
});
