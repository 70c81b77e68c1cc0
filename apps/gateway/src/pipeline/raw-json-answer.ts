import { STATUS_CODES } from 'node:http';

/**
 * A whole HTTP/1.1 error answer as bytes, for the sockets Node hands over before Fastify
 * (client errors, CONNECT): JSON as DESIGN §6 has it, and the connection closed after it.
 */
export function rawJsonAnswer(status: number, body: string, headers: Record<string, string> = {}): string {
  let head = `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n`;
  for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
  return `${head}Connection: close\r\n\r\n${body}`;
}
