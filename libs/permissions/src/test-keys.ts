import { FULL_ACCESS } from './catalog.js';

// Test keys are handed to CI and local tooling, so they must not manage keys or read audit.
const FORBIDDEN_RESOURCES = ['KEYS:', 'AUDIT:'];

export function isForbiddenForTestKeys(permission: string): boolean {
  return permission === FULL_ACCESS || FORBIDDEN_RESOURCES.some((r) => permission.startsWith(r));
}

/** The first permission a test key may not hold, or null. */
export function forbiddenForTestKeys(permissions: readonly string[]): string | null {
  return permissions.find(isForbiddenForTestKeys) ?? null;
}
