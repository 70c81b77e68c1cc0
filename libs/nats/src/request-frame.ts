import type { Msg } from '@nats-io/transport-node';
import type { ConsumerDeserializer, IncomingEvent, IncomingRequest } from '@nestjs/microservices';
import { badRequest } from '@keyplane/contracts';
import { encodeJson } from './codec.js';

/** A Nest request as its `ClientProxy` sends one. */
interface RequestPacket {
  pattern: unknown;
  data: unknown;
  id: string;
}

/** Why a message is not a request, in words for its sender. */
function framingProblem(packet: unknown): string | null {
  if (typeof packet !== 'object' || packet === null || Array.isArray(packet)) return 'the message is not a request: expected {"pattern", "data", "id"}';
  const { id, pattern } = packet as Partial<RequestPacket>;
  if (typeof id !== 'string' || id === '') return 'the message is not a request: it has no "id"';
  if (pattern === undefined) return 'the message is not a request: it has no "pattern"';
  return null;
}

/**
 * Nest's NATS deserializer, for services whose every handler answers requests. Nest would run
 * a message without a request id as an event (a command carried out, its answer thrown away)
 * and leave one that is not JSON unanswered, so its sender waits out its timeout. Such a message
 * is answered here instead, with a 400 in the services' own reply shape when it asks for a reply,
 * and reported to `refused` either way; Nest then sees an event, which the server drops.
 */
export class RequestFrameDeserializer implements ConsumerDeserializer {
  constructor(private readonly refused: (subject: string, details: string) => void) {}

  deserialize(msg: Msg, options?: { channel?: string }): IncomingRequest | IncomingEvent {
    let packet: unknown;
    try {
      packet = msg.json();
    } catch {
      return this.refuse(msg, options?.channel, 'the message is not JSON', null);
    }
    const problem = framingProblem(packet);
    if (problem === null) return packet as IncomingRequest;
    const id = (packet as { id?: unknown } | null)?.id;
    return this.refuse(msg, options?.channel, problem, typeof id === 'string' ? id : null);
  }

  private refuse(msg: Msg, channel: string | undefined, details: string, id: string | null): IncomingEvent {
    this.refused(channel ?? msg.subject, details);
    if (msg.reply) msg.respond(encodeJson({ id, response: { ok: false, error: badRequest(details) }, isDisposed: true }));
    return { pattern: undefined, data: undefined };
  }
}
