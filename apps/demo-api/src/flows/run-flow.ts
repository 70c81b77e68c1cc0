import type { ExecuteFlowBody, Flow, FlowRun } from './flow.js';

/** The demo "runs" a flow by marking each step done: the point is the shape, not the work. */
export function runFlow(flow: Flow, body: ExecuteFlowBody, run: { id: string; now: Date }): FlowRun {
  const at = run.now.toISOString();
  return {
    id: run.id,
    flowId: flow.id,
    status: 'succeeded',
    output: {
      input: body.input ?? {},
      steps: (flow.steps ?? []).map(({ name, action }) => ({ name, action, status: 'succeeded' as const })),
    },
    startedAt: at,
    finishedAt: at,
  };
}
