import { Controller, Inject } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import {
  fail,
  IssueKeyRequest,
  ok,
  RevokeKeyRequest,
  RotateKeyRequest,
  UpdateKeyRequest,
  type IssuedKey,
  type KeyObject,
  type Reply,
  type RotatedKey,
} from '@keyplane/contracts';
import type { Logger } from '@keyplane/observability';
import type { z } from 'zod';
import { newKeyId } from '../ids.js';
import { toKeyObject } from '../key/key-object.js';
import { handleMessage } from '../messaging/handle-message.js';
import { KeysMetrics } from '../metrics/keys-metrics.js';
import { subjects } from '../subjects.js';
import { LOGGER } from '../tokens.js';
import { KeyCommandHandler, type CommandOutcome } from './key-command-handler.js';
import { issueCommand, revokeCommand, rotateCommand, updateCommand } from './to-command.js';

@Controller()
export class KeyCommandsController {
  constructor(
    @Inject(KeyCommandHandler) private readonly handler: KeyCommandHandler,
    @Inject(KeysMetrics) private readonly metrics: KeysMetrics,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  @MessagePattern(subjects.issue)
  issue(@Payload() payload: unknown): Promise<Reply<IssuedKey>> {
    return this.handle('issue', IssueKeyRequest, payload, async (request) => {
      const keyId = newKeyId();
      const outcome = await this.handler.execute(keyId, (metadata) => issueCommand(keyId, request, metadata));
      return withKey(outcome, (key) => ({ key }));
    });
  }

  @MessagePattern(subjects.rotate)
  rotate(@Payload() payload: unknown): Promise<Reply<RotatedKey>> {
    return this.handle('rotate', RotateKeyRequest, payload, async (request) => {
      const outcome = await this.handler.execute(request.keyId, (metadata) => rotateCommand(request, metadata));
      return withKey(outcome, (key, state) => ({ key, previousKeyExpiresAt: state.previousKeyExpiresAt! }));
    });
  }

  @MessagePattern(subjects.revoke)
  revoke(@Payload() payload: unknown): Promise<Reply<{ key: KeyObject }>> {
    return this.handle('revoke', RevokeKeyRequest, payload, async (request) => {
      const outcome = await this.handler.execute(request.keyId, (metadata) => revokeCommand(request, metadata));
      return withKey(outcome, (key) => ({ key }));
    });
  }

  @MessagePattern(subjects.update)
  update(@Payload() payload: unknown): Promise<Reply<{ key: KeyObject }>> {
    return this.handle('update', UpdateKeyRequest, payload, async (request) => {
      const outcome = await this.handler.execute(request.keyId, (metadata) => updateCommand(request, metadata));
      return withKey(outcome, (key) => ({ key }));
    });
  }

  private handle<S extends z.ZodType, T>(name: string, schema: S, payload: unknown, work: (request: z.infer<S>) => Promise<Reply<T>>) {
    return handleMessage({ name, schema, payload, logger: this.logger, record: (result) => this.metrics.command(name, result) }, work);
  }
}

function withKey<T>(outcome: CommandOutcome, reply: (key: KeyObject, state: Extract<CommandOutcome, { ok: true }>['state']) => T): Reply<T> {
  if (!outcome.ok) return fail(outcome.error);
  return ok(reply(toKeyObject(outcome.state, outcome.now), outcome.state));
}
