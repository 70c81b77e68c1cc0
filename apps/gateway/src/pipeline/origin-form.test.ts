import type { IncomingMessage } from 'node:http';
import { originForm } from './origin-form.js';

const target = (url: string) => originForm({ url } as IncomingMessage);

describe('originForm', () => {
  it('keeps an origin-form target and one that is not a URL (OPTIONS *)', () => {
    expect(['/v1/flows?x=1', '/', '*'].map(target)).toEqual(['/v1/flows?x=1', '/', '*']);
  });

  it('takes the path and query of an absolute-form target', () => {
    expect(['http://api.example.com/v1/flows', 'HTTPS://api.example.com:8443/v1/flows/a?b=c', 'http://api.example.com', 'http://api.example.com?x=1'].map(target)).toEqual([
      '/v1/flows',
      '/v1/flows/a?b=c',
      '/',
      '/?x=1',
    ]);
  });
});
