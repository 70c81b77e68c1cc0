import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { Readiness } from '@keyplane/observability';

export interface MetricsServer {
  url: string;
  close(): Promise<void>;
}

/**
 * The internal port (DESIGN §4: `/metrics` is never on the public one): `/metrics`, plus the
 * probes so Kubernetes can watch the gateway without touching the public listener.
 */
export async function startMetricsServer(registry: Registry, readiness: Readiness, port: number, host: string): Promise<MetricsServer> {
  const server: Server = createServer((request, response) => {
    const send = (status: number, type: string, body: string) => response.writeHead(status, { 'content-type': type }).end(body);
    const path = request.url?.split('?')[0];
    if (request.method !== 'GET') return send(405, 'application/json', '{"error":"Method Not Allowed","details":"Only GET is served here"}');
    if (path === '/healthz') return send(200, 'application/json', '{"status":"ok"}');
    if (path === '/readyz') {
      return void readiness.report().then((report) =>
        send(report.ready ? 200 : 503, 'application/json', JSON.stringify({ status: report.ready ? 'ready' : 'not ready', checks: report.checks })),
      );
    }
    if (path === '/metrics') {
      return void registry.metrics().then(
        (text) => send(200, registry.contentType, text),
        () => send(500, 'application/json', '{"error":"Internal Server Error","details":"Metrics could not be collected"}'),
      );
    }
    return send(404, 'application/json', JSON.stringify({ error: 'Not Found', details: `No such path: ${path}` }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const { port: actual } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${actual}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
