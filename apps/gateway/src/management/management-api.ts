import { Inject, Injectable } from '@nestjs/common';
import type { z } from 'zod';
import { describeIssue, KeyId, notFound } from '@keyplane/contracts';
import { fingerprint, generateKey } from '@keyplane/key-format';
import type { GatewayConfig } from '../config.js';
import { AlertsHandler } from '../metering/alerts.handler.js';
import { LastUsedFiller } from '../metering/last-used.js';
import { UsageEventsHandler } from '../metering/usage-events.handler.js';
import { UsageHandler } from '../metering/usage.handler.js';
import type { ManagementTarget } from '../routes/targets.js';
import { GATEWAY_CONFIG } from '../tokens.js';
import { KeysClient } from './keys-client.js';
import { answer, failed, type ManagementAnswer, type ManagementCall } from './management-call.js';
import { AuditEventsQuery, auditRange, CreateKeyBody, ListKeysQuery, RevokeKeyBody, RotateKeyBody, UpdateKeyBody } from './management-requests.js';
import { notOwnKey } from './own-key.js';
import { checkQuery, type Checked } from './query-input.js';
import { fromNotAfterTo } from './exact-instant.js';
import { NoQuery } from './query-params.js';

class Invalid extends Error {}

/**
 * DESIGN §7 on top of the keys and metering services. Secrets are generated here, at the
 * edge, and only their fingerprint crosses NATS; the secret goes back to the caller once,
 * in the answer. Key objects get their `lastUsedAt` from metering.
 */
@Injectable()
export class ManagementApi {
  constructor(
    @Inject(KeysClient) private readonly keys: KeysClient,
    @Inject(LastUsedFiller) private readonly lastUsed: LastUsedFiller,
    @Inject(UsageHandler) private readonly usage: UsageHandler,
    @Inject(UsageEventsHandler) private readonly usageEvents: UsageEventsHandler,
    @Inject(AlertsHandler) private readonly alerts: AlertsHandler,
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
  ) {}

  async handle(target: ManagementTarget, call: ManagementCall): Promise<ManagementAnswer> {
    try {
      return await this.run(target, call);
    } catch (error) {
      if (error instanceof Invalid) return { status: 400, body: { error: 'Bad Request', details: error.message } };
      throw error;
    }
  }

  private async run(target: ManagementTarget, call: ManagementCall): Promise<ManagementAnswer> {
    const { params, query, body } = call;
    // A path id that cannot be a key id names no key, like a well-formed id of no key the caller can see.
    if (params.id !== undefined && !KeyId.safeParse(params.id).success) return failed(notFound(`API key ${params.id} not found`));
    if (!TAKES_QUERY.has(target)) parseQuery(NoQuery, query);
    switch (target) {
      case 'keys.create': {
        const fields = parseBody(CreateKeyBody, body);
        const secret = generateKey({ prefix: this.config.keyPrefix, environment: fields.environment });
        const reply = await this.keys.issue(call, { ...fields, secret: fingerprint(secret.key) });
        return answer(reply, 201, ({ key }) => ({ ...key, key: secret.key }));
      }
      case 'keys.list': {
        const reply = await this.keys.list(call, parseQuery(ListKeysQuery, query));
        if (!reply.ok) return failed(reply.error);
        return { status: 200, body: { ...reply.value, data: await this.lastUsed.all(call, reply.value.data) } };
      }
      case 'keys.get': {
        const reply = await this.keys.get(call, { keyId: params.id! });
        return reply.ok ? { status: 200, body: await this.lastUsed.one(call, reply.value) } : failed(reply.error);
      }
      case 'keys.update': {
        const changes = parseBody(UpdateKeyBody, body);
        const reply = await this.keys.update(call, { keyId: params.id!, ...changes });
        return reply.ok ? { status: 200, body: await this.lastUsed.one(call, reply.value.key) } : failed(reply.error);
      }
      case 'keys.rotate': {
        const { gracePeriodSeconds } = parseBody(RotateKeyBody, body);
        // The new secret must carry the key's own environment, which only the keys service knows.
        const current = await this.keys.get(call, { keyId: params.id! });
        if (!current.ok) return failed(current.error);
        const secret = generateKey({ prefix: this.config.keyPrefix, environment: current.value.environment });
        const reply = await this.keys.rotate(call, { keyId: params.id!, gracePeriodSeconds, secret: fingerprint(secret.key) });
        if (!reply.ok) return failed(reply.error);
        const key = await this.lastUsed.one(call, reply.value.key);
        return { status: 200, body: { ...key, key: secret.key, previousKeyExpiresAt: reply.value.previousKeyExpiresAt } };
      }
      case 'keys.revoke': {
        const { reason } = parseBody(RevokeKeyBody, body);
        const reply = await this.keys.revoke(call, { keyId: params.id!, reason });
        return reply.ok ? { status: 200, body: await this.lastUsed.one(call, reply.value.key) } : failed(reply.error);
      }
      case 'keys.audit': {
        const filter = parseQuery(AuditEventsQuery, query, (checked) => auditRange(fromNotAfterTo(checked)));
        // A key of another account is 404, as in usage and alerts; a malformed id stays the keys service's 400.
        const ownable = filter.keyId !== undefined && KeyId.safeParse(filter.keyId).success;
        const refused = ownable ? await notOwnKey(this.keys, call, filter.keyId!) : null;
        return refused ?? answer(await this.keys.audit(call, filter), 200, (page) => page);
      }
      case 'metering.usage':
        return this.usage.handle(call);
      case 'metering.events':
        return this.usageEvents.handle(call);
      case 'metering.alerts':
        return this.alerts.handle(call);
    }
  }
}

/** The management calls that read a query string; every other one refuses any parameter, as the lists refuse unknown ones. */
const TAKES_QUERY: ReadonlySet<ManagementTarget> = new Set(['keys.list', 'keys.audit', 'metering.usage', 'metering.events', 'metering.alerts']);

/** No body means every field's default; a body that is JSON but not an object (`null`, `[]`) is refused. */
function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.infer<S> {
  if (body === undefined) return parse(schema, {});
  // A field-less issue would name nowhere (DESIGN §6: what is wrong and where): the where is the body.
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new Invalid(`body: must be a JSON object, got ${body === null ? 'null' : Array.isArray(body) ? 'an array' : typeof body}`);
  return parse(schema, body);
}

function parse<S extends z.ZodType>(schema: S, input: unknown): z.infer<S> {
  const result = schema.safeParse(input);
  if (!result.success) throw new Invalid(describeIssue(result.error.issues[0]));
  return result.data;
}

function parseQuery<S extends z.ZodType>(schema: S, query: unknown, check: (checked: Checked<z.infer<S>>) => Checked<z.infer<S>> = (checked) => checked): z.infer<S> {
  const checked = check(checkQuery(schema, query));
  if (!checked.ok) throw new Invalid(checked.details);
  return checked.value;
}
