import { createHmac } from 'node:crypto';

export const SIGNATURE_HEADER = 'X-Keyplane-Signature';
export const ALERT_ID_HEADER = 'X-Keyplane-Alert-Id';

/** `sha256=<hex HMAC-SHA256 of the raw body>`: the receiver recomputes it over the exact bytes it got. */
export function signBody(body: string, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}
