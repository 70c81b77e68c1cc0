import { createHmac } from 'node:crypto';
import { signBody } from './webhook-signature.js';

describe('signBody', () => {
  it('is sha256= and the hex HMAC-SHA256 of the exact body', () => {
    const body = '{"id":"alrt_1","type":"usage_spike"}';
    expect(signBody(body, 's3cret')).toBe(`sha256=${createHmac('sha256', 's3cret').update(body).digest('hex')}`);
    expect(signBody(`${body} `, 's3cret')).not.toBe(signBody(body, 's3cret'));
  });
});
