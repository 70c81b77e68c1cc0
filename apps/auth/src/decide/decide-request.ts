import { badRequest, DecideRequest, parse, type Parsed } from '@keyplane/contracts';
import { isPermission } from '@keyplane/permissions';

/**
 * A `DecideRequest` whose required permission, if any, is in the catalog (DESIGN §4): the
 * gateway's route table holds nothing else, as a bad row stops its start-up. Deciding on any
 * other string would count the request and then let `*` through a misspelt `FLOW:READ` while
 * refusing every key an empty one; a 400 names the mistake instead.
 */
export function parseDecideRequest(payload: unknown): Parsed<DecideRequest> {
  const parsed = parse(DecideRequest, payload);
  if (!parsed.ok) return parsed;
  const { permission } = parsed.value;
  if (permission === null || isPermission(permission)) return parsed;
  return { ok: false, error: badRequest(`permission: unknown permission ${JSON.stringify(permission)}`) };
}
