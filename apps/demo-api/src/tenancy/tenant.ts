import { AccountId, Environment } from '@keyplane/contracts';

/** Whose data a request sees: the gateway sets both headers from the key's authorization decision. */
export interface Tenant {
  accountId: string;
  environment: Environment;
}

export type TenantResult = { ok: true; tenant: Tenant } | { ok: false; details: string };

type Headers = Record<string, string | string[] | undefined>;

export function readTenant(headers: Headers): TenantResult {
  const environment = Environment.safeParse(headers['x-keyplane-environment']);
  if (!environment.success) return { ok: false, details: 'X-Keyplane-Environment header must be "live" or "test"' };
  const accountId = AccountId.safeParse(headers['x-keyplane-account-id']);
  if (!accountId.success) return { ok: false, details: 'X-Keyplane-Account-Id header must be an account id like acc_...' };
  return { ok: true, tenant: { accountId: accountId.data, environment: environment.data } };
}

/** Live and test data of one account never meet, and accounts never see each other. */
export const partitionOf = ({ accountId, environment }: Tenant): string => `${accountId}/${environment}`;
