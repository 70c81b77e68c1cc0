import { FULL_ACCESS } from './catalog.js';
import { splitPermission } from './resource.js';

/**
 * Access check: required `R:A` is met by `*`, `R:*` or `R:A`, and nothing else, so WRITE
 * does not imply READ. A malformed requirement (no `R:A` shape) is met by nothing, not even
 * `*`: failing closed beats letting a broken route through. A well-formed name outside the
 * catalog (`FLOW:READ`) is met by `*`, so callers keep requirements to the catalog: the
 * gateway's route table refuses any other at start-up, and auth refuses it in `auth.decide`.
 */
export function satisfies(granted: readonly string[], required: string): boolean {
  if (required === FULL_ACCESS) return granted.includes(FULL_ACCESS);
  const parts = splitPermission(required);
  if (!parts) return false;
  const wildcard = `${parts.resource}:*`;
  return granted.some((g) => g === FULL_ACCESS || g === wildcard || g === required);
}
