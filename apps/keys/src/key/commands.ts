import {
  DEFAULT_RATE_LIMITS,
  badRequest,
  conflict,
  forbidden,
  notFound,
  serviceError,
  type Actor,
  type ActorRef,
  type Environment,
  type KeyEvent,
  type RateLimits,
  type SecretFingerprint,
  type ServiceError,
} from '@keyplane/contracts';
import { checkGrant, validatePermissions } from '@keyplane/permissions';
import type { IssuedKeyState, KeyState } from './state.js';

/** The service itself, for keys nobody asked for (the bootstrap admin). It skips the grant rule. */
export const SYSTEM = 'system';
export type CommandActor = Actor | typeof SYSTEM;

/** Time and ids come from outside, so deciding stays pure and tests stay deterministic. */
export interface CommandMetadata {
  now: string;
  /** Ids for the events the command may produce, taken in order. */
  eventIds: readonly string[];
}

interface Command<Type extends string, Data> {
  type: Type;
  data: Data;
  metadata: CommandMetadata;
}

export type IssueKey = Command<
  'IssueKey',
  {
    keyId: string;
    accountId: string;
    actor: CommandActor;
    name: string;
    environment: Environment;
    permissions: string[];
    rateLimits?: Partial<RateLimits>;
    expiresAt?: string | null;
    secret: SecretFingerprint;
  }
>;

export type RotateKey = Command<'RotateKey', { keyId: string; actor: CommandActor; gracePeriodSeconds: number; secret: SecretFingerprint }>;

export type RevokeKey = Command<'RevokeKey', { keyId: string; actor: CommandActor; reason?: string | null }>;

/** A PATCH: each field that is present and differs becomes one event. */
export type UpdateKey = Command<
  'UpdateKey',
  { keyId: string; actor: CommandActor; name?: string; permissions?: string[]; rateLimits?: Partial<RateLimits> }
>;

export type KeyCommand = IssueKey | RotateKey | RevokeKey | UpdateKey;

export type Decision = { ok: true; events: KeyEvent[] } | { ok: false; error: ServiceError };

export function decide(command: KeyCommand, state: KeyState): Decision {
  switch (command.type) {
    case 'IssueKey':
      return issue(command, state);
    case 'RotateKey':
      return rotate(command, state);
    case 'RevokeKey':
      return revoke(command, state);
    case 'UpdateKey':
      return update(command, state);
  }
}

export function issue({ data, metadata }: IssueKey, state: KeyState): Decision {
  if (state.status !== 'absent') return rejected(conflict(`API key ${data.keyId} already exists`));
  if (data.actor !== SYSTEM && data.actor.accountId !== data.accountId) {
    return rejected(forbidden('API keys can only be issued in the caller’s own account'));
  }
  const denied = grantDenial(data.actor, data.environment, data.permissions);
  if (denied) return rejected(denied);
  const expiresAt = data.expiresAt ? new Date(data.expiresAt).toISOString() : null;
  if (expiresAt !== null && Date.parse(expiresAt) <= Date.parse(metadata.now)) return rejected(badRequest('expiresAt: must be in the future'));
  const wrongSecret = secretMismatch(data.secret, data.environment);
  if (wrongSecret) return rejected(wrongSecret);

  const stamp = stamper(data.keyId, data.accountId, data.actor, metadata);
  return accepted(
    stamp('KeyIssued', {
      name: data.name,
      environment: data.environment,
      permissions: data.permissions,
      rateLimits: { ...DEFAULT_RATE_LIMITS, ...data.rateLimits },
      expiresAt,
      secret: data.secret,
    }),
  );
}

export function rotate({ data, metadata }: RotateKey, state: KeyState): Decision {
  const key = modifiable(state, data.keyId, data.actor);
  if (!key.ok) return key;
  if (key.state.expiresAt !== null && Date.parse(key.state.expiresAt) <= Date.parse(metadata.now)) {
    return rejected(conflict(`API key ${data.keyId} has expired`));
  }
  // The caller receives the new secret, so it must be able to grant everything the key holds.
  const denied = grantDenial(data.actor, key.state.environment, key.state.permissions);
  if (denied) return rejected(denied);
  const wrongSecret = secretMismatch(data.secret, key.state.environment);
  if (wrongSecret) return rejected(wrongSecret);

  // The old secret never outlives the key: past its expiry it would not work, and the answer must not promise it does.
  const graceEnds = Date.parse(metadata.now) + data.gracePeriodSeconds * 1000;
  const keyEnds = key.state.expiresAt === null ? Infinity : Date.parse(key.state.expiresAt);
  const previousKeyExpiresAt = new Date(Math.min(graceEnds, keyEnds)).toISOString();
  const stamp = stamper(data.keyId, key.state.accountId, data.actor, metadata);
  return accepted(stamp('KeySecretRotated', { secret: data.secret, previousSecretHash: key.state.secret.secretHash, previousKeyExpiresAt }));
}

export function revoke({ data, metadata }: RevokeKey, state: KeyState): Decision {
  const key = visible(state, data.keyId, data.actor);
  if (!key.ok) return key;
  const denied = environmentDenial(data.actor, key.state.environment);
  if (denied) return rejected(denied);
  // Revoking twice is a no-op, so a retried DELETE answers like the first one.
  if (key.state.status === 'revoked') return accepted();

  const stamp = stamper(data.keyId, key.state.accountId, data.actor, metadata);
  return accepted(stamp('KeyRevoked', { reason: data.reason ?? null }));
}

export function update({ data, metadata }: UpdateKey, state: KeyState): Decision {
  const key = modifiable(state, data.keyId, data.actor);
  if (!key.ok) return key;
  const current = key.state;
  // Only a change of permissions grants anything: a client sending the key's own list back
  // (GET, edit the name, PATCH) is renaming, which any KEYS:WRITE key of the account may do.
  const permissions = data.permissions && !sameList(data.permissions, current.permissions) ? data.permissions : undefined;
  const denied = permissions ? grantDenial(data.actor, current.environment, permissions) : environmentDenial(data.actor, current.environment);
  if (denied) return rejected(denied);

  const stamp = stamper(data.keyId, current.accountId, data.actor, metadata);
  const events: KeyEvent[] = [];
  if (data.name !== undefined && data.name !== current.name) {
    events.push(stamp('KeyRenamed', { name: data.name }));
  }
  if (permissions) {
    events.push(stamp('KeyPermissionsChanged', { permissions }));
  }
  const rateLimits = { ...current.rateLimits, ...data.rateLimits };
  if (rateLimits.hour !== current.rateLimits.hour || rateLimits.day !== current.rateLimits.day) {
    events.push(stamp('KeyRateLimitsChanged', { rateLimits }));
  }
  return accepted(...events);
}

type Found = { ok: true; state: IssuedKeyState } | { ok: false; error: ServiceError };

/** Another account's key answers exactly like a missing one, so ids of other accounts leak nothing. */
function visible(state: KeyState, keyId: string, actor: CommandActor): Found {
  if (state.status === 'absent' || (actor !== SYSTEM && actor.accountId !== state.accountId)) {
    return rejected(notFound(`API key ${keyId} not found`));
  }
  return { ok: true, state };
}

function modifiable(state: KeyState, keyId: string, actor: CommandActor): Found {
  const key = visible(state, keyId, actor);
  if (key.ok && key.state.status === 'revoked') return rejected(conflict(`API key ${keyId} is revoked`));
  return key;
}

function grantDenial(actor: CommandActor, environment: Environment, permissions: string[]): ServiceError | null {
  if (actor === SYSTEM) {
    const valid = validatePermissions(permissions);
    return valid.ok ? null : badRequest(valid.details);
  }
  const denial = checkGrant({ actor, environment, permissions });
  return denial && serviceError(denial.status, denial.details);
}

/** The same rule checkGrant applies first, for changes that grant nothing (rename, limits, revoke). */
function environmentDenial(actor: CommandActor, environment: Environment): ServiceError | null {
  if (actor !== SYSTEM && actor.environment === 'test' && environment === 'live') return forbidden('A test key cannot manage live keys');
  return null;
}

/** The gateway makes the secret; a live key with a `tv_test_` secret would authenticate in the wrong environment. */
function secretMismatch(secret: SecretFingerprint, environment: Environment): ServiceError | null {
  if (!namesEnvironment(secret.displayPrefix, environment)) return badRequest(`secret.displayPrefix: is not a ${environment} key`);
  return null;
}

/**
 * The display prefix is the key's first 12 characters, so after a long KEY_PREFIX (up to 16) it
 * holds only the start of the environment (`keyplane_liv`) or none of it: it must agree with
 * as much as it holds.
 */
function namesEnvironment(displayPrefix: string, environment: Environment): boolean {
  const [, shown, ...after] = displayPrefix.split('_');
  if (shown === undefined) return true;
  return after.length > 0 ? shown === environment : environment.startsWith(shown);
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((item, i) => item === b[i]);
}

type EventOf<T extends KeyEvent['type']> = Extract<KeyEvent, { type: T }>;

/** Builds events with the shared envelope; each one takes the next id from the metadata. */
function stamper(keyId: string, accountId: string, actor: CommandActor, { now, eventIds }: CommandMetadata) {
  let next = 0;
  const actorRef: ActorRef = actor === SYSTEM ? SYSTEM : actor.keyId;
  return <T extends KeyEvent['type']>(type: T, data: EventOf<T>['data']): KeyEvent => {
    const eventId = eventIds[next++];
    if (eventId === undefined) throw new RangeError(`command metadata holds ${eventIds.length} event ids, more are needed`);
    return { type, version: 1, eventId, keyId, accountId, occurredAt: now, actor: actorRef, data } as EventOf<T>;
  };
}

function accepted(...events: KeyEvent[]): Decision {
  return { ok: true, events };
}

function rejected(error: ServiceError): { ok: false; error: ServiceError } {
  return { ok: false, error };
}
