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

/** A replaced secret, and until when it still authenticates. A current secret is held as its key id alone. */
interface SecretEntry {
  keyId: string;
  /** Epoch milliseconds. */
  validUntil: number;
}

type Secret = string | SecretEntry;

const keyIdOf = (secret: Secret): string => (typeof secret === 'string' ? secret : secret.keyId);

/**
 * Distinct values the view keeps one copy of, however many keys hold them: accounts, permission
 * lists and rate limits repeat from key to key. Up to a number of them, so that values seen once
 * each (a limit changed again and again) cannot grow it without end; past that a key keeps a copy
 * of its own, as every key did before. Memory only: a key's state reads the same either way.
 */
class Shared<T> {
  private readonly values = new Map<string, T>();

  constructor(private readonly max = 4096) {}

  get(id: string, make: () => T): T {
    const known = this.values.get(id);
    if (known !== undefined) return known;
    const value = make();
    if (this.values.size < this.max) this.values.set(id, value);
    return value;
  }
}

/**
 * The auth service's projection of the key event stream: secret hash -> key. Pure: the
 * follower feeds it events in stream order, the decision reads it.
 */
export class KeyView {
  private keys = new Map<string, KeyState>();
  /** Secret hash -> the key id, for a key's current secret (most of them: no object each), or the entry of a replaced one. */
  private secrets = new Map<string, Secret>();
  /** Each key's replaced secret still in its grace period, if any: a key keeps at most one. */
  private previousSecrets = new Map<string, SecretEntry>();
  /** Never superseded (a key keeps its account), so every one kept is held by a key: more of them. */
  private accounts = new Shared<string>(65_536);
  private permissionLists = new Shared<readonly string[]>();
  private limits = new Shared<RateLimits>();
  /** A view being folded again from the stream's first message, until it replaces this one. */
  private incoming: KeyView | undefined;

  /**
   * A new, empty view to fold the stream into from its first message, once the stream turned out to
   * hold another history (the keys store went back). Until it replaces this one, a lookup asks it
   * first: it holds the stream's history as far as it got, a key made or changed since the store
   * went back included, which this view lacks or holds in an older state. A hash it does not know
   * yet is answered from this view, which holds the keys it has still to fold.
   */
  foldAnew(): KeyView {
    this.incoming = new KeyView();
    return this.incoming;
  }

  /**
   * Takes what `rebuilt` holds, at once, for a view folded from another history of the stream;
   * `rebuilt` is not to be used after. Lookups made before keep the states they got.
   */
  replaceWith(rebuilt: KeyView): void {
    this.incoming = undefined;
    this.keys = rebuilt.keys;
    this.secrets = rebuilt.secrets;
    this.previousSecrets = rebuilt.previousSecrets;
    this.accounts = rebuilt.accounts;
    this.permissionLists = rebuilt.permissionLists;
    this.limits = rebuilt.limits;
  }

  /** Folds one v1 event in; false when it does not fit the view (a key never issued, issued twice, a secret another key holds). */
  apply(event: KeyEvent): boolean {
    if (event.type === 'KeyIssued') return this.issue(event);
    const key = this.keys.get(event.keyId);
    if (!key) return false;
    switch (event.type) {
      case 'KeySecretRotated':
        return this.rotate(event);
      case 'KeyPermissionsChanged':
        this.keys.set(key.keyId, { ...key, permissions: this.permissions(event.data.permissions) });
        return true;
      case 'KeyRateLimitsChanged':
        this.keys.set(key.keyId, { ...key, rateLimits: this.rateLimits(event.data.rateLimits) });
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
    return this.incoming?.lookup(secretHash, now) ?? this.lookupHere(secretHash, now);
  }

  private lookupHere(secretHash: string, now: number): KeyLookup | null {
    const secret = this.secrets.get(secretHash);
    if (secret === undefined) return null;
    const key = this.keys.get(keyIdOf(secret));
    if (!key) return null;
    return { key, rotatedOut: typeof secret !== 'string' && now >= secret.validUntil };
  }

  get size(): number {
    return this.keys.size;
  }

  private issue(event: KeyIssued): boolean {
    const { data } = event;
    if (this.keys.has(event.keyId) || this.heldByAnother(data.secret.secretHash, event.keyId)) return false;
    this.keys.set(event.keyId, {
      keyId: event.keyId,
      accountId: this.accounts.get(event.accountId, () => event.accountId),
      environment: data.environment,
      permissions: this.permissions(data.permissions),
      rateLimits: this.rateLimits(data.rateLimits),
      expiresAt: data.expiresAt === null ? null : Date.parse(data.expiresAt),
      revoked: false,
    });
    this.secrets.set(data.secret.secretHash, event.keyId);
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
    if (previous !== undefined && keyIdOf(previous) === event.keyId) {
      const until = Date.parse(data.previousKeyExpiresAt);
      let replaced: SecretEntry;
      if (typeof previous === 'string') {
        replaced = { keyId: previous, validUntil: until };
        this.secrets.set(data.previousSecretHash, replaced);
      } else {
        replaced = previous;
        endBy(replaced, until);
      }
      this.previousSecrets.set(event.keyId, replaced);
    }
    this.secrets.set(data.secret.secretHash, event.keyId);
    return true;
  }

  /** The list as the event has it, shared with the keys holding the same one. */
  private permissions(permissions: readonly string[]): readonly string[] {
    return this.permissionLists.get(JSON.stringify(permissions), () => Object.freeze([...permissions]));
  }

  private rateLimits({ hour, day }: RateLimits): RateLimits {
    return this.limits.get(`${hour}/${day}`, () => Object.freeze({ hour, day }));
  }

  /**
   * The keys service never gives one secret to two keys (409), so an event that does can only be
   * corrupt or forged: it must not move a secret, and the requests made with it, to another key.
   */
  private heldByAnother(secretHash: string, keyId: string): boolean {
    const holder = this.secrets.get(secretHash);
    return holder !== undefined && keyIdOf(holder) !== keyId;
  }
}

/** Moves a secret's end earlier, never later: a shorter grace period is never extended. */
function endBy(secret: SecretEntry, until: number): void {
  secret.validUntil = Math.min(secret.validUntil, until);
}
