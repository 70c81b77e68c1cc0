import type { Msg } from '@nats-io/transport-node';
import { decodeJson } from './codec.js';
import { RequestFrameDeserializer } from './request-frame.js';

function message(payload: string, reply?: string) {
  const sent: unknown[] = [];
  const msg = {
    subject: 'p.keys.cmd.issue',
    reply,
    json: () => JSON.parse(payload),
    respond: (data: Uint8Array) => sent.push(decodeJson(data)),
  } as unknown as Msg;
  return { msg, sent };
}

describe('RequestFrameDeserializer', () => {
  const refused: string[] = [];
  const deserializer = new RequestFrameDeserializer((subject, details) => refused.push(`${subject}: ${details}`));
  beforeEach(() => refused.splice(0));

  it('passes a request through as it came', () => {
    const packet = { pattern: 'keys.cmd.issue', data: { name: 'x' }, id: 'a1' };
    const { msg, sent } = message(JSON.stringify(packet), '_INBOX.1');
    expect(deserializer.deserialize(msg, { channel: 'p.keys.cmd.issue' })).toEqual(packet);
    expect([sent, refused]).toEqual([[], []]);
  });

  it.each([
    ['not JSON', '{not json', null, 'the message is not JSON'],
    ['null', 'null', null, 'the message is not a request: expected {"pattern", "data", "id"}'],
    ['an array', '[1,2]', null, 'the message is not a request: expected {"pattern", "data", "id"}'],
    ['a bare payload', '{"name":"x"}', null, 'the message is not a request: it has no "id"'],
    ['an envelope without id', '{"pattern":"keys.cmd.issue","data":{}}', null, 'the message is not a request: it has no "id"'],
    ['an envelope without pattern', '{"data":{},"id":"a2"}', 'a2', 'the message is not a request: it has no "pattern"'],
  ])('answers %s with a 400 when it asks for a reply, and reports it', (_case, payload, id, details) => {
    const { msg, sent } = message(payload, '_INBOX.2');
    expect(deserializer.deserialize(msg, { channel: 'p.keys.cmd.issue' })).toEqual({ pattern: undefined, data: undefined });
    expect(sent).toEqual([{ id, response: { ok: false, error: { status: 400, error: 'Bad Request', details } }, isDisposed: true }]);
    expect(refused).toEqual([`p.keys.cmd.issue: ${details}`]);
  });

  it('only reports what asks for no reply', () => {
    const { msg, sent } = message('{not json');
    deserializer.deserialize(msg, { channel: 'p.keys.cmd.issue' });
    expect([sent, refused]).toEqual([[], ['p.keys.cmd.issue: the message is not JSON']]);
  });
});
