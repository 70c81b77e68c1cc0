import { createServer } from 'node:http';
import { connect } from '@nats-io/transport-node';
import { coalesceWrites, RequestMux } from '@keyplane/nats';

// Scenario (d): the ceiling of any design that asks auth over NATS per request — a bare HTTP
// server making one NATS request per HTTP request and answering with a small JSON body.
// With TUNED=1, (d′): the same, with the NATS client work of the stack's own services
// (coalesced writes, the request mux), for comparison.
const tuned = process.env.TUNED === '1';
const nc = await connect({ servers: process.env.NATS_URL ?? 'nats://127.0.0.1:4222' });
if (tuned) coalesceWrites(nc);
const mux = tuned ? new RequestMux(nc) : undefined;
const subject = process.env.SUBJECT ?? 'bench.decide';
const payload = new TextEncoder().encode(JSON.stringify({ keyHash: '0'.repeat(64), permission: 'FLOWS:READ' }));
const body = JSON.stringify({ data: [] });

const server = createServer((req, res) => {
  if (req.url === '/readyz') {
    res.writeHead(200);
    res.end();
    return;
  }
  (mux ? mux.request(subject, payload, { timeoutMs: 1000 }) : nc.request(subject, payload, { timeout: 1000 })).then(
    () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(body);
    },
    () => {
      res.writeHead(503);
      res.end();
    },
  );
});
server.listen(Number(process.env.PORT ?? 8099), '127.0.0.1', () => console.log(JSON.stringify({ level: 30, msg: 'ready' })));
process.on('SIGTERM', () => server.close(() => void nc.drain().then(() => process.exit(0))));
