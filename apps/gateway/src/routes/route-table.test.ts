import { validateRouteTable } from './route-table.js';

const entry = { methods: ['GET'], path: '/v1/flows', permission: 'FLOWS:READ', target: 'upstream' };
const table = (...routes: unknown[]) => ({ routes });

describe('validateRouteTable', () => {
  it('accepts a well-formed table', () => {
    expect(validateRouteTable(table(entry, { ...entry, methods: ['POST'], permission: null }))).toEqual([
      { methods: ['GET'], path: '/v1/flows', permission: 'FLOWS:READ', target: 'upstream' },
      { methods: ['POST'], path: '/v1/flows', permission: null, target: 'upstream' },
    ]);
  });

  it('names the entry with an unknown permission', () => {
    expect(() => validateRouteTable(table(entry, { ...entry, methods: ['POST'], permission: 'FLOW:WRITE' }), 'routes.json')).toThrow(
      'routes.json: routes[1] (POST /v1/flows): unknown permission "FLOW:WRITE"',
    );
  });

  it('refuses unknown targets, bad paths, missing parameters and duplicates', () => {
    expect(() => validateRouteTable(table({ ...entry, target: 'elsewhere' }))).toThrow('routes[0] (GET /v1/flows): unknown target "elsewhere"');
    expect(() => validateRouteTable(table({ ...entry, path: '/flows' }))).toThrow('path must start with /v1/');
    expect(() => validateRouteTable(table({ ...entry, path: '/v1/flows/' }))).toThrow('path must start with /v1/');
    expect(() => validateRouteTable(table({ ...entry, path: '/v1/flows/..' }))).toThrow('path must start with /v1/');
    expect(() => validateRouteTable(table({ ...entry, path: '/v1/./flows' }))).toThrow('path must start with /v1/');
    expect(validateRouteTable(table({ ...entry, path: '/v1/.well-known/..x' }))).toHaveLength(1);
    expect(() => validateRouteTable(table({ ...entry, path: '/v1/api-keys', target: 'keys.get' }))).toThrow(
      'target keys.get needs a :id path segment',
    );
    expect(() => validateRouteTable(table({ ...entry, path: '/v1/flows/:id' }, { ...entry, path: '/v1/flows/:flowId' }))).toThrow(
      'routes[1] (GET /v1/flows/:flowId): GET /v1/flows/:flowId is already routed by an earlier entry',
    );
  });

  it('names malformed fields', () => {
    expect(() => validateRouteTable(table({ ...entry, methods: ['FETCH'] }), 'routes.json')).toThrow('routes.json: routes[0].methods[0]:');
    expect(() => validateRouteTable({}, 'routes.json')).toThrow('routes.json: routes:');
  });
});
