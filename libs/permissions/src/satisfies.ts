import { FULL_ACCESS } from './catalog.js';
import { splitPermission } from './resource.js';

/**
 * Access check: required `R:A` is met by `*`, `R:*` or `R:A`, and nothing else, so WRITE
 * does not imply READ. A malformed requirement (a typo in the route table) is met by nothing,
 * not even `*`: failing closed beats letting a broken route through.
 */
export function satisfies(granted: readonly string[], required: string): boolean {
  if (required === FULL_ACCESS) return granted.includes(FULL_ACCESS);
  const parts = splitPermission(required);
  if (!parts) return false;
  const wildcard = `${parts.resource}:*`;
  return granted.some((g) => g === FULL_ACCESS || g === wildcard || g === required);
}
