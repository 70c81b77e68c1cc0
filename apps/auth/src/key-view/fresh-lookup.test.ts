import { createLogger, createMetricsRegistry } from '@keyplane/observability';
import { CapturedLogs } from '@keyplane/testing';
import { issued } from '../../test/support/key-events.js';
import { AppliedSequence } from './applied-sequence.js';
import { FreshLookup } from './fresh-lookup.js';
import { KeyView } from './key-view.js';

const NOW = Date.parse('2026-11-26T12:00:00.000Z');
const clock = () => NOW;
/** The creation time of the stream the view follows. */
const STREAM = '2026-11-26T11:00:00.000Z';

/** `streamHead` answers the stream's last sequence, on the stream the view follows unless it names another. */
function setup(streamHead: () => Promise<number | { sequence: number; created: string }>, catchUpTimeoutMs = 1000) {
  const view = new KeyView();
  const applied = new AppliedSequence();
  applied.restart(STREAM);
  const logs = new CapturedLogs();
  let headRequests = 0;
  const head = {
    current: async () => {
      headRequests++;
      const answer = await streamHead();
      return typeof answer === 'number' ? { sequence: answer, created: STREAM } : answer;
    },
  };
  const lookup = new FreshLookup({ view, applied, head, logger: createLogger('auth', { destination: logs }), registry: createMetricsRegistry('auth'), catchUpTimeoutMs });
  return { view, applied, lookup, logs, headRequests: () => headRequests };
}

describe('FreshLookup', () => {
  it('answers a known hash from the view without asking the stream', async () => {
    const key = issued();
    const { view, lookup, headRequests } = setup(() => Promise.reject(new Error('must not be asked')));
    view.apply(key.event);
    const { found } = await lookup.lookup(key.secret.hash, clock);
    expect(found?.key.keyId).toBe(key.keyId);
    expect(headRequests()).toBe(0);
  });

  it('calls a hash unknown at once when the view is level with the stream', async () => {
    const { applied, lookup, headRequests } = setup(() => Promise.resolve(4));
    applied.advance(4);
    expect((await lookup.lookup(issued().secret.hash, clock)).found).toBeNull();
    expect(headRequests()).toBe(1);
  });

  it('waits for a view that is behind the stream, then finds the key it was missing', async () => {
    const key = issued();
    const { view, applied, lookup } = setup(() => Promise.resolve(8));
    applied.advance(7);
    const pending = lookup.lookup(key.secret.hash, clock);
    setTimeout(() => {
      view.apply(key.event);
      applied.advance(8);
    }, 20);
    expect((await pending).found?.key.keyId).toBe(key.keyId);
  });

  it('finds a key the view applied while the stream head was being read', async () => {
    const key = issued();
    const { view, applied, lookup } = setup(async () => {
      view.apply(key.event);
      applied.advance(5);
      return 5;
    });
    applied.advance(4);
    expect((await lookup.lookup(key.secret.hash, clock)).found?.key.keyId).toBe(key.keyId);
  });

  it('gives up waiting after the timeout and answers from the view as it is', async () => {
    const { lookup } = setup(() => Promise.resolve(3), 30);
    const started = performance.now();
    expect((await lookup.lookup(issued().secret.hash, clock)).found).toBeNull();
    expect(performance.now() - started).toBeGreaterThanOrEqual(25);
  });

  it('answers from the view when the stream head cannot be read, and says so in the log once', async () => {
    const { lookup, logs } = setup(() => Promise.reject(new Error('no responders')));
    expect((await lookup.lookup(issued().secret.hash, clock)).found).toBeNull();
    expect((await lookup.lookup(issued().secret.hash, clock)).found).toBeNull();
    expect(logs.lines.filter((line) => line.includes('could not read the key stream head'))).toHaveLength(1);
  });

  it('on a stream made anew, waits for the view to follow it whatever sequence the old one reached, and tells the follower', async () => {
    const key = issued();
    const { view, applied, lookup } = setup(() => Promise.resolve({ sequence: 2, created: 'made anew' }));
    const told: string[] = [];
    applied.onOtherStream = (stream) => {
      told.push(stream);
      setTimeout(() => {
        applied.restart(stream);
        view.apply(key.event);
        applied.advance(2);
      }, 20);
    };
    applied.advance(9);
    expect((await lookup.lookup(key.secret.hash, clock)).found?.key.keyId).toBe(key.keyId);
    expect(told).toEqual(['made anew']);
  });
});
