import { covers } from './covers.js';
import { isForbiddenForTestKeys } from './test-keys.js';
import { validatePermissions } from './validate.js';

export type KeyEnvironment = 'live' | 'test';

export interface GrantRequest {
  /** The key making the request. */
  actor: { environment: KeyEnvironment; permissions: readonly string[] };
  /** The environment of the key being created or changed. */
  environment: KeyEnvironment;
  /** The permissions it would hold afterwards. */
  permissions: readonly string[];
}

export interface GrantDenial {
  status: 400 | 403;
  details: string;
}

/**
 * Checks run in a fixed order so a request with several faults always gets the same answer:
 * malformed input (400) first, then who may act (403), then what a test key may hold (400),
 * then escalation (403).
 */
export function checkGrant({ actor, environment, permissions }: GrantRequest): GrantDenial | null {
  const valid = validatePermissions(permissions);
  if (!valid.ok) return { status: 400, details: valid.details };

  if (actor.environment === 'test' && environment === 'live') {
    return { status: 403, details: 'A test key cannot manage live keys' };
  }

  if (environment === 'test') {
    const i = permissions.findIndex(isForbiddenForTestKeys);
    if (i >= 0) return { status: 400, details: `permissions[${i}]: test keys cannot be granted ${JSON.stringify(permissions[i])}` };
  }

  const i = permissions.findIndex((p) => !covers(actor.permissions, p));
  if (i >= 0) return { status: 403, details: `permissions[${i}]: cannot grant ${JSON.stringify(permissions[i])} without holding it` };

  return null;
}
