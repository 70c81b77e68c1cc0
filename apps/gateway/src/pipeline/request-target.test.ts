import { fileURLToPath } from 'node:url';
import { RouteMatcher } from '../routes/route-matcher.js';
import { loadRouteTable } from '../routes/route-table.js';
import { requestTargetProblem } from './request-target.js';

const matcher = new RouteMatcher(loadRouteTable(fileURLToPath(new URL('../../config/routes.json', import.meta.url))));

describe('requestTargetProblem', () => {
  it.each([
    ['/v1/flows/#/execute', '#', '%23'],
    ['/v1/flows/flow_1#/execute', '#', '%23'],
    ['/v1/flows?x=1#/../api-keys', '#', '%23'],
    ['/#', '#', '%23'],
    ['/v1/flows/a\\..\\..\\api-keys', '\\', '%5C'],
    ['/v1/flows/a"b', '"', '%22'],
    ['/v1/flows/a<b>', '<', '%3C'],
    ['/v1/flows/a`b', '`', '%60'],
    ['/v1/flows/{id}', '{', '%7B'],
    ['/v1/flows/a}', '}', '%7D'],
  ])('refuses %s, naming the raw character', (url, char, encoded) => {
    expect(requestTargetProblem(url)).toBe(`The request target must not contain a raw ${char} (percent-encode it as ${encoded})`);
  });

  it.each(['/v1/flows', '/v1/flows/a%23b', '/v1/flows/a%5Cb', '/v1/flows/a;b|c^d', '/v1/flows?filter={"a":"b\\c"}', '/v1/flows/..x', '/'])(
    'lets %s through: the query is forwarded as written, and these are passed on unchanged',
    (url) => {
      expect(requestTargetProblem(url)).toBeNull();
    },
  );

  // The security property: whatever the gateway lets through and matches to an upstream route
  // reaches the upstream as the very path it authorized. reply-from builds the upstream URL
  // with WHATWG `new URL`, so that parser is the judge.
  it('never lets a path through that the upstream URL parser would change', () => {
    const pieces: string[] = ['.', '..', '%2e', '%2E', '.%2e', '%2e.', '%2e%2e', '%2E%2e', '..x', 'x..', '.x', '%', '%2f', '%5c', '%23', '%3f'];
    for (let code = 0x21; code < 0x7f; code++) {
      const char = String.fromCharCode(code);
      pieces.push(char, `a${char}b`, `${char}${char}`, `${char}.`, `.${char}`);
    }
    const through: string[] = [];
    for (const piece of pieces) {
      for (const [method, url] of [
        ['GET', `/v1/flows/${piece}`],
        ['POST', `/v1/flows/${piece}/execute`],
        ['GET', `/v1/records/${piece}?q=${piece}`],
      ] as const) {
        if (requestTargetProblem(url) !== null) continue;
        const path = url.split('?')[0]!;
        if (matcher.match(method, path)?.route.target !== 'upstream') continue;
        through.push(path);
        expect({ url, upstream: new URL(url, 'http://upstream:3000').pathname }).toEqual({ url, upstream: path });
      }
    }
    // The loop did test something: ordinary ids, and those with encoded or harmless characters, go through.
    expect(through).toEqual(expect.arrayContaining(['/v1/flows/a~b', '/v1/flows/%23/execute', '/v1/records/a|b', '/v1/flows/..x']));
  });
});
