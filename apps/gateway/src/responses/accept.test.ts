import { negotiate } from './accept.js';

const JSON_FIRST = ['application/json', 'application/x-ndjson'] as const;

describe('negotiate', () => {
  it.each([
    [undefined, 'application/json'],
    ['', 'application/json'],
    ['application/x-ndjson', 'application/x-ndjson'],
    ['APPLICATION/X-NDJSON', 'application/x-ndjson'],
    ['application/x-ndjson; charset=utf-8', 'application/x-ndjson'],
    ['application/x-ndjson;q=0.5, application/json', 'application/json'],
    ['application/json;q=0.4, application/x-ndjson;q=0.5', 'application/x-ndjson'],
    ['application/json, application/x-ndjson;Q=0.999', 'application/json'],
    ['application/x-ndjson;q=1.0, application/json;q=0.9', 'application/x-ndjson'],
    ['application/x-ndjson;q=0', 'application/json'],
    ['application/x-ndjson;q=0.000, */*', 'application/json'],
    ['*/*', 'application/json'],
    ['application/*', 'application/json'],
    ['*/*;q=0.1, application/x-ndjson', 'application/x-ndjson'],
    ['*/*, application/x-ndjson', 'application/x-ndjson'],
    ['application/*;q=0.2, application/x-ndjson;q=0.1', 'application/json'],
    ['*/*, application/json;q=0', 'application/x-ndjson'],
    ['application/json, application/x-ndjson', 'application/json'],
    ['application/x-ndjson, application/json', 'application/x-ndjson'],
    ['text/html', 'application/json'],
    ['application/json;q=0, application/x-ndjson;q=0', 'application/json'],
    ['text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8', 'application/json'],
    ['application/x-ndjson;q=2', 'application/json'],
    ['application/x-ndjson;q=0.5000', 'application/json'],
    ['application/x-ndjson;q=abc, application/json;q=0.1', 'application/json'],
    ['*/x-ndjson', 'application/json'],
    ['x-ndjson', 'application/json'],
    ['application/x-ndjson;profile="a,b;q=0";q=0.9, application/json;q=0.8', 'application/x-ndjson'],
    ['application/x-ndjson;q=0.9;ext=1, application/json;q=0.8', 'application/x-ndjson'],
    [' application/x-ndjson ; q = 0.9 ,application/json;q=0.5', 'application/x-ndjson'],
  ])('%j: %s', (accept, expected) => {
    expect(negotiate(accept, JSON_FIRST)).toBe(expected);
  });
});
