import { fileURLToPath } from 'node:url';
import { RouteMatcher } from './route-matcher.js';
import { loadRouteTable } from './route-table.js';

const table = loadRouteTable(fileURLToPath(new URL('../../config/routes.json', import.meta.url)));
const matcher = new RouteMatcher(table);

const permissionFor = (method: string, path: string) => {
  const match = matcher.match(method, path);
  return match ? { permission: match.route.permission, target: match.route.target, params: match.params } : null;
};

describe('the default route table (DESIGN §4)', () => {
  it.each([
    ['GET', '/v1/flows', 'FLOWS:READ'],
    ['GET', '/v1/flows/flow_1', 'FLOWS:READ'],
    ['POST', '/v1/flows', 'FLOWS:WRITE'],
    ['PUT', '/v1/flows/flow_1', 'FLOWS:WRITE'],
    ['PATCH', '/v1/flows/flow_1', 'FLOWS:WRITE'],
    ['DELETE', '/v1/flows/flow_1', 'FLOWS:WRITE'],
    ['POST', '/v1/flows/flow_1/execute', 'FLOWS:EXECUTE'],
    ['GET', '/v1/records', 'RECORDS:READ'],
    ['GET', '/v1/records/rec_1', 'RECORDS:READ'],
    ['POST', '/v1/records', 'RECORDS:WRITE'],
    ['DELETE', '/v1/records/rec_1', 'RECORDS:WRITE'],
    ['GET', '/v1/prompts/p', 'PROMPTS:READ'],
    ['PUT', '/v1/prompts/p', 'PROMPTS:WRITE'],
    ['GET', '/v1/analytics', 'ANALYTICS:READ'],
    ['GET', '/v1/api-keys', 'KEYS:READ'],
    ['GET', '/v1/api-keys/key_1', 'KEYS:READ'],
    ['GET', '/v1/api-keys/key_1/usage', 'KEYS:READ'],
    ['GET', '/v1/api-keys/key_1/events', 'KEYS:READ'],
    ['POST', '/v1/api-keys', 'KEYS:WRITE'],
    ['PATCH', '/v1/api-keys/key_1', 'KEYS:WRITE'],
    ['DELETE', '/v1/api-keys/key_1', 'KEYS:WRITE'],
    ['POST', '/v1/api-keys/key_1/rotate', 'KEYS:WRITE'],
    ['POST', '/v1/api-keys/key_1/revoke', 'KEYS:WRITE'],
    ['GET', '/v1/audit/events', 'AUDIT:READ'],
    ['GET', '/v1/alerts', 'AUDIT:READ'],
  ])('%s %s requires %s', (method, path, permission) => {
    expect(permissionFor(method, path)?.permission).toBe(permission);
  });

  it('sends management calls to their handlers with the path parameters', () => {
    expect(permissionFor('POST', '/v1/api-keys/key_01ABC/rotate')).toEqual({
      permission: 'KEYS:WRITE',
      target: 'keys.rotate',
      params: { id: 'key_01ABC' },
    });
    expect(permissionFor('GET', '/v1/flows')?.target).toBe('upstream');
  });

  it('answers HEAD with the GET route', () => {
    expect(permissionFor('HEAD', '/v1/flows/flow_1')?.permission).toBe('FLOWS:READ');
  });

  it('matches nothing outside the table', () => {
    for (const [method, path] of [
      ['GET', '/v1/nope'],
      ['GET', '/v1/flows/flow_1/execute'],
      ['POST', '/v1/analytics'],
      ['GET', '/v1/flows/'],
      ['GET', '/v1//flows'],
      ['GET', '/V1/flows'],
      ['GET', '/v1/flows/a/b'],
      ['GET', '/v1'],
    ]) {
      expect(permissionFor(method!, path!)).toBeNull();
    }
  });

  it('refuses parameters that would walk the upstream path', () => {
    for (const id of ['..', '.', '%2e%2e', '%2E.', 'a\\..', '%2F', '%zz']) {
      expect(permissionFor('POST', `/v1/flows/${id}/execute`)).toBeNull();
    }
  });

  it('decodes percent-encoded parameters', () => {
    expect(permissionFor('GET', '/v1/api-keys/key%5F1')?.params).toEqual({ id: 'key_1' });
  });

  it('lists the methods a known path allows', () => {
    expect(matcher.allowedMethods('/v1/analytics')).toEqual(['GET', 'HEAD']);
    expect(matcher.allowedMethods('/v1/flows/flow_1').sort()).toEqual(['DELETE', 'GET', 'HEAD', 'PATCH', 'PUT']);
    expect(matcher.allowedMethods('/v1/nope')).toEqual([]);
  });
});
