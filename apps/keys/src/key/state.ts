import type { Environment, RateLimits, SecretFingerprint } from '@keyplane/contracts';

/** What every issued key holds, whatever its status. */
export interface KeyDetails {
  id: string;
  accountId: string;
  name: string;
  environment: Environment;
  permissions: string[];
  rateLimits: RateLimits;
  expiresAt: string | null;
  secret: SecretFingerprint;
  /** The secret replaced by the last rotation; it authenticates until previousKeyExpiresAt. */
  previousSecretHash: string | null;
  previousKeyExpiresAt: string | null;
  createdAt: string;
}

export interface AbsentKey {
  status: 'absent';
}

export interface ActiveKey extends KeyDetails {
  status: 'active';
}

export interface RevokedKey extends KeyDetails {
  status: 'revoked';
  revokedAt: string;
}

/** `expired` is not a state: an active key reads as expired once its expiresAt has passed. */
export type KeyState = AbsentKey | ActiveKey | RevokedKey;
export type IssuedKeyState = ActiveKey | RevokedKey;

export const initialState = (): KeyState => ({ status: 'absent' });
