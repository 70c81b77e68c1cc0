import type { Reply } from '@keyplane/contracts';
import type { Page } from './metering-client.js';

/** A next page that did not come: the stream already sent its status, so it can only end short. */
export class PageUnavailable extends Error {}

/**
 * Every page of a cursor-paged listing, starting from one already fetched. The next page is
 * asked for only once the previous one has been consumed, so a slow reader holds one page at
 * a time and a reader that goes away stops the paging.
 */
export async function* followPages<T>(first: Page<T>, next: (cursor: string) => Promise<Reply<Page<T>>>): AsyncGenerator<T[]> {
  let page = first;
  for (;;) {
    yield page.data;
    if (page.nextCursor === null) return;
    const reply = await next(page.nextCursor);
    if (!reply.ok) throw new PageUnavailable(reply.error.details);
    page = reply.value;
  }
}
