import { createServer, type ServerResponse } from 'node:http';
import { connect } from '@nats-io/transport-node';
import { Pool } from 'undici';
import { coalesceWrites, RequestMux } from '@keyplane/nats';

// Scenario (d): the ceiling of any design that asks auth over NATS per request — a bare HTTP
// server making one NATS request per HTTP request and answering with a small JSON body.
// With TUNED=1, (d′): the same, with the NATS client work of the stack's own services
// (coalesced writes, the request mux), for comparison.
// With UPSTREAM_URL as well, (g): (d′) that then fetches its answer from the upstream, as a
// gateway must, with undici (as the gateway's @fastify/reply-from), piping the body through.
const tuned = process.env.TUNED === '1';
const nc = await connect({ servers: process.env.NATS_URL ?? 'nats://127.0.0.1:4222' });
if (tuned) coalesceWrites(nc);
const mux = tuned ? new RequestMux(nc) : undefined;
const subject = process.env.SUBJECT ?? 'bench.decide';
const payload = new TextEncoder().encode(JSON.stringify({ keyHash: '0'.repeat(64), permission: 'FLOWS:READ' }));
const body = JSON.stringify({ data: [] });
const upstream = process.env.UPSTREAM_URL ? new URL(process.env.UPSTREAM_URL) : undefined;
const upstreamHeaders = JSON.parse(process.env.UPSTREAM_HEADERS ?? '{}') as Record<string, string>;
const pool = upstream ? new Pool(upstream.origin, { connections: null }) : undefined;

function answer(res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(body);
}

function unavailable(res: ServerResponse): void {
  res.writeHead(503);
  res.end();
}

function forward(res: ServerResponse): void {
  pool!.request({ method: 'GET', path: upstream!.pathname, headers: upstreamHeaders }).then(({ statusCode, headers, body }) => {
    res.writeHead(statusCode, { 'content-type': headers['content-type'] ?? 'application/octet-stream' });
    body.pipe(res);
  }, () => unavailable(res));
}

const server = createServer((req, res) => {
  if (req.url === '/readyz') {
    res.writeHead(200);
    res.end();
    return;
  }
  (mux ? mux.request(subject, payload, { timeoutMs: 1000 }) : nc.request(subject, payload, { timeout: 1000 })).then(
    () => (pool ? forward(res) : answer(res)),
    () => unavailable(res),
  );
});
server.listen(Number(process.env.PORT ?? 8099), '127.0.0.1', () => console.log(JSON.stringify({ level: 30, msg: 'ready' })));
process.on('SIGTERM', () => server.close(() => void Promise.all([nc.drain(), pool?.close()]).then(() => process.exit(0))));
