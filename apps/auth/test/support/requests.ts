import type { DecideRequest } from '@keyplane/contracts';

let requests = 0;

/** A decide request as the gateway sends it, with a unique request id. */
export function decideRequest(keyHash: string, permission: string | null, extra: Partial<DecideRequest> = {}): DecideRequest {
  return {
    keyHash,
    permission,
    method: 'GET',
    path: '/v1/flows',
    clientIp: '203.0.113.7',
    userAgent: 'jest',
    requestId: `req-${++requests}`,
    ...extra,
  };
}
