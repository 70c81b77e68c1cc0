import { Inject, Injectable } from '@nestjs/common';
import { badRequest, type UsageEventsRequest } from '@keyplane/contracts';
import type { Logger } from '@keyplane/observability';
import { KeysClient } from '../management/keys-client.js';
import { answer, failed, type ManagementAnswer, type ManagementCall, type Traced } from '../management/management-call.js';
import { wantsNdjson } from '../responses/ndjson.js';
import { LOGGER } from '../tokens.js';
import { followPages } from './follow-pages.js';
import { MeteringClient } from './metering-client.js';
import { eventsQuery } from './metering-query-params.js';
import { notOwnKey } from '../management/own-key.js';

/** Page size of a streamed listing when the caller names none: the most metering hands out at once. */
const STREAM_PAGE_SIZE = 1000;

/**
 * `GET /v1/api-keys/:id/events`: one page of the key's usage events, newest first, or with
 * `Accept: application/x-ndjson` all of them, fetched page by page while they are written.
 */
@Injectable()
export class UsageEventsHandler {
  constructor(
    @Inject(KeysClient) private readonly keys: KeysClient,
    @Inject(MeteringClient) private readonly metering: MeteringClient,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async handle(call: ManagementCall): Promise<ManagementAnswer> {
    const { actor, requestId, params, query, accept } = call;
    const filter = eventsQuery(query);
    if (!filter.ok) return failed(badRequest(filter.details));
    const keyId = params.id!;
    const refused = await notOwnKey(this.keys, call, keyId);
    if (refused) return refused;
    const request = { accountId: actor.accountId, requestId, keyId, ...filter.value };
    if (!wantsNdjson(accept)) return answer(await this.metering.events(request), 200, (page) => page);

    // The first page is fetched before anything is sent, so a failure still gets its status and JSON error.
    const streamed = { ...request, limit: filter.value.limit ?? STREAM_PAGE_SIZE };
    const first = await this.metering.events(streamed);
    if (!first.ok) return failed(first.error);
    return { status: 200, ndjson: followPages(first.value, (cursor) => this.nextPage({ ...streamed, cursor })) };
  }

  private async nextPage(request: Traced<UsageEventsRequest>) {
    const reply = await this.metering.events(request);
    if (!reply.ok) this.logger.warn({ keyId: request.keyId, requestId: request.requestId, error: reply.error }, 'usage event stream cut short: metering did not answer the next page');
    return reply;
  }
}
