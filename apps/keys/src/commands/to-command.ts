import type { IssueKeyRequest, RevokeKeyRequest, RotateKeyRequest, UpdateKeyRequest } from '@keyplane/contracts';
import type { CommandMetadata, IssueKey, RevokeKey, RotateKey, UpdateKey } from '../key/commands.js';

// Requests name what the caller wants; commands add who the key belongs to and the metadata.
// A command takes the request's fields one by one: what only judges the caller (`recheck`, with
// the presented key's hash) stays with the request and never reaches a command or its events.

export function issueCommand(keyId: string, { actor, name, environment, permissions, rateLimits, expiresAt, secret }: IssueKeyRequest, metadata: CommandMetadata): IssueKey {
  return { type: 'IssueKey', data: { keyId, accountId: actor.accountId, actor, name, environment, permissions, rateLimits, expiresAt, secret }, metadata };
}

export function rotateCommand({ actor, keyId, gracePeriodSeconds, secret }: RotateKeyRequest, metadata: CommandMetadata): RotateKey {
  return { type: 'RotateKey', data: { keyId, actor, gracePeriodSeconds, secret }, metadata };
}

export function revokeCommand({ actor, keyId, reason }: RevokeKeyRequest, metadata: CommandMetadata): RevokeKey {
  return { type: 'RevokeKey', data: { keyId, actor, reason }, metadata };
}

export function updateCommand({ actor, keyId, name, permissions, rateLimits }: UpdateKeyRequest, metadata: CommandMetadata): UpdateKey {
  return { type: 'UpdateKey', data: { keyId, actor, name, permissions, rateLimits }, metadata };
}
