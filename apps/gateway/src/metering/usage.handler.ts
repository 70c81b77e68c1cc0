import { Inject, Injectable } from '@nestjs/common';
import { badRequest } from '@keyplane/contracts';
import { KeysClient } from '../management/keys-client.js';
import { answer, failed, type JsonAnswer, type ManagementCall } from '../management/management-call.js';
import { MeteringClient } from './metering-client.js';
import { usageQuery } from './metering-query-params.js';
import { notOwnKey } from '../management/own-key.js';

/** `GET /v1/api-keys/:id/usage`: the key's hour or day windows, zeros where it was idle. */
@Injectable()
export class UsageHandler {
  constructor(
    @Inject(KeysClient) private readonly keys: KeysClient,
    @Inject(MeteringClient) private readonly metering: MeteringClient,
  ) {}

  async handle(call: ManagementCall): Promise<JsonAnswer> {
    const { actor, requestId, params, query } = call;
    const range = usageQuery(query, new Date());
    if (!range.ok) return failed(badRequest(range.details));
    const keyId = params.id!;
    const refused = await notOwnKey(this.keys, call, keyId);
    if (refused) return refused;
    return answer(await this.metering.usage({ accountId: actor.accountId, requestId, keyId, ...range.value }), 200, (windows) => windows);
  }
}
