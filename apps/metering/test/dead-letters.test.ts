import type { Msg } from '@nats-io/transport-node';
import { keyIdOf, usageEvent, waitFor } from '@keyplane/testing';
import { MeteringHarness } from './support/metering-harness.js';

describe('metering dead letters', () => {
  let h: MeteringHarness;
  const deadLetters: Msg[] = [];

  beforeAll(async () => {
    h = await MeteringHarness.create('deadletter');
    h.nc.subscribe(h.ns.subjects.usageDeadLetter, { callback: (_error, msg) => void deadLetters.push(msg) });
    await h.nc.flush();
    await h.start();
  });

  afterAll(async () => {
    await h.close();
  });

  it('sets aside what it cannot read, says why, and still counts the events behind it', async () => {
    const keyId = keyIdOf('behind');
    const good = usageEvent({ keyId, occurredAt: '2026-03-01T08:00:00.000Z' });
    const unversioned: Record<string, unknown> = { ...usageEvent({ keyId }) };
    delete unversioned.type;
    delete unversioned.version;
    const bad = [
      { payload: '{"type":"UsageRecorded", oops', reason: 'malformed JSON at position 25', type: null, version: null },
      { payload: JSON.stringify({ ...usageEvent({ keyId }), outcome: 'maybe' }), reason: 'invalid UsageRecorded v1: outcome: Invalid option: expected one of "allowed"|"forbidden"|"rate_limited"|"unauthorized"', type: 'UsageRecorded', version: 1 },
      { payload: JSON.stringify({ ...usageEvent({ keyId }), version: 2 }), reason: 'unknown event type or version: UsageRecorded v2', type: 'UsageRecorded', version: 2 },
      { payload: JSON.stringify({ ...usageEvent({ keyId }), type: 'KeyIssued' }), reason: 'unknown event type or version: KeyIssued v1', type: 'KeyIssued', version: 1 },
      { payload: JSON.stringify(unversioned), reason: 'not an event: type: Invalid input: expected string, received undefined', type: null, version: null },
      { payload: JSON.stringify({ ...usageEvent({ keyId }), eventId: 'evt\u0000nul' }), reason: 'rejected by the database: invalid byte sequence for encoding "UTF8": 0x00', type: 'UsageRecorded', version: 1 },
    ];
    const seqs: number[] = [];
    for (const { payload } of bad) seqs.push(await h.publishRaw(payload));
    await h.publish([good]);
    await h.settled();

    const window = await h.db.selectFrom('usage_windows').selectAll().where('key_id', '=', keyId).where('granularity', '=', 'hour').executeTakeFirstOrThrow();
    expect(window).toMatchObject({ window_start: new Date('2026-03-01T08:00:00.000Z'), requests: 1, allowed: 1 });

    const stored = await h.db.selectFrom('dead_letters').select(['stream_seq', 'raw_payload', 'reason', 'event_type', 'event_version']).orderBy('stream_seq').execute();
    expect(stored).toEqual(
      bad.map(({ payload, reason, type, version }, index) => ({ stream_seq: seqs[index], raw_payload: payload, reason, event_type: type, event_version: version })),
    );

    await waitFor('every dead letter on the dead-letter subject', () => deadLetters.length >= bad.length);
    expect(deadLetters.map((msg) => [msg.string(), msg.headers?.get('Keyplane-Dead-Letter-Reason'), Number(msg.headers?.get('Keyplane-Stream-Seq'))])).toEqual(
      bad.map(({ payload, reason }, index) => [payload, reason, seqs[index]]),
    );

    const warnings = h.logs.lines.map((line) => JSON.parse(line)).filter((line) => line.msg === 'usage event set aside as a dead letter');
    expect(warnings.map(({ level, type, version, reason, streamSeq }) => ({ level, type, version, reason, streamSeq }))).toEqual(
      bad.map(({ reason, type, version }, index) => ({ level: 40, type, version, reason, streamSeq: seqs[index] })),
    );
  });

  it('keeps consuming after a dead letter is delivered again', async () => {
    const keyId = keyIdOf('again');
    await h.stop();
    const seq = await h.publishRaw('not json at all');
    await h.publish([usageEvent({ keyId, occurredAt: '2026-03-01T09:00:00.000Z' })]);
    await h.start();
    await h.settled();

    const rows = await h.db.selectFrom('dead_letters').select('stream_seq').where('stream_seq', '=', seq).execute();
    expect(rows).toHaveLength(1);
    const window = await h.db.selectFrom('usage_windows').select('requests').where('key_id', '=', keyId).where('granularity', '=', 'day').executeTakeFirstOrThrow();
    expect(window.requests).toBe(1);
  });
});
