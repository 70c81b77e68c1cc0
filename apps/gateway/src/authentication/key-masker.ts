import type { DecideRequest } from '@keyplane/contracts';
import { DISPLAY_PREFIX_LENGTH, keyShapedPattern, LAST_LENGTH } from '@keyplane/key-format';

/**
 * Puts every key-shaped token of this deployment in the text of a decision request in its
 * display form (`tv_live_Ab3x…9ZqT`, as a key object shows it). Auth publishes the path, user
 * agent and request id in the usage event, which metering stores and serves, so a key a client
 * put there (`/v1/api-keys/tv_live_…`, `X-Request-Id: tv_live_…`) would otherwise cross NATS and
 * settle in Postgres. The checksum is not checked: a key with a typo is still most of a secret.
 */
export function keyMasker(keyPrefix: string): (ask: DecideRequest) => DecideRequest {
  const marker = `${keyPrefix}_`;
  const pattern = keyShapedPattern(keyPrefix, 'g');
  const mask = (text: string) => text.replace(pattern, (key) => `${key.slice(0, DISPLAY_PREFIX_LENGTH)}…${key.slice(-LAST_LENGTH)}`);
  return (ask) => {
    const { path, userAgent, requestId } = ask;
    // The hot path: almost every request holds no key text at all.
    if (!path.includes(marker) && !userAgent?.includes(marker) && !requestId.includes(marker)) return ask;
    return { ...ask, path: mask(path), userAgent: userAgent === null ? null : mask(userAgent), requestId: mask(requestId) };
  };
}
