import { Inject, Injectable } from '@nestjs/common';
import { badRequest } from '@keyplane/contracts';
import { KeysClient } from '../management/keys-client.js';
import { answer, failed, type JsonAnswer, type ManagementCall } from '../management/management-call.js';
import { MeteringClient } from './metering-client.js';
import { alertsQuery } from './metering-query-params.js';
import { notOwnKey } from '../management/own-key.js';

/**
 * `GET /v1/alerts`: the caller's account's alerts, newest first. A `keyId` filter naming
 * another account's key answers 404 like the key's usage does, rather than an empty list.
 */
@Injectable()
export class AlertsHandler {
  constructor(
    @Inject(KeysClient) private readonly keys: KeysClient,
    @Inject(MeteringClient) private readonly metering: MeteringClient,
  ) {}

  async handle(call: ManagementCall): Promise<JsonAnswer> {
    const { actor, requestId, query } = call;
    const filter = alertsQuery(query);
    if (!filter.ok) return failed(badRequest(filter.details));
    if (filter.value.keyId !== undefined) {
      const refused = await notOwnKey(this.keys, call, filter.value.keyId);
      if (refused) return refused;
    }
    return answer(await this.metering.alerts({ accountId: actor.accountId, requestId, ...filter.value }), 200, (page) => page);
  }
}
