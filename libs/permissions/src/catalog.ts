/** DESIGN §4: the only strings a key can be granted. */
export const PERMISSIONS = [
  '*',
  'FLOWS:*',
  'FLOWS:READ',
  'FLOWS:WRITE',
  'FLOWS:EXECUTE',
  'RECORDS:*',
  'RECORDS:READ',
  'RECORDS:WRITE',
  'PROMPTS:*',
  'PROMPTS:READ',
  'PROMPTS:WRITE',
  'ANALYTICS:READ',
  'KEYS:*',
  'KEYS:READ',
  'KEYS:WRITE',
  'AUDIT:READ',
] as const;

export type Permission = (typeof PERMISSIONS)[number];

export const FULL_ACCESS = '*';

const catalog: ReadonlySet<string> = new Set(PERMISSIONS);

export function isPermission(value: unknown): value is Permission {
  return typeof value === 'string' && catalog.has(value);
}
