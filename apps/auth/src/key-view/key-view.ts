import type { Environment, KeyEvent, KeyIssued, KeySecretRotated, RateLimits } from '@keyplane/contracts';

/** What the view knows about a key; replaced, never mutated, so a caller may keep one. */
export interface KeyState {
  readonly keyId: string;
  readonly accountId: string;
  readonly environment: Environment;
  readonly permissions: readonly string[];
  readonly rateLimits: RateLimits;
  /** Epoch milliseconds; null for a key that never expires. */
  readonly expiresAt: number | null;
  readonly revoked: boolean;
}

/** A secret hash's key, and whether that secret was rotated out (its grace period is over). */
export interface KeyLookup {
  readonly key: KeyState;
  readonly rotatedOut: boolean;
}

interface SecretEntry {
  keyId: string;
  /** Epoch milliseconds until which a replaced secret still authenticates; null for the current one. */
  validUntil: number | null;
}

/**
 * The auth service's projection of the key event stream: secret hash -> key. Pure: the
 * follower feeds it events in stream order, the decision reads it.
 */
export class KeyView {
  private readonly keys = new Map<string, KeyState>();
  private readonly secrets = new Map<string, SecretEntry>();
  /** Each key's replaced secret still in its grace period, if any: a key keeps at most one. */
  private readonly previousSecrets = new Map<string, SecretEntry>();

  /** Folds one v1 event in; false when it does not fit the view (a key never issued, issued twice, a secret another key holds). */
  apply(event: KeyEvent): boolean {
    if (event.type === 'KeyIssued') return this.issue(event);
    const key = this.keys.get(event.keyId);
    if (!key) return false;
    switch (event.type) {
      case 'KeySecretRotated':
        return this.rotate(event);
      case 'KeyPermissionsChanged':
        this.keys.set(key.keyId, { ...key, permissions: [...event.data.permissions] });
        return true;
      case 'KeyRateLimitsChanged':
        this.keys.set(key.keyId, { ...key, rateLimits: { ...event.data.rateLimits } });
        return true;
      case 'KeyRevoked':
        this.keys.set(key.keyId, { ...key, revoked: true });
        return true;
      case 'KeyRenamed':
        // Names are for people; a decision never reads them.
        return true;
    }
  }

  lookup(secretHash: string, now: number): KeyLookup | null {
    const secret = this.secrets.get(secretHash);
    if (!secret) return null;
    const key = this.keys.get(secret.keyId);
    if (!key) return null;
    return { key, rotatedOut: secret.validUntil !== null && now >= secret.validUntil };
  }

  get size(): number {
    return this.keys.size;
  }

  private issue(event: KeyIssued): boolean {
    const { data } = event;
    if (this.keys.has(event.keyId) || this.heldByAnother(data.secret.secretHash, event.keyId)) return false;
    this.keys.set(event.keyId, {
      keyId: event.keyId,
      accountId: event.accountId,
      environment: data.environment,
      permissions: [...data.permissions],
      rateLimits: { ...data.rateLimits },
      expiresAt: data.expiresAt === null ? null : Date.parse(data.expiresAt),
      revoked: false,
    });
    this.secrets.set(data.secret.secretHash, { keyId: event.keyId, validUntil: null });
    return true;
  }

  /**
   * Only one previous secret is kept: the one this rotation replaces gets its grace period,
   * and one replaced earlier loses what was left of its own at the rotation. Its entry stays,
   * so its use is still told apart from an unknown key's.
   */
  private rotate(event: KeySecretRotated): boolean {
    const { data } = event;
    if (this.heldByAnother(data.secret.secretHash, event.keyId)) return false;
    const earlier = this.previousSecrets.get(event.keyId);
    if (earlier) endBy(earlier, Date.parse(event.occurredAt));
    const previous = this.secrets.get(data.previousSecretHash);
    if (previous && previous.keyId === event.keyId) {
      endBy(previous, Date.parse(data.previousKeyExpiresAt));
      this.previousSecrets.set(event.keyId, previous);
    }
    this.secrets.set(data.secret.secretHash, { keyId: event.keyId, validUntil: null });
    return true;
  }

  /**
   * The keys service never gives one secret to two keys (409), so an event that does can only be
   * corrupt or forged: it must not move a secret, and the requests made with it, to another key.
   */
  private heldByAnother(secretHash: string, keyId: string): boolean {
    const holder = this.secrets.get(secretHash);
    return holder !== undefined && holder.keyId !== keyId;
  }
}

/** Moves a secret's end earlier, never later: a shorter grace period is never extended. */
function endBy(secret: SecretEntry, until: number): void {
  secret.validUntil = secret.validUntil === null ? until : Math.min(secret.validUntil, until);
}
