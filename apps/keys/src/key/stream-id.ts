/** Each key is one event stream. */
export const keyStreamId = (keyId: string): string => `key-${keyId}`;
