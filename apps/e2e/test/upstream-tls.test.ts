import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGatewayProcess } from './service-process.js';
import { startStack, type Stack } from './stack.js';

// An https UPSTREAM_URL (apps/gateway README, "Upstream"): the gateway checks the upstream's
// certificate, as any HTTPS client does, so a forged upstream never receives a request with its
// identity headers. An operator's own CA is trusted through Node's NODE_EXTRA_CA_CERTS.

let dir: string;
let upstream: Server;
let upstreamUrl: string;
let stack: Stack;
let key: string;
const reached: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kp-upstream-tls-'));
  // A self-signed certificate for 127.0.0.1: trusted by nothing unless it is named as a CA.
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
    '-subj', '/CN=upstream.test', '-addext', 'subjectAltName=IP:127.0.0.1',
    '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
  ], { stdio: 'pipe' });
  upstream = createServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }, (request, response) => {
    reached.push(`${request.method} ${request.url} as ${String(request.headers['x-keyplane-key-id'])}`);
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end('{"data":[]}');
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  upstreamUrl = `https://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  stack = await startStack('e2e_upstream_tls', { upstreamUrl });
  key = (await stack.createKey({ permissions: ['FLOWS:READ'] })).key;
});

afterAll(async () => {
  await stack?.close();
  upstream?.closeAllConnections();
  await new Promise((resolve) => upstream?.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

it('refuses an upstream whose certificate it does not trust: 502 in the error shape, and the request never reaches it', async () => {
  const answer = await stack.call('GET', '/v1/flows', { key });

  expect(answer.status).toBe(502);
  expect(answer.body).toEqual({ error: 'Bad Gateway', details: 'Upstream unavailable' });
  expect(reached).toEqual([]);
});

it('proxies to it once its CA is named in NODE_EXTRA_CA_CERTS', async () => {
  const gateway = await startGatewayProcess(stack.ns.prefix, upstreamUrl, { NODE_EXTRA_CA_CERTS: join(dir, 'cert.pem') });
  try {
    const answer = await fetch(`${gateway.url}/v1/flows`, { headers: { authorization: `Bearer ${key}` } });

    expect(answer.status).toBe(200);
    expect(await answer.json()).toEqual({ data: [] });
    expect(reached).toEqual([expect.stringMatching(/^GET \/v1\/flows as key_/)]);
  } finally {
    gateway.child.kill('SIGKILL');
    await gateway.exited;
  }
}, 90_000);
