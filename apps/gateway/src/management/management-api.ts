import { Inject, Injectable } from '@nestjs/common';
import type { z } from 'zod';
import { describeIssue, type Actor, type Reply, type ServiceError } from '@keyplane/contracts';
import { fingerprint, generateKey } from '@keyplane/key-format';
import type { GatewayConfig } from '../config.js';
import type { ManagementTarget } from '../routes/targets.js';
import { GATEWAY_CONFIG } from '../tokens.js';
import { KeysClient } from './keys-client.js';
import { AuditEventsQuery, CreateKeyBody, ListKeysQuery, RevokeKeyBody, RotateKeyBody, UpdateKeyBody } from './management-requests.js';

export interface ManagementCall {
  /** The calling key, as auth's decision established it. */
  actor: Actor;
  params: Record<string, string>;
  query: unknown;
  /** The parsed JSON body; undefined when the request had none. */
  body: unknown;
}

export interface ManagementAnswer {
  status: number;
  body: unknown;
}

class Invalid extends Error {}

/**
 * DESIGN §7 on top of the keys service. Secrets are generated here, at the edge, and only
 * their fingerprint crosses NATS; the secret goes back to the caller once, in the answer.
 */
@Injectable()
export class ManagementApi {
  constructor(
    @Inject(KeysClient) private readonly keys: KeysClient,
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

  private async run(target: ManagementTarget, { actor, params, query, body }: ManagementCall): Promise<ManagementAnswer> {
    switch (target) {
      case 'keys.create': {
        const fields = parse(CreateKeyBody, body ?? {});
        const secret = generateKey({ prefix: this.config.keyPrefix, environment: fields.environment });
        const reply = await this.keys.issue({ actor, ...fields, secret: fingerprint(secret.key) });
        return answer(reply, 201, ({ key }) => ({ ...key, key: secret.key }));
      }
      case 'keys.list':
        return answer(await this.keys.list({ actor, ...parseQuery(ListKeysQuery, query) }), 200, (page) => page);
      case 'keys.get':
        return answer(await this.keys.get({ actor, keyId: params.id! }), 200, (key) => key);
      case 'keys.update': {
        const changes = parse(UpdateKeyBody, body ?? {});
        return answer(await this.keys.update({ actor, keyId: params.id!, ...changes }), 200, ({ key }) => key);
      }
      case 'keys.rotate': {
        const { gracePeriodSeconds } = parse(RotateKeyBody, body ?? {});
        // The new secret must carry the key's own environment, which only the keys service knows.
        const current = await this.keys.get({ actor, keyId: params.id! });
        if (!current.ok) return failed(current.error);
        const secret = generateKey({ prefix: this.config.keyPrefix, environment: current.value.environment });
        const reply = await this.keys.rotate({ actor, keyId: params.id!, gracePeriodSeconds, secret: fingerprint(secret.key) });
        return answer(reply, 200, ({ key, previousKeyExpiresAt }) => ({ ...key, key: secret.key, previousKeyExpiresAt }));
      }
      case 'keys.revoke': {
        const { reason } = parse(RevokeKeyBody, body ?? {});
        return answer(await this.keys.revoke({ actor, keyId: params.id!, reason }), 200, ({ key }) => key);
      }
      case 'keys.audit':
        return answer(await this.keys.audit({ actor, ...parseQuery(AuditEventsQuery, query) }), 200, (page) => page);
      case 'metering.usage':
      case 'metering.events':
      case 'metering.alerts':
        return { status: 404, body: { error: 'Not Found', details: NOT_YET[target] } };
    }
  }
}

// Routed already so permissions hold from day one; metering answers them once it is wired in.
const NOT_YET = {
  'metering.usage': 'Usage data is not available yet',
  'metering.events': 'Usage events are not available yet',
  'metering.alerts': 'Alerts are not available yet',
};

/** The keys service's errors are already the HTTP errors of DESIGN §6. */
const failed = ({ status, error, details }: ServiceError): ManagementAnswer => ({ status, body: { error, details } });

function answer<T>(reply: Reply<T>, status: number, shape: (value: T) => unknown): ManagementAnswer {
  return reply.ok ? { status, body: shape(reply.value) } : failed(reply.error);
}

function parse<S extends z.ZodType>(schema: S, input: unknown): z.infer<S> {
  const result = schema.safeParse(input);
  if (!result.success) throw new Invalid(describeIssue(result.error.issues[0]));
  return result.data;
}

function parseQuery<S extends z.ZodType>(schema: S, query: unknown): z.infer<S> {
  const result = schema.safeParse(query ?? {});
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  if (issue?.code === 'unrecognized_keys') throw new Invalid(`unknown query parameter "${issue.keys[0]}"`);
  throw new Invalid(describeIssue(issue));
}
