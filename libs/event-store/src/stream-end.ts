import { JetStreamApiCodes, JetStreamApiError, type JetStreamManager, type StreamInfo } from '@nats-io/jetstream';

/** Header carrying the event's global position, so a relay can see how far the stream got. */
export const POSITION_HEADER = 'Keyplane-Position';

/** The stream's info, or null when there is no such stream. */
export async function streamInfoOrNull(jsm: JetStreamManager, stream: string): Promise<StreamInfo | null> {
  try {
    return await jsm.streams.info(stream);
  } catch (error) {
    if (error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound) return null;
    throw error;
  }
}

/** The event a message says it carries: its global position (0 when it does not say: it vouches for nothing) and its Nats-Msg-Id. */
export interface PublishedEvent {
  position: number;
  eventId: string;
}

/** The event the message at `seq` carries; position 0 when there is no message there. */
export async function publishedAt(jsm: JetStreamManager, stream: string, seq: number): Promise<PublishedEvent> {
  const message = await jsm.streams.getMessage(stream, { seq });
  const position = Number(message?.header.get(POSITION_HEADER));
  return { position: Number.isSafeInteger(position) && position > 0 ? position : 0, eventId: message?.header.get('Nats-Msg-Id') ?? '' };
}

/** The global position the message at `seq` carries: 0 when there is none there, or it does not say. */
export async function positionAt(jsm: JetStreamManager, stream: string, seq: number): Promise<number> {
  return (await publishedAt(jsm, stream, seq)).position;
}
