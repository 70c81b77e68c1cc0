/** The processes `npm start` runs, in start order, with the port each one answers /readyz on. */
export interface ServiceSpec {
  name: string;
  main: string;
  readyPort: number;
  env: Record<string, string>;
  /** Extra flags for node, e.g. `--cpu-prof` when benchmarking. */
  nodeArgs?: string[];
}

export function stackServices(env: NodeJS.ProcessEnv): ServiceSpec[] {
  const gatewayPort = Number(env.PORT ?? 8080);
  const upstreamUrl = env.UPSTREAM_URL ?? 'http://127.0.0.1:8090';
  const upstreamPort = Number(new URL(upstreamUrl).port || 80);
  return [
    { name: 'keys', main: 'dist/apps/keys/src/main.js', readyPort: 9081, env: { HTTP_PORT: '9081' } },
    { name: 'auth', main: 'dist/apps/auth/src/main.js', readyPort: 9082, env: { HTTP_PORT: '9082' } },
    { name: 'metering', main: 'dist/apps/metering/src/main.js', readyPort: 9083, env: { HTTP_PORT: '9083' } },
    { name: 'demo-api', main: 'dist/apps/demo-api/src/main.js', readyPort: upstreamPort, env: { PORT: String(upstreamPort) } },
    {
      name: 'gateway',
      main: 'dist/apps/gateway/src/main.js',
      readyPort: gatewayPort,
      env: { PORT: String(gatewayPort), METRICS_PORT: env.METRICS_PORT ?? '9080', UPSTREAM_URL: upstreamUrl },
    },
  ];
}
