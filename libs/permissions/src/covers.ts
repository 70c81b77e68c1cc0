import { FULL_ACCESS } from './catalog.js';
import { splitPermission } from './resource.js';

/** Whether holding `held` alone lets a caller hand out `wanted`. */
export function permissionCovers(held: string, wanted: string): boolean {
  if (held === FULL_ACCESS || held === wanted) return true;
  const heldParts = splitPermission(held);
  const wantedParts = splitPermission(wanted);
  return heldParts !== null && wantedParts !== null && heldParts.action === '*' && heldParts.resource === wantedParts.resource;
}

/** Grant check: a caller may only hand out what it holds itself, so keys cannot escalate. */
export function covers(holder: readonly string[], wanted: string): boolean {
  return holder.some((held) => permissionCovers(held, wanted));
}

/** The first wanted permission the holder cannot grant, or null when it can grant them all. */
export function canGrant(holder: readonly string[], wanted: readonly string[]): string | null {
  return wanted.find((w) => !covers(holder, w)) ?? null;
}
