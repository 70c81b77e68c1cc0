import Fastify from 'fastify';
import type { ManagementApi } from '../management/management-api.js';
import { RouteMatcher } from '../routes/route-matcher.js';
import { dispatch } from './dispatch.js';

describe('dispatch of a management call', () => {
  const matcher = new RouteMatcher([{ methods: ['GET'], path: '/v1/api-keys', permission: 'KEYS:READ', target: 'keys.list' }]);

  async function answerTo(answer: { status: number; body: unknown }) {
    const management = { handle: async () => answer } as unknown as ManagementApi;
    const app = Fastify();
    app.decorateRequest('gateway', null);
    app.addHook('onRequest', async (request) => {
      const path = request.url;
      request.gateway = { requestId: 'req_1', path, match: matcher.match(request.method, path), key: { keyId: 'key_1', accountId: 'acc_1', environment: 'live', permissions: ['*'] } as never, keyHash: 'a'.repeat(64) };
    });
    app.get('/v1/api-keys', dispatch({ matcher, management, proxy: (_request, reply) => reply }));
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const response = await fetch(`${url}/v1/api-keys`);
      return { status: response.status, challenge: response.headers.get('www-authenticate'), body: await response.json() };
    } finally {
      await app.close();
    }
  }

  it('gives a 401 of the keys service (the calling key revoked a moment ago) WWW-Authenticate: Bearer, as every 401', async () => {
    const revoked = { error: 'Unauthorized', details: 'API key has been revoked' };
    expect(await answerTo({ status: 401, body: revoked })).toEqual({ status: 401, challenge: 'Bearer', body: revoked });
    expect(await answerTo({ status: 200, body: { data: [] } })).toEqual({ status: 200, challenge: null, body: { data: [] } });
  });
});
