import { Controller, Inject } from '@nestjs/common';
import { Ctx, MessagePattern, NatsContext, Payload } from '@nestjs/microservices';
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
import { handleMessage, type KeysMessageSchema } from '../messaging/handle-message.js';
import { KeysMetrics, type ResultLabel } from '../metrics/keys-metrics.js';
import { subjects } from '../subjects.js';
import { LOGGER } from '../tokens.js';
import { KeyCommandHandler, type CommandOutcome } from './key-command-handler.js';
import { replyDeadline } from './reply-deadline.js';
import { issueCommand, revokeCommand, rotateCommand, updateCommand } from './to-command.js';

@Controller()
export class KeyCommandsController {
  constructor(
    @Inject(KeyCommandHandler) private readonly handler: KeyCommandHandler,
    @Inject(KeysMetrics) private readonly metrics: KeysMetrics,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  @MessagePattern(subjects.issue)
  issue(@Payload() payload: unknown, @Ctx() context: NatsContext): Promise<Reply<IssuedKey>> {
    return this.handle('issue', IssueKeyRequest, payload, context, async (request, deadline) => {
      const keyId = newKeyId();
      const outcome = await this.handler.execute(keyId, (metadata) => issueCommand(keyId, request, metadata), deadline, request.recheck);
      return withKey(outcome, (key) => ({ key }));
    });
  }

  @MessagePattern(subjects.rotate)
  rotate(@Payload() payload: unknown, @Ctx() context: NatsContext): Promise<Reply<RotatedKey>> {
    return this.handle('rotate', RotateKeyRequest, payload, context, async (request, deadline) => {
      const outcome = await this.handler.execute(request.keyId, (metadata) => rotateCommand(request, metadata), deadline, request.recheck);
      return withKey(outcome, (key, state) => ({ key, previousKeyExpiresAt: state.previousKeyExpiresAt! }));
    });
  }

  @MessagePattern(subjects.revoke)
  revoke(@Payload() payload: unknown, @Ctx() context: NatsContext): Promise<Reply<{ key: KeyObject }>> {
    return this.handle('revoke', RevokeKeyRequest, payload, context, async (request, deadline) => {
      const outcome = await this.handler.execute(request.keyId, (metadata) => revokeCommand(request, metadata), deadline, request.recheck);
      return withKey(outcome, (key) => ({ key }));
    });
  }

  @MessagePattern(subjects.update)
  update(@Payload() payload: unknown, @Ctx() context: NatsContext): Promise<Reply<{ key: KeyObject }>> {
    return this.handle('update', UpdateKeyRequest, payload, context, async (request, deadline) => {
      const outcome = await this.handler.execute(request.keyId, (metadata) => updateCommand(request, metadata), deadline, request.recheck);
      return withKey(outcome, (key) => ({ key }));
    });
  }

  private async handle<S extends KeysMessageSchema, T>(
    name: string,
    schema: S,
    payload: unknown,
    context: NatsContext,
    work: (request: z.infer<S>, deadline: number | null) => Promise<Reply<T>>,
  ): Promise<Reply<T>> {
    const record = (result: ResultLabel) => this.metrics.command(name, result);
    const deadline = replyDeadline(context.getHeaders(), performance.now());
    if (!deadline.ok) {
      record('400');
      return fail(deadline.error);
    }
    return handleMessage({ name, schema, payload, logger: this.logger, record }, (request) => work(request, deadline.at));
  }
}

function withKey<T>(outcome: CommandOutcome, reply: (key: KeyObject, state: Extract<CommandOutcome, { ok: true }>['state']) => T): Reply<T> {
  if (!outcome.ok) return fail(outcome.error);
  return ok(reply(toKeyObject(outcome.state, outcome.now), outcome.state));
}
