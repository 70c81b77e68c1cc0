import { JetStreamApiCodes, JetStreamApiError, type JetStreamManager, type StreamInfo } from '@nats-io/jetstream';

/** Header carrying the event's global position, so a relay can see how far the stream got. */
export const POSITION_HEADER = 'Keyplane-Position';

/**
 * Header of the first message of a stream the relay made anew: the position of the last event the
 * store held then, every one of which the relay publishes again. A consumer whose view folded an
 * event past it holds one the store lost (it went back to an earlier point).
 */
export const STORED_THROUGH_HEADER = 'Keyplane-Stored-Through';

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
