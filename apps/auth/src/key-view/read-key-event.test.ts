import { issued } from '../../test/support/key-events.js';
import { readKeyEvent } from './read-key-event.js';

const bytes = (value: unknown) => new TextEncoder().encode(typeof value === 'string' ? value : JSON.stringify(value));

describe('readKeyEvent', () => {
  it('reads a v1 key event', () => {
    const { event } = issued();
    expect(readKeyEvent(bytes(event))).toEqual({ kind: 'event', event });
  });

  it('reports a version it does not know, with the type and version', () => {
    const { event } = issued();
    expect(readKeyEvent(bytes({ ...event, version: 2 }))).toEqual({ kind: 'unknown', type: 'KeyIssued', version: 2 });
  });

  it('reports a type it does not know', () => {
    expect(readKeyEvent(bytes({ type: 'KeyExploded', version: 1 }))).toEqual({ kind: 'unknown', type: 'KeyExploded', version: 1 });
  });

  it('calls bytes that are not JSON malformed', () => {
    expect(readKeyEvent(bytes('{not json'))).toEqual({ kind: 'malformed', problem: 'not JSON' });
  });

  it('calls an event without a type or version malformed', () => {
    expect(readKeyEvent(bytes({ hello: 'world' }))).toEqual({ kind: 'malformed', problem: expect.stringMatching(/^type: /) });
    expect(readKeyEvent(bytes([1, 2]))).toMatchObject({ kind: 'malformed' });
  });

  it('names the field of a known event that does not match its schema', () => {
    const { event } = issued();
    const broken = { ...event, data: { ...event.data, secret: { ...event.data.secret, secretHash: 'nope' } } };
    expect(readKeyEvent(bytes(broken))).toEqual({
      kind: 'malformed',
      problem: 'KeyIssued: data.secret.secretHash: expected a SHA-256 hash in lowercase hex',
    });
  });
});
