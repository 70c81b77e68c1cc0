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

/** The global position the message at `seq` carries: 0 when there is none there, or it does not say (it vouches for nothing). */
export async function positionAt(jsm: JetStreamManager, stream: string, seq: number): Promise<number> {
  const message = await jsm.streams.getMessage(stream, { seq });
  const position = Number(message?.header.get(POSITION_HEADER));
  return Number.isSafeInteger(position) && position > 0 ? position : 0;
}
