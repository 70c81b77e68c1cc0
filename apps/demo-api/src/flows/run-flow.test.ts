import type { Flow } from './flow.js';
import { runFlow } from './run-flow.js';

const flow: Flow = {
  id: 'flow_1',
  name: 'nightly',
  steps: [{ name: 'fetch', action: 'http.get' }],
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
};

describe('runFlow', () => {
  it('succeeds every step and echoes the input', () => {
    expect(runFlow(flow, { input: { day: 1 } }, { id: 'run_1', now: new Date('2026-02-01T00:00:00Z') })).toEqual({
      id: 'run_1',
      flowId: 'flow_1',
      status: 'succeeded',
      output: { input: { day: 1 }, steps: [{ name: 'fetch', action: 'http.get', status: 'succeeded' }] },
      startedAt: '2026-02-01T00:00:00.000Z',
      finishedAt: '2026-02-01T00:00:00.000Z',
    });
  });

  it('runs a flow without steps or input', () => {
    const { output } = runFlow({ ...flow, steps: undefined }, {}, { id: 'run_2', now: new Date() });
    expect(output).toEqual({ input: {}, steps: [] });
  });
});
