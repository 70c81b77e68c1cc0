import type { DestinationStream } from 'pino';
import { createLogger, createMetricsRegistry, Readiness } from '@keyplane/observability';
import { bootstrapService, type ServiceHandle } from '@keyplane/runtime';
import type { GatewayConfig } from './config.js';
import { GatewayModule } from './gateway.module.js';
import { GatewayMetrics } from './ops/gateway-metrics.js';
import { gracefulListener } from './ops/graceful-listener.js';
import { trackConnections } from './ops/open-connections.js';
import { startMetricsServer } from './ops/metrics-server.js';
import { shutdownDrain } from './ops/shutdown-drain.js';
import { closeStalledReaders } from './ops/stalled-readers.js';
import { answerFrameworkErrorsWithJson } from './pipeline/framework-errors.js';
import { originForm } from './pipeline/origin-form.js';
import { BODY_LIMIT_BYTES } from './pipeline/gateway-http.js';
import { loadRouteTable } from './routes/route-table.js';

export interface GatewayOptions {
  logDestination?: DestinationStream;
}

export interface GatewayHandle extends ServiceHandle {
  /** Base URL of the internal port: /metrics, /healthz, /readyz. */
  metricsUrl: string;
}

/**
 * `url` is the public base URL. The route table is checked before anything listens.
 * `close()` is the shutdown SIGTERM starts: unready, `SHUTDOWN_DELAY_MS` of serving, then closed.
 */
export async function startGatewayService(config: GatewayConfig, options: GatewayOptions = {}): Promise<GatewayHandle> {
  const logger = createLogger('gateway', { level: config.logLevel, destination: options.logDestination });
  const routes = loadRouteTable(config.routesFile);
  const readiness = new Readiness();
  const registry = createMetricsRegistry('gateway');
  const gatewayMetrics = new GatewayMetrics(registry);
  const module = GatewayModule.forRoot({ config, routes, logger, readiness, metrics: gatewayMetrics });
  const service = await bootstrapService({
    module,
    config,
    logger,
    bodyLimitBytes: BODY_LIMIT_BYTES,
    frameworkErrors: answerFrameworkErrorsWithJson(gatewayMetrics.countUnrouted),
    rewriteUrl: originForm,
    connectionLimits: config.clientLimits,
  });
  const metrics = await startMetricsServer(registry, readiness, config.metricsPort, config.httpHost).catch(async (error: unknown) => {
    await service.close();
    throw error;
  });
  const server = service.app.getHttpServer();
  const connections = trackConnections(server);
  const stalledReaders = closeStalledReaders(connections, {
    timeoutMs: config.clientLimits.sendTimeoutMs,
    onClosed: (answer) => {
      gatewayMetrics.stalledReadersClosed.inc();
      logger.debug({ requestId: answer?.getHeader('x-request-id') }, 'client took no byte of its answer for CLIENT_SEND_TIMEOUT_MS: connection closed');
    },
  });
  const listener = gracefulListener(server, connections);
  return {
    ...service,
    metricsUrl: metrics.url,
    close: shutdownDrain({
      readiness,
      listener,
      delayMs: config.shutdownDelayMs,
      logger,
      closeRest: async () => {
        stalledReaders.stop();
        await metrics.close();
        await service.close();
      },
    }),
  };
}
