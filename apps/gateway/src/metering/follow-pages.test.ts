import { ok, fail, serviceError, type Reply } from '@keyplane/contracts';
import { followPages, PageUnavailable } from './follow-pages.js';
import type { Page } from './metering-client.js';

const pages: Record<string, Page<number>> = {
  c1: { data: [3, 2], nextCursor: 'c2' },
  c2: { data: [1], nextCursor: null },
};

/** Serves `pages` by cursor and records which cursors were asked for. */
function pager() {
  const asked: string[] = [];
  const next = async (cursor: string): Promise<Reply<Page<number>>> => {
    asked.push(cursor);
    return ok(pages[cursor]!);
  };
  return { asked, next };
}

async function collect<T>(batches: AsyncIterable<T[]>): Promise<T[][]> {
  const out: T[][] = [];
  for await (const batch of batches) out.push(batch);
  return out;
}

describe('followPages', () => {
  it('follows cursors to the last page', async () => {
    const { asked, next } = pager();
    expect(await collect(followPages({ data: [5, 4], nextCursor: 'c1' }, next))).toEqual([[5, 4], [3, 2], [1]]);
    expect(asked).toEqual(['c1', 'c2']);
  });

  it('asks for nothing more when the first page is the last', async () => {
    const { asked, next } = pager();
    expect(await collect(followPages({ data: [], nextCursor: null }, next))).toEqual([[]]);
    expect(asked).toEqual([]);
  });

  it('asks for the next page only once the previous one was taken, and stops when the reader does', async () => {
    const { asked, next } = pager();
    const batches = followPages({ data: [5, 4], nextCursor: 'c1' }, next);
    expect((await batches.next()).value).toEqual([5, 4]);
    expect(asked).toEqual([]);
    await batches.return(undefined);
    expect(asked).toEqual([]);
  });

  it('ends with an error when a next page does not come', async () => {
    const next = async () => fail(serviceError(503, 'Metering service unavailable'));
    const batches = followPages({ data: [5], nextCursor: 'c1' }, next);
    expect((await batches.next()).value).toEqual([5]);
    await expect(batches.next()).rejects.toEqual(new PageUnavailable('Metering service unavailable'));
  });
});
