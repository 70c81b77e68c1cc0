import { z } from 'zod';
import type { Stored } from '../crud/crud-controller.js';

export const PromptFields = z.strictObject({
  name: z.string().trim().min(1, 'must not be empty').max(200, 'must be at most 200 characters'),
  template: z.string().min(1, 'must not be empty').max(20000, 'must be at most 20000 characters'),
  model: z.string().max(200, 'must be at most 200 characters').optional(),
});

export type Prompt = Stored<typeof PromptFields>;
