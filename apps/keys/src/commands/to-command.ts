import type { IssueKeyRequest, RevokeKeyRequest, RotateKeyRequest, UpdateKeyRequest } from '@keyplane/contracts';
import type { CommandMetadata, IssueKey, RevokeKey, RotateKey, UpdateKey } from '../key/commands.js';

// Requests name what the caller wants; commands add who the key belongs to and the metadata.

export function issueCommand(keyId: string, { actor, ...request }: IssueKeyRequest, metadata: CommandMetadata): IssueKey {
  return { type: 'IssueKey', data: { keyId, accountId: actor.accountId, actor, ...request }, metadata };
}

export function rotateCommand(request: RotateKeyRequest, metadata: CommandMetadata): RotateKey {
  return { type: 'RotateKey', data: request, metadata };
}

export function revokeCommand(request: RevokeKeyRequest, metadata: CommandMetadata): RevokeKey {
  return { type: 'RevokeKey', data: request, metadata };
}

export function updateCommand(request: UpdateKeyRequest, metadata: CommandMetadata): UpdateKey {
  return { type: 'UpdateKey', data: request, metadata };
}
