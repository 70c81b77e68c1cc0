import { Inject, Injectable } from '@nestjs/common';
import { NatsRecordBuilder, type ClientProxy } from '@nestjs/microservices';
import { headers } from '@nats-io/transport-node';
import {
  namespace,
  REPLY_WITHIN_HEADER,
  sendDroppingUnknown,
  type AuditEventsRequest,
  type AuditPage,
  type GetKeyRequest,
  type IssuedKey,
  type IssueKeyRequest,
  type KeyObject,
  type KeyPage,
  type ListKeysRequest,
  type Reply,
  type RevokeKeyRequest,
  type RotatedKey,
  type RotateKeyRequest,
  type UpdateKeyRequest,
} from '@keyplane/contracts';
import type { GatewayConfig } from '../config.js';
import { serviceRequest } from '../messaging/service-request.js';
import { KEYS_UNAVAILABLE } from '../responses/error-body.js';
import { GATEWAY_CONFIG, NATS_CLIENT } from '../tokens.js';
import type { Caller } from './management-call.js';

type Input<T> = Omit<T, 'limit'> & { limit?: number };
/** A message's own fields; the caller's are added to every message from the call. */
type Asked<T> = Omit<T, keyof Caller>;

/**
 * The fields a keys service of the release before does not know: a message it refused for them,
 * unread, goes again without them, and it answers as it always did (docs/operations.md, Upgrading).
 */
const NEWER_FIELDS = ['requestId', 'recheck'] as const;

/** The keys service's request/reply API over NATS; unreachable means 503 `Keys service unavailable`. */
@Injectable()
export class KeysClient {
  private readonly subjects: ReturnType<typeof namespace>['subjects']['keys'];

  constructor(
    @Inject(NATS_CLIENT) private readonly client: ClientProxy,
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
  ) {
    this.subjects = namespace(config.natsPrefix).subjects.keys;
  }

  issue = (caller: Caller, body: Asked<IssueKeyRequest>) => this.command<IssuedKey>(this.subjects.issue, caller, body);
  list = (caller: Caller, body: Asked<Input<ListKeysRequest>>) => this.query<KeyPage>(this.subjects.list, caller, body);
  get = (caller: Caller, body: Asked<GetKeyRequest>) => this.query<KeyObject>(this.subjects.get, caller, body);
  update = (caller: Caller, body: Asked<UpdateKeyRequest>) => this.command<{ key: KeyObject }>(this.subjects.update, caller, body);
  rotate = (caller: Caller, body: Asked<RotateKeyRequest>) => this.command<RotatedKey>(this.subjects.rotate, caller, body);
  revoke = (caller: Caller, body: Asked<RevokeKeyRequest>) => this.command<{ key: KeyObject }>(this.subjects.revoke, caller, body);
  audit = (caller: Caller, body: Asked<Input<AuditEventsRequest>>) => this.query<AuditPage>(this.subjects.audit, caller, body);

  /** A change, sent with how long the gateway waits for it: keys commits nothing after that. */
  private command<T>(subject: string, caller: Caller, body: object): Promise<Reply<T>> {
    return sendDroppingUnknown(fromCaller(caller, body), NEWER_FIELDS, (message) => {
      const wait = headers();
      wait.set(REPLY_WITHIN_HEADER, String(this.config.keysTimeoutMs));
      return this.send<T>(subject, new NatsRecordBuilder(message).setHeaders(wait).build());
    });
  }

  private query<T>(subject: string, caller: Caller, body: object): Promise<Reply<T>> {
    return sendDroppingUnknown(fromCaller(caller, body), NEWER_FIELDS, (message) => this.send<T>(subject, message));
  }

  private send<T>(subject: string, body: unknown): Promise<Reply<T>> {
    return serviceRequest<T>(this.client, subject, body, this.config.keysTimeoutMs, KEYS_UNAVAILABLE);
  }
}

/** Only the caller's fields a keys message takes, whatever else the call holds. */
function fromCaller({ actor, recheck, requestId }: Caller, body: object) {
  return { actor, recheck, requestId, ...body };
}
