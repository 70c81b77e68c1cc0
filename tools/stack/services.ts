import { EnvReader } from '@keyplane/runtime';

/** The processes `npm start` runs, in start order, with the port each one answers /readyz on. */
export interface ServiceSpec {
  name: string;
  main: string;
  readyPort: number;
  env: Record<string, string>;
  /** Extra flags for node, e.g. `--cpu-prof` when benchmarking. */
  nodeArgs?: string[];
}

/** A bad port stops `npm start` naming the variable, before anything starts. */
export function stackServices(env: NodeJS.ProcessEnv): ServiceSpec[] {
  const read = new EnvReader(env);
  const port = (name: string, fallback: number) => read.int(name, fallback, { min: 1, max: 65535 });
  const gatewayPort = port('PORT', 8080);
  const metricsPort = port('METRICS_PORT', 9080);
  // The demo API started here speaks plain HTTP.
  const upstreamUrl = read.url('UPSTREAM_URL', 'http://127.0.0.1:8090', ['http:']);
  const upstream = new URL(upstreamUrl);
  const upstreamPort = Number(upstream.port || 80);
  // The demo API believes the X-Keyplane-* headers of whoever calls it: it listens only where the gateway calls it.
  const upstreamHost = upstream.hostname.replace(/^\[(.*)\]$/, '$1');
  // The services' own HTTP ports (probes, /metrics): settable so a second stack can run beside the first.
  const keysPort = port('KEYS_PORT', 9081);
  const authPort = port('AUTH_PORT', 9082);
  const meteringPort = port('METERING_PORT', 9083);
  distinctPorts({ PORT: gatewayPort, METRICS_PORT: metricsPort, UPSTREAM_URL: upstreamPort, KEYS_PORT: keysPort, AUTH_PORT: authPort, METERING_PORT: meteringPort });
  return [
    { name: 'keys', main: 'dist/apps/keys/src/main.js', readyPort: keysPort, env: { HTTP_PORT: String(keysPort) } },
    { name: 'auth', main: 'dist/apps/auth/src/main.js', readyPort: authPort, env: { HTTP_PORT: String(authPort) } },
    { name: 'metering', main: 'dist/apps/metering/src/main.js', readyPort: meteringPort, env: { HTTP_PORT: String(meteringPort) } },
    { name: 'demo-api', main: 'dist/apps/demo-api/src/main.js', readyPort: upstreamPort, env: { PORT: String(upstreamPort), HOST: upstreamHost } },
    {
      name: 'gateway',
      main: 'dist/apps/gateway/src/main.js',
      readyPort: gatewayPort,
      env: { PORT: String(gatewayPort), METRICS_PORT: String(metricsPort), UPSTREAM_URL: upstreamUrl },
    },
  ];
}

/**
 * Two services on one port would not both start, and `npm start` would wait on the one that did,
 * or say only that the other exited: name the clash before anything starts.
 */
function distinctPorts(ports: Record<string, number>): void {
  const seen = new Map<number, string>();
  for (const [variable, port] of Object.entries(ports)) {
    const other = seen.get(port);
    if (other) throw new Error(`${other} and ${variable} both name port ${port}: each service needs its own`);
    seen.set(port, variable);
  }
}
