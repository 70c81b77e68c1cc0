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
import type { Traced } from './management-call.js';

type Input<T> = Omit<T, 'limit'> & { limit?: number };

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

  issue = (body: Traced<IssueKeyRequest>) => this.command<IssuedKey>(this.subjects.issue, body);
  list = (body: Traced<Input<ListKeysRequest>>) => this.query<KeyPage>(this.subjects.list, body);
  get = (body: Traced<GetKeyRequest>) => this.query<KeyObject>(this.subjects.get, body);
  update = (body: Traced<UpdateKeyRequest>) => this.command<{ key: KeyObject }>(this.subjects.update, body);
  rotate = (body: Traced<RotateKeyRequest>) => this.command<RotatedKey>(this.subjects.rotate, body);
  revoke = (body: Traced<RevokeKeyRequest>) => this.command<{ key: KeyObject }>(this.subjects.revoke, body);
  audit = (body: Traced<Input<AuditEventsRequest>>) => this.query<AuditPage>(this.subjects.audit, body);

  /**
   * A change, sent with how long the gateway waits for it: keys commits nothing after that. A keys
   * replica of the release before, which knows no `requestId`, refused it unread: it goes again without.
   */
  private command<T>(subject: string, body: { requestId: string }): Promise<Reply<T>> {
    return sendDroppingUnknown(body, 'requestId', (message) => {
      const wait = headers();
      wait.set(REPLY_WITHIN_HEADER, String(this.config.keysTimeoutMs));
      return this.send<T>(subject, new NatsRecordBuilder(message).setHeaders(wait).build());
    });
  }

  private query<T>(subject: string, body: { requestId: string }): Promise<Reply<T>> {
    return sendDroppingUnknown(body, 'requestId', (message) => this.send<T>(subject, message));
  }

  private send<T>(subject: string, body: unknown): Promise<Reply<T>> {
    return serviceRequest<T>(this.client, subject, body, this.config.keysTimeoutMs, KEYS_UNAVAILABLE);
  }
}
