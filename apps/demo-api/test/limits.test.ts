import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { ServiceHandle } from '@keyplane/runtime';
import { CapturedLogs } from '@keyplane/testing';
import { loadDemoApiConfig } from '../src/config.js';
import { startDemoApiService } from '../src/start.js';

// What a client can make the demo API keep is bounded (README "Limits"): a count and a byte
// budget per collection, account and environment, and no copy of each flow run.

let service: ServiceHandle;

beforeAll(async () => {
  service = await startDemoApiService(loadDemoApiConfig({ PORT: '0', HOST: '127.0.0.1' }), { logDestination: new CapturedLogs() });
});

afterAll(() => service.close());

const tenant = (accountId: string) => ({ 'x-keyplane-environment': 'live', 'x-keyplane-account-id': accountId, 'content-type': 'application/json' });

async function post(path: string, headers: Record<string, string>, body: unknown) {
  const response = await fetch(`${service.url}${path}`, { method: 'POST', headers, body: JSON.stringify(body) });
  return { status: response.status, type: response.headers.get('content-type'), body: (await response.json()) as Record<string, unknown> };
}

describe('limits', () => {
  it('keeps at most 1000 of a collection per account and environment, and says so with a 409', async () => {
    const headers = tenant('acc_count');
    for (let batch = 0; batch < 1000; batch += 50) {
      const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => post('/v1/prompts', headers, { name: `p${batch + i}`, template: 't' })));
      expect(answers.map((a) => a.status)).toEqual(Array(50).fill(201));
    }
    expect(await post('/v1/prompts', headers, { name: 'one too many', template: 't' })).toEqual({
      status: 409,
      type: 'application/json',
      body: { error: 'Conflict', details: 'Too many prompts: an account keeps at most 1000 per environment; delete some first' },
    });
    // Another collection and another account are not held back by this one.
    expect((await post('/v1/flows', headers, { name: 'f' })).status).toBe(201);
    expect((await post('/v1/prompts', tenant('acc_count_other'), { name: 'p', template: 't' })).status).toBe(201);
  });

  it('keeps no copy of a run: executing a flow with large inputs does not grow memory', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const headers = tenant('acc_runs');
    const flow = (await post('/v1/flows', headers, { name: 'echo' })).body;
    const heapAfterGc = () => {
      gc();
      return process.memoryUsage().heapUsed;
    };
    const before = heapAfterGc();
    for (let i = 0; i < 64; i++) {
      const run = await post(`/v1/flows/${flow.id as string}/execute`, headers, { input: { blob: `${i}`.padEnd(1_000_000, 'z') } });
      expect(run.status).toBe(200);
    }
    // 64 kept inputs would be 64 MB; what is left after a full collection is noise.
    expect(heapAfterGc() - before).toBeLessThan(16 * 1024 * 1024);
  });
});
