import { Inject, Injectable } from '@nestjs/common';
import type { ClientProxy } from '@nestjs/microservices';
import {
  namespace,
  type Alert,
  type AlertsRequest,
  type LastUsed,
  type LastUsedRequest,
  type Reply,
  type UsageEventsRequest,
  type UsageRecorded,
  type UsageWindows,
  type UsageWindowsRequest,
  sendDroppingUnknown,
} from '@keyplane/contracts';
import type { GatewayConfig } from '../config.js';
import type { Traced } from '../management/management-call.js';
import { serviceRequest } from '../messaging/service-request.js';
import { METERING_UNAVAILABLE } from '../responses/error-body.js';
import { GATEWAY_CONFIG, NATS_CLIENT } from '../tokens.js';

type Input<T> = Omit<T, 'limit'> & { limit?: number };

export interface Page<T> {
  data: T[];
  nextCursor: string | null;
}

/** A stored usage event as metering answers it: the `UsageRecorded` fields without type and version. */
export type UsageEvent = Omit<UsageRecorded, 'type' | 'version'>;

/** Metering's queries over NATS; no answer within `METERING_TIMEOUT_MS` is 503 `Metering service unavailable`. */
@Injectable()
export class MeteringClient {
  private readonly subjects: ReturnType<typeof namespace>['subjects']['metering'];

  constructor(
    @Inject(NATS_CLIENT) private readonly client: ClientProxy,
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
  ) {
    this.subjects = namespace(config.natsPrefix).subjects.metering;
  }

  usage = (body: Traced<UsageWindowsRequest>) => this.send<UsageWindows>(this.subjects.usage, body);
  events = (body: Traced<Input<UsageEventsRequest>>) => this.send<Page<UsageEvent>>(this.subjects.events, body);
  alerts = (body: Traced<Input<AlertsRequest>>) => this.send<Page<Alert>>(this.subjects.alerts, body);
  lastUsed = (body: Traced<LastUsedRequest>) => this.send<LastUsed>(this.subjects.lastUsed, body);

  /** A metering replica of the release before, which knows no `requestId`, refuses the query unread: it goes again without. */
  private send<T>(subject: string, body: { requestId: string }): Promise<Reply<T>> {
    return sendDroppingUnknown(body, 'requestId', (message) => serviceRequest<T>(this.client, subject, message, this.config.meteringTimeoutMs, METERING_UNAVAILABLE));
  }
}
