import { z } from 'zod';
import { IsoTimestamp } from '../common/primitives.js';

export const AlertType = z.enum([
  'usage_spike',
  'auth_failure_burst',
  'permission_probe',
  'quota_exhausted',
  'revoked_key_use',
  'new_source',
]);
export type AlertType = z.infer<typeof AlertType>;

export const Severity = z.enum(['info', 'warning', 'critical']);
export type Severity = z.infer<typeof Severity>;

export const Alert = z.strictObject({
  id: z.string(),
  type: AlertType,
  severity: Severity,
  keyId: z.string().nullable(),
  accountId: z.string().nullable(),
  detectedAt: IsoTimestamp,
  summary: z.string(),
  evidence: z.record(z.string(), z.unknown()),
});
export type Alert = z.infer<typeof Alert>;
