import { headers } from '@nats-io/transport-node';
import type { RequestMux } from './request-mux.js';

export interface PubAck {
  stream: string;
  seq: number;
  duplicate: boolean;
}

interface PubAckBody {
  stream?: string;
  seq?: number;
  duplicate?: boolean;
  error?: { code: number; description: string };
}

/**
 * A JetStream publish (the `Nats-Msg-Id` header, then the stream's acknowledgement) over a
 * `RequestMux`. Resolves once the stream has stored the message or already had its id;
 * throws when no stream takes the subject, the stream refuses it, or no ack comes in time.
 */
export async function publishToStream(mux: RequestMux, subject: string, data: Uint8Array, msgId: string, timeoutMs: number): Promise<PubAck> {
  const h = headers();
  h.set('Nats-Msg-Id', msgId);
  const reply = await mux.request(subject, data, { timeoutMs, headers: h });
  const ack = reply.json<PubAckBody>();
  if (ack.error) throw new Error(`the stream refused the message: ${ack.error.description} (${ack.error.code})`);
  if (typeof ack.stream !== 'string' || typeof ack.seq !== 'number') throw new Error('the stream answered with something that is not an acknowledgement');
  return { stream: ack.stream, seq: ack.seq, duplicate: ack.duplicate === true };
}
