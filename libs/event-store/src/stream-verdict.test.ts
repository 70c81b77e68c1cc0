import { judgeStream, type StreamEnds } from './stream-verdict.js';

const ends = (first: number, last: number, gaps = false): StreamEnds => ({ first, last, lastEventId: last > 0 ? `evt-${last}` : '', gaps });
const EMPTY = ends(0, 0);
/** Judged against a store that holds the stream's last message at its position. */
const judge = (checkpoint: number, firstStored: number | null, onStream: StreamEnds | null) =>
  judgeStream(checkpoint, firstStored, onStream, onStream && onStream.last > 0 ? onStream.lastEventId : null);

describe('judgeStream', () => {
  it.each([
    ['level with the checkpoint', 7, ends(1, 7), 7],
    ['ahead of the checkpoint (published, checkpoint not committed)', 7, ends(1, 9), 9],
    ['empty, nothing published yet', 0, EMPTY, 0],
    ['holding events before any checkpoint was taken', 0, ends(1, 4), 4],
  ])('a stream %s is intact: publish after its last position', (_case, checkpoint, onStream, after) => {
    expect(judge(checkpoint, 1, onStream)).toEqual({ kind: 'intact', after });
  });

  it('a stream whose first event is not position 1 is intact when it begins with the first stored event', () => {
    expect(judge(12, 3, ends(3, 12))).toEqual({ kind: 'intact', after: 12 });
  });

  it.each([
    ['missing', null],
    ['empty (purged, or made again by another service)', EMPTY],
    ['stopping short of the checkpoint (restored from an older copy)', ends(1, 3)],
    ['ending in a message that does not say its position', ends(1, 0)],
    ['no longer beginning with the first stored event (purged but the last, trimmed by a limit)', ends(4, 7)],
    ['beginning with a message that does not say its position', ends(0, 7)],
    ['with messages removed from inside it (a subject purged, a message deleted)', ends(1, 7, true)],
  ])('a stream %s after events were published lost history: remake it', (_case, onStream) => {
    expect(judge(7, 1, onStream)).toEqual({ kind: 'remake', lost: true });
  });

  it('a stream missing before anything was published is made, and nothing counts as lost', () => {
    expect(judge(0, 1, null)).toEqual({ kind: 'remake', lost: false });
    expect(judge(0, null, null)).toEqual({ kind: 'remake', lost: false });
  });

  it('a stream holding events the store never had (the store was emptied) is made anew', () => {
    expect(judge(0, null, ends(1, 5))).toEqual({ kind: 'remake', lost: false });
  });

  it.each([
    ['another event at that position (the store went back to an earlier point and reused it)', 'evt-other'],
    ['no event at that position (the store went back to an earlier point)', null],
  ])('a stream whose last message is not the store’s event there is not this store’s: remake it (%s)', (_case, storedAtLast) => {
    expect(judgeStream(3, 1, ends(1, 3), storedAtLast)).toEqual({ kind: 'remake', lost: true });
    expect(judgeStream(1, 1, ends(1, 3), storedAtLast)).toEqual({ kind: 'remake', lost: true });
  });

  it('a last message that names no event id vouches for its position when the store holds an event there', () => {
    const unnamed = { ...ends(1, 3), lastEventId: '' };
    expect(judgeStream(3, 1, unnamed, 'evt-3')).toEqual({ kind: 'intact', after: 3 });
    expect(judgeStream(3, 1, unnamed, null)).toEqual({ kind: 'remake', lost: true });
  });
});
