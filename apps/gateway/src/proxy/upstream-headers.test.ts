import { upstreamAnswerHeaders, upstreamHeaders } from './upstream-headers.js';

const key = { keyId: 'key_01J00000000000000000000000', accountId: 'acc_1', environment: 'test' as const, permissions: ['*'] };

describe('upstreamHeaders', () => {
  it('drops the credential and spoofed identity headers, and adds the decided identity', () => {
    const headers = upstreamHeaders(
      {
        authorization: 'Bearer tv_test_secret',
        'proxy-authorization': 'Basic x',
        'x-keyplane-account-id': 'acc_root',
        'x-keyplane-environment': 'live',
        'x-keyplane-anything': 'x',
        'x-request-id': 'client-id',
        accept: 'application/json',
        'content-length': '2',
      },
      key,
      'req_1',
      '10.1.2.3',
    );
    expect(headers).toEqual({
      accept: 'application/json',
      'content-length': '2',
      'x-keyplane-key-id': 'key_01J00000000000000000000000',
      'x-keyplane-account-id': 'acc_1',
      'x-keyplane-environment': 'test',
      'x-request-id': 'req_1',
      'x-forwarded-for': '10.1.2.3',
    });
  });

  it('drops a header that CGI-style servers would read as an identity header the gateway sets', () => {
    const headers = upstreamHeaders(
      {
        x_keyplane_account_id: 'acc_root',
        'x-keyplane_environment': 'live',
        x_request_id: 'client-id',
        x_forwarded_for: '198.51.100.9',
        proxy_authorization: 'Basic x',
        x_custom_header: 'kept',
      },
      key,
      'req_1',
      undefined,
    );
    expect(headers).toEqual({
      x_custom_header: 'kept',
      'x-keyplane-key-id': 'key_01J00000000000000000000000',
      'x-keyplane-account-id': 'acc_1',
      'x-keyplane-environment': 'test',
      'x-request-id': 'req_1',
    });
  });

  it('drops Expect, which the gateway answered before reading the body', () => {
    expect(upstreamHeaders({ expect: '100-continue', 'content-length': '2' }, key, 'req_1', undefined)).toEqual({
      'content-length': '2',
      'x-keyplane-key-id': 'key_01J00000000000000000000000',
      'x-keyplane-account-id': 'acc_1',
      'x-keyplane-environment': 'test',
      'x-request-id': 'req_1',
    });
  });

  it('adds its peer to the X-Forwarded-For chain the request came with', () => {
    expect(upstreamHeaders({ 'x-forwarded-for': '198.51.100.9, 203.0.113.7' }, key, 'req_1', '10.1.2.3')['x-forwarded-for']).toBe(
      '198.51.100.9, 203.0.113.7, 10.1.2.3',
    );
  });
});

describe('upstreamAnswerHeaders', () => {
  it('drops the connection-level headers and those the Connection header names', () => {
    expect(
      upstreamAnswerHeaders({
        connection: 'close, X-Internal-Token ,x-other',
        'keep-alive': 'timeout=5',
        'transfer-encoding': 'chunked',
        te: 'trailers',
        upgrade: 'websocket',
        'x-internal-token': 'secret',
        'x-other': '1',
        'content-type': 'application/json',
        'x-custom': '1',
      }),
    ).toEqual({ 'content-type': 'application/json', 'x-custom': '1' });
  });

  it("drops the upstream's rate-limit headers, which are the gateway's to set, and keeps its Retry-After", () => {
    expect(
      upstreamAnswerHeaders({
        'x-ratelimit-limit': '5000',
        'x-ratelimit-remaining': '4999',
        'x-ratelimit-reset': '1',
        'x-ratelimit-remaining-hour': '1',
        ratelimit: '"upstream";r=1;t=1',
        'ratelimit-policy': '"upstream";q=5000;w=60',
        'ratelimit-remaining': '1',
        'retry-after': '30',
        'x-ratelimited-by': 'upstream',
      }),
    ).toEqual({ 'retry-after': '30', 'x-ratelimited-by': 'upstream' });
  });
});
