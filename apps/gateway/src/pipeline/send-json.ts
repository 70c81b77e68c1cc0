import type { FastifyReply } from 'fastify';

/**
 * Sends a ready JSON string as exactly `application/json` (DESIGN §6). Handed over as bytes,
 * because Fastify appends `; charset=utf-8` to the content type of a string payload.
 */
export function sendJson(reply: FastifyReply, status: number, json: string): FastifyReply {
  return reply.code(status).header('content-type', 'application/json').send(Buffer.from(json));
}
