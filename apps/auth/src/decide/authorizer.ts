import type { DecideRequest, RateLimits } from '@keyplane/contracts';
import type { FreshLookup } from '../key-view/fresh-lookup.js';
import type { QuotaResult } from '../decision/decide.js';
import { admit } from '../decision/admit.js';
import { decideAdmitted, unauthorized } from '../decision/decide.js';
import type { Decided } from '../usage/usage-event.js';

export type ConsumeQuota = (keyId: string, limits: RateLimits, now: number) => Promise<QuotaResult>;

/**
 * One authorization decision: find the key (read-your-writes), turn away an unusable one
 * without touching its quota, count the request against the shared counter, check the
 * permission. Throws only when the quota store cannot be reached.
 */
export class Authorizer {
  constructor(
    private readonly keys: Pick<FreshLookup, 'lookup'>,
    private readonly consumeQuota: ConsumeQuota,
    private readonly clock: () => number = Date.now,
  ) {}

  async decide(request: DecideRequest): Promise<Decided> {
    const { found, at } = await this.keys.lookup(request.keyHash, this.clock);
    const matched = found?.key ?? null;
    const admission = admit(found, at);
    if (!admission.ok) return { request, matched, at, decision: unauthorized(admission.reason) };
    const { key } = admission;
    const quota = await this.consumeQuota(key.keyId, key.rateLimits, at);
    return { request, matched, at, decision: decideAdmitted(key, quota, request.permission, at) };
  }
}
