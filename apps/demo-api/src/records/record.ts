import { z } from 'zod';
import type { Stored } from '../crud/crud-controller.js';
import { JsonObject } from '../http/json-object.js';

export const RecordFields = z.strictObject({
  name: z.string().trim().min(1, 'must not be empty').max(200, 'must be at most 200 characters'),
  data: JsonObject,
});

export type DataRecord = Stored<typeof RecordFields>;
