import { ndjsonChunks, wantsNdjson } from './ndjson.js';

describe('wantsNdjson', () => {
  it.each([
    ['application/x-ndjson', true],
    ['Application/X-NDJSON; charset=utf-8', true],
    ['application/json, application/x-ndjson;q=0.5', true],
    ['application/x-ndjson;q=0', false],
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
