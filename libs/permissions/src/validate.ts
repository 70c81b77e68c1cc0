import { isPermission, type Permission } from './catalog.js';

export type ValidatePermissionsResult = { ok: true; value: Permission[] } | { ok: false; details: string };

/** Keeps the caller's order so the stored list reads back exactly as it was written. */
export function validatePermissions(input: readonly unknown[]): ValidatePermissionsResult {
  if (!Array.isArray(input)) return { ok: false, details: 'permissions: must be an array' };
  if (input.length === 0) return { ok: false, details: 'permissions: must grant at least one permission' };
  const seen = new Set<string>();
  for (const [i, permission] of input.entries()) {
    if (typeof permission !== 'string') return { ok: false, details: `permissions[${i}]: must be a string` };
    if (!isPermission(permission)) return { ok: false, details: `permissions[${i}]: unknown permission ${JSON.stringify(permission)}` };
    if (seen.has(permission)) return { ok: false, details: `permissions[${i}]: duplicate permission ${JSON.stringify(permission)}` };
    seen.add(permission);
  }
  return { ok: true, value: [...input] as Permission[] };
}
