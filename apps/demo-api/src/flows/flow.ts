import { z } from 'zod';
import type { Stored } from '../crud/crud-controller.js';
import { JsonObject } from '../http/json-object.js';

const Name = z.string().trim().min(1, 'must not be empty').max(200, 'must be at most 200 characters');

export const FlowStep = z.strictObject({
  name: Name,
  action: z.string().min(1, 'must not be empty').max(200, 'must be at most 200 characters'),
});

export const FlowFields = z.strictObject({
  name: Name,
  description: z.string().max(2000, 'must be at most 2000 characters').optional(),
  steps: z.array(FlowStep).max(100, 'must have at most 100 steps').optional(),
});

export type Flow = Stored<typeof FlowFields>;

export const ExecuteFlowBody = z.strictObject({
  input: JsonObject.optional(),
});
export type ExecuteFlowBody = z.infer<typeof ExecuteFlowBody>;

export interface FlowRun {
  id: string;
  flowId: string;
  status: 'succeeded';
  output: { input: Record<string, unknown>; steps: Array<{ name: string; action: string; status: 'succeeded' }> };
  startedAt: string;
  finishedAt: string;
}
