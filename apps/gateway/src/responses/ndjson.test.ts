import { ndjsonChunks, wantsNdjson } from './ndjson.js';

describe('wantsNdjson', () => {
  it.each([
    ['application/x-ndjson', true],
    ['Application/X-NDJSON; charset=utf-8', true],
    ['application/json, application/x-ndjson;q=0.5', false],
    ['application/x-ndjson;q=0.5, application/json', false],
    ['application/json;q=0.5, application/x-ndjson', true],
    ['*/*;q=0.1, application/x-ndjson', true],
    ['application/x-ndjson;q=0', false],
    ['text/html', false],
    ['application/json', false],
    ['*/*', false],
    [undefined, false],
  ])('%s: %s', (accept, expected) => {
    expect(wantsNdjson(accept)).toBe(expected);
  });
});

describe('ndjsonChunks', () => {
  it('writes each batch as one chunk of lines, skipping empty batches', async () => {
    async function* batches() {
      yield [{ a: 1 }, { b: 'x\ny' }];
      yield [];
      yield [{ c: null }];
    }
    const chunks: string[] = [];
    for await (const chunk of ndjsonChunks(batches())) chunks.push(chunk);
    expect(chunks).toEqual(['{"a":1}\n{"b":"x\\ny"}\n', '{"c":null}\n']);
  });
});
